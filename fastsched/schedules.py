"""The schedule registry: names, parameters with their defaults, validation, and packing into the kernels' table.

Validation happens here, once, for every entry point (bulk API, torch schedulers, CLI); the kernels trust
what this module packs. Every error names the parameter it is about.
"""

from __future__ import annotations

import enum
import functools
import math
import warnings
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from .kernels import formulas as f
from .registry import MAX_STEP, METRIC_DRIVEN, PRESETS, REQUIRED, Parameter, SchedulerType  # noqa: F401

SHAPES = {"linear": f.SHAPE_LINEAR, "cosine": f.SHAPE_COSINE, "1-sqrt": f.SHAPE_1_SQRT}
_CODES = {
    "constant": f.CONSTANT,
    "constant_with_warmup": f.CONSTANT_WITH_WARMUP,
    "linear": f.LINEAR,
    "cosine": f.COSINE,
    "cosine_with_restarts": f.COSINE_WITH_RESTARTS,
    "polynomial": f.POLYNOMIAL,
    "inverse_sqrt": f.INVERSE_SQRT,
    "cosine_with_min_lr": f.COSINE_WITH_MIN_LR,
    "cosine_warmup_with_min_lr": f.COSINE_WARMUP_WITH_MIN_LR,
    "warmup_stable_decay": f.WARMUP_STABLE_DECAY,
}


@dataclass(frozen=True)
class Schedule:
    name: str
    code: int
    parameters: tuple[Parameter, ...]
    summary: str

    @functools.cached_property
    def parameter_names(self) -> tuple[str, ...]:
        return tuple(p.name for p in self.parameters)

    @functools.cached_property
    def _by_name(self) -> dict[str, Parameter]:
        return {p.name: p for p in self.parameters}

    def parameter(self, name: str) -> Parameter:
        return self._by_name[name]


SCHEDULES: dict[str, Schedule] = {
    name: Schedule(name, _CODES[name], preset.parameters, preset.summary)
    for name, preset in PRESETS.items()
    if preset.library == "transformers"
}


def schedule_names() -> list[str]:
    """The precomputable schedules' names, as transformers' SchedulerType values."""
    return list(SCHEDULES)


def canonical_name(name: Any) -> str:
    """A schedule's name from a str, fastsched's SchedulerType or transformers' SchedulerType."""
    value = name.value if isinstance(name, enum.Enum) else name
    if not isinstance(value, str):
        raise TypeError(f"`name` must be a str or a SchedulerType, got {type(name).__name__}")
    if value in SCHEDULES or value in METRIC_DRIVEN:
        return value
    valid = ", ".join(repr(t.value) for t in SchedulerType)
    raise ValueError(f"{value!r} is not a valid SchedulerType, please select one of {valid}")


def get_schedule(name: Any) -> Schedule:
    """The precomputable schedule called `name`; metric-driven ones are refused with a pointer to get_scheduler."""
    value = canonical_name(name)
    if value in METRIC_DRIVEN:
        raise ValueError(
            f"`name` {value!r} follows a metric and has no precomputable values; "
            f"use fastsched.get_scheduler({value!r}, optimizer) instead. "
            f"Precomputable schedules: {', '.join(SCHEDULES)}"
        )
    return SCHEDULES[value]


@dataclass
class PackedTable:
    """The kernels' input: a schedule code, a parameter row and a base lr per config."""

    codes: np.ndarray  # (n,) int64
    params: np.ndarray  # (n, NUM_COLUMNS) float64
    base_lrs: np.ndarray  # (n,) float64
    configs: dict[str, np.ndarray]  # the validated user parameters, broadcast to (n,), for reporting

    @property
    def num_configs(self) -> int:
        return self.codes.shape[0]


def _as_numeric(name: str, value: Any, allow_array: bool) -> np.ndarray:
    if isinstance(value, (str, bytes)):
        raise TypeError(f"`{name}` must be a number, got the string {value!r}")
    try:
        arr = np.asarray(value)
    except ValueError as exc:  # ragged nested sequences
        raise ValueError(f"`{name}` must be a scalar or a 1-D array; got a ragged sequence ({exc})") from None
    if arr.dtype == object:
        raise ValueError(f"`{name}` must be a scalar or a 1-D array of numbers; got {value!r:.80}")
    if arr.dtype.kind == "b" or arr.dtype.kind not in "iuf":
        raise TypeError(f"`{name}` must be a number or an array of numbers, got dtype {arr.dtype}")
    if arr.ndim > 1:
        raise ValueError(f"`{name}` must be a scalar or a 1-D array, got an array of shape {arr.shape}")
    if arr.ndim == 1 and not allow_array:
        raise ValueError(f"`{name}` must be a scalar here (use fastsched.sweep for arrays of parameters)")
    return arr


