"""The command line with library-qualified presets (``torch.OneCycleLR``-style names): options generated from their
parameters, `list` grouped by library, plots and diffs across libraries, list parameters, and the rule for a preset
parameter named like one of the command's own options (``base_lr``).

The presets here are small fakes registered for the test (monkeypatch on ``registry.PRESETS``), built from
fastsched's own compositions so that their values are known: the command is run in this process (`cli.main`).
"""

from __future__ import annotations

import subprocess
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from cli_run import assert_one_line_error, assert_success, run

import fastsched
from fastsched import registry
from fastsched.registry import Parameter, Preset


def _one_cycle(values: dict[str, Any], context: Any) -> list[Any]:
    """max_lr x a linear decay from 1 at step 0 to 0 at total_steps."""
    decay = fastsched.schedule("linear", num_warmup_steps=0, num_training_steps=values["total_steps"])
    return fastsched.scale(decay, values["max_lr"]).build(context)


def _cyclic(values: dict[str, Any], context: Any) -> list[Any]:
    """base_lr (the preset's own) until step_size_up, then max_lr: what torch's CyclicLR's base_lr clashes like."""
    low = fastsched.scale("constant", values["base_lr"])
    high = fastsched.scale("constant", values["max_lr"])
    return fastsched.join([low, high], [values["step_size_up"]]).build(context)


def _multi_step(values: dict[str, Any], context: Any) -> list[Any]:
    """gamma ** (milestones passed): a list parameter, as torch's MultiStepLR has."""
    milestones = [int(m) for m in values["milestones"]]
    parts = [fastsched.scale("constant", values["gamma"] ** i) for i in range(len(milestones) + 1)]
    boundaries = np.diff([0, *milestones]).cumsum().tolist()
    return fastsched.join(parts, boundaries).build(context)


def _decay(values: dict[str, Any], context: Any) -> list[Any]:
    """init_value x a linear decay over decay_steps."""
    decay = fastsched.schedule("linear", num_warmup_steps=0, num_training_steps=values["decay_steps"])
    return fastsched.scale(decay, values["init_value"] * (0.5 if values["halve"] else 1.0)).build(context)


FAKES = [
    Preset(
        "fakelib.OneCycleLR",
        "fakelib",
        (
            Parameter("max_lr", "float", help="peak lr"),
            Parameter("total_steps", "count", help="steps of the cycle", positive=True),
        ),
        "a linear decay from max_lr",
        builder=f"{__name__}:_one_cycle",
    ),
    Preset(
        "fakelib.CyclicLR",
        "fakelib",
        (
            Parameter("base_lr", "float", help="lower lr of the cycle"),
            Parameter("max_lr", "float", help="upper lr of the cycle"),
            Parameter("step_size_up", "count", 4, help="steps at base_lr"),
        ),
        "base_lr, then max_lr",
        builder=f"{__name__}:_cyclic",
    ),
    Preset(
        "fakelib.MultiStepLR",
        "fakelib",
        (
            Parameter("milestones", "counts", help="steps where the lr drops"),
            Parameter("gamma", "float", 0.1, help="factor per milestone"),
        ),
        "drops by gamma at each milestone",
        builder=f"{__name__}:_multi_step",
    ),
    Preset(
        "otherlib.linear_decay",
        "otherlib",
        (
            Parameter("init_value", "float", help="first value"),
            Parameter("decay_steps", "count", help="steps"),
            Parameter("halve", "flag", False, help="halve the values"),
            Parameter("scales", "mapping", None, help="unused"),  # a kind the command line has no form for
        ),
        "a linear decay from init_value",
        builder=f"{__name__}:_decay",
    ),
]


@pytest.fixture(autouse=True)
def fake_presets(monkeypatch: pytest.MonkeyPatch, tmp_path: Any) -> None:
    for preset in FAKES:
        monkeypatch.setitem(registry.PRESETS, preset.name, preset)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("COLUMNS", "80")  # the text plot's width follows the terminal's


