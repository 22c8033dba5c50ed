"""The `fastsched` command under stress: bad arguments, full disks, signals, huge grids and step counts.

Errors found before anything is written run `cli.main` in this process (as the console script does; a start
of the command costs a second). What needs a process of its own runs `python -m fastsched.cli`: a full disk
(a file size limit), signals, peak memory, imports; the module-scoped `runs` fixture starts those at once,
two at a time. Each run has a folder of its own, prepared beforehand (an existing output, a symlink...), and
its contents are compared before and after the run.
"""

from __future__ import annotations

import os
import re
import resource
import signal
import subprocess
import sys
import time
import tracemalloc
import warnings
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from fastsched import cli, validation
from fastsched.registry import MAX_STEP, PRESETS

COMMAND = [sys.executable, "-m", "fastsched.cli"]
ENV = {**os.environ, "COLUMNS": "80"}  # the text plot's width follows the terminal's
COSINE = ["cosine", "--num-warmup-steps", "10", "--num-training-steps", "100"]
# 25 values for each of six parameters: 244,140,625 configs (np.indices over them would take 14.6 GiB).
TWENTY_FIVE = ",".join(map(str, range(25)))
GRID_25_POW_6 = ["warmup_stable_decay"] + [
    argument
    for option in ("num-warmup-steps", "num-decay-steps", "num-stable-steps", "min-lr-ratio", "num-cycles", "base-lr")
    for argument in (f"--{option}", TWENTY_FIVE)
]
# A file size limit (RLIMIT_FSIZE) stands in for a full disk: writes past it fail (EFBIG, SIGXFSZ ignored).
FULL_DISK_BYTES = 1 << 16


def previous_output(name: str) -> Callable[[Path], None]:
    """Setup: a file at the output path, and at its configs path a symlink to a file, that a failed run must leave
    as they are."""

    def setup(folder: Path) -> None:
        (folder / name).write_text(f"the previous {name}\n")
        (folder / "elsewhere.csv").write_text("what the symlink points to\n")
        (folder / f"{name.rsplit('.', 1)[0]}.configs.csv").symlink_to("elsewhere.csv")

    return setup


def existing(kind: str, name: str) -> Callable[[Path], None]:
    """Setup: a folder or a file called `name`."""

    def setup(folder: Path) -> None:
        if kind == "folder":
            (folder / name).mkdir()
        else:
            (folder / name).write_text("a file\n")

    return setup


def symlinked_output(folder: Path) -> None:
    """Setup: link.npy, a symlink to real/target.npy (mode 0o640)."""
    (folder / "real").mkdir()
    (folder / "real" / "target.npy").write_text("the previous target\n")
    (folder / "real" / "target.npy").chmod(0o640)
    (folder / "link.npy").symlink_to(Path("real") / "target.npy")


@dataclass(frozen=True)
class Run:
    args: tuple[str, ...]
    message: str = ""  # a part of the one error line
    setup: Callable[[Path], None] | None = None
    max_file_bytes: int | None = None


def sweep(*args: str) -> tuple[str, ...]:
    return ("sweep", *args)


