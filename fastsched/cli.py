"""The ``fastsched`` command: list the schedules, plot them, compare two, and write sweeps to .npy, .csv or .pt.

Schedules. A schedule is a preset NAME (``cosine``, ``torch.OneCycleLR``: ``fastsched list`` shows them, grouped by
library) with its parameters as options, or a spec: ``--spec SPEC``, where SPEC is a JSON file's path or inline
JSON text starting with ``{`` (the format of ``fastsched.schedule(spec)``; an optional top-level ``"name"`` labels it
in plots and reports and is removed before the schedule is built). ``plot`` and ``diff`` take any number of NAMEs
and ``--spec`` options (NAMEs first, then the specs, in order); ``sweep`` takes one NAME or one ``--spec``.

Parameters. Every parameter of a preset in ``fastsched.registry`` is an option, spelled in kebab case as its library
names it (``--num-warmup-steps``, ``--max-lr``, ``--T-max``); a list parameter (milestones) takes its items
separated by ``:`` (``--milestones 30:60:90``), a flag ``true`` or ``false``; a parameter of another kind (a mapping,
children schedules) is set in a ``--spec``. Each option takes one value or a comma list; the Cartesian product of
the comma lists is the grid of configs. With several schedules, each takes the options it has; an option that none
takes is an error. With ``--spec`` alone, only ``--base-lr`` applies (the spec holds its parameters).

``--base-lr`` is always the optimizer's lr: the ``base_lr`` of ``fastsched.trajectory`` / ``sweep``, which the
multipliers scale (default 1). A preset parameter that has the name of one of the command's own options (torch's
``CyclicLR`` has a ``base_lr``: the bottom of its cycle) is spelled with its library in front: ``--torch-base-lr``,
and so is its column in the config table (``torch_base_lr``).

Grid order: the config table's columns are the schedule's parameters in ``fastsched list`` order (those given, and
those with a fixed default), then ``base_lr``; rows run through the product like nested loops with the first
column outermost and the last (``base_lr``) fastest. With ``--spec``, the spec's lists are one value per config
(config i takes item i of every list); the columns are those per-config values, named by their place in the spec
(``at_step``, ``cooldown.num_training_steps``, ``join[1].num_warmup_steps``), then ``base_lr``, whose comma list
is crossed with the spec's configs (spec config outermost, ``base_lr`` fastest). The grid is never materialized:
rows are unravelled from their index, a block at a time.

``diff`` compares the lrs of two schedules at every step (float64, blocks of steps at a time): the first step
where they differ, the largest absolute difference |A - B| and the largest relative difference
|A - B| / max(|A|, |B|), with their steps. Exit code 0 when every step is within ``--atol + --rtol x max(|A|, |B|)``
(default 0: equal), 1 when some step is not, 2 on errors.

Start-up stays light: ``--help``, ``--version`` and ``list`` read the pure-Python registry and import neither
numpy, numba nor torch; ``plot``, ``diff`` and ``sweep`` import numpy and the kernels, only ``sweep -o FILE.pt``
imports torch, and only ``plot -o FILE`` imports matplotlib.

Outputs are written to temporary files beside their targets and renamed over them only once complete; after
an error or a signal (SIGINT, SIGTERM, SIGHUP) nothing partial remains and what was there before is untouched.
Errors are one line on stderr ("fastsched: error: ...") and exit code 2.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import difflib
import functools
import itertools
import json
import math
import os
import re
import shutil
import signal
import sys
import threading
import time
import warnings
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, NoReturn

from . import __version__, registry
from .registry import MAX_STEP, METRIC_DRIVEN, REQUIRED, Parameter, Preset

if TYPE_CHECKING:
    import numpy as np

    from .schedules import Schedule

# Values per block computed and written at a time: the memory a sweep needs, whatever its size.
NPY_BLOCK_VALUES = 1 << 22
CSV_BLOCK_VALUES = 1 << 18
# Configs per block validated, or written to FILE.configs.csv; step names per write of the CSV header.
CONFIG_BLOCK_ROWS = 1 << 16
CSV_HEADER_NAMES_PER_WRITE = 1 << 16
# The shortest text of a value in the CSV ("0.0", "inf", "nan") and its separator: the lower bound of a CSV's
# size, checked against the free space (the real size depends on the values).
CSV_MIN_BYTES_PER_VALUE = 4
# What a .pt output holds in memory beyond the array (torch.save writes it without a copy): torch itself, and
# per config cell the config lists and their pickle.
PT_TORCH_BYTES = 256 << 20
PT_BYTES_PER_CONFIG_CELL = 64
# Outputs from this size on show a progress bar, once writing has taken PROGRESS_DELAY_S (CSV: ~1 s per 2**20).
PROGRESS_MIN_VALUES = 1 << 20
PROGRESS_DELAY_S = 0.5
CONFIG_ROWS_SHOWN = 10
# A plot evaluates at most this many steps per line, evenly spaced from the first to the last: enough for any
# screen or figure, whatever --num-steps.
MAX_PLOT_POINTS = 4096
MAX_PLOT_LINES = 24
# Steps drawn or compared by default when no schedule declares where it ends (constant).
DEFAULT_STEPS = 1001
# Steps per side compared at a time by diff: its memory, whatever --num-steps.
DIFF_BLOCK_STEPS = 1 << 18
# A spec file is read whole: larger ones are refused (a spec of a million configs takes ~20 MB).
MAX_SPEC_BYTES = 64 << 20
OUTPUT_FORMATS = (".npy", ".csv", ".pt")
DTYPES = ("float32", "float64")
# Signals after which the command removes what it has begun to write (SIGINT raises KeyboardInterrupt).
CLEANUP_SIGNALS = tuple(getattr(signal, name) for name in ("SIGINT", "SIGTERM", "SIGHUP") if hasattr(signal, name))


class CliError(Exception):
    """A user error or a failed write: reported as one line on stderr, exit code 2."""


class Stopped(BaseException):
    """A signal (SIGTERM, SIGHUP) turned into an exception, so that partial outputs are removed on the way out."""

    def __init__(self, signum: int) -> None:
        super().__init__(signum)
        self.signum = signum


class _Parser(argparse.ArgumentParser):
    """argparse with one-line errors (the usage block is left to --help) and no abbreviated options; a command's
    parser (`intermixed`) takes its positional arguments between options too (plot A --x 1 B --y 2)."""

    def __init__(self, *args: Any, intermixed: bool = False, **kwargs: Any) -> None:
        # Abbreviations of generated options would change meaning as the registry grows (--warmup, --min-lr...).
        kwargs.setdefault("allow_abbrev", False)
        super().__init__(*args, **kwargs)
        self._intermixed = intermixed

    def parse_known_args(self, args: Any = None, namespace: Any = None) -> tuple[argparse.Namespace, list[str]]:
        if not self._intermixed:
            return super().parse_known_args(args, namespace)
        # parse_known_intermixed_args parses twice through this method: those passes are the plain ones.
        self._intermixed = False
        try:
            return self.parse_known_intermixed_args(args, namespace)
        finally:
            self._intermixed = True

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"fastsched: error: {message} (see '{self.prog} --help')\n")


# ----------------------------------------------------------------------------------------------- options

BASE_LR = Parameter("base_lr", "float", 1.0, "the optimizer's lr, which the multipliers scale (default: 1)")
# The command's own options: a preset parameter spelled like one of them gets its library in front (--torch-base-lr).
OWN_FLAGS = frozenset(
    {"--base-lr", "--num-steps", "--start", "--output", "--dtype", "--spec", "--atol", "--rtol"}
    | {"--max-block-values", "--help", "--version"}
)
METAVARS = {"count": "N", "float": "X", "choice": "CHOICE", "flag": "BOOL", "counts": "N:N:...", "floats": "X:X:..."}
FLAG_WORDS = {"true": True, "false": False, "1": True, "0": False, "yes": True, "no": False}
# A list parameter's items on the command line: --milestones 30:60:90 (the comma separates configs).
LIST_SEPARATOR = ":"
# Parameters whose value is the same for every config of one kernel call: a block of configs never mixes two.
BLOCK_SCALAR_KINDS = frozenset({"choice", "flag", "counts", "floats"})


def _kebab(text: str) -> str:
    return re.sub(r"[^0-9A-Za-z]+", "-", text).strip("-")


def _flag(key: str) -> str:
    """The option of an option key: --num-warmup-steps for num_warmup_steps."""
    return "--" + _kebab(key)


@dataclass(frozen=True)
class Option:
    """A command-line option: a preset parameter (or the base lr), under its key (the option's name in snake case)."""

    key: str  # "num_warmup_steps", "torch_base_lr": the flag without its dashes, the config table's column
    kind: str  # "count", "float", "choice", "flag", "counts" or "floats"
    help: str

    @property
    def flag(self) -> str:
        return _flag(self.key)

    @property
    def dest(self) -> str:
        return "option:" + self.key  # apart from the commands' own destinations, whatever the registry holds


def option_key(preset: Preset, parameter: Parameter) -> str:
    """The option key of a preset's parameter: its name, or library_name where the name is the command's own."""
    if _flag(parameter.name) in OWN_FLAGS:
        return f"{_kebab(preset.library).replace('-', '_')}_{parameter.name}"
    return parameter.name


def preset_options(preset: Preset) -> dict[str, Parameter]:
    """{option key: parameter} for the parameters of `preset` the command line can set, in the registry's order."""
    return {option_key(preset, p): p for p in preset.parameters if p.kind in METAVARS}


def registry_options() -> dict[str, Option]:
    """One option per key in the registry, in first-seen order, then --base-lr; help says which presets take it.

    Values are parsed per preset (a name may mean a count in one preset and a float in another); kinds the
    command line cannot take get no option (a spec can hold them).
    """
    takers: dict[str, list[str]] = {}
    first: dict[str, Parameter] = {}
    for preset in registry.PRESETS.values():
        for key, parameter in preset_options(preset).items():
            first.setdefault(key, parameter)
            takers.setdefault(key, []).append(preset.name)
    options = {BASE_LR.name: Option(BASE_LR.name, BASE_LR.kind, BASE_LR.help)}
    for key, parameter in first.items():
        own = (
            f" (the preset's own `{parameter.name}`; --base-lr is the optimizer's lr)" if key != parameter.name else ""
        )
        items = f" (a list: items separated by '{LIST_SEPARATOR}')" if parameter.kind in ("counts", "floats") else ""
        help_text = f"{parameter.help}{own}{items} [{', '.join(takers[key])}]"
        options[key] = Option(key, parameter.kind, help_text)
    return options


def _count(text: str, positive: bool = False) -> int:
    """A count from 0 (1 when positive) to 2**53 - 1; integral floats such as 1e6 are accepted.

    Raises ValueError with the reason, quoting the text as given.
    """
    try:
        value = int(text)
    except ValueError:
        try:
            number = float(text)
        except ValueError:
            raise ValueError(f"not an integer: {text!r}") from None
        if math.isinf(number) and number > 0:
            raise ValueError(f"must be at most 2**53 - 1 ({MAX_STEP}), got {text!r}") from None
        if not number.is_integer():
            raise ValueError(f"not an integer: {text!r}") from None
        value = int(number)
    if value < (1 if positive else 0):
        raise ValueError(f"must be a {'positive' if positive else 'non-negative'} integer, got {text!r}")
    if value > MAX_STEP:
        raise ValueError(f"must be at most 2**53 - 1 ({MAX_STEP}), got {text!r}")
    return value


def _number(text: str, signed: bool = False) -> float:
    try:
        value = float(text)
    except ValueError:
        raise ValueError(f"not a number: {text!r}") from None
    if not math.isfinite(value):
        raise ValueError(f"must be finite, got {text!r}")
    if value < 0 and not signed:
        raise ValueError(f"must be non-negative, got {text!r}")
    return value


def _parse_value(parameter: Parameter, text: str) -> Any:
    """One value of a parameter, by the registry's rules for it (kind, sign, positivity, choices)."""
    if parameter.kind == "count":
        return _count(text, parameter.positive)
    if parameter.kind == "float":
        return _number(text, parameter.signed)
    if parameter.kind == "flag":
        if text.lower() not in FLAG_WORDS:
            raise ValueError(f"must be true or false, got {text!r}")
        return FLAG_WORDS[text.lower()]
    if parameter.kind in ("counts", "floats"):
        items = text.split(LIST_SEPARATOR)
        if not all(items):
            raise ValueError(f"empty item in the list {text!r} (items are separated by '{LIST_SEPARATOR}')")
        if parameter.kind == "counts":
            return tuple(_count(item, parameter.positive) for item in items)
        return tuple(_number(item, parameter.signed) for item in items)
    if parameter.choices and text not in parameter.choices:
        raise ValueError(f"must be one of {', '.join(parameter.choices)}, got {text!r}")
    return text


def _argparse_type(parse: Callable[[str], Any]) -> Callable[[str], Any]:
    def parse_argument(text: str) -> Any:
        try:
            return parse(text)
        except ValueError as exc:
            raise argparse.ArgumentTypeError(str(exc)) from None

    return parse_argument


def _comma_list(text: str) -> tuple[str, ...]:
    """An argparse type: one value or a comma list, as text (parsed per preset, by its parameter's rules)."""
    tokens = tuple(token.strip() for token in text.split(","))
    if not all(tokens):
        raise argparse.ArgumentTypeError(f"empty value in the comma list {text!r}")
    return tokens


def _given_tokens(args: argparse.Namespace, options: Mapping[str, Option]) -> dict[str, tuple[str, ...]]:
    """{option key: its values as text} for the options given on the command line, in `options` order."""
    given = {key: getattr(args, option.dest, None) for key, option in options.items()}
    return {key: tokens for key, tokens in given.items() if tokens is not None}


def _plain_message(exc: BaseException) -> str:
    """The first line of an error from the computing layer, with plain numbers (no np.float64(...))."""
    message = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    return re.sub(r"np\.\w+\(([^()]*)\)", r"\1", message)  # np.float64(-0.001) -> -0.001


def _si(value: float, unit: str) -> str:
    """240 kB, 1.3 M values/s: three significant digits and an SI prefix."""
    for prefix in ("", "k", "M", "G", "T", "P"):
        if abs(value) < 999.5:
            return f"{value:.3g} {prefix}{unit}"
        value /= 1000
    return f"{value:.3g} E{unit}"


# ------------------------------------------------------------------ the computing layer (the one place to re-point)
# Every call from the command line into the schedules' computation goes through these functions, and only through
# fastsched's public API (schedule objects, sweep, trajectory, multipliers), but for `_nominal_length`, which asks the
# segment table where a schedule ends. `base_lr` is a scalar, or a 1-D array with one value per config.


def _make_schedule(name_or_spec: Any, params: Mapping[str, Any]) -> Schedule:
    """A schedule object: a preset's name with its parameters (scalars or one array per config), or a spec (a dict,
    whose per-config values may be arrays)."""
    import fastsched

    return fastsched.schedule(name_or_spec, **params)


def _spec_of(schedule: Schedule) -> dict[str, Any]:
    """The schedule's full spec, as plain data."""
    return schedule.to_spec()


def _num_configs(schedule: Schedule) -> int:
    return schedule.num_configs


def _first_config_spec(schedule: Schedule) -> dict[str, Any]:
    """The spec of the schedule's first config alone: its per-config lists cut to one item (see _per_config_paths)."""
    return schedule.select(slice(0, 1)).to_spec()


def _check_configs(schedule: Schedule, base_lr: Any) -> None:
    """Raise ValueError or TypeError, naming the parameter, unless every config is valid."""
    import fastsched

    fastsched.sweep(schedule, 0, base_lr=base_lr)  # validates every config, computes nothing


def _compute_block(schedule: Schedule, base_lr: Any, start: int, out: np.ndarray) -> None:
    """Fill `out` (C-contiguous, (configs, steps)) with each config's lr at steps start, start + 1, ..."""
    import fastsched

    fastsched.sweep(schedule, out.shape[1], base_lr=base_lr, start=start, out=out)


def _trajectory_into(schedule: Schedule, base_lr: float, start: int, out: np.ndarray) -> None:
    """Fill `out` (1-D float64) with one config's lr at steps start, start + 1, ..."""
    import fastsched

    fastsched.trajectory(schedule, out.shape[0], base_lr=base_lr, start=start, out=out)


def _values_at_steps(schedule: Schedule, base_lr: float, steps: np.ndarray) -> np.ndarray:
    """One config's lr (base_lr x multiplier) at each of `steps` (int64, increasing), as float64."""
    import fastsched

    return base_lr * fastsched.multipliers(schedule, steps, base_lr=base_lr)


def _nominal_length(schedule: Schedule, base_lr: float) -> int:
    """Steps through one config's last declared segment start or end (num_training_steps, say): at least 1."""
    from . import table

    return table.pack(schedule, base_lr).nominal_length()


# ------------------------------------------------------------------------------------------------ specs


@dataclass(frozen=True)
class SpecSource:
    """A schedule given as a spec (--spec): its full spec, and where its per-config values are in it."""

    label: str  # its "name", its file's stem, or a short description of it
    where: str  # how messages name it: --spec 'cooldown.json'
    spec: dict[str, Any]  # the schedule's full spec: each config's spec is made from it
    leaves: dict[tuple[Any, ...], tuple[Any, ...]]  # path in `spec` of each per-config list -> its items


def _spec_where(text: str) -> str:
    shown = text if len(text) <= 40 else text[:37] + "..."
    return f"--spec {shown!r}"


def _read_spec(text: str) -> tuple[str, str | None, dict[str, Any]]:
    """(how messages name it, its file's stem or None, the spec as parsed) from --spec's value."""
    where = _spec_where(text)
    if text.lstrip().startswith("{"):
        content, stem = text, None
    else:
        path = Path(text)
        try:
            if path.stat().st_size > MAX_SPEC_BYTES:
                raise CliError(f"{where}: larger than {_si(MAX_SPEC_BYTES, 'B')}; a spec file is read whole")
            content = path.read_text(encoding="utf-8")
        except OSError as exc:
            reason = _reason(exc)
            hint = " (a spec is a JSON file's path or JSON text starting with '{')" if not path.exists() else ""
            raise CliError(f"{where}: {reason}{hint}") from None
        except UnicodeDecodeError:
            raise CliError(f"{where}: not UTF-8 text") from None
        stem = path.stem
    try:
        spec = json.loads(content)
    except json.JSONDecodeError as exc:
        raise CliError(f"{where}: not valid JSON: {exc}") from None
    except RecursionError:
        raise CliError(f"{where}: nested too deeply") from None
    if not isinstance(spec, dict):
        got = {list: "an array", str: "a string", bool: "true or false", type(None): "null"}.get(type(spec), "a number")
        raise CliError(f"{where}: a spec is a JSON object ({{...}}), got {got}")
    return where, stem, spec


def _describe_spec(spec: Mapping[str, Any]) -> str:
    """A short description of a spec: its presets inside its compositions, e.g. cooldown(cosine)."""
    if "schedule" in spec:
        return str(spec["schedule"])
    kind = next(iter(spec))
    inner = spec[kind]
    if isinstance(inner, list):
        return f"{kind}({', '.join(_describe_spec(part) for part in inner if isinstance(part, Mapping))})"
    return f"{kind}({_describe_spec(inner)})" if isinstance(inner, Mapping) else kind


def _per_config_paths(full: Any, first: Any, num_configs: int, path: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """The paths of the per-config lists in a spec: the lists of `num_configs` items that are one item long in the
    spec of the first config alone (`first`). Other lists (join's schedules, boundaries, milestones) keep their
    length there."""
    if isinstance(full, dict) and isinstance(first, dict):
        return [
            p
            for key in full
            if key in first
            for p in _per_config_paths(full[key], first[key], num_configs, (*path, key))
        ]
    if isinstance(full, list) and isinstance(first, list):
        if len(full) == num_configs and len(first) == 1:
            return [path]
        return [
            p
            for i, (a, b) in enumerate(zip(full, first, strict=False))
            for p in _per_config_paths(a, b, num_configs, (*path, i))
        ]
    return []


def _at(spec: Any, path: tuple[Any, ...]) -> Any:
    for part in path:
        spec = spec[part]
    return spec


def _substituted(spec: Any, values: Mapping[tuple[Any, ...], Any], path: tuple[Any, ...] = ()) -> Any:
    """`spec` with the value at each path of `values` replaced (a copy; the spec itself is left as it is)."""
    if path in values:
        return values[path]
    if isinstance(spec, dict):
        return {key: _substituted(value, values, (*path, key)) for key, value in spec.items()}
    if isinstance(spec, list):
        return [_substituted(value, values, (*path, i)) for i, value in enumerate(spec)]
    return spec


def _path_name(path: tuple[Any, ...]) -> str:
    """A per-config value's column: its place in the spec, as in cooldown.at_step or join[1].num_warmup_steps."""
    name = ""
    for part in path:
        if isinstance(part, int):
            name += f"[{part}]"
        else:
            name += f".{part}" if name else part
    return name


def load_spec(text: str) -> SpecSource:
    """The schedule that --spec's value (a JSON file's path, or JSON text starting with '{') describes."""
    where, stem, spec = _read_spec(text)
    name = spec.pop("name", None)
    if name is not None and (not isinstance(name, str) or not name.strip()):
        raise CliError(f'{where}: "name" (the label) must be a non-empty string, got {json.dumps(name)}')

    try:
        schedule = _make_schedule(spec, {})
        num_configs = _num_configs(schedule)
        full = _spec_of(schedule)
        first = _first_config_spec(schedule) if num_configs > 1 else None
    except (ValueError, TypeError, KeyError) as exc:
        raise CliError(f"{where}: {_plain_message(exc)}") from None
    leaves = {}
    if first is not None:
        leaves = {path: tuple(_at(full, path)) for path in _per_config_paths(full, first, num_configs)}
        if not leaves:
            raise CliError(f"{where}: holds {num_configs} configs, but no list of {num_configs} items was found")
    return SpecSource(name or stem or _describe_spec(full), where, full, leaves)


# ------------------------------------------------------------------------------------------------ grids


def _unravel(shape: Sequence[int], first: int, stop: int) -> list[np.ndarray]:
    """The index along each axis of flat C-order positions first..stop-1 of a grid of this shape."""
    import numpy as np

    flat = np.arange(first, stop, dtype=np.int64)
    indices = []
    for length in reversed(shape):
        indices.append(flat % length)
        flat //= length
    return indices[::-1]


def _cell(value: Any) -> str:
    """A config value as text: shortest round-trip form for floats (repr), a list's items joined by ':'; text is
    quoted (as CSV does) only where it holds a comma, a quote or a line break."""
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, (tuple, list)):
        return LIST_SEPARATOR.join(map(_cell, value))
    text = str(value)
    if any(c in text for c in ',"\n\r'):
        return '"' + text.replace('"', '""') + '"'
    return text


def _object_array(values: Sequence[Any]) -> np.ndarray:
    """A 1-D object array of `values` (tuples stay items, as np.asarray would make them a second axis)."""
    import numpy as np

    array = np.empty(len(values), dtype=object)
    for i, value in enumerate(values):
        array[i] = value
    return array


def _plain(value: Any) -> Any:
    return list(value) if isinstance(value, tuple) else value


@dataclass(frozen=True)
class ConfigGrid:
    """The configs of one schedule: a Cartesian product of axes, the last fastest, one row per config.

    A named preset's grid has one axis per column (its parameters, then base_lr); a spec's grid has one axis for
    its configs (the columns of its per-config values, which vary together) and one for base_lr. Only the values
    of each column are held; rows are unravelled from their index when asked for.
    """

    source: Preset | SpecSource
    values: dict[str, tuple[Any, ...]]  # column -> its values along its axis, in column order; base_lr last
    kinds: dict[str, str]  # column -> "count", "float", "choice", "flag", "counts", "floats" or "text"
    axes: tuple[tuple[str, ...], ...]  # the columns of each axis, outermost first
    given: tuple[str, ...]  # the columns the user set (the others hold defaults)
    targets: dict[str, Any]  # column -> the preset's keyword, or the path in the spec, it sets (not base_lr)

    @classmethod
    def build(cls, preset: Preset, tokens: Mapping[str, tuple[str, ...]]) -> ConfigGrid:
        """The grid over `tokens` ({option key: values as text}); parameters with a fixed default get a column."""
        values: dict[str, tuple[Any, ...]] = {}
        kinds: dict[str, str] = {}
        targets: dict[str, Any] = {}
        columns = [(option_key(preset, p), p) for p in preset.parameters if p.kind in METAVARS]
        for key, parameter in [*columns, (BASE_LR.name, BASE_LR)]:
            if key in tokens:
                parsed = []
                for text in tokens[key]:
                    try:
                        parsed.append(_parse_value(parameter, text))
                    except ValueError as exc:
                        raise CliError(f"argument {_flag(key)}: {exc}") from None
                values[key] = tuple(parsed)
            elif parameter.default is not REQUIRED and parameter.default is not None:
                values[key] = (_default_value(parameter),)
            else:
                continue
            kinds[key] = parameter.kind
            if parameter is not BASE_LR:
                targets[key] = parameter.name
        axes = tuple((key,) for key in values)
        return cls(preset, values, kinds, axes, tuple(key for key in values if key in tokens), targets)

    @classmethod
    def from_spec(cls, source: SpecSource, base_lrs: tuple[str, ...] | None) -> ConfigGrid:
        """The spec's configs crossed with `base_lrs` (text; default 1)."""
        values: dict[str, tuple[Any, ...]] = {}
        kinds: dict[str, str] = {}
        targets: dict[str, Any] = {}
        for path, items in source.leaves.items():
            column = _path_name(path)
            column = f"spec.{column}" if column == BASE_LR.name else column
            values[column], kinds[column], targets[column] = items, _items_kind(items), path
        axes = (tuple(values),) if values else ()
        given = tuple(values)
        lrs = []
        for text in base_lrs or ("1",):
            try:
                lrs.append(_parse_value(BASE_LR, text))
            except ValueError as exc:
                raise CliError(f"argument --base-lr: {exc}") from None
        values[BASE_LR.name], kinds[BASE_LR.name] = tuple(lrs), BASE_LR.kind
        given += (BASE_LR.name,) if base_lrs else ()
        return cls(source, values, kinds, (*axes, (BASE_LR.name,)), given, targets)

    @property
    def label(self) -> str:
        """The schedule's name in reports and plots: the preset's name, or the spec's label."""
        return self.source.name if isinstance(self.source, Preset) else self.source.label

    @property
    def saved_schedule(self) -> str | dict[str, Any]:
        """What a .pt output records as its schedule: the preset's name, or the spec."""
        return self.source.name if isinstance(self.source, Preset) else self.source.spec

    @property
    def shape(self) -> tuple[int, ...]:
        return tuple(len(self.values[axis[0]]) for axis in self.axes)

    @property
    def num_configs(self) -> int:
        return math.prod(self.shape)

    @property
    def _axis_of(self) -> dict[str, int]:
        return {column: axis for axis, columns in enumerate(self.axes) for column in columns}

    def row(self, index: int) -> dict[str, Any]:
        """Config `index` as Python scalars."""
        positions = []
        for length in reversed(self.shape):
            index, position = divmod(index, length)
            positions.append(position)
        positions.reverse()
        axis_of = self._axis_of
        return {name: values[positions[axis_of[name]]] for name, values in self.values.items()}

    def columns(self, rows: range) -> dict[str, Any]:
        """The configs of `rows` as arrays (one item per config), but for the block-scalar columns (choices, lists),
        which hold their one value (rows never span two of their values: see `blocks`)."""
        indices = _unravel(self.shape, rows.start, rows.stop)
        axis_of = self._axis_of
        columns: dict[str, Any] = {}
        for name, values in self.values.items():
            index = indices[axis_of[name]]
            kind = self.kinds[name]
            if kind in BLOCK_SCALAR_KINDS:
                columns[name] = values[int(index[0])]
            else:
                columns[name] = self._arrays[name][index]
        return columns

    @functools.cached_property
    def _arrays(self) -> dict[str, np.ndarray]:
        """Each column's values as an array, made once (a spec's column has a value per config)."""
        import numpy as np

        dtypes = {"count": np.int64, "float": np.float64}
        return {
            name: np.asarray(values, dtype=dtypes[self.kinds[name]])
            if self.kinds[name] in dtypes
            else _object_array(values)
            for name, values in self.values.items()
        }

    @functools.cached_property
    def _cells(self) -> dict[str, np.ndarray]:
        """Each column's values as config table cells, made once."""
        return {name: _object_array([_cell(v) for v in values]) for name, values in self.values.items()}

    def schedule_for(self, columns: Mapping[str, Any]) -> tuple[Schedule, Any]:
        """(the schedule object, base_lr) of configs given as `columns` (of `columns` or `row`)."""
        settings = {self.targets[name]: value for name, value in columns.items() if name != BASE_LR.name}
        if isinstance(self.source, Preset):
            return _make_schedule(self.source.name, settings), columns[BASE_LR.name]
        return _make_schedule(_substituted(self.source.spec, settings), {}), columns[BASE_LR.name]

    def message(self, exc: BaseException) -> str:
        """An error of the computing layer about these configs, for the command line: options for a preset's
        keywords, the spec's place for a spec's."""
        message = _plain_message(exc)
        if not isinstance(self.source, Preset):
            return f"{self.source.where}: {message}"
        flags = {"base_lr": "--base-lr"} | {p.name: _flag(key) for key, p in preset_options(self.source).items()}
        return re.sub(r"`(\w+)`", lambda m: flags.get(m.group(1), m.group(0)), message)

    def _block_scalar_run(self) -> int:
        """Rows per run of equal block-scalar values (a kernel call takes one choice, or list, for all its rows)."""
        varying = [
            axis
            for axis, columns in enumerate(self.axes)
            if self.shape[axis] > 1 and any(self.kinds[name] in BLOCK_SCALAR_KINDS for name in columns)
        ]
        return math.prod(self.shape[varying[-1] + 1 :]) if varying else self.num_configs

    def row_blocks(self, max_rows: int) -> Iterator[range]:
        """Consecutive row ranges of at most `max_rows`, each within one run of block-scalar values."""
        run = self._block_scalar_run()
        for run_start in range(0, self.num_configs, run):
            for first in range(run_start, run_start + run, max_rows):
                yield range(first, min(first + max_rows, run_start + run))

    def blocks(self, num_steps: int, max_values: int) -> Iterator[tuple[range, slice]]:
        """(rows, steps) blocks of at most `max_values` values, in row-major order of the output.

        A block is whole rows, or a part of one row when a row alone is too long: either way its view of a
        C-contiguous (configs, steps) array is C-contiguous, as the computing layer requires.
        """
        if num_steps <= max_values:
            for rows in self.row_blocks(max(1, max_values // num_steps)):
                yield rows, slice(0, num_steps)
            return
        for row in range(self.num_configs):
            for step in range(0, num_steps, max_values):
                yield range(row, row + 1), slice(step, min(step + max_values, num_steps))

    def validation_blocks(self) -> Iterator[dict[str, Any]]:
        """Every config once, as `columns` blocks: one combination of block-scalar values after another (their axes
        taken outermost, so that a block holds many configs however they vary)."""
        scalar_axes = [
            axis
            for axis, columns in enumerate(self.axes)
            if any(self.kinds[name] in BLOCK_SCALAR_KINDS for name in columns)
        ]
        other_axes = tuple(columns for axis, columns in enumerate(self.axes) if axis not in scalar_axes)
        kept = {name for columns in other_axes for name in columns}
        others = dataclasses.replace(self, values={k: v for k, v in self.values.items() if k in kept}, axes=other_axes)
        for positions in itertools.product(*(range(self.shape[axis]) for axis in scalar_axes)):
            fixed = {
                name: self.values[name][position]
                for axis, position in zip(scalar_axes, positions, strict=True)
                for name in self.axes[axis]
            }
            for rows in others.row_blocks(CONFIG_BLOCK_ROWS):
                yield {**others.columns(rows), **fixed}

    def config_lines(self, rows: range) -> list[str]:
        """The config cells of `rows`, one comma-joined line (without its end) per row."""
        indices = _unravel(self.shape, rows.start, rows.stop)
        axis_of = self._axis_of
        cells = [self._cells[name][indices[axis_of[name]]] for name in self.values]
        return [",".join(row) for row in zip(*cells, strict=True)]

    def config_text_bytes(self) -> int:
        """The exact size of every config line with its end (FILE.configs.csv less its header), from the values
        alone: in a product, each value of an axis appears num_configs / len(axis) times."""
        size = self.num_configs * len(self.values)  # the commas between cells, and each line's end
        for values in self.values.values():
            size += self.num_configs // len(values) * sum(len(_cell(v).encode()) for v in values)
        return size

    def config_lists(self) -> dict[str, list[Any]]:
        """{column: its value in every config} as plain Python lists (the .pt output's table)."""
        indices = _unravel(self.shape, 0, self.num_configs)
        axis_of = self._axis_of
        return {
            name: [_plain(v) for v in _object_array(values)[indices[axis_of[name]]].tolist()]
            for name, values in self.values.items()
        }


def _default_value(parameter: Parameter) -> Any:
    if parameter.kind in ("counts", "floats"):
        return tuple((int if parameter.kind == "counts" else float)(v) for v in parameter.default)
    return {"count": int, "float": float, "flag": bool}.get(parameter.kind, str)(parameter.default)


def _items_kind(items: Sequence[Any]) -> str:
    """The kind of a spec's per-config values: whole numbers, numbers, or anything else ("text")."""
    if all(isinstance(v, int) and not isinstance(v, bool) for v in items):
        return "count"
    if all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in items):
        return "float"
    return "text"


def _validated(grid: ConfigGrid, call: Callable[[], Any]) -> Any:
    try:
        return call()
    except (ValueError, TypeError) as exc:
        raise CliError(grid.message(exc)) from None


def _check_grid(grid: ConfigGrid, blocks: int | None = None) -> None:
    """Validate the grid's configs (all, or the first `blocks` blocks) before anything is written."""
    for columns in itertools.islice(grid.validation_blocks(), blocks):
        _validated(grid, lambda columns=columns: _check_configs(*grid.schedule_for(columns)))


def _check_steps(start: int, num_steps: int) -> None:
    last = start + num_steps - 1
    if last > MAX_STEP:
        raise CliError(
            f"--start + --num-steps must stay within 2**53 steps: the last step would be {last}, "
            f"past {MAX_STEP} (2**53 - 1)"
        )


def _config_table(grid: ConfigGrid, rows: range) -> list[list[str]]:
    return [[_cell(value) for value in grid.row(i).values()] for i in rows]


# --------------------------------------------------------------------------------------- schedule arguments


def _preset_named(name: str) -> Preset:
    """The preset called `name` (a NAME argument), or a one-line error that suggests what was meant."""
    presets = registry.PRESETS
    if name in presets:
        return presets[name]
    if name in METRIC_DRIVEN:
        raise CliError(
            f"argument NAME: {name!r} follows a metric and has no precomputable values; "
            "use fastsched.get_scheduler in Python"
        )
    if name.lstrip().startswith("{") or name.lower().endswith(".json"):
        hint = "; a spec goes after --spec"
    else:
        close = difflib.get_close_matches(name, list(presets), n=3)
        close = close or [n for n in presets if n.lower() == name.lower() or n.split(".")[-1] == name]
        hint = f" (did you mean {' or '.join(map(repr, close))}?)" if close else ""
    raise CliError(f"argument NAME: invalid choice: {name!r}{hint}; see 'fastsched list'")


def _unique_labels(sources: list[SpecSource], taken: set[str]) -> list[SpecSource]:
    """The specs, relabelled "label (2)", "label (3)"... where a label is already taken."""
    unique = []
    for source in sources:
        label, copy = source.label, 2
        while label in taken:
            label, copy = f"{source.label} ({copy})", copy + 1
        taken.add(label)
        unique.append(dataclasses.replace(source, label=label))
    return unique


def _schedule_grids(args: argparse.Namespace, names: Sequence[str], specs: Sequence[str]) -> list[ConfigGrid]:
    """The grids of the schedules named and specified: each preset takes the options it has; with none named, no
    option but --base-lr applies."""
    options = registry_options()
    presets = [_preset_named(name) for name in dict.fromkeys(names)]
    given = _given_tokens(args, options)
    for key in given:
        if key == BASE_LR.name or any(key in preset_options(preset) for preset in presets):
            continue
        if presets:
            listed = ", ".join(preset.name for preset in presets)
            raise CliError(f"{options[key].flag} is not a parameter of {listed} (see 'fastsched list')")
        raise CliError(f"{options[key].flag} sets a named schedule's parameter; a --spec holds its own parameters")
    grids = []
    for preset in presets:
        tokens = {key: given[key] for key in (*preset_options(preset), BASE_LR.name) if key in given}
        grids.append(ConfigGrid.build(preset, tokens))
    sources = _unique_labels([load_spec(text) for text in specs], {preset.name for preset in presets})
    grids += [ConfigGrid.from_spec(source, given.get(BASE_LR.name)) for source in sources]
    return grids


# ------------------------------------------------------------------------------------------------- list


def cmd_list(args: argparse.Namespace) -> int:
    presets = registry.PRESETS
    options = registry_options()
    by_library: dict[str, list[Preset]] = {}
    for preset in presets.values():
        by_library.setdefault(preset.library, []).append(preset)
    selection = args.library
    if selection is not None:
        if selection in by_library:
            by_library = {selection: by_library[selection]}
        elif selection in presets:
            by_library = {presets[selection].library: [presets[selection]]}
        else:
            libraries = ", ".join(by_library)
            raise CliError(f"argument LIBRARY: no library or schedule {selection!r}; the libraries are {libraries}")
    print(
        "Schedules by library (fastsched plot/diff/sweep NAME); every one also takes --base-lr X, "
        "the optimizer's lr (default: 1)."
    )
    if selection is None:
        print("Libraries: " + ", ".join(f"{library} ({len(group)})" for library, group in by_library.items()))
    for library, group in by_library.items():
        print(f"\n== {library}: {len(group)} schedule{'s' * (len(group) != 1)} ==")
        for preset in group:
            _print_preset(preset, options)
    if selection is None:
        metric_driven = ", ".join(sorted(METRIC_DRIVEN))
        print(f"\nNot precomputable (they follow a metric): {metric_driven}; use fastsched.get_scheduler in Python.")
    return 0


def _print_preset(preset: Preset, options: Mapping[str, Option]) -> None:
    print(f"\n{preset.name}: {preset.summary}")
    if not preset.parameters:
        print("  (no parameters)")
    settable = {p.name: key for key, p in preset_options(preset).items()}
    rows = []
    for parameter in preset.parameters:
        if parameter.name not in settable:
            rows.append((parameter.name, "", f"{parameter.help} (not settable from the command line: use --spec)"))
            continue
        if parameter.required:
            default = "required"
        elif parameter.default is None:
            default = "optional"
        else:
            shown = _cell(parameter.default) if parameter.kind in ("counts", "floats") else parameter.default
            default = f"default {shown}"
        option = options[settable[parameter.name]]
        rows.append((f"{option.flag} {METAVARS[parameter.kind]}", default, parameter.help))
    if rows:
        widths = [max(len(row[i]) for row in rows) for i in range(2)]
        for flag, default, help_text in rows:
            print(f"  {flag:<{widths[0]}}  {default:<{widths[1]}}  {help_text}")


# ---------------------------------------------------------------------------------------- plot and diff


@dataclass(frozen=True)
class Line:
    """One config of one schedule: a line of a plot, a side of a diff."""

    grid: ConfigGrid
    index: int

    @property
    def config(self) -> dict[str, Any]:
        return self.grid.row(self.index)

    @property
    def description(self) -> dict[str, Any]:
        """{"schedule": its label, column: value...} for the columns the user set."""
        config = self.config
        return {"schedule": self.grid.label, **{name: config[name] for name in self.grid.given}}

    def schedule(self) -> tuple[Schedule, float]:
        return _validated(self.grid, lambda: self.grid.schedule_for(self.config))

    def full_description(self) -> str:
        """The description, and for a spec's config its whole spec (what `diff` prints of each side)."""
        source = self.grid.source
        if isinstance(source, Preset):
            return _describe(self.description)
        config = self.config
        settings = {self.grid.targets[name]: config[name] for name in self.grid.targets}
        return f"{source.label}: {json.dumps(_substituted(source.spec, settings))}"


def _lines(grids: Sequence[ConfigGrid]) -> list[Line]:
    return [Line(grid, i) for grid in grids for i in range(grid.num_configs)]


def _num_steps(args: argparse.Namespace, lines: Sequence[Line], schedules: Sequence[tuple[Schedule, float]]) -> int:
    """--num-steps, or from --start through the last step any schedule declares (DEFAULT_STEPS steps when none
    declares one, or --start is past it), within the steps there are."""
    if args.num_steps is not None:
        num_steps = args.num_steps
    else:
        lengths = [
            _validated(line.grid, lambda s=s, lr=lr: _nominal_length(s, lr))
            for line, (s, lr) in zip(lines, schedules, strict=True)
        ]
        end = max(lengths) if max(lengths) > 1 else DEFAULT_STEPS
        num_steps = min(end - args.start if end > args.start else DEFAULT_STEPS, MAX_STEP + 1 - args.start)
    _check_steps(args.start, num_steps)
    return num_steps


def plot_steps(start: int, num_steps: int, max_points: int = MAX_PLOT_POINTS) -> np.ndarray:
    """The steps a plot evaluates: all of start .. start + num_steps - 1, or `max_points` of them evenly spaced,
    the first and the last included (int64, increasing)."""
    import numpy as np

    last = start + num_steps - 1
    if num_steps <= max_points:
        return np.arange(start, last + 1, dtype=np.int64)
    # Steps stay below 2**53, so float64 holds them exactly; linspace's ends are start and last exactly.
    return np.unique(np.linspace(start, last, max_points).round().astype(np.int64).clip(start, last))


def _describe(line: Mapping[str, Any]) -> str:
    parts = [str(line["schedule"])] if "schedule" in line else []
    parts += [f"{key}={_cell(value)}" for key, value in line.items() if key != "schedule"]
    return ", ".join(parts)


def _titles(lines: Sequence[Mapping[str, Any]]) -> tuple[str, list[str]]:
    """A plot's title (what every line shares) and each line's label (its schedule and parameters that differ).

    Each line is {"schedule": label, column: value...} for the columns given on the command line.
    """
    shared = {key: value for key, value in lines[0].items() if all(line.get(key) == value for line in lines)}
    title = _describe(shared)
    if "schedule" in shared and len(shared) > 1:
        title = title.replace(", ", ": ", 1)  # "cosine: num_warmup_steps=100, ..."
    labels = [_describe({key: value for key, value in line.items() if key not in shared}) for line in lines]
    return title, labels


def _plot_names(args: argparse.Namespace) -> tuple[list[str], list[str]]:
    names, specs = list(args.names), list(args.specs or ())
    if not names and not specs:
        raise CliError(f"{args.command} needs a schedule: a NAME (see 'fastsched list') or --spec SPEC")
    return names, specs


def cmd_plot(args: argparse.Namespace) -> int:
    grids = _schedule_grids(args, *_plot_names(args))
    num_lines = sum(grid.num_configs for grid in grids)
    if num_lines > MAX_PLOT_LINES:
        raise CliError(f"{num_lines:,} lines are too many for one plot (at most {MAX_PLOT_LINES}); use fewer values")
    for grid in grids:
        _check_grid(grid)
    lines = _lines(grids)
    schedules = [line.schedule() for line in lines]
    # The default reaches the last step drawn by the longest schedule, within the steps there are.
    num_steps = _num_steps(args, lines, schedules)
    output, figure_format = None, ""
    if args.output is not None:
        figure_format = _figure_format(args.output)
        output = _prepare_outputs([args.output])[0]

    from . import plotting

    steps = plot_steps(args.start, num_steps)
    title, labels = _titles([line.description for line in lines])
    curves = []
    for line, (schedule, base_lr), label in zip(lines, schedules, labels, strict=True):
        lrs = _validated(line.grid, lambda s=schedule, lr=base_lr: _values_at_steps(s, lr, steps))
        if not lrs.size or not all(map(math.isfinite, (lrs.min(), lrs.max()))):
            raise CliError(f"the lr of {label or line.grid.label} overflows (not finite); use a smaller --base-lr")
        curves.append(plotting.Curve(label, steps, lrs))
    y_label = "learning rate" if any(BASE_LR.name in grid.given for grid in grids) else "lr multiplier (base lr 1)"

    if output is None:
        width = min(max(shutil.get_terminal_size((80, 24)).columns - 16, 40), 100)
        print(plotting.text_plot(curves, title=title, y_label=y_label, width=width))
        return 0
    try:
        with _AtomicFiles([output]) as files:
            plotting.save_figure(curves, files.temporary[0], title=title, y_label=y_label, format=figure_format)
            files.commit()
    except OSError as exc:
        raise CliError(f"cannot write {str(args.output)!r}: {_reason(exc)}") from None
    print(f"wrote {args.output} ({num_lines} line{'s' * (num_lines != 1)}, steps {steps[0]}..{steps[-1]})")
    return 0


def _figure_format(path: Path) -> str:
    from . import plotting

    try:
        formats = plotting.supported_formats()
    except ImportError:
        raise CliError("plot -o needs matplotlib: pip install 'fastsched[plot]'") from None
    suffix = path.suffix.lower().lstrip(".")
    if suffix not in formats:
        raise CliError(f"cannot save a figure as {path.name!r}; use one of .{', .'.join(sorted(formats))}")
    return suffix


@dataclass
class Difference:
    """What `diff` finds over the steps compared so far: steps are absolute; None until a step differs."""

    first_step: int | None = None  # the first step where A != B (float64)
    differing: int = 0  # steps where A != B
    beyond: int = 0  # steps beyond the tolerance
    first_beyond: int | None = None
    max_abs: float = 0.0
    max_abs_step: int | None = None
    max_rel: float = 0.0
    max_rel_step: int | None = None

    def update(self, a: np.ndarray, b: np.ndarray, start: int, atol: float, rtol: float) -> None:
        import numpy as np

        equal = (a == b) | (np.isnan(a) & np.isnan(b))
        if equal.all():
            return
        with np.errstate(invalid="ignore", over="ignore"):
            size = np.maximum(np.abs(a), np.abs(b))
            absolute = np.where(equal, 0.0, np.abs(a - b))
            absolute[np.isnan(absolute)] = math.inf  # nan against a number, or inf - inf
            relative = np.where(equal, 0.0, absolute / size)
            relative[np.isnan(relative)] = math.inf
            beyond = ~equal & ~(absolute <= atol + rtol * size)
        if self.first_step is None:
            self.first_step = start + int(np.argmin(equal))
        self.differing += int((~equal).sum())
        count = int(beyond.sum())
        if count and self.first_beyond is None:
            self.first_beyond = start + int(np.argmax(beyond))
        self.beyond += count
        for name, values in (("abs", absolute), ("rel", relative)):
            at = int(np.argmax(values))
            if values[at] > getattr(self, f"max_{name}"):
                setattr(self, f"max_{name}", float(values[at]))
                setattr(self, f"max_{name}_step", start + at)


def _number_text(value: float) -> str:
    """A number as Python writes it (shortest round trip), whole numbers without '.0' when small."""
    value = float(value)
    return str(int(value)) if value.is_integer() and abs(value) < 1e16 else repr(value)


def cmd_diff(args: argparse.Namespace) -> int:
    import numpy as np

    grids = _schedule_grids(args, *_plot_names(args))
    count = sum(grid.num_configs for grid in grids)
    if count != 2:
        shown = f": {'; '.join(_describe(line.description) for line in _lines(grids))}" if count <= 6 else ""
        raise CliError(
            f"diff compares two schedules, A and B; these arguments give {count:,} (one per value of a comma "
            f"list, and per config of a spec){shown}"
        )
    for grid in grids:
        _check_grid(grid)
    lines = _lines(grids)
    schedules = [line.schedule() for line in lines]
    num_steps = _num_steps(args, lines, schedules)
    for side, line, (_, base_lr) in zip("AB", lines, schedules, strict=True):
        print(f"{side}: {line.full_description()} (base lr {_number_text(base_lr)})")
    last = args.start + num_steps - 1
    print(f"steps {args.start}..{last} ({num_steps:,} step{'s' * (num_steps != 1)}), float64")

    found = Difference()
    buffers = [np.empty(min(num_steps, DIFF_BLOCK_STEPS), dtype=np.float64) for _ in lines]
    values_at: dict[int, tuple[float, float]] = {}  # step -> (A, B) for the steps reported
    progress = _progress_bar(num_steps)
    try:
        for first in range(args.start, last + 1, DIFF_BLOCK_STEPS):
            size = min(DIFF_BLOCK_STEPS, last + 1 - first)
            a, b = (buffer[:size] for buffer in buffers)
            for line, (schedule, base_lr), out in zip(lines, schedules, (a, b), strict=True):
                _validated(line.grid, lambda s=schedule, lr=base_lr, o=out, f=first: _trajectory_into(s, lr, f, o))
            found.update(a, b, first, args.atol, args.rtol)
            reported = (found.first_step, found.first_beyond, found.max_abs_step, found.max_rel_step)
            values_at = {
                step: (float(a[step - first]), float(b[step - first]))
                if first <= step < first + size
                else values_at[step]
                for step in reported
                if step is not None
            }
            progress.update(size)
    finally:
        progress.close()

    def at(step: int) -> str:
        value_a, value_b = values_at[step]
        return f"step {step} (A {_number_text(value_a)}, B {_number_text(value_b)})"

    tolerance = f"--atol {_number_text(args.atol)} --rtol {_number_text(args.rtol)}"
    if found.first_step is None:
        print(f"identical: every one of the {num_steps:,} steps is equal (float64)")
        return 0
    print(f"first difference: {at(found.first_step)}")
    print(f"max absolute difference: {_number_text(found.max_abs)} at {at(found.max_abs_step)}")
    print(f"max relative difference: {_number_text(found.max_rel)} at {at(found.max_rel_step)}")
    if found.first_beyond is None:
        print(f"equal within {tolerance} ({found.differing:,} of {num_steps:,} steps differ within it)")
        return 0
    print(f"differ: {found.beyond:,} of {num_steps:,} steps beyond {tolerance}, the first at step {found.first_beyond}")
    return 1


# ------------------------------------------------------------------------------------------------ outputs


def _prepare_outputs(paths: Sequence[Path]) -> list[Path]:
    """Where each output lands (the file a symlink at its path points to, so that the link stays), after the
    checks that need no writing: its folder exists and is writable, it is not a folder, two are not one."""
    targets = []
    for path in paths:
        target = Path(os.path.realpath(path))
        folder = target.parent

        def refuse(reason: str, path: Path = path) -> NoReturn:
            raise CliError(f"cannot write {str(path)!r}: {reason}")

        if not folder.exists():
            refuse("No such file or directory")
        if not folder.is_dir():
            refuse("Not a directory")
        if target.is_dir():
            refuse("Is a directory")
        if not os.access(folder, os.W_OK | os.X_OK) or (target.exists() and not os.access(target, os.W_OK)):
            refuse("Permission denied")
        if target in targets:
            refuse(f"it is the same file as {str(paths[targets.index(target)])!r}")
        targets.append(target)
    return targets


def _check_free_space(sizes: Mapping[Path, int], exact: bool) -> None:
    """Refuse outputs that do not fit the free space of their file system (outputs on one file system add up)."""
    by_device: dict[int, list[Path]] = {}
    for target in sizes:
        by_device.setdefault(os.stat(target.parent).st_dev, []).append(target)
    for targets in by_device.values():
        needed = sum(sizes[t] for t in targets)
        free = shutil.disk_usage(targets[0].parent).free
        if needed > free:
            parts = " + ".join(f"{t.name} {_si(sizes[t], 'B')}" for t in targets)
            needs = "needs" if exact else "needs at least"
            raise CliError(
                f"not enough free space: the output {needs} {_si(needed, 'B')} ({needed:,} bytes: {parts}), "
                f"and {targets[0].parent} has {_si(free, 'B')} ({free:,} bytes) free"
            )


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


@contextlib.contextmanager
def _signals_deferred(raise_after: bool) -> Iterator[None]:
    """Hold SIGINT, SIGTERM and SIGHUP back while outputs are renamed or removed, so that either finishes; then
    raise for a signal that came (unless an error is already on its way out)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    received: list[int] = []
    previous = {}
    for signum in CLEANUP_SIGNALS:
        if signal.getsignal(signum) is not signal.SIG_IGN:
            previous[signum] = signal.signal(signum, lambda signum, frame: received.append(signum))
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
    if received and raise_after:
        raise KeyboardInterrupt if received[0] == signal.SIGINT else Stopped(received[0])


class _AtomicFiles:
    """Temporary files beside their targets, renamed over them by `commit` once all are complete.

    On any exit without a commit (an error, a signal, Ctrl-C) the temporary files are removed: nothing partial
    is left, and what was at the targets before is untouched.
    """

    def __init__(self, targets: Sequence[Path]) -> None:
        self.targets = list(targets)
        self.temporary: list[Path] = []
        self.committed = False

    def __enter__(self) -> _AtomicFiles:
        import tempfile

        target = self.targets[0]
        try:
            # Signals wait until each file made is on the list to remove.
            with _signals_deferred(raise_after=True):
                for target in self.targets:
                    # The mode open() would give a new file, or the mode of the file it replaces.
                    mode = target.stat().st_mode & 0o7777 if target.exists() else 0o666 & ~_umask()
                    handle, name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
                    self.temporary.append(Path(name))
                    os.fchmod(handle, mode)
                    os.close(handle)
        except BaseException as exc:
            self._remove()
            if isinstance(exc, OSError):
                raise CliError(f"cannot write {str(target)!r}: {_reason(exc)}") from None
            raise
        return self

    def commit(self) -> None:
        with _signals_deferred(raise_after=True):
            for temporary, target in zip(self.temporary, self.targets, strict=True):
                os.replace(temporary, target)
            self.committed = True

    def _remove(self) -> None:
        with _signals_deferred(raise_after=False):
            for temporary in self.temporary:
                with contextlib.suppress(OSError):  # cleaning up after an error: report that error, not this one
                    temporary.unlink(missing_ok=True)

    def __exit__(self, *exc_info: Any) -> None:
        if not self.committed:
            self._remove()


def _reason(exc: BaseException) -> str:
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    return str(exc).splitlines()[0] if str(exc) else type(exc).__name__


# ------------------------------------------------------------------------------------------------ sweep


class _Writer:
    """An output file written block by block in its row-major order: compute into `target`, then `commit`."""

    default_block_values = NPY_BLOCK_VALUES

    def __init__(
        self, path: Path, grid: ConfigGrid, num_steps: int, start: int, dtype: np.dtype, block_values: int
    ) -> None:
        self.path, self.grid, self.num_steps, self.start, self.dtype = path, grid, num_steps, start, dtype
        self.file: IO[Any] | None = None

    @classmethod
    def size(cls, grid: ConfigGrid, num_steps: int, start: int, dtype: np.dtype) -> int:
        """The output's size in bytes, or a lower bound of it (see `exact_size`)."""
        raise NotImplementedError

    exact_size = True

    def target(self, rows: range, steps: slice) -> np.ndarray:
        """A C-contiguous (rows, steps) array to compute the block into."""
        raise NotImplementedError

    def commit(self, rows: range, steps: slice, block: np.ndarray) -> None:
        """Called once the block returned by `target` holds its values."""

    def close(self) -> None:
        """Finish the file (every block committed)."""
        if self.file is not None:
            self.file.close()

    @contextlib.contextmanager
    def _closed_on_error(self) -> Iterator[None]:
        """Close the file if setting it up fails (the caller then has no writer to close)."""
        try:
            yield
        except BaseException:
            if self.file is not None:
                with contextlib.suppress(OSError):  # a full disk fails the flush too: report the first error
                    self.file.close()
            raise


class _BufferedWriter(_Writer):
    """Blocks are computed into one reused buffer and then written: memory stays at one block, whatever the size."""

    def __init__(
        self, path: Path, grid: ConfigGrid, num_steps: int, start: int, dtype: np.dtype, block_values: int
    ) -> None:
        import numpy as np

        super().__init__(path, grid, num_steps, start, dtype, block_values)
        self.buffer = np.empty(min(block_values, grid.num_configs * num_steps), dtype=dtype)

    def target(self, rows: range, steps: slice) -> np.ndarray:
        shape = (len(rows), steps.stop - steps.start)
        return self.buffer[: shape[0] * shape[1]].reshape(shape)


def _npy_header(grid: ConfigGrid, num_steps: int, dtype: np.dtype) -> bytes:
    """numpy's .npy header for a C-order (configs, steps) array (what np.save writes before the data)."""
    import io

    import numpy as np

    header = io.BytesIO()
    fields = {"descr": np.lib.format.dtype_to_descr(dtype), "fortran_order": False}
    np.lib.format.write_array_header_1_0(header, {**fields, "shape": (grid.num_configs, num_steps)})
    return header.getvalue()


class _NpyWriter(_BufferedWriter):
    """.npy: numpy's header, then the blocks' bytes in order (what np.save writes for a C-contiguous array)."""

    @classmethod
    def size(cls, grid: ConfigGrid, num_steps: int, start: int, dtype: np.dtype) -> int:
        return len(_npy_header(grid, num_steps, dtype)) + grid.num_configs * num_steps * dtype.itemsize

    def __init__(
        self, path: Path, grid: ConfigGrid, num_steps: int, start: int, dtype: np.dtype, block_values: int
    ) -> None:
        super().__init__(path, grid, num_steps, start, dtype, block_values)
        self.file = open(path, "wb")  # noqa: SIM115 - closed in close()
        with self._closed_on_error():
            self.file.write(_npy_header(grid, num_steps, dtype))

    def commit(self, rows: range, steps: slice, block: np.ndarray) -> None:
        self.file.write(block.data)


def _step_names_bytes(start: int, num_steps: int) -> int:
    """The length of ",step_<k>" for every k in start .. start + num_steps - 1, from the count of each length."""
    size = num_steps * len(",step_")
    stop = start + num_steps
    for digits in range(1, len(str(stop)) + 1):
        low, high = (0 if digits == 1 else 10 ** (digits - 1)), 10**digits
        size += digits * max(0, min(stop, high) - max(start, low))
    return size


class _CsvWriter(_BufferedWriter):
    """.csv: a header (the config's parameters, then step_<k> per step), then one line per config."""

    default_block_values = CSV_BLOCK_VALUES  # its text takes ~20 bytes a value
    exact_size = False

    @classmethod
    def size(cls, grid: ConfigGrid, num_steps: int, start: int, dtype: np.dtype) -> int:
        # Exact but for the values, counted at their shortest: a lower bound of the size.
        header = len(",".join(grid.values).encode()) + _step_names_bytes(start, num_steps) + 1
        return header + grid.config_text_bytes() + grid.num_configs * num_steps * CSV_MIN_BYTES_PER_VALUE

    def __init__(
        self, path: Path, grid: ConfigGrid, num_steps: int, start: int, dtype: np.dtype, block_values: int
    ) -> None:
        super().__init__(path, grid, num_steps, start, dtype, block_values)
        self.file = open(path, "w", newline="", encoding="utf-8")  # noqa: SIM115 - closed in close()
        with self._closed_on_error():
            self.file.write(",".join(grid.values))
            # The header in pieces: a million steps' names at once would take a hundred MB.
            for first in range(start, start + num_steps, CSV_HEADER_NAMES_PER_WRITE):
                stop = min(first + CSV_HEADER_NAMES_PER_WRITE, start + num_steps)
                self.file.write("".join([f",step_{k}" for k in range(first, stop)]))
            self.file.write("\n")

    def _format(self, values: np.ndarray) -> str:
        # Shortest strings that read back to the same value: Python floats' repr for float64, and numpy's
        # float32 str for float32 (a float64 repr of a float32 would print ~17 noisy digits).
        if values.dtype.itemsize == 8:
            return ",".join(map(repr, values.tolist()))
        return ",".join(map(str, values))

    def commit(self, rows: range, steps: slice, block: np.ndarray) -> None:
        configs = self.grid.config_lines(rows) if steps.start == 0 else None  # a row's first block: its config
        parts = []
        for offset in range(len(rows)):
            if configs is not None:
                parts.append(configs[offset] + ",")
            parts.append(self._format(block[offset]))
            parts.append("\n" if steps.stop == self.num_steps else ",")
        self.file.write("".join(parts))


class _PtWriter(_Writer):
    """.pt: torch.save of {"lr": tensor, "configs": {parameter: list}, "schedule", "start"}, built in memory."""

    @classmethod
    def size(cls, grid: ConfigGrid, num_steps: int, start: int, dtype: np.dtype) -> int:
        return grid.num_configs * num_steps * dtype.itemsize  # the tensor's bytes; the rest is small

    exact_size = False

    @classmethod
    def memory(cls, grid: ConfigGrid, num_steps: int, dtype: np.dtype) -> int:
        cells = grid.num_configs * len(grid.values)
        return PT_TORCH_BYTES + cls.size(grid, num_steps, 0, dtype) + cells * PT_BYTES_PER_CONFIG_CELL

    def __init__(
        self, path: Path, grid: ConfigGrid, num_steps: int, start: int, dtype: np.dtype, block_values: int
    ) -> None:
        import numpy as np

        super().__init__(path, grid, num_steps, start, dtype, block_values)
        import torch  # only this output format needs torch

        self.torch = torch
        self.array = np.empty((grid.num_configs, num_steps), dtype=dtype)

    def target(self, rows: range, steps: slice) -> np.ndarray:
        return self.array[rows.start : rows.stop, steps]

    def close(self) -> None:
        # Plain types only, so that torch.load(path, weights_only=True) reads it.
        saved = {
            "lr": self.torch.from_numpy(self.array),
            "configs": self.grid.config_lists(),
            "schedule": self.grid.saved_schedule,
            "start": self.start,
        }
        with open(self.path, "wb") as file:
            recording = _RecordingFile(file)
            try:
                self.torch.save(saved, recording)
            except RuntimeError as exc:
                # torch turns a failed write (a full disk) into a RuntimeError about positions: report the write's error
                raise recording.error or OSError(f"torch.save failed: {_reason(exc)}") from None


class _RecordingFile:
    """A binary file for torch.save that keeps the OSError of a failed write (torch replaces it with its own)."""

    def __init__(self, file: IO[bytes]) -> None:
        self.file = file
        self.error: OSError | None = None

    def write(self, data: Any) -> int:
        try:
            return self.file.write(data)
        except OSError as exc:
            self.error = exc
            raise

    def flush(self) -> None:
        try:
            self.file.flush()
        except OSError as exc:
            self.error = exc
            raise


WRITERS: dict[str, type[_Writer]] = {".npy": _NpyWriter, ".csv": _CsvWriter, ".pt": _PtWriter}


def _configs_path(output: Path) -> Path:
    return output.with_name(output.stem + ".configs.csv")


def _write_configs(path: Path, grid: ConfigGrid) -> None:
    with open(path, "w", newline="", encoding="utf-8") as file:
        file.write(",".join(grid.values) + "\n")
        for rows in grid.row_blocks(CONFIG_BLOCK_ROWS):
            file.write("".join(line + "\n" for line in grid.config_lines(rows)))


def _print_config_head(grid: ConfigGrid, configs_path: Path) -> None:
    shown = min(grid.num_configs, CONFIG_ROWS_SHOWN)
    header = ["row", *grid.values]
    rows = [[str(i), *cells] for i, cells in enumerate(_config_table(grid, range(shown)))]
    widths = [max(len(text) for text in column) for column in zip(header, *rows, strict=True)]
    for cells in [header, *rows]:
        print("  ".join(f"{text:>{width}}" for text, width in zip(cells, widths, strict=True)))
    if grid.num_configs > shown:
        print(f"... {grid.num_configs - shown:,} more; every config is in {configs_path}")


def cmd_sweep(args: argparse.Namespace) -> int:
    if (args.name is None) == (args.spec is None):
        raise CliError("sweep takes one schedule: a NAME (see 'fastsched list') or --spec SPEC")
    if args.name is not None:
        preset = _preset_named(args.name)
        options = registry_options()
        given = _given_tokens(args, options)
        takes = preset_options(preset)
        for key in given:
            if key != BASE_LR.name and key not in takes:
                listed = ", ".join(options[k].flag for k in takes) or "no parameters"
                raise CliError(f"{preset.name} does not take {options[key].flag}; it takes {listed} and --base-lr")
        grid = ConfigGrid.build(preset, given)
    else:
        grid = _schedule_grids(args, [], [args.spec])[0]
    output: Path = args.output
    if output.suffix.lower() not in OUTPUT_FORMATS:
        raise CliError(f"-o {str(output)!r}: the file name must end in .npy, .csv or .pt")
    writer_class = WRITERS[output.suffix.lower()]
    configs_path = _configs_path(output)
    _check_steps(args.start, args.num_steps)

    # Every check that needs no writing, cheapest first, before any file is created.
    import numpy as np

    dtype = np.dtype(args.dtype)
    _check_grid(grid, blocks=1)  # a missing or bad parameter shows in the first configs
    output_target, configs_target = _prepare_outputs([output, configs_path])
    output_size = writer_class.size(grid, args.num_steps, args.start, dtype)
    configs_size = len(",".join(grid.values).encode()) + 1 + grid.config_text_bytes()
    _check_free_space({output_target: output_size, configs_target: configs_size}, exact=writer_class.exact_size)
    if writer_class is _PtWriter:
        from . import validation

        needed, available = _PtWriter.memory(grid, args.num_steps, dtype), validation.available_memory()
        if needed > available:
            raise CliError(
                f"a .pt output is built in memory: this one needs about {_si(needed, 'B')} and "
                f"{_si(available, 'B')} is available; write .npy instead (np.load(..., mmap_mode='r') reads it)"
            )
    _check_grid(grid)

    num_values = grid.num_configs * args.num_steps
    print(
        f"{grid.label}: {grid.num_configs:,} config{'s' * (grid.num_configs != 1)} x {args.num_steps:,} steps"
        f" = {num_values:,} values ({dtype}, {_si(num_values * dtype.itemsize, 'B')}) -> {output}"
    )
    _print_config_head(grid, configs_path)
    block_values = args.max_block_values or writer_class.default_block_values
    current = output  # the file being written, for the error message
    progress = None
    try:
        with _AtomicFiles([configs_target, output_target]) as files:
            configs_temporary, output_temporary = files.temporary
            writer = writer_class(output_temporary, grid, args.num_steps, args.start, dtype, block_values)
            try:
                began = time.perf_counter()  # after the writer's setup, which may import torch (~1 s)
                current = configs_path
                _write_configs(configs_temporary, grid)
                current = output
                progress = _progress_bar(num_values)
                for rows, steps in grid.blocks(args.num_steps, block_values):
                    block = writer.target(rows, steps)
                    _validated(
                        grid,
                        lambda block=block, rows=rows, steps=steps: _compute_block(
                            *grid.schedule_for(grid.columns(rows)), args.start + steps.start, block
                        ),
                    )
                    writer.commit(rows, steps, block)
                    progress.update(block.size)
                progress.close()
                writer.close()
            finally:
                if writer.file is not None:
                    with contextlib.suppress(OSError):  # after a failed write the flush fails too: report the first
                        writer.file.close()
            files.commit()
    except OSError as exc:  # an unwritable path, a full disk...
        raise CliError(f"cannot write {str(current)!r}: {_reason(exc)}") from None
    except MemoryError:
        raise CliError("out of memory; write .npy, whose memory stays at one block whatever its size") from None
    finally:
        if progress is not None:
            progress.close()
    elapsed = max(time.perf_counter() - began, 1e-9)
    print(
        f"wrote {output} ({_si(output_target.stat().st_size, 'B')}) and {configs_path} in {elapsed:.3g} s: "
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


# ----------------------------------------------------------------------------------------------- parser
# ----------------------------------------------------------------------------------------------- parser


def _add_parameter_options(parser: argparse.ArgumentParser, options: Mapping[str, Option]) -> None:
    group = parser.add_argument_group(
        "schedule parameters",
        "Each takes one value or a comma list (e.g. --num-warmup-steps 0,100,500); 'fastsched list' shows which "
        "schedule takes which, and the defaults. Counts are integers up to 2**53 - 1 (1e6 is fine); a list "
        f"parameter takes its items separated by '{LIST_SEPARATOR}' (--milestones 30:60). --base-lr is the "
        "optimizer's lr; a preset's own parameter of that name is --<library>-base-lr.",
    )
    for option in options.values():
        group.add_argument(
            option.flag, dest=option.dest, type=_comma_list, metavar=METAVARS[option.kind], help=option.help
        )


def _add_schedule_arguments(parser: argparse.ArgumentParser, what: str) -> None:
    parser.add_argument("names", nargs="*", metavar="NAME", help="a preset (see 'fastsched list')")
    parser.add_argument(
        "--spec",
        action="append",
        dest="specs",
        metavar="SPEC",
        help=f"{what} given as a spec: a JSON file's path, or JSON text starting with '{{' (repeatable; its "
        'optional "name" is its label, else the file\'s name); its lists are one value per config',
    )


SPEC_HELP = (
    "the schedule as a spec: a JSON file's path, or JSON text starting with '{' (as fastsched.schedule takes; an "
    'optional "name" is its label); its lists are one value per config, crossed with --base-lr\'s comma list'
)

OUTPUT_HELP = (
    ".npy (np.load), .csv (config columns, then step_<k> columns) or .pt (torch.save of "
    '{"lr": tensor, "configs": {column: list}, "schedule": name or spec, "start": step}), with FILE.configs.csv '
    "beside it. Both are written to temporary files and renamed into place once complete; an existing file (or "
    "the file a symlink points to) is replaced only then. The size is checked against the free space first: "
    "exactly for .npy; for .csv and .pt a lower bound (4 bytes per value in CSV, the tensor's bytes in .pt). A .pt "
    "is built in memory and refused when it would not fit in the available memory: write .npy then"
)
NUM_STEPS_HELP = (
    "steps to {verb} (default: from --start through the last step where a segment of a schedule starts or "
    f"ends: its num_training_steps, say; {DEFAULT_STEPS} when none declares one, as constant, or --start is past it)"
)


def _tolerance(text: str) -> float:
    return _number(text)


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="fastsched",
        description="Learning-rate schedules from compiled kernels: list them, plot them, compare two, write sweeps.",
        epilog="examples:\n  fastsched sweep cosine --num-steps 5000 --num-warmup-steps 0,100,500 \\\n"
        "      --num-training-steps 5000 --base-lr 1e-4,3e-4 -o sweep.npy\n"
        "  fastsched plot cosine --spec cooldown.json --num-warmup-steps 100 --num-training-steps 5000\n"
        "  fastsched diff cosine --spec reference.json --num-warmup-steps 100 --num-training-steps 5000",
        formatter_class=argparse.RawDescriptionHelpFormatter,  # keeps the examples' lines as written
    )
    parser.add_argument("--version", action="version", version=f"fastsched {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    options = registry_options()
    count = _argparse_type(_count)
    positive_count = _argparse_type(lambda text: _count(text, positive=True))
    tolerance = _argparse_type(_tolerance)

    list_parser = commands.add_parser(
        "list",
        intermixed=True,
        help="the schedules by library, their parameters and defaults",
        description="List the schedules, grouped by library (all, or one library's, or one schedule).",
    )
    list_parser.add_argument("library", nargs="?", metavar="LIBRARY", help="a library (transformers, torch...)")
    list_parser.set_defaults(handler=cmd_list)

    plot_parser = commands.add_parser(
        "plot",
        intermixed=True,
        help="draw schedules: a figure with -o, else a text plot",
        description="Draw lr against step for one or more schedules (NAMEs and --spec SPECs, overlaid); comma "
        "lists give one line per value (the Cartesian product of all lists), a spec's lists one line per config. "
        "Each schedule takes the options it has. Each line is evaluated at no more than "
        f"{MAX_PLOT_POINTS} steps, evenly spaced, the first and last included.",
    )
    _add_schedule_arguments(plot_parser, "a schedule to draw")
    plot_parser.add_argument(
        "-o",
        "--output",
        type=Path,
        metavar="FILE",
        help="figure file (.png, .svg, .pdf...); without it, a text plot on stdout",
    )
    plot_parser.add_argument("--num-steps", type=positive_count, metavar="N", help=NUM_STEPS_HELP.format(verb="draw"))
    plot_parser.add_argument("--start", type=count, default=0, metavar="N", help="first step drawn (default: 0)")
    _add_parameter_options(plot_parser, options)
    plot_parser.set_defaults(handler=cmd_plot)

    diff_parser = commands.add_parser(
        "diff",
        intermixed=True,
        help="compare two schedules step by step: where and by how much they differ",
        description="Compare the lrs of two schedules (A and B: the NAMEs, then the --spec SPECs, in order; or one "
        "with a comma list of two values) at every step, in float64: the first step where they differ, the "
        "largest absolute difference |A - B| and relative difference |A - B| / max(|A|, |B|), and where. Exit "
        "code 0 if every step is within --atol + --rtol x max(|A|, |B|) (default: equal), 1 if not, 2 on errors.",
    )
    _add_schedule_arguments(diff_parser, "a schedule to compare")
    diff_parser.add_argument(
        "--num-steps", type=positive_count, metavar="N", help=NUM_STEPS_HELP.format(verb="compare")
    )
    diff_parser.add_argument("--start", type=count, default=0, metavar="N", help="first step compared (default: 0)")
    diff_parser.add_argument("--atol", type=tolerance, default=0.0, metavar="X", help="absolute tolerance (default: 0)")
    diff_parser.add_argument("--rtol", type=tolerance, default=0.0, metavar="X", help="relative tolerance (default: 0)")
    _add_parameter_options(diff_parser, options)
    diff_parser.set_defaults(handler=cmd_diff)

    sweep_parser = commands.add_parser(
        "sweep",
        intermixed=True,
        help="write the lr of every step of every config in a grid to .npy, .csv or .pt",
        description="Write a (configs, steps) table of learning rates: one row per config of the Cartesian "
        "product of the comma lists, the first parameter outermost and --base-lr fastest (the order of the "
        "columns of FILE.configs.csv, written beside the output). With --spec: one row per config of the spec "
        "(its lists are one value per config) and --base-lr value, --base-lr fastest.",
    )
    sweep_parser.add_argument("name", nargs="?", metavar="NAME", help="a preset (see 'fastsched list')")
    sweep_parser.add_argument("--spec", metavar="SPEC", help=SPEC_HELP)
    sweep_parser.add_argument("--num-steps", type=positive_count, required=True, metavar="N", help="steps per config")
    sweep_parser.add_argument("-o", "--output", type=Path, required=True, metavar="FILE", help=OUTPUT_HELP)
    sweep_parser.add_argument("--dtype", choices=DTYPES, default="float64", help="(default: float64)")
    sweep_parser.add_argument("--start", type=count, default=0, metavar="N", help="first step (default: 0)")
    # Values per block written at a time; hidden: the defaults suit every format, tests force small blocks.
    sweep_parser.add_argument("--max-block-values", type=positive_count, help=argparse.SUPPRESS)
    _add_parameter_options(sweep_parser, options)
    sweep_parser.set_defaults(handler=cmd_sweep)
    return parser


def _one_line_warning(message: Warning | str, category: type[Warning], *args: Any, **kwargs: Any) -> None:
    print(f"fastsched: warning: {message}", file=sys.stderr)


@contextlib.contextmanager
def _signals_raise() -> Iterator[None]:
    """SIGTERM and SIGHUP raise Stopped (as SIGINT raises KeyboardInterrupt), so that partial outputs are removed
    on the way out; a signal the caller ignores (nohup) stays ignored."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def stop(signum: int, frame: Any) -> NoReturn:
        raise Stopped(signum)

    previous = {}
    for signum in CLEANUP_SIGNALS:
        if signum != signal.SIGINT and signal.getsignal(signum) is signal.SIG_DFL:
            previous[signum] = signal.signal(signum, stop)
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


def main(argv: Sequence[str] | None = None) -> int:
    """The console script: returns the exit code (0; 2 for a user error or failed write, reported on stderr;
    128 + the signal's number after SIGINT, SIGTERM or SIGHUP)."""
    with _signals_raise(), warnings.catch_warnings():
        try:
            args = build_parser().parse_args(argv)
            warnings.showwarning = _one_line_warning  # restored by catch_warnings, as the filters are
            warnings.simplefilter("once")  # a config check and each block would repeat the same warning
            # Python's own debug warning, hidden by default: a signal between open() and `with` leaves a temporary
            # file to the garbage collector, which reports it, and the output's cleanup reads "warning: unclosed file"
            warnings.simplefilter("ignore", ResourceWarning)
            return args.handler(args)
        except CliError as exc:
            print(f"fastsched: error: {exc}", file=sys.stderr)
            return 2
        except MemoryError:
            print("fastsched: error: out of memory", file=sys.stderr)
            return 2
        except KeyboardInterrupt:
            print("fastsched: interrupted (SIGINT); no output was left half-written", file=sys.stderr)
            return 128 + signal.SIGINT
        except Stopped as exc:
            name = signal.Signals(exc.signum).name
            print(f"fastsched: stopped by {name}; no output was left half-written", file=sys.stderr)
            return 128 + exc.signum
        except BrokenPipeError:
            # The reader went away (fastsched list | head): silence the flush at exit, as Python's docs advise.
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
            return 1


if __name__ == "__main__":
    sys.exit(main())
