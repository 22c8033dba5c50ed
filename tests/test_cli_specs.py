"""The command line with specs (--spec: a JSON file or inline JSON) and `fastsched diff`.

Specs are plotted (overlaid with named presets, labelled by their "name", their file's stem or a description) and
swept (their lists one value per config, crossed with --base-lr's comma list); diff reports where two schedules
part and by how much, and its exit code says whether they are equal within the tolerances. The values are checked
against fastsched's own API on the same schedule objects (the compositions' values are tested in
test_composition.py), and the diff's findings against numpy on the two trajectories. The command runs in this
process (`cli.main`) but for one run of the console script, whose exit code is the point.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from cli_run import assert_one_line_error, assert_success, run

import fastsched
from fastsched import cli, plotting

# A constant after a 10-step warmup, cooled down to 0 over 20 steps from step 60 or from step 80: two configs.
WSD = {
    "name": "wsd-cooldown",
    "cooldown": {"warmup": {"schedule": "constant"}, "num_steps": 10},
    "at_step": [60, 80],
    "num_steps": 20,
}
FLOOR = {"floor": {"schedule": "linear", "num_warmup_steps": 0, "num_training_steps": 40}, "min_ratio": 0.25}
HALF = '{"scale": {"schedule": "constant"}, "factor": 0.5}'
# Per-config values in nested places: a join's part, a cooldown inside a join, a boundary.
NESTED = {
    "join": [
        {"schedule": "linear", "num_warmup_steps": [0, 5], "num_training_steps": 40},
        {"cooldown": {"schedule": "constant"}, "at_step": 10, "num_steps": [5, 10]},
    ],
    "boundaries": [[30, 45]],
}


def without_name(spec: dict) -> dict:
    return {key: value for key, value in spec.items() if key != "name"}


def config_spec(spec: dict, **values: object) -> dict:
    """One config of WSD-like specs: its top-level per-config values set."""
    return {**without_name(spec), **values}


@pytest.fixture(autouse=True)
def spec_files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    (tmp_path / "wsd.json").write_text(json.dumps(WSD))
    (tmp_path / "floor.json").write_text(json.dumps(FLOOR))
    (tmp_path / "nested.json").write_text(json.dumps(NESTED))
    (tmp_path / "array.json").write_text("[1, 2]")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("COLUMNS", "80")  # the text plot's width follows the terminal's
    return tmp_path


@pytest.fixture
def drawn(monkeypatch: pytest.MonkeyPatch) -> list[plotting.Curve]:
    """The curves the text plot is given (each line's label, steps and lrs), kept as they are drawn."""
    curves: list[plotting.Curve] = []
    text_plot = plotting.text_plot

    def record(lines, **kwargs):
        curves.extend(lines)
        return text_plot(lines, **kwargs)

    monkeypatch.setattr(plotting, "text_plot", record)
    return curves


def snapshot(folder: Path) -> dict[str, bytes]:
    return {str(path.relative_to(folder)): path.read_bytes() for path in sorted(folder.rglob("*")) if path.is_file()}


# -- plot ----------------------------------------------------------------------------------------------------------


def test_plot_overlays_names_spec_files_and_inline_specs_labelled_by_name_stem_or_description(capsys, drawn):
    linear = ["linear", "--num-warmup-steps", "10", "--num-training-steps", "50"]
    result = run(capsys, "plot", *linear, "--spec", "wsd.json", "--spec", "floor.json", "--spec", HALF)
    assert_success(result)
    assert [curve.label for curve in drawn] == [
        "linear, num_warmup_steps=10, num_training_steps=50",
        "wsd-cooldown, at_step=60",  # the spec's "name", and each config's per-config value
        "wsd-cooldown, at_step=80",
        "floor",  # the file's stem
        "scale(constant)",  # an inline spec's description
    ]
    # No --num-steps: through step 100, where the longest (the cooldown from step 80, over 20 steps) ends.
    steps = np.arange(101)
    assert all(np.array_equal(curve.steps, steps) for curve in drawn)
    assert result.out.splitlines()[-6].split() == ["0", "50", "100", "step"]
    schedules = [
        fastsched.schedule(config_spec(WSD, at_step=60)),
        fastsched.schedule(config_spec(WSD, at_step=80)),
        fastsched.schedule(FLOOR),
        fastsched.schedule(HALF),
    ]
    for curve, schedule in zip(drawn[1:], schedules, strict=True):
        np.testing.assert_array_equal(curve.lrs, fastsched.multipliers(schedule, steps))
    # Hand-checked: half way up the warmup, half way down each cooldown, the floor's bottom, the half.
    assert (drawn[1].lrs[5], drawn[1].lrs[70], drawn[2].lrs[90], drawn[2].lrs[100]) == (0.5, 0.5, 0.5, 0.0)
    assert (drawn[3].lrs[0], drawn[3].lrs[40], drawn[4].lrs[7]) == (1.0, 0.25, 0.5)


def test_plot_crosses_a_spec_configs_with_base_lrs_and_shares_what_all_lines_share(capsys, drawn):
    result = run(capsys, "plot", "--spec", "wsd.json", "--base-lr", "1e-3,2e-3", "--num-steps", "90", "--start", "5")
    assert_success(result)
    lines = result.out.splitlines()
    assert lines[:2] == ["wsd-cooldown", "learning rate"]  # the title: what every line shares
    assert [curve.label for curve in drawn] == [
        "at_step=60, base_lr=0.001",
        "at_step=60, base_lr=0.002",
        "at_step=80, base_lr=0.001",
        "at_step=80, base_lr=0.002",
    ]
    np.testing.assert_array_equal(drawn[0].steps, np.arange(5, 95))
    expected = 2e-3 * fastsched.multipliers(fastsched.schedule(config_spec(WSD, at_step=80)), np.arange(5, 95))
    np.testing.assert_array_equal(drawn[3].lrs, expected)


# -- sweep ---------------------------------------------------------------------------------------------------------


def test_sweep_a_spec_one_row_per_config_and_base_lr_base_lr_fastest(capsys, spec_files):
    sweep = ["sweep", "--spec", "wsd.json", "--num-steps", "120", "--base-lr", "1e-3,2e-3"]
    result = run(capsys, *sweep, "-o", "wsd.npy")
    assert_success(result)
    assert "wsd-cooldown: 4 configs x 120 steps = 480 values (float64, 3.84 kB) -> wsd.npy" in result.out
    assert (spec_files / "wsd.configs.csv").read_text().splitlines() == [
        "at_step,base_lr",
        "60,0.001",
        "60,0.002",
        "80,0.001",
        "80,0.002",
    ]
    rows = [
        fastsched.trajectory(fastsched.schedule(config_spec(WSD, at_step=at_step)), 120, base_lr=base_lr)
        for at_step in (60, 80)
        for base_lr in (1e-3, 2e-3)
    ]
    lrs = np.load("wsd.npy")
    np.testing.assert_allclose(lrs, rows, rtol=0, atol=1e-18)
    # Written in blocks of 50 values (rows cut in three) and as CSV: the same values.
    assert_success(run(capsys, *sweep, "--max-block-values", "50", "-o", "blocks.npy"))
    np.testing.assert_array_equal(np.load("blocks.npy"), lrs)
    assert_success(run(capsys, *sweep, "-o", "wsd.csv"))
    table = np.loadtxt("wsd.csv", delimiter=",", skiprows=1)
    np.testing.assert_array_equal(table[:, :2], [[60, 1e-3], [60, 2e-3], [80, 1e-3], [80, 2e-3]])
    np.testing.assert_array_equal(table[:, 2:], lrs)


def test_sweep_a_spec_to_pt_records_the_spec(capsys):
    torch = pytest.importorskip("torch")
    assert_success(run(capsys, "sweep", "--spec", "wsd.json", "--num-steps", "100", "-o", "wsd.pt"))
    saved = torch.load("wsd.pt", weights_only=True)
    assert saved["schedule"] == fastsched.schedule(without_name(WSD)).to_spec()
    assert saved["configs"] == {"at_step": [60, 80], "base_lr": [1.0, 1.0]}
    assert saved["lr"].shape == (2, 100)


def test_sweep_columns_name_each_per_config_value_by_its_place_in_the_spec(capsys, spec_files):
    assert_success(run(capsys, "sweep", "--spec", "nested.json", "--num-steps", "60", "-o", "nested.npy"))
    lines = (spec_files / "nested.configs.csv").read_text().splitlines()
    assert lines[0] == "join[0].num_warmup_steps,join[1].num_steps,boundaries[0],base_lr"
    assert [[float(cell) for cell in line.split(",")] for line in lines[1:]] == [[0, 5, 30, 1], [5, 10, 45, 1]]
    np.testing.assert_array_equal(np.load("nested.npy"), fastsched.sweep(fastsched.schedule(NESTED), 60))


TOO_MANY = json.dumps({"scale": {"schedule": "constant"}, "factor": [0.5] * 30})
SWEEP = ["--num-steps", "10", "-o", "out.npy"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["sweep", "--spec", "missing.json", *SWEEP], "--spec 'missing.json': No such file or directory (a spec is"),
        (["sweep", "--spec", ".", *SWEEP], "--spec '.': Is a directory"),
        (["sweep", "--spec", '{"scale": ', *SWEEP], "--spec '{\"scale\": ': not valid JSON: Expecting value: line 1"),
        (["plot", "--spec", "array.json"], "--spec 'array.json': a spec is a JSON object ({...}), got an array"),
        (
            ["sweep", "--spec", '{"cooldown": {"schedule": "constant"}, "at_step": -1, "num_steps": 3}', *SWEEP],
            "`at_step` must be a non-negative number of steps, got -1",
        ),
        (
            [
                "sweep",
                "--spec",
                '{"cooldown": {"schedule": "constant"}, "at_step": [1, 2], "num_steps": [3, 4, 5]}',
                *SWEEP,
            ],
            "sweep parameters must have one common length; `at_step` has 2, `num_steps` has 3",
        ),
        (["sweep", "--spec", '{"name": 3, "schedule": "constant"}', *SWEEP], '"name" (the label) must be a non-empty'),
        (["sweep", "--spec", "wsd.json", "--num-warmup-steps", "3", *SWEEP], "--num-warmup-steps sets a named sched"),
        (["plot", "--spec", "wsd.json", "--power", "2"], "--power sets a named schedule's parameter"),
        (["sweep", "constant", "--spec", "wsd.json", *SWEEP], "sweep takes one schedule: a NAME"),
        (["sweep", *SWEEP], "sweep takes one schedule: a NAME"),
        (["sweep", "wsd.json", *SWEEP], "invalid choice: 'wsd.json'; a spec goes after --spec"),
        (["plot", "--num-steps", "10"], "plot needs a schedule: a NAME (see 'fastsched list') or --spec SPEC"),
        (["plot", "--spec", TOO_MANY], "30 lines are too many for one plot (at most 24)"),
        (["plot", "--spec", "wsd.json", "--base-lr", "1e308", "--base-lr", "x"], "argument --base-lr: not a number"),
        (["diff", "--spec", "wsd.json", "--spec", "floor.json"], "diff compares two schedules, A and B; these argu"),
        (["diff", "constant"], "these arguments give 1 (one per value of a comma list, and per config of a spec): c"),
        (["diff", "constant", "--spec", "wsd.json", "--atol", "-1"], "argument --atol: must be non-negative"),
        (["diff", "--spec", "wsd.json", "-o", "x.png"], "unrecognized arguments: -o"),
    ],
    ids=[
        "missing-file",
        "folder",
        "bad-json",
        "not-an-object",
        "bad-value",
        "lengths-differ",
        "name-not-text",
        "option-with-spec",
        "plot-option-with-spec-only",
        "name-and-spec",
        "no-schedule",
        "spec-as-name",
        "plot-no-schedule",
        "too-many-lines",
        "bad-base-lr",
        "diff-three",
        "diff-one",
        "diff-negative-atol",
        "diff-no-output",
    ],
)
def test_spec_and_diff_errors_are_one_line_exit_2_and_write_nothing(capsys, spec_files, args, message):
    before = snapshot(spec_files)
    assert_one_line_error(run(capsys, *args), message)
    assert snapshot(spec_files) == before


