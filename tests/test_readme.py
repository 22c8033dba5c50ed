"""The README's promises that can be executed: its Python example runs, and CI runs its test command."""

from __future__ import annotations

import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
README = (REPO / "README.md").read_text()


def fenced_after(marker: str) -> str:
    """The first fenced code block after an HTML comment marker."""
    match = re.search(rf"<!-- {marker} -->\s*```\w*\n(.*?)```", README, re.S)
    assert match, f"README has no code block after <!-- {marker} -->"
    return match.group(1).strip()


def test_ci_runs_the_readme_test_command():
    ci_script = (REPO / ".ci" / "run").read_text()
    assert fenced_after("test-command") in ci_script.splitlines()


def test_bulk_api_example_runs():
    section = README.split("## The bulk API", 1)[1]
    example = re.search(r"```python\n(.*?)```", section, re.S).group(1)
    exec(compile(example, "README.md", "exec"), {})