def test_list_groups_presets_by_library_and_shows_one_library(capsys):
    result = run(capsys, "list")
    assert_success(result)
    counts = Counter(preset.library for preset in registry.PRESETS.values())  # the real libraries, then the fakes
    assert "Libraries: " + ", ".join(f"{library} ({count})" for library, count in counts.items()) in result.out
    assert next(iter(counts)) == "transformers" and list(counts)[-2:] == ["fakelib", "otherlib"]
    sections = result.out.split("\n== ")
    assert [section.split("\n", 1)[0] for section in sections[1:]] == [
        f"{library}: {count} schedule{'s' if count > 1 else ''} ==" for library, count in counts.items()
    ]
    assert "\nfakelib.OneCycleLR: a linear decay from max_lr" in sections[list(counts).index("fakelib") + 1]
    assert "\ncosine: " in sections[1] and "fakelib" not in sections[1]

    result = run(capsys, "list", "fakelib")
    assert_success(result)
    assert "== fakelib: 3 schedules ==" in result.out
    assert "transformers" not in result.out and "otherlib" not in result.out
    # The preset's own base_lr has its library in front; a list parameter takes items separated by ':'.
    assert "  --fakelib-base-lr X  required   lower lr of the cycle" in result.out
    assert "  --milestones N:N:...  required     steps where the lr drops" in result.out
    assert "  --step-size-up N     default 4  steps at base_lr" in result.out

    result = run(capsys, "list", "fakelib.CyclicLR")
    assert_success(result)
    assert "\nfakelib.CyclicLR: " in result.out and "OneCycleLR" not in result.out

    result = run(capsys, "list", "nolib")
    assert_one_line_error(result, f"no library or schedule 'nolib'; the libraries are {', '.join(counts)}")


def test_library_presets_are_names_with_their_own_options(capsys):
    one_cycle = ["sweep", "fakelib.OneCycleLR", "--num-steps", "6"]
    assert_success(run(capsys, *one_cycle, "--max-lr", "0.5,1", "--total-steps", "4", "-o", "one.npy"))
    expected = np.array([[1, 0.75, 0.5, 0.25, 0, 0]]) * np.array([[0.5], [1.0]])
    np.testing.assert_allclose(np.load("one.npy"), expected, rtol=0, atol=1e-15)
    assert Path("one.configs.csv").read_text().splitlines() == ["max_lr,total_steps,base_lr", "0.5,4,1.0", "1.0,4,1.0"]

    result = run(capsys, *one_cycle, "--max-lr", "1", "-o", "x.npy")
    assert_one_line_error(result, "fakelib.OneCycleLR requires --total-steps")
    result = run(capsys, *one_cycle, "--num-warmup-steps", "1", "-o", "x.npy")
    assert_one_line_error(
        result, "fakelib.OneCycleLR does not take --num-warmup-steps; it takes --max-lr, --total-steps and --base-lr"
    )
    result = run(capsys, "plot", "fakelib.OneCycle")
    assert_one_line_error(
        result, "argument NAME: invalid choice: 'fakelib.OneCycle' (did you mean 'fakelib.OneCycleLR'"
    )
    assert not Path("x.npy").exists()