# -- diff ----------------------------------------------------------------------------------------------------------

COSINE = ["cosine", "--num-warmup-steps", "10", "--num-training-steps", "100"]
COSINE_SPEC = {"schedule": "cosine", "num_warmup_steps": 10, "num_training_steps": 100}
FLOORED = json.dumps({"floor": COSINE_SPEC, "min_ratio": 1e-3})


def findings(text: str) -> dict[str, tuple[float, ...]]:
    """{what: numbers} of diff's report lines ("first difference", "max absolute difference"...)."""
    found = {}
    for line in text.splitlines():
        what, _, rest = line.partition(": ")
        found[what] = tuple(float(n) for n in re.findall(r"-?\d+(?:\.\d+)?(?:e[-+]\d+)?", rest))
    return found


def test_diff_of_equal_schedules_is_identical_exit_0(capsys):
    result = run(capsys, "diff", *COSINE, "--spec", json.dumps({"name": "same", **COSINE_SPEC}))
    assert_success(result)
    assert result.out.splitlines() == [
        "A: cosine, num_warmup_steps=10, num_training_steps=100 (base lr 1)",
        f"B: same: {json.dumps(COSINE_SPEC)} (base lr 1)",
        "steps 0..100 (101 steps), float64",
        "identical: every one of the 101 steps is equal (float64)",
    ]


