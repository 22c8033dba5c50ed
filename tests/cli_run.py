"""Running the `fastsched` command in this process (as the console script runs `cli.main`), for the CLI tests."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from fastsched import cli


@dataclass(frozen=True)
class Result:
    code: int
    out: str
    err: str


def run(capsys: pytest.CaptureFixture[str], *args: str) -> Result:
    """`fastsched ARGS` in this process: its exit code (argparse's own exits included), stdout and stderr."""
    try:
        code = cli.main(list(args))
    except SystemExit as exit:  # argparse's errors and --help exit from parse_args
        code = exit.code
    captured = capsys.readouterr()
    return Result(code, captured.out, captured.err)


def assert_success(result: Result) -> None:
    assert (result.code, result.err) == (0, ""), result.err


def assert_one_line_error(result: Result, message: str) -> None:
    """Exit code 2 and one "fastsched: error:" line holding `message`."""
    assert result.code == 2, result
    lines = result.err.splitlines()
    assert len(lines) == 1 and lines[0].startswith("fastsched: error: "), result.err
    assert message in lines[0]