ERRORS = {
    # Counts and steps past 2**53 - 1, the last integer float64 carries exactly.
    "start-plus-steps-past-2**53": Run(
        sweep(*COSINE, "--num-steps", "10", "--start", "9007199254740990", "-o", "out.npy"),
        "the last step would be 9007199254740999, past 9007199254740991 (2**53 - 1)",
    ),
    "count-past-2**53": Run(
        sweep("cosine", "--num-steps", "10", "--num-warmup-steps", "1e20", "--num-training-steps", "9", "-o", "o.npy"),
        "argument --num-warmup-steps: must be at most 2**53 - 1 (9007199254740991), got '1e20'",
    ),
    "num-steps-past-2**53": Run(
        sweep(*COSINE, "--num-steps", "9007199254740992", "-o", "out.npy"),
        "argument --num-steps: must be at most 2**53 - 1",
    ),
    "plot-start-past-2**53": Run(
        ("plot", *COSINE, "--start", "9007199254740991", "--num-steps", "2"), "the last step would be 9007199254740992"
    ),
    "diff-start-past-2**53": Run(
        ("diff", *COSINE, "--base-lr", "1,2", "--start", "9007199254740991", "--num-steps", "2"),
        "the last step would be 9007199254740992",
    ),
    # Grids and outputs too large for the disk are refused before anything is written or allocated.
    "grid-25**6-larger-than-the-disk": Run(
        sweep(*GRID_25_POW_6, "--num-steps", "1e6", "-o", "out.npy"), "not enough free space: the output needs "
    ),
    "plot-grid-25**6": Run(("plot", *GRID_25_POW_6), "244,140,625 lines are too many for one plot (at most 24)"),
    "npy-larger-than-the-disk": Run(
        sweep(*COSINE, "--num-steps", str(MAX_STEP), "-o", "out.npy"), "the output needs 72.1 PB (72,057,594,"
    ),
    "csv-larger-than-the-disk": Run(
        sweep(*COSINE, "--num-steps", str(MAX_STEP), "-o", "out.csv"), "the output needs at least "
    ),
    "pt-larger-than-the-disk": Run(
        sweep(*COSINE, "--num-steps", str(MAX_STEP), "-o", "out.pt"), "the output needs at least 72.1 PB"
    ),
    # The computing layer's messages, with options for keywords and plain numbers (no np.float64(...)).
    "lr-end-above-base-lr": Run(
        sweep(
            "polynomial",
            "--num-steps",
            "9",
            "--num-warmup-steps",
            "1",
            "--num-training-steps",
            "9",
            "--lr-end",
            "2",
            "--base-lr",
            "1e-3,1",
            "-o",
            "out.npy",
        ),
        "lr_end (2.0) must be smaller than initial lr (0.001)",
    ),
    "min-lr-with-zero-base-lr": Run(
        sweep(
            "cosine_with_min_lr", *COSINE[1:], "--num-steps", "9", "--min-lr", "0.1", "--base-lr", "0", "-o", "o.csv"
        ),
        "--base-lr must be positive when --min-lr is given",
    ),
    "negative-base-lr": Run(
        sweep(*COSINE, "--num-steps", "9", "--base-lr=-0.001", "-o", "out.npy"),
        "argument --base-lr: must be non-negative, got '-0.001'",
    ),
    "zero-timescale": Run(
        sweep("inverse_sqrt", "--num-steps", "9", "--num-warmup-steps", "1", "--timescale", "0", "-o", "out.npy"),
        "argument --timescale: must be a positive integer, got '0'",
    ),
    "bad-choice": Run(
        sweep(
            "warmup_stable_decay",
            "--num-steps",
            "9",
            "--num-warmup-steps",
            "1",
            "--num-decay-steps",
            "2",
            "--num-stable-steps",
            "3",
            "--decay-type",
            "cosine,step",
            "-o",
            "out.npy",
        ),
        "argument --decay-type: must be one of linear, cosine, 1-sqrt, got 'step'",
    ),
    # Paths that cannot be written: found before any file is created.
    "folder-is-a-file": Run(
        sweep(*COSINE, "--num-steps", "9", "-o", "plain/out.npy"),
        "cannot write 'plain/out.npy': Not a directory",
        existing("file", "plain"),
    ),
    "output-is-a-folder": Run(
        sweep(*COSINE, "--num-steps", "9", "-o", "out.npy"),
        "cannot write 'out.npy': Is a directory",
        existing("folder", "out.npy"),
    ),
    "configs-is-a-folder": Run(
        sweep(*COSINE, "--num-steps", "9", "-o", "out.npy"),
        "cannot write 'out.configs.csv': Is a directory",
        existing("folder", "out.configs.csv"),
    ),
    "plot-figure-folder-missing": Run(("plot", *COSINE, "-o", "missing/out.png"), "cannot write 'missing/out.png'"),
    # A run that fails a check leaves an existing output, and the file a symlink points to, as they were.
    "failed-check-keeps-previous-files": Run(
        sweep("linear", "--num-steps", "9", "--num-warmup-steps", "1", "-o", "out.npy"),
        "linear requires --num-training-steps",
        previous_output("out.npy"),
    ),
}