def plain(number: float) -> str:
    """A number as diff prints it: whole numbers without '.0'."""
    return str(int(number)) if number.is_integer() else repr(number)


def trajectories(*specs: object, num_steps: int = 101, base_lr: float = 1.0) -> list[np.ndarray]:
    return [fastsched.trajectory(fastsched.schedule(spec), num_steps, base_lr=base_lr) for spec in specs]


def test_diff_finds_the_first_and_largest_differences_as_numpy_does(capsys, monkeypatch):
    result = run(capsys, "diff", *COSINE, "--spec", FLOORED, "--base-lr", "3e-4", "--num-steps", "150")
    assert (result.code, result.err) == (1, "")
    a, b = trajectories(COSINE_SPEC, FLOORED, num_steps=150, base_lr=3e-4)
    absolute = np.abs(a - b)
    relative = np.divide(absolute, np.maximum(np.abs(a), np.abs(b)), out=np.zeros(150), where=absolute > 0)
    first, at_abs, at_rel = int(np.argmax(a != b)), int(np.argmax(absolute)), int(np.argmax(relative))
    # The floor lifts the warmup's 0 at step 0 most, absolutely and relatively; the decay's end by as much.
    assert (first, at_abs, at_rel, absolute[100]) == (0, 0, 0, absolute[0])
    found = findings(result.out)
    assert found["first difference"] == (first, a[first], b[first])
    assert found["max absolute difference"] == (absolute[at_abs], at_abs, a[at_abs], b[at_abs])
    assert found["max relative difference"] == (relative[at_rel], at_rel, a[at_rel], b[at_rel])
    assert result.out.splitlines()[-1] == (
        f"differ: {int((a != b).sum())} of 150 steps beyond --atol 0 --rtol 0, the first at step {first}"
    )

    # Compared a few steps at a time, block boundaries change nothing.
    monkeypatch.setattr(cli, "DIFF_BLOCK_STEPS", 7)
    assert run(capsys, "diff", *COSINE, "--spec", FLOORED, "--base-lr", "3e-4", "--num-steps", "150") == result


