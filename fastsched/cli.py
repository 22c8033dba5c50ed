"""The ``fastsched`` command: list the schedules, plot them, and write sweeps to .npy, .csv or .pt.

Every schedule parameter in the registry is an option, spelled in kebab case (``--num-warmup-steps``), plus
``--base-lr``. Each takes one value or a comma list; the Cartesian product of the comma lists is the grid of
configs. Grid order: the config table's columns are the schedule's parameters in ``fastsched list`` order
(those given, and those with a fixed default), then ``base_lr``; rows run through the product like nested
loops with the first column outermost and the last (``base_lr``) fastest.

Only ``sweep -o FILE.pt`` imports torch, and only ``plot -o FILE`` imports matplotlib.
Errors are one line on stderr ("fastsched: error: ...") and exit code 2.
"""

from __future__ import annotations

import argparse
import contextlib
import itertools
import os
import re
import shutil
import sys
import time
import warnings
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, NoReturn

import numpy as np

from . import __version__, bulk, plotting, schedules
from .schedules import REQUIRED, SCHEDULES, SHAPES, Schedule

# Values per block computed and written at a time: the memory a sweep needs, whatever its size.
NPY_BLOCK_VALUES = 1 << 22
CSV_BLOCK_VALUES = 1 << 18
# Outputs from this size on show a progress bar, once writing has taken PROGRESS_DELAY_S (CSV: ~1 s per 2**20).
PROGRESS_MIN_VALUES = 1 << 20
PROGRESS_DELAY_S = 0.5
CONFIG_ROWS_SHOWN = 10
# A plot evaluates at most this many steps per line, evenly spaced: enough for any screen or figure.
MAX_PLOT_POINTS = 10_000
MAX_PLOT_LINES = 24
OUTPUT_FORMATS = (".npy", ".csv", ".pt")


class CliError(Exception):
    """A user error: reported as one line on stderr, exit code 2."""