# A full disk mid-write (a file size limit on the subprocess): the error, and nothing half-written; what was
# there before stays.
FULL_DISK = {
    "full-disk-npy": Run(
        sweep(*COSINE, "--num-steps", "1e5", "-o", "out.npy"),
        "cannot write 'out.npy': File too large",
        previous_output("out.npy"),
        FULL_DISK_BYTES,
    ),
    "full-disk-csv-header": Run(
        sweep(*COSINE, "--num-steps", "1e5", "-o", "out.csv"),
        "cannot write 'out.csv': File too large",
        previous_output("out.csv"),
        FULL_DISK_BYTES,
    ),
    "full-disk-csv-rows": Run(
        sweep(
            *COSINE,
            "--num-steps",
            "1000",
            "--base-lr",
            ",".join(map(str, range(1, 100))),
            "-o",
            "out.csv",
            "--max-block-values",
            "1000",
        ),  # a row per block: the disk fills up between rows
        "cannot write 'out.csv': File too large",
        previous_output("out.csv"),
        FULL_DISK_BYTES,
    ),
    "full-disk-pt": Run(
        sweep(*COSINE, "--num-steps", "1e5", "-o", "out.pt"),
        "cannot write 'out.pt': File too large",
        previous_output("out.pt"),
        FULL_DISK_BYTES,
    ),
    "full-disk-configs-csv": Run(
        sweep(*COSINE, "--num-steps", "1", "--base-lr", ",".join(map(str, range(1, 5000))), "-o", "out.npy"),
        "cannot write 'out.configs.csv': File too large",
        previous_output("out.npy"),
        FULL_DISK_BYTES,
    ),
    "full-disk-figure": Run(
        ("plot", *COSINE, "-o", "out.png"), "cannot write 'out.png': File too large", previous_output("out.png"), 4096
    ),
}

SUCCESSES = {
    # 10**12 steps: drawn from at most MAX_PLOT_POINTS of them (an arange of all would take 7.28 TiB).
    "plot-10**12-steps": Run(("plot", "cosine", "--num-warmup-steps", "10", "--num-training-steps", "1e12")),
    "plot-base-lr-1e308": Run(("plot", *COSINE, "--base-lr", "1e308")),
    # Through a symlink: the file it points to is replaced, the link stays; the mode of a replaced file stays.
    "symlinked-output": Run(sweep(*COSINE, "--num-steps", "100", "-o", "link.npy"), setup=symlinked_output),
}


def snapshot(folder: Path) -> dict[str, tuple[str, str | bytes]]:
    """Every entry (hidden ones too) with what it is and holds: a symlink's target, a file's bytes."""
    entries: dict[str, tuple[str, str | bytes]] = {}
    for path in sorted(folder.rglob("*")):
        name = str(path.relative_to(folder))
        if path.is_symlink():
            entries[name] = ("symlink", os.readlink(path))
        elif path.is_dir():
            entries[name] = ("folder", "")
        else:
            entries[name] = ("file", path.read_bytes())
    return entries


def limit_file_size(max_bytes: int | None) -> Callable[[], None] | None:
    if max_bytes is None:
        return None

    def limit() -> None:
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past the limit then fails with EFBIG
        resource.setrlimit(resource.RLIMIT_FSIZE, (max_bytes, max_bytes))

    return limit


@dataclass
class Result:
    returncode: int
    stdout: str
    stderr: str
    before: dict[str, tuple[str, str | bytes]]
    after: dict[str, tuple[str, str | bytes]]
    folder: Path