@pytest.mark.parametrize(
    ("atol", "rtol"), [(1e-3, 0.0), (0.999e-3, 0.0), (0.0, 1e-3), (0.0, 1.0), (1e-4, 1e-3)], ids=str
)
def test_diff_tolerances_decide_the_exit_code(capsys, atol, rtol):
    """Equal within tolerance where every step has |A - B| <= atol + rtol x max(|A|, |B|): exit 0, else 1."""
    result = run(capsys, "diff", *COSINE, "--spec", FLOORED, "--atol", repr(atol), "--rtol", repr(rtol))
    a, b = trajectories(COSINE_SPEC, FLOORED)
    beyond = np.abs(a - b) > atol + rtol * np.maximum(np.abs(a), np.abs(b))
    tolerance = f"--atol {plain(atol)} --rtol {plain(rtol)}"
    last = result.out.splitlines()[-1]
    if beyond.any():
        assert result.code == 1
        assert last == f"differ: {beyond.sum()} of 101 steps beyond {tolerance}, the first at step {np.argmax(beyond)}"
    else:
        assert result.code == 0
        assert last == f"equal within {tolerance} ({(a != b).sum()} of 101 steps differ within it)"


def test_diff_compares_two_values_of_a_comma_list_from_a_start(capsys):
    two = ["cosine", "--num-warmup-steps", "10", "--num-training-steps", "100,101"]
    result = run(capsys, "diff", *two, "--start", "50")
    assert result.code == 1
    assert result.out.splitlines()[:3] == [
        "A: cosine, num_warmup_steps=10, num_training_steps=100 (base lr 1)",
        "B: cosine, num_warmup_steps=10, num_training_steps=101 (base lr 1)",
        "steps 50..101 (52 steps), float64",  # from --start through the longest's end (101)
    ]
    assert findings(result.out)["first difference"][0] == 50