def test_the_preset_base_lr_is_spelled_with_its_library_and_base_lr_stays_the_optimizer_lr(capsys):
    # --fakelib-base-lr is the preset's own base_lr (its lower lr); --base-lr the optimizer's lr, scaling it all.
    cyclic = ["fakelib.CyclicLR", "--fakelib-base-lr", "0.1,0.2", "--max-lr", "1", "--step-size-up", "3"]
    assert_success(run(capsys, "sweep", *cyclic, "--base-lr", "2", "--num-steps", "5", "-o", "cyclic.csv"))
    lines = Path("cyclic.configs.csv").read_text().splitlines()
    assert lines == ["fakelib_base_lr,max_lr,step_size_up,base_lr", "0.1,1.0,3,2.0", "0.2,1.0,3,2.0"]
    values = np.loadtxt("cyclic.csv", delimiter=",", skiprows=1)[:, 4:]
    np.testing.assert_allclose(values, 2 * np.array([[0.1, 0.1, 0.1, 1, 1], [0.2, 0.2, 0.2, 1, 1]]), rtol=1e-15)
    preset = fastsched.schedule("fakelib.CyclicLR", base_lr=[0.1, 0.2], max_lr=1.0, step_size_up=3)
    np.testing.assert_array_equal(values, fastsched.sweep(preset, 5, base_lr=2.0))

    # --base-lr never sets the preset's base_lr: without --fakelib-base-lr it is missing, named by its option.
    result = run(capsys, "plot", "fakelib.CyclicLR", "--max-lr", "1", "--base-lr", "0.5")
    assert_one_line_error(result, "fakelib.CyclicLR requires --fakelib-base-lr")
    result = run(capsys, "plot", "cosine", "--fakelib-base-lr", "0.1", "--num-warmup-steps", "1")
    assert_one_line_error(result, "--fakelib-base-lr is not a parameter of cosine")
    result = run(capsys, "sweep", "--help")
    help_text = " ".join(result.out.split())  # argparse wraps the help
    assert result.code == 0
    assert (
        "--fakelib-base-lr X lower lr of the cycle (the preset's own `base_lr`; --base-lr is the optimizer" in help_text
    )


def test_a_list_parameter_takes_items_separated_by_colons_and_each_list_is_a_config(capsys):
    multi_step = ["sweep", "fakelib.MultiStepLR", "--num-steps", "6"]
    grid = [*multi_step, "--milestones", "2:4,3", "--gamma", "0.5,0.1"]
    # 12 values a block: two rows, never across the change of milestones.
    assert_success(run(capsys, *grid, "--max-block-values", "12", "-o", "steps.npy"))
    assert Path("steps.configs.csv").read_text().splitlines() == [
        "milestones,gamma,base_lr",
        "2:4,0.5,1.0",
        "2:4,0.1,1.0",
        "3,0.5,1.0",
        "3,0.1,1.0",
    ]
    expected = [
        [1, 1, 0.5, 0.5, 0.25, 0.25],
        [1, 1, 0.1, 0.1, 0.1**2, 0.1**2],
        [1, 1, 1, 0.5, 0.5, 0.5],
        [1, 1, 1, 0.1, 0.1, 0.1],
    ]
    np.testing.assert_allclose(np.load("steps.npy"), expected, rtol=1e-15, atol=0)
    torch = pytest.importorskip("torch")
    assert_success(run(capsys, *grid, "-o", "steps.pt"))
    saved = torch.load("steps.pt", weights_only=True)
    assert saved["configs"]["milestones"] == [[2, 4], [2, 4], [3], [3]]
    assert saved["schedule"] == "fakelib.MultiStepLR"

    result = run(capsys, *multi_step, "--milestones", "2::4", "-o", "x.npy")
    assert_one_line_error(result, "argument --milestones: empty item in the list '2::4'")
    result = run(capsys, *multi_step, "--milestones", "2:x", "-o", "x.npy")
    assert_one_line_error(result, "argument --milestones: not an integer: 'x'")


def test_a_parameter_of_a_kind_the_command_line_cannot_take_is_listed_for_specs(capsys):
    listing = run(capsys, "list", "otherlib").out
    assert "  scales                          unused (not settable from the command line: use --spec)" in listing
    result = run(capsys, "plot", "otherlib.linear_decay", "--init-value", "1", "--decay-steps", "4", "--scales", "1")
    assert_one_line_error(result, "unrecognized arguments: --scales 1")


