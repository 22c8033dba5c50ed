"""The `fastsched` command, run as the installed console script.

Each start of the command costs about a second (Python, numba, cached kernels), so the module-scoped
`runs` fixture makes every output once (two commands at a time) and the tests below group their assertions on
it. tests/test_cli_safety.py covers errors, full disks, signals, memory and start-up imports;
tests/test_cli_specs.py specs (--spec) and `diff`; tests/test_cli_libraries.py library presets (torch.X-style names).
"""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest

import fastsched
from fastsched.registry import PRESETS

# The console script when installed (pip install -e .), else the same entry point through the interpreter.
COMMAND = [shutil.which("fastsched")] if shutil.which("fastsched") else [sys.executable, "-m", "fastsched.cli"]
# The text plot's width follows the terminal: fix it so that the canvas is 64 columns wide.
ENV = {**os.environ, "COLUMNS": "80"}

# The example: 3 warmups x 2 base lrs = 6 rows, base_lr varying fastest.
EXAMPLE = shlex.split(
    "cosine --num-steps 5000 --num-warmup-steps 0,100,500 --num-training-steps 5000 --base-lr 1e-4,3e-4"
)
EXAMPLE_PARAMS = {"num_warmup_steps": np.repeat([0, 100, 500], 2), "num_training_steps": 5000}
EXAMPLE_BASE_LRS = np.tile([1e-4, 3e-4], 3)
PLOT_EXAMPLE = shlex.split("plot cosine --num-warmup-steps 0,100,500 --num-training-steps 5000 --base-lr 1e-4,3e-4")

# A grid whose rows cross a warmup_stable_decay decay_type change (bulk.sweep takes one per call):
# 2 decay types x 2 min_lr_ratios x 2 base lrs, 40 steps; written in blocks far smaller than the output.
WSD = shlex.split(
    "warmup_stable_decay --num-steps 40 --num-warmup-steps 5 --num-decay-steps 10 --num-stable-steps 20 "
    "--decay-type linear,1-sqrt --min-lr-ratio 0,0.1 --base-lr 1,2"
)
WSD_COLUMNS = ["num_warmup_steps", "num_decay_steps", "num_stable_steps", "warmup_type", "decay_type"]
WSD_COLUMNS += ["min_lr_ratio", "num_cycles", "base_lr"]


def fastsched_command(*args: str | Path, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*COMMAND, *map(str, args)], cwd=cwd, env=ENV, capture_output=True, text=True, timeout=120)