def test_difference_counts_nan_against_a_number_and_infinities_and_opposite_signs():
    found = cli.Difference()
    found.update(np.array([1.0, np.nan, np.inf, 0.0]), np.array([1.0, np.nan, 1.0, 0.0]), 10, atol=0.0, rtol=0.0)
    assert (found.first_step, found.differing, found.beyond, found.first_beyond) == (12, 1, 1, 12)
    assert (found.max_abs, found.max_abs_step, found.max_rel, found.max_rel_step) == (np.inf, 12, np.inf, 12)
    found = cli.Difference()
    found.update(np.array([1.0, -2.0, 1.0]), np.array([1.0, 2.0, 1.5]), 0, atol=0.0, rtol=1.0)
    # |A - B| / max(|A|, |B|): 2 for opposite signs, beyond rtol 1; 1/3 within it.
    assert (found.max_rel, found.max_rel_step, found.beyond, found.first_beyond, found.differing) == (2.0, 1, 1, 1, 2)
    found.update(np.array([np.nan]), np.array([0.0]), 3, atol=1.0, rtol=1.0)  # nan against a number: beyond any
    assert (found.max_abs, found.max_abs_step, found.beyond, found.first_step) == (np.inf, 3, 2, 1)


def test_the_console_script_exits_1_when_schedules_differ(spec_files):
    command = [shutil.which("fastsched")] if shutil.which("fastsched") else [sys.executable, "-m", "fastsched.cli"]
    result = subprocess.run(
        [*command, "diff", "--spec", "wsd.json", "--num-steps", "70"],
        cwd=spec_files,
        env={**os.environ, "COLUMNS": "80"},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert (result.returncode, result.stderr) == (1, "")
    assert result.stdout.splitlines()[-1] == "differ: 9 of 70 steps beyond --atol 0 --rtol 0, the first at step 61"