def test_a_flag_is_true_or_false_and_each_value_is_a_config(capsys):
    assert "  --halve BOOL     default False  halve the values" in run(capsys, "list", "otherlib").out
    decay = ["sweep", "otherlib.linear_decay", "--init-value", "1", "--decay-steps", "4", "--num-steps", "3"]
    assert_success(run(capsys, *decay, "--halve", "false,TRUE,0,yes", "-o", "flags.npy"))
    expected = np.array([[1, 0.75, 0.5]]) * np.array([[1.0], [0.5], [1.0], [0.5]])
    np.testing.assert_array_equal(np.load("flags.npy"), expected)
    assert Path("flags.configs.csv").read_text().splitlines()[1:3] == ["1.0,4,False,1.0", "1.0,4,True,1.0"]
    assert_one_line_error(
        run(capsys, *decay, "--halve", "maybe", "-o", "x.npy"), "argument --halve: must be true or false, got 'maybe'"
    )
    assert not Path("x.npy").exists()


def test_plot_overlays_schedules_of_different_libraries_to_where_the_longest_ends(capsys):
    result = run(
        capsys,
        "plot",
        "fakelib.OneCycleLR",
        "otherlib.linear_decay",
        "linear",
        *("--max-lr", "1", "--total-steps", "60", "--init-value", "0.5", "--decay-steps", "80"),
        *("--num-warmup-steps", "10", "--num-training-steps", "40"),
    )
    assert_success(result)
    lines = result.out.splitlines()
    # No --num-steps: through step 80, where the longest (otherlib's, decay_steps) ends.
    assert lines[-4].split() == ["0", "40", "80", "step"]
    assert lines[-3:] == [
        "  * fakelib.OneCycleLR, max_lr=1.0, total_steps=60",
        "  + otherlib.linear_decay, init_value=0.5, decay_steps=80",
        "  o linear, num_warmup_steps=10, num_training_steps=40",
    ]


def test_diff_tells_whether_schedules_of_two_libraries_are_the_same(capsys):
    one_cycle = ["fakelib.OneCycleLR", "--max-lr", "1", "--total-steps", "50"]
    result = run(capsys, "diff", *one_cycle, "linear", "--num-warmup-steps", "0", "--num-training-steps", "50")
    assert_success(result)
    assert result.out.splitlines() == [
        "A: fakelib.OneCycleLR, max_lr=1.0, total_steps=50 (base lr 1)",
        "B: linear, num_warmup_steps=0, num_training_steps=50 (base lr 1)",
        "steps 0..50 (51 steps), float64",
        "identical: every one of the 51 steps is equal (float64)",
    ]
    result = run(capsys, "diff", *one_cycle, "otherlib.linear_decay", "--init-value", "1", "--decay-steps", "40")
    assert (result.code, result.err) == (1, "")
    # A = 1 - s/50, B = 1 - s/40 until 40: they part at step 1; the gap peaks at step 40 (0.2, all of A there).
    lines = result.out.splitlines()
    assert lines[3:] == [
        "first difference: step 1 (A 0.98, B 0.975)",
        "max absolute difference: 0.2 at step 40 (A 0.2, B 0)",
        "max relative difference: 1 at step 40 (A 0.2, B 0)",
        "differ: 49 of 51 steps beyond --atol 0 --rtol 0, the first at step 1",
    ]


def test_help_and_list_with_library_presets_import_no_numpy(tmp_path):
    # The fakes declared again here: this module imports numpy.
    script = """
import sys
from fastsched import registry
from fastsched.registry import Parameter, Preset
for name, parameters in (
    ("fakelib.CyclicLR", (Parameter("base_lr", "float"), Parameter("max_lr", "float"))),
    ("fakelib.MultiStepLR", (Parameter("milestones", "counts"),)),
):
    registry.PRESETS[name] = Preset(name, "fakelib", parameters, "a fake", builder="nowhere:nothing")
from fastsched.cli import main
for argv in (["diff", "--help"], ["plot", "--help"]):
    try:
        main(argv)
    except SystemExit as exit:
        assert exit.code == 0, argv
assert main(["list", "fakelib"]) == 0
print(sorted(name for name in sys.modules if name.split(".")[0] in {"numpy", "numba", "torch"}))
"""
    result = subprocess.run([sys.executable, "-c", script], cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert "--fakelib-base-lr X" in result.stdout and "--milestones N:N:..." in result.stdout
    assert result.stdout.splitlines()[-1] == "[]"