def _valid_count(value: float, positive: bool = False) -> bool:
    """A count's rule: an integer from 0 (1 when positive) to 2**53 - 1 (NaN and inf fail the comparisons)."""
    return (1 if positive else 0) <= value <= MAX_STEP and value == math.floor(value)


def _valid_float(value: float, signed: bool = False) -> bool:
    """A float parameter's rule: finite, and non-negative unless signed."""
    return math.isfinite(value) and (signed or value >= 0)


def check_count(name: str, arr: np.ndarray, positive: bool = False) -> np.ndarray:
    """Non-negative integers (integral floats accepted), returned as float64 for the kernels."""
    values = arr.astype(np.float64)
    bad = ~np.isfinite(values) | (values != np.floor(values)) | (values < (1 if positive else 0)) | (values > MAX_STEP)
    if bad.any():
        first = arr.reshape(-1)[np.argmax(bad.reshape(-1))]
        what = "a positive integer" if positive else "a non-negative integer"
        raise ValueError(f"`{name}` must be {what} (at most 2**53 - 1), got {first!r}")
    return values


def check_float(name: str, arr: np.ndarray, signed: bool = False) -> np.ndarray:
    values = arr.astype(np.float64)
    bad = ~np.isfinite(values) if signed else ~np.isfinite(values) | (values < 0)
    if bad.any():
        first = arr.reshape(-1)[np.argmax(bad.reshape(-1))]
        what = "finite" if signed else "finite and non-negative"
        raise ValueError(f"`{name}` must be {what}, got {first!r}")
    return values


def check_dtype(dtype: Any) -> np.dtype:
    try:
        resolved = np.dtype(dtype)
    except TypeError:
        raise TypeError(f"`dtype` must be float32 or float64, got {dtype!r}") from None
    if resolved not in (np.dtype(np.float32), np.dtype(np.float64)):
        raise TypeError(f"`dtype` must be float32 or float64, got {resolved}")
    return resolved


def _broadcast(arr: np.ndarray, n: int) -> np.ndarray:
    """np.broadcast_to(arr, (n,)) (a read-only view), a reshape where that is all it takes (a few times faster)."""
    if arr.shape == (n,) or (n == 1 and arr.ndim == 0):
        view = arr.reshape(n)
        view.flags.writeable = False
        return view
    return np.broadcast_to(arr, (n,))


def _validated(
    schedule: Schedule, base_lr: Any, given: dict[str, Any], allow_arrays: bool
) -> tuple[dict[str, np.ndarray], int]:
    """Every numeric parameter (base_lr first, then the schedule's in order) validated as float64 and broadcast to
    (n,), and n; the choices checked. Raises the first error, naming its parameter."""
    raw: dict[str, np.ndarray] = {"base_lr": _as_numeric("base_lr", base_lr, allow_arrays)}
    for p in schedule.parameters:
        if p.name not in given:
            continue
        if p.kind == "choice":
            value = given[p.name]
            if not isinstance(value, str) or value not in SHAPES:
                # transformers' message first ("Unknown warmup type: ..."), then ours naming the parameter
                raise ValueError(
                    f"Unknown {p.name.removesuffix('_type')} type: {value}, expected 'linear', 'cosine' or '1-sqrt' "
                    f"(`{p.name}` must be one of {', '.join(map(repr, SHAPES))}, got {value!r})"
                )
            continue
        raw[p.name] = _as_numeric(p.name, given[p.name], allow_arrays)

    lengths = {k: v.shape[0] for k, v in raw.items() if v.ndim == 1}
    if len(set(lengths.values())) > 1:
        listed = ", ".join(f"`{k}` has {n}" for k, n in lengths.items())
        raise ValueError(f"sweep parameters must have one common length; {listed}")
    n = next(iter(lengths.values()), 1)

    values: dict[str, np.ndarray] = {"base_lr": _broadcast(check_float("base_lr", raw["base_lr"]), n)}
    for p in schedule.parameters:
        if p.name in raw:
            checked = (
                check_count(p.name, raw[p.name], p.positive)
                if p.kind == "count"
                else check_float(p.name, raw[p.name], p.signed)
            )
            values[p.name] = _broadcast(checked, n)

    return values, n


# Python and numpy scalar types that _valid_scalars reads as they are (bool is an int but not a number here)
_INT_TYPES = (int, np.integer)
_FLOAT_TYPES = (float, np.floating)


