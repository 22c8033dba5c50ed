"""The README's promises that can be executed: its examples run, its generated tables are current, its figure is
what its command draws, and CI runs its test command."""

from __future__ import annotations

import importlib.util
import json
import re
import shlex
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from fastsched import registry

REPO = Path(__file__).resolve().parents[1]
README = (REPO / "README.md").read_text()


def fenced_after(marker: str) -> str:
    """The first fenced code block after an HTML comment marker."""
    match = re.search(rf"<!-- {marker} -->\s*```\w*\n(.*?)```", README, re.S)
    assert match, f"README has no code block after <!-- {marker} -->"
    return match.group(1).strip()


def between(marker: str) -> str:
    """The text between <!-- marker --> and <!-- /marker -->."""
    match = re.search(rf"<!-- {marker} -->\n(.*?)<!-- /{marker} -->", README, re.S)
    assert match, f"README has no <!-- {marker} --> ... <!-- /{marker} --> section"
    return match.group(1).strip()


def python_block(section: str) -> str:
    body = README.split(f"\n{section}\n", 1)[1]
    return re.search(r"```python\n(.*?)```", body, re.S).group(1)


def test_ci_runs_the_readme_test_command():
    ci_script = (REPO / ".ci" / "run").read_text()
    assert fenced_after("test-command") in ci_script.splitlines()


@pytest.mark.parametrize("section", ["## The bulk API", "### Composing schedules"])
def test_examples_run(section):
    exec(compile(python_block(section), "README.md", "exec"), {})


def test_the_presets_table_is_the_registrys():
    assert between("presets-table") == registry.presets_markdown(), (
        "regenerate with: python -c 'from fastsched import registry; print(registry.presets_markdown())'"
    )


def test_the_performance_figures_quote_the_results_file():
    spec = importlib.util.spec_from_file_location("record", REPO / "bench" / "record.py")
    record = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(record)
    results = json.loads((REPO / "bench" / "results" / "vm.json").read_text())
    assert between("performance") == record.readme_section(results), "regenerate with: python bench/record.py --readme"


def test_the_figure_is_what_its_command_draws(tmp_path):
    pytest.importorskip("matplotlib")
    from matplotlib.image import imread

    command = shlex.split(fenced_after("figure-command"))
    assert command[0] == "fastsched" and command[-2:] == ["-o", "tests/figures/composed.png"]
    drawn = tmp_path / "composed.png"
    run = subprocess.run(
        [sys.executable, "-m", "fastsched.cli", *command[1:-1], str(drawn)], capture_output=True, text=True, cwd=REPO
    )
    assert run.returncode == 0, run.stderr
    committed, fresh = imread(REPO / "tests" / "figures" / "composed.png"), imread(drawn)
    assert committed.shape == fresh.shape
    assert np.abs(committed - fresh).mean() < 0.01  # the same figure (font rendering may differ by a few pixels)