def execute(run: Run, folder: Path) -> Result:
    folder.mkdir()
    if run.setup is not None:
        run.setup(folder)
    before = snapshot(folder)
    result = subprocess.run(
        [*COMMAND, *run.args],
        cwd=folder,
        env=ENV,
        capture_output=True,
        text=True,
        timeout=120,
        preexec_fn=limit_file_size(run.max_file_bytes),
    )
    return Result(result.returncode, result.stdout, result.stderr, before, snapshot(folder), folder)


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Result]:
    root = tmp_path_factory.mktemp("cli_safety")
    every_run = {**FULL_DISK, **SUCCESSES}
    with ThreadPoolExecutor(max_workers=2) as pool:
        futures = {name: pool.submit(execute, run, root / name.replace("*", "^")) for name, run in every_run.items()}
        return {name: future.result() for name, future in futures.items()}


def check_error(name: str, run: Run, returncode: int, stderr: str, before: dict, after: dict) -> None:
    """One `fastsched: error:` line with the expected message in plain numbers, exit 2, and the folder as it was:
    no output, no temporary file; an existing file and a symlink (and the file it points to) unchanged."""
    assert returncode == 2, stderr
    # A full disk also stops the kernel cache's writes: that warning is the one other line allowed.
    lines = [line for line in stderr.splitlines() if not line.startswith("fastsched: warning: fastsched stopped cach")]
    assert len(lines) == 1 and lines[0].startswith("fastsched: error: "), stderr
    assert run.message in lines[0]
    assert not re.search(r"np\.\w+\(", stderr)  # plain numbers, never numpy's reprs
    assert after == before


@pytest.mark.parametrize("name", list(ERRORS))
def test_errors_are_one_plain_line_exit_2_and_touch_nothing(tmp_path, monkeypatch, capsys, name):
    # In this process (as the console script runs main): these fail on checks made before anything is written.
    run = ERRORS[name]
    if run.setup is not None:
        run.setup(tmp_path)
    before = snapshot(tmp_path)
    monkeypatch.chdir(tmp_path)
    try:
        returncode = cli.main(list(run.args))
    except SystemExit as exit:  # argparse's errors exit (2) from parse_args, after their one line
        returncode = exit.code
    captured = capsys.readouterr()
    check_error(name, run, returncode, captured.err, before, snapshot(tmp_path))


@pytest.mark.parametrize("name", list(FULL_DISK))
def test_a_full_disk_is_one_plain_line_exit_2_and_leaves_nothing_half_written(runs, name):
    result = runs[name]
    check_error(name, FULL_DISK[name], result.returncode, result.stderr, result.before, result.after)


@pytest.mark.parametrize(
    "name", ["grid-25**6-larger-than-the-disk", "npy-larger-than-the-disk", "csv-larger-than-the-disk"]
)
def test_refused_sizes_show_what_is_needed_and_what_is_free(tmp_path, monkeypatch, capsys, name):
    monkeypatch.chdir(tmp_path)
    assert cli.main(list(ERRORS[name].args)) == 2
    error = capsys.readouterr().err
    sizes = re.search(r"needs (?:at least )?\S+ \S+ \(([\d,]+) bytes: .*has \S+ \S+ \(([\d,]+) bytes\) free", error)
    assert sizes is not None, error
    needed, free = (int(text.replace(",", "")) for text in sizes.groups())
    assert needed > free > 0
    if name == "npy-larger-than-the-disk":
        # .npy's size is exact: header (128 bytes) + 2**53 - 1 float64 values, + the configs file.
        configs = "num_warmup_steps,num_training_steps,num_cycles,base_lr\n10,100,0.5,1.0\n"
        assert needed == 128 + 8 * MAX_STEP + len(configs)