def _valid_scalars(schedule: Schedule, base_lr: Any, given: dict[str, Any]) -> dict[str, np.ndarray] | None:
    """_validated's result for the common call, every numeric parameter a valid int or float scalar, in a
    fraction of its time (no array per check); None for anything else, which _validated then checks, raising
    its errors with their messages."""
    names = ["base_lr"]
    numbers = [base_lr]
    for p in schedule.parameters:
        if p.name in given:
            value = given[p.name]
            if p.kind == "choice":
                if not isinstance(value, str) or value not in SHAPES:
                    return None
                continue
            names.append(p.name)
            numbers.append(value)
    floats = []
    for name, value in zip(names, numbers, strict=True):
        if isinstance(value, (bool, np.bool_)):
            return None
        if isinstance(value, _INT_TYPES):
            if not -(2**63) <= value < 2**63:
                return None
        elif not isinstance(value, _FLOAT_TYPES) or isinstance(value, np.longdouble):
            return None
        number = float(value)
        p = schedule._by_name.get(name)
        valid = (
            _valid_count(number, p.positive)
            if p is not None and p.kind == "count"
            else _valid_float(number, p is not None and p.signed)
        )
        if not valid:
            return None
        floats.append(number)
    column = np.array(floats)
    column.flags.writeable = False  # as np.broadcast_to's views are
    return {name: column[i : i + 1] for i, name in enumerate(names)}


def pack(name: Any, base_lr: Any = 1.0, *, allow_arrays: bool = False, **params: Any) -> PackedTable:
    """Validate a schedule's parameters (scalars, or 1-D arrays broadcast together) and pack the kernels' table.

    Raises ValueError / TypeError naming the parameter; checks follow transformers' order: unknown name,
    unexpected keyword, num_warmup_steps, num_training_steps, then the schedule's own requirements.
    """
    schedule = get_schedule(name)
    for key in params:
        if key not in schedule.parameter_names:
            takes = ", ".join(schedule.parameter_names) or "no parameters"
            raise TypeError(f"{schedule.name} got an unexpected keyword argument `{key}`; it takes: {takes}")
    given = {k: v for k, v in params.items() if v is not None}
    for required in ("num_warmup_steps", "num_training_steps", "num_decay_steps"):
        if required in schedule.parameter_names and schedule.parameter(required).required and required not in given:
            raise ValueError(f"{schedule.name} requires `{required}`, please provide that argument.")

    values = _valid_scalars(schedule, base_lr, given)
    n = 1
    if values is None:
        values, n = _validated(schedule, base_lr, given, allow_arrays)
    table = np.zeros((n, f.NUM_COLUMNS))
    table[:, f.COL_WARMUP_LR_RATE] = np.nan
    configs = dict(values)

    def column(col: int, key: str, default: float | None = None) -> None:
        if key in values:
            table[:, col] = values[key]
        elif default is not None:
            table[:, col] = default
            configs[key] = np.full(n, default)

    column(f.COL_WARMUP, "num_warmup_steps")
    column(f.COL_TRAINING, "num_training_steps")
    cycles = schedule.parameter("num_cycles").default if "num_cycles" in schedule.parameter_names else None
    column(f.COL_CYCLES, "num_cycles", cycles)
    lr = values["base_lr"]

    if schedule.code == f.POLYNOMIAL:
        column(f.COL_LR_END, "lr_end", 1e-7)
        column(f.COL_POWER, "power", 1.0)
        table[:, f.COL_LR_INIT] = lr
        bad = ~(lr > table[:, f.COL_LR_END])
        if bad.any():
            i = int(np.argmax(bad))
            raise ValueError(
                f"lr_end ({table[i, f.COL_LR_END]}) must be smaller than initial lr ({lr[i]}): "
                f"`lr_end` is absolute and `base_lr` is the optimizer's lr"
            )
    elif schedule.code == f.INVERSE_SQRT:
        warmup = table[:, f.COL_WARMUP]
        default_timescale = np.where(warmup > 0, warmup, 10_000.0)
        table[:, f.COL_TIMESCALE] = values.get("timescale", default_timescale)
        configs["timescale"] = table[:, f.COL_TIMESCALE].copy()
    elif schedule.code in (f.COSINE_WITH_MIN_LR, f.COSINE_WARMUP_WITH_MIN_LR):
        if "min_lr" in values and "min_lr_rate" in values:
            raise ValueError("Only one of min_lr or min_lr_rate should be set")
        if "min_lr" in values:
            if not (lr > 0).all():
                raise ValueError("`base_lr` must be positive when `min_lr` is given (min_lr is relative to it)")
            table[:, f.COL_MIN_LR_RATE] = values["min_lr"] / lr
        elif "min_lr_rate" in values:
            table[:, f.COL_MIN_LR_RATE] = values["min_lr_rate"]
        else:
            raise ValueError("One of min_lr or min_lr_rate should be set through the `lr_scheduler_kwargs`")
        if "warmup_lr_rate" in values:
            table[:, f.COL_WARMUP_LR_RATE] = values["warmup_lr_rate"]
    elif schedule.code == f.WARMUP_STABLE_DECAY:
        if "num_training_steps" not in values and "num_stable_steps" not in values:
            raise ValueError("Either num_training_steps or num_stable_steps must be specified.")
        if "num_training_steps" in values and "num_stable_steps" in values:
            warnings.warn(
                "Both num_training_steps and num_stable_steps are specified. num_stable_steps will be used.",
                stacklevel=3,
            )
        column(f.COL_DECAY, "num_decay_steps")
        if "num_stable_steps" in values:
            table[:, f.COL_STABLE] = values["num_stable_steps"]
        else:
            # transformers lets this go negative when warmup + decay exceed training steps; so do we.
            table[:, f.COL_STABLE] = values["num_training_steps"] - table[:, f.COL_WARMUP] - table[:, f.COL_DECAY]
        table[:, f.COL_WARMUP_SHAPE] = SHAPES[given.get("warmup_type", "linear")]
        table[:, f.COL_DECAY_SHAPE] = SHAPES[given.get("decay_type", "cosine")]
        column(f.COL_MIN_LR_RATE, "min_lr_ratio", 0.0)
        for key, default in (("warmup_type", "linear"), ("decay_type", "cosine")):
            configs[key] = np.full(n, given.get(key, default), dtype=object)

    codes = np.full(n, schedule.code, dtype=np.int64)
    return PackedTable(codes, table, np.ascontiguousarray(lr, dtype=np.float64), configs)