@pytest.fixture(scope="module")
def out_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Where the `runs` commands write their files."""
    return tmp_path_factory.mktemp("cli")


@pytest.fixture(scope="module")
def runs(out_dir: Path) -> dict[str, subprocess.CompletedProcess[str]]:
    """Every successful command once; each must exit 0 with an empty stderr (no warnings, no progress bar)."""
    commands = {
        "list": ["list"],
        "version": ["--version"],
        "npy": ["sweep", *EXAMPLE, "-o", "example.npy"],
        "csv": ["sweep", *EXAMPLE, "-o", "example.csv"],
        "pt": ["sweep", *EXAMPLE, "-o", "example.pt", "--dtype", "float32"],
        # 16 values per block: every row is written in 3 parts (16 + 16 + 8 steps).
        "chunked_csv": ["sweep", *WSD, "-o", "chunked.csv", "--max-block-values", "16"],
        # 120 values per block: 3 rows per block, cut where decay_type changes (after row 4).
        "chunked_npy": ["sweep", *WSD, "-o", "chunked.npy", "--max-block-values", "120"],
        "text_plot": shlex.split("plot linear constant_with_warmup --num-warmup-steps 25 --num-training-steps 100"),
        "png": [*PLOT_EXAMPLE, "-o", "plot.png"],
    }
    with ThreadPoolExecutor(max_workers=2) as pool:  # two at a time: each start of the command costs a second
        futures = {name: pool.submit(fastsched_command, *args, cwd=out_dir) for name, args in commands.items()}
        results = {name: future.result() for name, future in futures.items()}
    for name, result in results.items():
        assert (result.returncode, result.stderr) == (0, ""), f"{name}: {commands[name]}"
    return results


def test_version_and_list(runs):
    assert runs["version"].stdout.strip() == f"fastsched {fastsched.__version__}"
    listing = runs["list"].stdout
    assert "\n== transformers: 10 schedules ==\n" in listing  # grouped by library
    for name in PRESETS:
        assert f"\n{name}: " in listing
    assert "--num-warmup-steps N    required     steps of linear warmup from 0" in listing
    assert "--num-cycles X          default 0.5" in listing
    assert "--warmup-type CHOICE    default linear" in listing
    assert "--base-lr" in listing
    assert "reduce_lr_on_plateau" in listing  # listed as not precomputable


def test_sweep_npy_is_the_bulk_sweep_in_grid_order(runs, out_dir):
    lrs = np.load(out_dir / "example.npy")
    assert lrs.shape == (6, 5000) and lrs.dtype == np.float64
    expected = fastsched.sweep("cosine", 5000, base_lr=EXAMPLE_BASE_LRS, **EXAMPLE_PARAMS)
    np.testing.assert_array_equal(lrs, expected)
    np.testing.assert_array_equal(
        lrs[5], fastsched.trajectory("cosine", 5000, base_lr=3e-4, num_warmup_steps=500, num_training_steps=5000)
    )

    configs = (out_dir / "example.configs.csv").read_text().splitlines()
    assert configs[0] == "num_warmup_steps,num_training_steps,num_cycles,base_lr"
    assert configs[1:] == [f"{w},5000,0.5,{lr!r}" for w in (0, 100, 500) for lr in (1e-4, 3e-4)]

    report = runs["npy"].stdout
    assert "cosine: 6 configs x 5,000 steps = 30,000 values (float64, 240 kB) -> example.npy" in report
    assert "row  num_warmup_steps  num_training_steps  num_cycles  base_lr" in report
    assert "  5               500                5000         0.5   0.0003" in report
    assert "wrote example.npy" in report and "values/s" in report


def test_sweep_csv_has_config_columns_then_one_column_per_step(runs, out_dir):
    lines = (out_dir / "example.csv").read_text().splitlines()
    header = lines[0].split(",")
    assert header[:4] == ["num_warmup_steps", "num_training_steps", "num_cycles", "base_lr"]
    assert header[4:] == [f"step_{k}" for k in range(5000)]
    assert len(lines) == 7
    assert [line.split(",")[:4] for line in lines[1:]] == [
        [str(w), "5000", "0.5", repr(lr)] for w in (0, 100, 500) for lr in (1e-4, 3e-4)
    ]
    # Values are written in their shortest round-trip form: reading them back is exact.
    values = np.loadtxt(out_dir / "example.csv", delimiter=",", skiprows=1)[:, 4:]
    np.testing.assert_array_equal(values, np.load(out_dir / "example.npy"))
    assert (out_dir / "example.configs.csv").exists()


def test_sweep_pt_holds_a_float32_tensor_and_the_config_table(runs, out_dir):
    torch = pytest.importorskip("torch")
    saved = torch.load(out_dir / "example.pt", weights_only=True)
    assert saved["lr"].dtype == torch.float32 and saved["lr"].shape == (6, 5000)
    expected = fastsched.sweep("cosine", 5000, base_lr=EXAMPLE_BASE_LRS, dtype=np.float32, **EXAMPLE_PARAMS)
    np.testing.assert_array_equal(saved["lr"].numpy(), expected)
    assert saved["configs"] == {
        "num_warmup_steps": [0, 0, 100, 100, 500, 500],
        "num_training_steps": [5000] * 6,
        "num_cycles": [0.5] * 6,
        "base_lr": [1e-4, 3e-4] * 3,
    }
    assert (saved["schedule"], saved["start"]) == ("cosine", 0)
    assert "(float32, 120 kB)" in runs["pt"].stdout


def test_chunked_writes_equal_one_bulk_sweep_per_decay_type(runs, out_dir):
    common = {"num_warmup_steps": 5, "num_decay_steps": 10, "num_stable_steps": 20}
    expected = np.vstack(
        [
            fastsched.sweep(
                "warmup_stable_decay",
                40,
                base_lr=[1, 2, 1, 2],
                min_lr_ratio=[0, 0, 0.1, 0.1],
                decay_type=decay,
                **common,
            )
            for decay in ("linear", "1-sqrt")
        ]
    )
    np.testing.assert_array_equal(np.load(out_dir / "chunked.npy"), expected)

    table = np.loadtxt(out_dir / "chunked.csv", delimiter=",", skiprows=1, dtype=str)
    assert table.shape == (8, len(WSD_COLUMNS) + 40)
    np.testing.assert_array_equal(table[:, len(WSD_COLUMNS) :].astype(np.float64), expected)
    assert list(table[:, WSD_COLUMNS.index("decay_type")]) == ["linear"] * 4 + ["1-sqrt"] * 4
    header = (out_dir / "chunked.csv").read_text().split("\n", 1)[0]
    assert header.startswith(",".join(WSD_COLUMNS) + ",step_0,")


def test_text_plot_draws_each_line_with_axes_and_legend(runs):
    lines = runs["text_plot"].stdout.splitlines()
    assert lines[0] == "num_warmup_steps=25"  # what both lines share
    assert lines[1] == "lr multiplier (base lr 1)"
    assert lines[-2:] == ["  * linear, num_training_steps=100", "  + constant_with_warmup"]
    canvas = [line.split("|", 1)[1].ljust(64) for line in lines if " |" in line]
    assert len(canvas) == 14
    assert lines[2].startswith("  1 |") and lines[15].startswith("  0 |")
    # linear rises to 1 at step 25 (column 16 of 64) and is back at 0 at step 100; constant_with_warmup
    # rises the same way (and is drawn over it) and stays at 1.
    assert canvas[0][16:] == "+" * 48
    assert canvas[-1][0] == "+" and canvas[-1][-1] == "*"
    assert lines[16].endswith("+" + "-" * 64)
    assert lines[17].split() == ["0", "50", "100", "step"]


def test_plot_writes_a_png_that_loads(runs, out_dir):
    image = pytest.importorskip("matplotlib.image")
    pixels = image.imread(out_dir / "plot.png")
    assert pixels.shape == (675, 1200, 4)  # 8 x 4.5 inches at 150 dpi
    assert pixels[..., :3].std() > 0.05  # something is drawn
    assert runs["png"].stdout.startswith("wrote plot.png (6 lines")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["sweep", "cosin", "--num-steps", "5", "-o", "out.npy"], "argument NAME: invalid choice: 'cosin'"),
        (["sweep", *EXAMPLE, "--warmup", "3", "-o", "out.npy"], "unrecognized arguments: --warmup 3"),
        (["sweep", *EXAMPLE, "--power", "2", "-o", "out.npy"], "cosine does not take --power; it takes"),
        (["sweep", *EXAMPLE, "--num-cycles", "0.5,x", "-o", "out.npy"], "--num-cycles: not a number: 'x'"),
        (["sweep", "cosine", "--num-steps", "1e9.5", "-o", "out.npy"], "--num-steps: not an integer: '1e9.5'"),
        (["sweep", "linear", "--num-steps", "5", "--num-warmup-steps", "1", "-o", "out.npy"], "linear requires --num-"),
        (["sweep", *EXAMPLE, "-o", "missing/out.npy"], "cannot write 'missing/out.npy': No such file or directory"),
        (["sweep", *EXAMPLE, "-o", "out.txt"], "the file name must end in .npy, .csv or .pt"),
        (["plot", "linear", "cosine", "--power", "2", "--num-warmup-steps", "1"], "--power is not a parameter of"),
        ([*PLOT_EXAMPLE, "-o", "missing/out.png"], "cannot write 'missing/out.png'"),
    ],
    ids=[
        "unknown-schedule",
        "unknown-option",
        "option-the-schedule-does-not-take",
        "bad-float",
        "bad-count",
        "missing-required",
        "unwritable-path",
        "unknown-format",
        "plot-option-no-schedule-takes",
        "plot-unwritable-path",
    ],
)
def test_errors_are_one_line_exit_2_and_write_nothing(tmp_path, args, message):
    result = fastsched_command(*args, cwd=tmp_path)
    assert result.returncode == 2
    assert len(result.stderr.splitlines()) == 1 and result.stderr.startswith("fastsched: error: ")
    assert message in result.stderr
    assert list(tmp_path.iterdir()) == []  # no output, no configs.csv, no partial file


def test_list_sweep_and_text_plot_import_neither_torch_nor_matplotlib(tmp_path):
    script = """
import sys
from fastsched.cli import main
sweep = ["sweep", "linear", "--num-steps", "10", "--num-warmup-steps", "2", "--num-training-steps", "10"]
assert main(["list"]) == 0
assert main([*sweep, "-o", "a.npy"]) == 0
assert main([*sweep, "-o", "a.csv"]) == 0
assert main(["plot", "linear", "--num-warmup-steps", "2", "--num-training-steps", "10"]) == 0
print(sorted({"torch", "matplotlib"} & set(sys.modules)))
"""
    result = subprocess.run([sys.executable, "-c", script], cwd=tmp_path, env=ENV, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[-1] == "[]"