class _Parser(argparse.ArgumentParser):
    """argparse with one-line errors (the usage block is left to --help) and no abbreviated options."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        # Abbreviations of generated options would change meaning as the registry grows (--warmup, --min-lr...).
        kwargs.setdefault("allow_abbrev", False)
        super().__init__(*args, **kwargs)

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"fastsched: error: {message} (see '{self.prog} --help')\n")


# ----------------------------------------------------------------------------------------------- options


@dataclass(frozen=True)
class Option:
    """A command-line option for one schedule parameter (or the base lr)."""

    name: str  # the Python keyword, as in schedules.py
    kind: str  # "count", "float" or "choice"
    help: str

    @property
    def flag(self) -> str:
        return "--" + self.name.replace("_", "-")


def _registry_options() -> dict[str, Option]:
    """One option per parameter name in the registry, in first-seen order; help says which schedules take it."""
    takers: dict[str, list[str]] = {}
    first: dict[str, schedules.Parameter] = {}
    for schedule in SCHEDULES.values():
        for parameter in schedule.parameters:
            first.setdefault(parameter.name, parameter)
            takers.setdefault(parameter.name, []).append(schedule.name)
    options = {"base_lr": Option("base_lr", "float", "the optimizer's lr that the multipliers scale (default: 1)")}
    for name, parameter in first.items():
        options[name] = Option(name, parameter.kind, f"{parameter.help} [{', '.join(takers[name])}]")
    return options


OPTIONS = _registry_options()
METAVARS = {"count": "N", "float": "X", "choice": "SHAPE"}


def _flag(name: str) -> str:
    return OPTIONS[name].flag if name in OPTIONS else name


def _parse_count(text: str) -> int:
    """A non-negative integer; integral floats such as 1e6 are accepted."""
    try:
        value = int(text)
    except ValueError:
        try:
            number = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"not an integer: {text!r}") from None
        if not number.is_integer():
            raise argparse.ArgumentTypeError(f"not an integer: {text!r}") from None
        value = int(number)
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be a non-negative integer, got {text!r}")
    return value


def _parse_positive_count(text: str) -> int:
    value = _parse_count(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {text!r}")
    return value


def _parse_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not np.isfinite(value):
        raise argparse.ArgumentTypeError(f"must be finite, got {text!r}")
    return value


def _parse_choice(text: str) -> str:
    if text not in SHAPES:
        raise argparse.ArgumentTypeError(f"must be one of {', '.join(SHAPES)}, got {text!r}")
    return text


PARSERS: dict[str, Callable[[str], Any]] = {"count": _parse_count, "float": _parse_float, "choice": _parse_choice}


def _value_list(kind: str) -> Callable[[str], tuple[Any, ...]]:
    """An argparse type: one value or a comma list of values of this kind."""

    def parse(text: str) -> tuple[Any, ...]:
        tokens = [token.strip() for token in text.split(",")]
        if not all(tokens):
            raise argparse.ArgumentTypeError(f"empty value in the comma list {text!r}")
        return tuple(PARSERS[kind](token) for token in tokens)

    return parse


def _given_values(args: argparse.Namespace) -> dict[str, tuple[Any, ...]]:
    """{parameter: values} for the options given on the command line, in OPTIONS order."""
    return {name: getattr(args, name) for name in OPTIONS if getattr(args, name) is not None}


def _cli_message(exc: Exception) -> str:
    # schedules.pack names parameters as Python keywords (`num_warmup_steps`); here they are options.
    return re.sub(r"`(\w+)`", lambda m: _flag(m.group(1)) if m.group(1) in OPTIONS else m.group(0), str(exc))


# ------------------------------------------------------------------------------------------------ grids


@dataclass
class ConfigGrid:
    """The Cartesian product of a schedule's parameter values: one row per config, the last column fastest."""

    schedule: Schedule
    columns: dict[str, np.ndarray]  # parameter -> its value in each config; base_lr last
    given: tuple[str, ...]  # the columns the user set (the others hold defaults)

    @classmethod
    def build(cls, schedule: Schedule, values: Mapping[str, tuple[Any, ...]]) -> ConfigGrid:
        """The grid over `values` ({parameter: values}); parameters not given but with a default get a column."""
        values_per_column: dict[str, tuple[Any, ...]] = {}
        for parameter in schedule.parameters:
            if parameter.name in values:
                values_per_column[parameter.name] = values[parameter.name]
            elif parameter.default is not REQUIRED and parameter.default is not None:
                values_per_column[parameter.name] = (parameter.default,)
        values_per_column["base_lr"] = values.get("base_lr", (1.0,))
        shape = tuple(len(v) for v in values_per_column.values())
        index = np.indices(shape).reshape(len(shape), -1)  # C order: the last parameter varies fastest
        columns = {}
        for axis, (name, column_values) in enumerate(values_per_column.items()):
            kind = OPTIONS[name].kind
            dtype = np.int64 if kind == "count" else np.float64 if kind == "float" else np.str_
            columns[name] = np.asarray(column_values, dtype=dtype)[index[axis]]
        return cls(schedule, columns, tuple(name for name in values_per_column if name in values))

    @property
    def num_configs(self) -> int:
        return len(self.columns["base_lr"])

    @property
    def _choice_columns(self) -> list[str]:
        return [name for name in self.columns if OPTIONS[name].kind == "choice"]

    def sweep_kwargs(self, rows: slice | np.ndarray) -> dict[str, Any]:
        """bulk.sweep's keyword arguments for these rows, whose choice values (warmup_type...) must agree."""
        kwargs: dict[str, Any] = {}
        for name, column in self.columns.items():
            kwargs[name] = str(column[rows][0]) if OPTIONS[name].kind == "choice" else column[rows]
        return kwargs

    def row(self, index: int) -> dict[str, Any]:
        """Config `index` as Python scalars."""
        return {name: column[index].item() for name, column in self.columns.items()}

    def check(self) -> None:
        """Validate every config with the registry (CliError naming the option) before anything is written."""
        choice_columns = self._choice_columns
        combinations = {tuple(self.columns[name][i] for name in choice_columns) for i in self._choice_run_starts()}
        for combination in combinations:
            rows = np.ones(self.num_configs, dtype=bool)
            for name, value in zip(choice_columns, combination, strict=True):
                rows &= self.columns[name] == value
            try:
                schedules.pack(self.schedule.name, allow_arrays=True, **self.sweep_kwargs(rows))
            except (ValueError, TypeError) as exc:
                raise CliError(_cli_message(exc)) from None

    def _choice_run_starts(self) -> list[int]:
        """The rows where a choice value changes (and 0): bulk.sweep takes one warmup/decay type per call."""
        changes = np.zeros(self.num_configs, dtype=bool)
        changes[0] = True
        for name in self._choice_columns:
            changes[1:] |= self.columns[name][1:] != self.columns[name][:-1]
        return np.flatnonzero(changes).tolist()

    def blocks(self, num_steps: int, max_values: int) -> Iterator[tuple[slice, slice]]:
        """(rows, steps) blocks of at most `max_values` values, in row-major order of the output.

        A block is whole rows, or a part of one row when a row alone is too long: either way its view of a
        C-contiguous (configs, steps) array is C-contiguous, as bulk.sweep(out=...) requires.
        """
        starts = self._choice_run_starts()
        rows_per_block = max(1, max_values // num_steps)
        for first, end in zip(starts, [*starts[1:], self.num_configs], strict=True):
            if num_steps <= max_values:
                for row in range(first, end, rows_per_block):
                    yield slice(row, min(row + rows_per_block, end)), slice(0, num_steps)
            else:
                for row in range(first, end):
                    for step in range(0, num_steps, max_values):
                        yield slice(row, row + 1), slice(step, min(step + max_values, num_steps))


def _cell(value: Any) -> str:
    """A config value as text: shortest round-trip form for floats (repr); no cell ever needs CSV quoting."""
    return repr(value) if isinstance(value, float) else str(value)


def _config_table(grid: ConfigGrid, rows: range) -> list[list[str]]:
    return [[_cell(value) for value in grid.row(i).values()] for i in rows]


# ------------------------------------------------------------------------------------------------- list


def cmd_list(args: argparse.Namespace) -> int:
    print("Schedules (fastsched plot/sweep NAME); every one also takes --base-lr X (default: 1).")
    for schedule in SCHEDULES.values():
        print(f"\n{schedule.name}: {schedule.summary}")
        if not schedule.parameters:
            print("  (no parameters)")
        rows = []
        for parameter in schedule.parameters:
            option = OPTIONS[parameter.name]
            if parameter.required:
                default = "required"
            elif parameter.default is None:
                default = "optional"
            else:
                default = f"default {parameter.default}"
            rows.append((f"{option.flag} {METAVARS[option.kind]}", default, parameter.help))
        if rows:
            widths = [max(len(row[i]) for row in rows) for i in range(2)]
            for flag, default, help_text in rows:
                print(f"  {flag:<{widths[0]}}  {default:<{widths[1]}}  {help_text}")
    metric_driven = ", ".join(sorted(schedules.METRIC_DRIVEN))
    print(f"\nNot precomputable (they follow a metric): {metric_driven}; use fastsched.get_scheduler in Python.")
    return 0


# ------------------------------------------------------------------------------------------------- plot


def _default_plot_steps(grids: Sequence[ConfigGrid]) -> int:
    """Through the longest schedule: num_training_steps, or warmup + stable + decay; else 1000 or 10x warmup."""
    ends = []
    for grid in grids:
        columns = grid.columns
        if "num_training_steps" in columns:
            ends.append(int(columns["num_training_steps"].max()))
        if {"num_stable_steps", "num_decay_steps"} <= columns.keys():
            phases = columns["num_warmup_steps"] + columns["num_stable_steps"] + columns["num_decay_steps"]
            ends.append(int(phases.max()))
        if not ends and "num_warmup_steps" in columns:
            ends.append(max(1000, 10 * int(columns["num_warmup_steps"].max())))
    return max(ends, default=1000) + 1  # + 1: the last step's value is drawn too


def _given_row(grid: ConfigGrid, index: int) -> dict[str, Any]:
    config = grid.row(index)
    return {name: config[name] for name in grid.given}


def _titles(lines: Sequence[Mapping[str, Any]]) -> tuple[str, list[str]]:
    """A plot's title (what every line shares) and each line's label (its schedule and parameters that differ).

    Each line is {"schedule": name, parameter: value...} for the parameters given on the command line.
    """
    shared = {key: value for key, value in lines[0].items() if all(line.get(key) == value for line in lines)}

    def describe(line: Mapping[str, Any]) -> str:
        parts = [line["schedule"]] if "schedule" in line else []
        parts += [f"{key}={_cell(value)}" for key, value in line.items() if key != "schedule"]
        return ", ".join(parts)

    title = describe(shared)
    if "schedule" in shared and len(shared) > 1:
        title = title.replace(", ", ": ", 1)  # "cosine: num_warmup_steps=100, ..."
    labels = [describe({key: value for key, value in line.items() if key not in shared}) for line in lines]
    return title, labels


def cmd_plot(args: argparse.Namespace) -> int:
    names = list(dict.fromkeys(args.names))
    given = _given_values(args)
    # With several schedules, each takes the options it knows; an option that none takes is an error.
    for name in given:
        if name != "base_lr" and not any(name in SCHEDULES[n].parameter_names for n in names):
            raise CliError(f"{OPTIONS[name].flag} is not a parameter of {', '.join(names)} (see 'fastsched list')")
    grids = []
    for name in names:
        schedule = SCHEDULES[name]
        values = {k: v for k, v in given.items() if k in schedule.parameter_names or k == "base_lr"}
        grid = ConfigGrid.build(schedule, values)
        grid.check()
        grids.append(grid)
    num_lines = sum(grid.num_configs for grid in grids)
    if num_lines > MAX_PLOT_LINES:
        raise CliError(f"{num_lines} lines are too many for one plot (at most {MAX_PLOT_LINES}); use fewer values")

    num_steps = args.num_steps or _default_plot_steps(grids)
    steps = np.arange(args.start, args.start + num_steps, dtype=np.int64)
    if num_steps > MAX_PLOT_POINTS:
        steps = np.unique(np.linspace(args.start, args.start + num_steps - 1, MAX_PLOT_POINTS).round()).astype(np.int64)

    lines = [(grid, i) for grid in grids for i in range(grid.num_configs)]
    title, labels = _titles([{"schedule": grid.schedule.name, **_given_row(grid, i)} for grid, i in lines])
    curves = []
    for (grid, i), label in zip(lines, labels, strict=True):
        config = grid.row(i)
        base_lr = config.pop("base_lr")
        lrs = base_lr * bulk.multipliers(grid.schedule.name, steps, base_lr=base_lr, **config)
        curves.append(plotting.Curve(label, steps, lrs))
    y_label = "learning rate" if "base_lr" in given else "lr multiplier (base lr 1)"

    if args.output is None:
        width = min(max(shutil.get_terminal_size((80, 24)).columns - 16, 40), 100)
        print(plotting.text_plot(curves, title=title, y_label=y_label, width=width))
        return 0
    try:
        formats = plotting.supported_formats()
    except ImportError:
        raise CliError("plot -o needs matplotlib: pip install 'fastsched[plot]'") from None
    suffix = args.output.suffix.lower().lstrip(".")
    if suffix not in formats:
        raise CliError(f"cannot save a figure as {args.output.name!r}; use one of .{', .'.join(sorted(formats))}")
    try:
        plotting.save_figure(curves, args.output, title=title, y_label=y_label)
    except OSError as exc:
        raise CliError(f"cannot write {str(args.output)!r}: {exc.strerror or exc}") from None
    print(f"wrote {args.output} ({num_lines} line{'s' * (num_lines != 1)}, steps {steps[0]}..{steps[-1]})")
    return 0


# ------------------------------------------------------------------------------------------------ sweep


class _Writer:
    """An output file written block by block in its row-major order: compute into `target`, then `commit`."""

    default_block_values = NPY_BLOCK_VALUES

    def __init__(
        self, path: Path, grid: ConfigGrid, num_steps: int, start: int, dtype: np.dtype, block_values: int
    ) -> None:
        self.path, self.grid, self.num_steps, self.start = path, grid, num_steps, start
        self.file: IO[Any] | None = None

    def target(self, rows: slice, steps: slice) -> np.ndarray:
        """A C-contiguous (rows, steps) array to compute the block into."""
        raise NotImplementedError

    def commit(self, rows: slice, steps: slice, block: np.ndarray) -> None:
        """Called once the block returned by `target` holds its values."""

    def close(self) -> None:
        """Finish the file (every block committed)."""
        if self.file is not None:
            self.file.close()


class _BufferedWriter(_Writer):
    """Blocks are computed into one reused buffer and then written: memory stays at one block, whatever the size."""

    def __init__(
        self, path: Path, grid: ConfigGrid, num_steps: int, start: int, dtype: np.dtype, block_values: int
    ) -> None:
        super().__init__(path, grid, num_steps, start, dtype, block_values)
        self.buffer = np.empty(min(block_values, grid.num_configs * num_steps), dtype=dtype)

    def target(self, rows: slice, steps: slice) -> np.ndarray:
        shape = (rows.stop - rows.start, steps.stop - steps.start)
        return self.buffer[: shape[0] * shape[1]].reshape(shape)


class _NpyWriter(_BufferedWriter):
    """.npy: numpy's header, then the blocks' bytes in order (what np.save writes for a C-contiguous array)."""

    def __init__(
        self, path: Path, grid: ConfigGrid, num_steps: int, start: int, dtype: np.dtype, block_values: int
    ) -> None:
        super().__init__(path, grid, num_steps, start, dtype, block_values)
        self.file = open(path, "wb")  # noqa: SIM115 - closed in close()
        header = {"descr": np.lib.format.dtype_to_descr(dtype), "fortran_order": False}
        np.lib.format.write_array_header_1_0(self.file, {**header, "shape": (grid.num_configs, num_steps)})

    def commit(self, rows: slice, steps: slice, block: np.ndarray) -> None:
        self.file.write(block.data)


class _CsvWriter(_BufferedWriter):
    """.csv: a header (the config's parameters, then step_<k> per step), then one line per config."""

    default_block_values = CSV_BLOCK_VALUES  # its text takes ~20 bytes a value

    def __init__(
        self, path: Path, grid: ConfigGrid, num_steps: int, start: int, dtype: np.dtype, block_values: int
    ) -> None:
        super().__init__(path, grid, num_steps, start, dtype, block_values)
        self.file = open(path, "w", newline="")  # noqa: SIM115 - closed in close()
        step_names = (f"step_{start + j}" for j in range(num_steps))
        self.file.write(",".join(itertools.chain(grid.columns, step_names)) + "\n")

    @staticmethod
    def _format(values: np.ndarray) -> str:
        # Shortest strings that read back to the same value: Python floats' repr for float64, and numpy's
        # float32 str for float32 (a float64 repr of a float32 would print ~17 noisy digits).
        if values.dtype == np.float64:
            return ",".join(map(repr, values.tolist()))
        return ",".join(map(str, values))

    def commit(self, rows: slice, steps: slice, block: np.ndarray) -> None:
        parts = []
        for offset, row in enumerate(range(rows.start, rows.stop)):
            if steps.start == 0:  # a row's first block: its config's cells first
                parts.append(",".join(_config_table(self.grid, range(row, row + 1))[0]) + ",")
            parts.append(self._format(block[offset]))
            parts.append("\n" if steps.stop == self.num_steps else ",")
        self.file.write("".join(parts))


class _PtWriter(_Writer):
    """.pt: torch.save of {"lr": tensor, "configs": {parameter: list}, "schedule", "start"}, built in memory."""

    def __init__(
        self, path: Path, grid: ConfigGrid, num_steps: int, start: int, dtype: np.dtype, block_values: int
    ) -> None:
        super().__init__(path, grid, num_steps, start, dtype, block_values)
        import torch  # only this output format needs torch

        self.torch = torch
        try:
            self.array = np.empty((grid.num_configs, num_steps), dtype=dtype)
        except MemoryError:
            size = _si(grid.num_configs * num_steps * dtype.itemsize, "B")
            raise CliError(f"a .pt output is built in memory, and {size} do not fit; write .npy instead") from None
        self.file = open(path, "wb")  # noqa: SIM115 - opened now so that an unwritable path fails early

    def target(self, rows: slice, steps: slice) -> np.ndarray:
        return self.array[rows, steps]

    def close(self) -> None:
        # Plain types only, so that torch.load(path, weights_only=True) reads it.
        configs = {name: column.tolist() for name, column in self.grid.columns.items()}
        lr = self.torch.from_numpy(self.array)
        self.torch.save(
            {"lr": lr, "configs": configs, "schedule": self.grid.schedule.name, "start": self.start}, self.file
        )
        super().close()


WRITERS: dict[str, type[_Writer]] = {".npy": _NpyWriter, ".csv": _CsvWriter, ".pt": _PtWriter}


def _configs_path(output: Path) -> Path:
    return output.with_name(output.stem + ".configs.csv")


def _write_configs(path: Path, grid: ConfigGrid) -> None:
    with open(path, "w", newline="") as file:
        file.write(",".join(grid.columns) + "\n")
        for first in range(0, grid.num_configs, 1 << 16):
            rows = _config_table(grid, range(first, min(first + (1 << 16), grid.num_configs)))
            file.write("".join(",".join(row) + "\n" for row in rows))


def _print_config_head(grid: ConfigGrid, configs_path: Path) -> None:
    shown = min(grid.num_configs, CONFIG_ROWS_SHOWN)
    header = ["row", *grid.columns]
    rows = [[str(i), *cells] for i, cells in enumerate(_config_table(grid, range(shown)))]
    widths = [max(len(text) for text in column) for column in zip(header, *rows, strict=True)]
    for cells in [header, *rows]:
        print("  ".join(f"{text:>{width}}" for text, width in zip(cells, widths, strict=True)))
    if grid.num_configs > shown:
        print(f"... {grid.num_configs - shown:,} more; every config is in {configs_path}")


def _si(value: float, unit: str) -> str:
    """240 kB, 1.3 M values/s: three significant digits and an SI prefix."""
    for prefix in ("", "k", "M", "G"):
        if abs(value) < 999.5:
            return f"{value:.3g} {prefix}{unit}"
        value /= 1000
    return f"{value:.3g} T{unit}"


def cmd_sweep(args: argparse.Namespace) -> int:
    schedule = SCHEDULES[args.name]
    given = _given_values(args)
    for name in given:
        if name != "base_lr" and name not in schedule.parameter_names:
            takes = ", ".join(OPTIONS[n].flag for n in schedule.parameter_names) or "no parameters"
            raise CliError(f"{schedule.name} does not take {OPTIONS[name].flag}; it takes {takes} and --base-lr")
    output: Path = args.output
    if output.suffix.lower() not in OUTPUT_FORMATS:
        raise CliError(f"-o {str(output)!r}: the file name must end in .npy, .csv or .pt")
    grid = ConfigGrid.build(schedule, given)
    grid.check()
    dtype = np.dtype(args.dtype)
    num_values = grid.num_configs * args.num_steps
    configs_path = _configs_path(output)

    print(
        f"{schedule.name}: {grid.num_configs:,} config{'s' * (grid.num_configs != 1)} x {args.num_steps:,} steps"
        f" = {num_values:,} values ({dtype}, {_si(num_values * dtype.itemsize, 'B')}) -> {output}"
    )
    _print_config_head(grid, configs_path)
    writer_class = WRITERS[output.suffix.lower()]
    block_values = args.max_block_values or writer_class.default_block_values
    created: list[Path] = []  # removed again if writing fails: no partial outputs are left behind
    writer: _Writer | None = None
    current = output
    try:
        writer = writer_class(output, grid, args.num_steps, args.start, dtype, block_values)
        created.append(output)
        began = time.perf_counter()  # after the writer's setup, which may import torch (~1 s)
        current = configs_path
        _write_configs(configs_path, grid)
        created.append(configs_path)
        current = output
        progress = _progress_bar(num_values)
        for rows, steps in grid.blocks(args.num_steps, block_values):
            block = writer.target(rows, steps)
            start = args.start + steps.start
            bulk.sweep(schedule.name, block.shape[1], start=start, out=block, **grid.sweep_kwargs(rows))
            writer.commit(rows, steps, block)
            progress.update(block.size)
        progress.close()
        writer.close()
    except BaseException as exc:  # an unwritable path, a full disk, Ctrl-C...
        if writer is not None and writer.file is not None:
            writer.file.close()
        _remove(created)
        if isinstance(exc, OSError):
            raise CliError(f"cannot write {str(current)!r}: {exc.strerror or exc}") from None
        raise
    elapsed = time.perf_counter() - began
    print(
        f"wrote {output} ({_si(output.stat().st_size, 'B')}) and {configs_path} in {elapsed:.3g} s: "
        f"{_si(num_values / elapsed, 'values/s')}"
    )
    return 0


def _progress_bar(total: int) -> Any:
    from tqdm import tqdm

    # Small outputs never show a bar; large ones show it once writing has taken PROGRESS_DELAY_S.
    return tqdm(
        total=total,
        unit="value",
        unit_scale=True,
        file=sys.stderr,
        disable=total < PROGRESS_MIN_VALUES,
        delay=PROGRESS_DELAY_S,
        leave=False,
    )


def _remove(paths: Sequence[Path]) -> None:
    for path in paths:
        with contextlib.suppress(OSError):  # cleaning up after an error: report that error, not this one
            path.unlink(missing_ok=True)


# ----------------------------------------------------------------------------------------------- parser


def _add_parameter_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group(
        "schedule parameters",
        "Each takes one value or a comma list (e.g. --num-warmup-steps 0,100,500); 'fastsched list' shows which "
        "schedule takes which, and the defaults.",
    )
    for option in OPTIONS.values():
        group.add_argument(
            option.flag,
            dest=option.name,
            type=_value_list(option.kind),
            metavar=METAVARS[option.kind],
            help=option.help,
        )


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="fastsched",
        description="Learning-rate schedules from compiled kernels: list them, plot them, write sweeps.",
        epilog="example:\n  fastsched sweep cosine --num-steps 5000 --num-warmup-steps 0,100,500 \\\n"
        "      --num-training-steps 5000 --base-lr 1e-4,3e-4 -o sweep.npy",
        formatter_class=argparse.RawDescriptionHelpFormatter,  # keeps the example's lines as written
    )
    parser.add_argument("--version", action="version", version=f"fastsched {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    names = list(SCHEDULES)

    list_parser = commands.add_parser("list", help="the schedules, their parameters and defaults")
    list_parser.set_defaults(handler=cmd_list)

    plot_parser = commands.add_parser(
        "plot",
        help="draw schedules: a figure with -o, else a text plot",
        description="Draw lr against step for one or more schedules; comma lists give one line per value "
        "(the Cartesian product of all lists). Options a schedule doesn't take are ignored for it.",
    )
    plot_parser.add_argument("names", nargs="+", choices=names, metavar="NAME", help="schedule (see 'fastsched list')")
    plot_parser.add_argument(
        "-o",
        "--output",
        type=Path,
        metavar="FILE",
        help="figure file (.png, .svg, .pdf...); without it, a text plot on stdout",
    )
    plot_parser.add_argument(
        "--num-steps",
        type=_parse_positive_count,
        metavar="N",
        help="steps to draw (default: through the largest --num-training-steps, or warmup + stable + decay)",
    )
    plot_parser.add_argument("--start", type=_parse_count, default=0, metavar="N", help="first step drawn (default: 0)")
    _add_parameter_options(plot_parser)
    plot_parser.set_defaults(handler=cmd_plot)

    sweep_parser = commands.add_parser(
        "sweep",
        help="write the lr of every step of every config in a grid to .npy, .csv or .pt",
        description="Write a (configs, steps) table of learning rates: one row per config of the Cartesian "
        "product of the comma lists, the first parameter outermost and --base-lr fastest (the order of the "
        "columns of FILE.configs.csv, written beside the output).",
    )
    sweep_parser.add_argument("name", choices=names, metavar="NAME", help="schedule (see 'fastsched list')")
    sweep_parser.add_argument(
        "--num-steps", type=_parse_positive_count, required=True, metavar="N", help="steps per config"
    )
    sweep_parser.add_argument(
        "-o",
        "--output",
        type=Path,
        required=True,
        metavar="FILE",
        help=".npy (np.load), .csv (config columns, then step_<k> columns) or .pt (torch.save of "
        '{"lr": tensor, "configs": {parameter: list}, "schedule": name, "start": step})',
    )
    sweep_parser.add_argument("--dtype", choices=("float32", "float64"), default="float64", help="(default: float64)")
    sweep_parser.add_argument("--start", type=_parse_count, default=0, metavar="N", help="first step (default: 0)")
    # Values per block written at a time; hidden: the defaults suit every format, tests force small blocks.
    sweep_parser.add_argument("--max-block-values", type=_parse_positive_count, help=argparse.SUPPRESS)
    _add_parameter_options(sweep_parser)
    sweep_parser.set_defaults(handler=cmd_sweep)
    return parser


def _one_line_warning(message: Warning | str, category: type[Warning], *args: Any, **kwargs: Any) -> str:
    return f"fastsched: warning: {message}\n"


def main(argv: Sequence[str] | None = None) -> int:
    """The console script: returns the exit code (0, or 2 for a user error reported on stderr)."""
    args = build_parser().parse_args(argv)
    warnings.formatwarning = _one_line_warning
    warnings.simplefilter("once")  # a config check and each block would repeat the same warning
    try:
        return args.handler(args)
    except CliError as exc:
        print(f"fastsched: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("fastsched: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # The reader went away (fastsched list | head): silence the flush at exit, as Python's docs advise.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1


if __name__ == "__main__":
    sys.exit(main())