def test_a_plot_of_10_to_the_12_steps_samples_them_first_and_last_included(runs):
    result = runs["plot-10**12-steps"]
    assert (result.returncode, result.stderr) == (0, "")
    lines = result.stdout.splitlines()
    assert lines[0] == "cosine: num_warmup_steps=10, num_training_steps=1000000000000"
    assert lines[-1].split() == ["0", "500000000000", "1000000000000", "step"]
    canvas = [line.split("|", 1)[1].ljust(64) for line in lines if " |" in line]
    assert canvas[0][0] == "*" and canvas[-1][-1] == "*"  # the peak after warmup, and 0 at the last step


def test_a_plot_of_lr_1e308_is_drawn_to_scale(runs):
    result = runs["plot-base-lr-1e308"]
    assert (result.returncode, result.stderr) == (0, "")
    lines = result.stdout.splitlines()
    assert lines[2].startswith("1e+308 |") and lines[15].startswith("     0 |")
    canvas = [line.split("|", 1)[1].ljust(64) for line in lines if " |" in line]
    assert canvas[0].count("*") >= 1 and canvas[-1][0] == "*"  # the peak at the top, step 0 at the bottom


def test_an_output_through_a_symlink_replaces_the_file_it_points_to(runs):
    result = runs["symlinked-output"]
    assert (result.returncode, result.stderr) == (0, "")
    folder = result.folder
    assert os.readlink(folder / "link.npy") == str(Path("real") / "target.npy")
    assert np.load(folder / "real" / "target.npy").shape == (1, 100)
    assert (folder / "real" / "target.npy").stat().st_mode & 0o777 == 0o640
    assert sorted(p.name for p in folder.iterdir()) == ["link.configs.csv", "link.npy", "real"]  # no temporary
    assert sorted(p.name for p in (folder / "real").iterdir()) == ["target.npy"]


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM, signal.SIGHUP], ids=lambda s: s.name)
def test_a_signal_mid_write_removes_the_partial_files_and_keeps_the_previous_ones(tmp_path, signum):
    previous_output("out.csv")(tmp_path)
    before = snapshot(tmp_path)
    # 2e7 steps: the header alone takes seconds to write, so the signal comes mid-write.
    args = [*COMMAND, "sweep", "constant", "--num-steps", "2e7", "--base-lr", "0", "-o", "out.csv"]
    process = subprocess.Popen(args, cwd=tmp_path, env=ENV, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 60
        while not any(p.name.startswith(".out.csv.") for p in tmp_path.iterdir()):
            assert process.poll() is None and time.monotonic() < deadline, process.stderr
            time.sleep(0.01)
        process.send_signal(signum)
        _, stderr = process.communicate(timeout=60)
    finally:
        process.kill()
    assert process.returncode == 128 + signum
    assert stderr.splitlines() == [
        f"fastsched: {'interrupted (SIGINT)' if signum == signal.SIGINT else f'stopped by {signum.name}'}; "
        "no output was left half-written"
    ]
    assert snapshot(tmp_path) == before


def test_help_version_and_list_import_neither_numpy_numba_nor_torch(tmp_path):
    script = """
import sys
from fastsched.cli import main
for argv in (["--help"], ["sweep", "--help"], ["plot", "--help"], ["diff", "--help"], ["--version"]):
    try:
        main(argv)
    except SystemExit as exit:
        assert exit.code == 0, argv
assert main(["list"]) == 0
assert main(["list", "transformers"]) == 0
print(sorted(name for name in sys.modules if name.split(".")[0] in {"numpy", "numba", "torch", "matplotlib"}))
"""
    result = subprocess.run([sys.executable, "-c", script], cwd=tmp_path, env=ENV, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[-1] == "[]"
    assert "--num-warmup-steps N" in result.stdout and "fastsched 0.1.0" in result.stdout


def peak_rss_kib(args: list[str], cwd: Path) -> int:
    """The peak resident memory of the command, in KiB: measured by a parent of its own, whose RUSAGE_CHILDREN
    sees that one child only."""
    measure = (
        "import resource, subprocess, sys\n"
        "subprocess.run(sys.argv[1:], check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)\n"
        "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)\n"
    )
    result = subprocess.run([sys.executable, "-c", measure, *args], cwd=cwd, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    return int(result.stdout)


def test_memory_stays_bounded_for_large_csv_and_npy_outputs(tmp_path):
    # The bare interpreter with the same imports, having run a parallel sweep (8 MB): the kernels loaded.
    baseline = [
        sys.executable,
        "-c",
        "import numpy, tqdm, fastsched, fastsched.cli; fastsched.sweep('constant', 1 << 20, base_lr=0.0)",
    ]
    # 2e6 steps: a CSV header of 17 MB (its names as one list of strings would take ~150 MB) and 6 MB of
    # values; 3e7 steps: a 240 MB .npy.
    csv = [*COMMAND, "sweep", "constant", "--num-steps", "2e6", "--base-lr", "0", "-o", "big.csv"]
    npy = [*COMMAND, "sweep", "constant", "--num-steps", "3e7", "-o", "big.npy"]
    with ThreadPoolExecutor(max_workers=2) as pool:
        peaks = dict(
            zip(
                ("baseline", "csv", "npy"),
                pool.map(lambda args: peak_rss_kib(args, tmp_path), (baseline, csv, npy)),
                strict=True,
            )
        )
    assert (tmp_path / "big.npy").stat().st_size == 128 + 8 * 30_000_000
    assert (tmp_path / "big.csv").stat().st_size > 2_000_000 * len(",step_1000000")
    for output in ("csv", "npy"):
        assert peaks[output] - peaks["baseline"] < 100 * 1024, peaks


# --------------------------------------------------------------------------------- in-process, no subprocess


def test_plot_steps_are_at_most_max_plot_points_evenly_spaced_ends_included():
    assert cli.plot_steps(5, 10).tolist() == list(range(5, 15))
    for start, num_steps in ((0, 10**12 + 1), (MAX_STEP - 10**9, 10**9 + 1), (3, cli.MAX_PLOT_POINTS + 1)):
        steps = cli.plot_steps(start, num_steps)
        assert len(steps) <= cli.MAX_PLOT_POINTS
        assert (steps[0], steps[-1]) == (start, start + num_steps - 1)
        gaps = np.diff(steps)
        assert gaps.min() >= 1 and gaps.max() - gaps.min() <= 1


def test_the_grid_is_unravelled_lazily_in_nested_loop_order():
    grid = cli.ConfigGrid.build(
        PRESETS["warmup_stable_decay"],
        {
            "num_warmup_steps": ("0", "5"),
            "num_decay_steps": ("7",),
            "num_stable_steps": ("1", "2", "3"),
            "decay_type": ("linear", "1-sqrt"),
            "base_lr": ("1e-3", "2e-3"),
        },
    )
    assert list(grid.values) == [
        *("num_warmup_steps", "num_decay_steps", "num_stable_steps", "warmup_type"),
        *("decay_type", "min_lr_ratio", "num_cycles", "base_lr"),
    ]
    import itertools

    expected = list(itertools.product(*grid.values.values()))
    assert [tuple(grid.row(i).values()) for i in range(grid.num_configs)] == expected
    lines = grid.config_lines(range(grid.num_configs))
    assert lines == [",".join(cli._cell(value) for value in row) for row in expected]
    assert grid.config_text_bytes() == sum(len(line) + 1 for line in lines)
    # Blocks never span two decay types (a bulk sweep takes one): runs of 2 rows (min_lr_ratio x ... x base_lr).
    for rows in grid.row_blocks(5):
        assert len({expected[i][4] for i in rows}) == 1
        columns = grid.columns(rows)
        assert columns["decay_type"] == expected[rows.start][4]
        assert columns["base_lr"].tolist() == [expected[i][-1] for i in rows]
    assert sum(len(columns["base_lr"]) for columns in grid.validation_blocks()) == grid.num_configs


def test_a_grid_of_25_to_the_6_configs_takes_no_memory_until_a_block_is_asked_for():
    tokens = {
        name: tuple(TWENTY_FIVE.split(","))
        for name in ("num_warmup_steps", "num_decay_steps", "num_stable_steps", "min_lr_ratio", "num_cycles", "base_lr")
    }
    tracemalloc.start()
    try:
        grid = cli.ConfigGrid.build(PRESETS["warmup_stable_decay"], tokens)
        last = grid.num_configs - 1
        row = grid.row(last)
        block = grid.columns(range(last - 2, last + 1))
        size = grid.config_text_bytes()
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert grid.num_configs == 25**6 and peak < 1 << 20
    assert row["num_warmup_steps"] == 24 and row["base_lr"] == 24.0 and block["base_lr"].tolist() == [22.0, 23.0, 24.0]
    assert size > 25**6 * 20


def test_step_names_bytes_counts_every_header_name():
    for start, num_steps in ((0, 1), (0, 10), (7, 200), (95, 10_000), (999_990, 20)):
        assert cli._step_names_bytes(start, num_steps) == sum(
            len(f",step_{k}") for k in range(start, start + num_steps)
        )


def test_the_csv_size_bound_is_exact_when_every_value_is_shortest(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    args = ["sweep", "constant", "--num-steps", "123", "--start", "95", "--base-lr", "0,0.0", "-o", "zeros.csv"]
    assert cli.main(args) == 0
    grid = cli.ConfigGrid.build(PRESETS["constant"], {"base_lr": ("0", "0.0")})
    bound = cli._CsvWriter.size(grid, 123, 95, np.dtype(np.float64))
    assert (tmp_path / "zeros.csv").stat().st_size == bound  # "0.0" is the shortest value text


def test_a_pt_that_does_not_fit_in_memory_is_refused_pointing_to_npy(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(validation, "available_memory", lambda: 10**6)
    assert cli.main(["sweep", *COSINE, "--num-steps", "1e6", "-o", "big.pt"]) == 2
    error = capsys.readouterr().err
    assert re.match(
        r"fastsched: error: a .pt output is built in memory: this one needs about 2\d\d MB and 1 MB is", error
    )
    assert "write .npy instead" in error and len(error.splitlines()) == 1
    assert list(tmp_path.iterdir()) == []


def test_figures_of_lr_1e308_and_of_10_to_the_12_steps_are_written_whole(tmp_path, monkeypatch, capsys):
    pytest.importorskip("matplotlib")
    monkeypatch.chdir(tmp_path)
    assert cli.main(["plot", *COSINE, "--base-lr", "1e308", "-o", "huge.png"]) == 0
    assert (
        cli.main(["plot", "cosine", "--num-warmup-steps", "10", "--num-training-steps", "1e12", "-o", "long.svg"]) == 0
    )
    captured = capsys.readouterr()
    assert captured.err == ""  # no overflow warning from matplotlib's tick search
    assert captured.out.splitlines() == [
        "wrote huge.png (1 line, steps 0..100)",
        "wrote long.svg (1 line, steps 0..1000000000000)",
    ]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["huge.png", "long.svg"]  # no temporary file left
    assert (tmp_path / "huge.png").read_bytes().startswith(b"\x89PNG")


def test_pythons_resource_warnings_stay_hidden_as_python_hides_them(monkeypatch, capsys):
    """A signal between open() and `with` leaves a temporary file to the garbage collector, whose ResourceWarning
    Python hides by default: the command's "once" filter must not show it (it did, now and then, mid-write)."""
    from fastsched import cli

    def handler(args):
        warnings.warn("unclosed file <_io.TextIOWrapper name='.out.csv.tmp'>", ResourceWarning, stacklevel=1)
        warnings.warn("what a user should see", UserWarning, stacklevel=1)
        return 0

    monkeypatch.setattr(cli, "cmd_list", handler)
    assert cli.main(["list"]) == 0
    assert capsys.readouterr().err.splitlines() == ["fastsched: warning: what a user should see"]