def max_cosine_angle(table: PackedTable, last_step: int) -> float:
    """An upper bound of the cosine argument (radians) any config reaches up to `last_step`.

    The fast cosine's range reduction is exact below ~5e7 radians; callers fall back to libm above.
    Only cosine and cosine-with-min-lr keep growing their angle past num_training_steps: hard restarts take
    the cosine of pi x (a fraction), and warmup-stable-decay's decay progress stops at 1.
    """
    codes = table.codes
    if codes.shape[0] == 1:  # one config (a trajectory): the same bound in Python floats, without array calls
        code, row = int(codes[0]), table.params[0].tolist()
        if code in _GROWING_ANGLE:
            span = max(1.0, row[f.COL_TRAINING] - row[f.COL_WARMUP])
            return 2.0 * math.pi * row[f.COL_CYCLES] * max(1.0, (last_step + 1.0 - row[f.COL_WARMUP]) / span)
        if code == f.COSINE_WITH_RESTARTS:
            return math.pi
        if code == f.WARMUP_STABLE_DECAY:
            return 2.0 * math.pi * max(row[f.COL_CYCLES], 0.5)
        return 0.0
    p = table.params
    span = np.maximum(1.0, p[:, f.COL_TRAINING] - p[:, f.COL_WARMUP])
    progress = np.maximum(1.0, (last_step + 1.0 - p[:, f.COL_WARMUP]) / span)
    growing = np.isin(codes, _GROWING_ANGLE)
    angle = np.where(growing, 2.0 * math.pi * p[:, f.COL_CYCLES] * progress, 0.0)
    angle = np.where(codes == f.COSINE_WITH_RESTARTS, math.pi, angle)
    angle = np.where(codes == f.WARMUP_STABLE_DECAY, 2.0 * math.pi * np.maximum(p[:, f.COL_CYCLES], 0.5), angle)
    return float(angle.max(initial=0.0))


_GROWING_ANGLE = (f.COSINE, f.COSINE_WITH_MIN_LR, f.COSINE_WARMUP_WITH_MIN_LR)


def constant_from(code: int, row: np.ndarray) -> int | None:
    """The first step from which the schedule's multiplier never changes again, or None where it keeps changing
    (cosine and inverse_sqrt): where the tables of the torch and CUDA schedulers may end.

    The kernels' own answer, formulas.flat_spans' tail (which they fill with one value), taken past the warmup.
    """
    _, _, tail = f.flat_spans(code, row)
    return None if math.isinf(tail) else int(max(row[f.COL_WARMUP], tail))


def parameters_for_display(schedule: Schedule) -> Mapping[str, Any]:
    """{parameter: default} with None for "not given" and REQUIRED shown as 'required'."""
    return {p.name: ("required" if p.required else p.default) for p in schedule.parameters}
