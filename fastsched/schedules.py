"""Schedule objects: a named preset with its parameters, or a composition of schedules, as one immutable value.

Every schedule is a pure function of the step, built from segments (``fastsched.segments``), so every schedule
and every composition works everywhere a name does: ``multipliers`` / ``trajectory`` / ``sweep`` (numpy or CUDA),
the torch scheduler and the GPU-side scheduler, the command line (as a spec). A numeric parameter of any part may
be a 1-D array: the schedule then stands for that many configs, and ``sweep`` computes them all in one kernel call.

Values are multipliers of ``base_lr`` (the optimizer's lr); ``min_value``-style parameters are absolute lrs,
relative to the reference lr (``base_lr`` in the bulk API, the optimizer's lr in the schedulers).

A schedule has a plain-data spec (``to_spec()``, ``schedule(spec)``): a dict of str, numbers and lists, the same
as JSON, so a config file or the command line can hold any composition. Pickling goes through it.
"""

from __future__ import annotations

import copy
import importlib
import json
import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from . import registry, segments
from .registry import REQUIRED, Preset
from .segments import INF, Cycle, Item, Segment
from .validation import as_numeric, check_count, check_float, check_parameter, plain, scalar_number, valid_count

WARMUP_SHAPES = {"linear": "linear", "cosine": "cosine_rising", "1-sqrt": "sqrt_rising"}
DECAY_SHAPES = {"linear": "linear_one_minus", "cosine": "cosine", "1-sqrt": "sqrt_falling"}


class Context:
    """What a schedule's segments depend on besides its own parameters: the number of configs, the reference lr
    that absolute parameters are relative to, and a way to read a schedule's value at a step (compositions that
    branch off a schedule's value: a warmup up to it, a cooldown from it)."""

    def __init__(self, num_configs: int, reference_lr: Any, value_at: Callable[[Schedule, Any], Any]) -> None:
        self.num_configs = num_configs
        self.reference_lr = reference_lr
        self.value_at = value_at


class Schedule:
    """A learning-rate schedule: a function of the step made of segments. Build one with :func:`schedule`."""

    kind: str = ""

    @property
    def num_configs(self) -> int:
        """How many configs the parameters' arrays stand for (1 when all are scalars)."""
        arrays = self.array_parameters()
        if len(set(arrays.values())) > 1:
            listed = ", ".join(f"`{name}` has {length}" for name, length in arrays.items())
            raise ValueError(f"sweep parameters must have one common length; {listed}")
        return next(iter(arrays.values()), 1)

    def build(self, context: Context) -> list[Item]:
        """The schedule's top-level items (segments and cycles), in step order."""
        raise NotImplementedError

    def to_spec(self) -> dict[str, Any]:
        """The schedule as plain data (str, numbers, lists, dicts): schedule(spec) builds it again."""
        raise NotImplementedError

    def array_parameters(self) -> dict[str, int]:
        """{parameter: length} of the per-config arrays in the schedule (parts' parameters by their own names)."""
        raise NotImplementedError

    def select(self, rows: slice) -> Schedule:
        """The schedule of configs `rows` only (its array parameters sliced)."""
        selected = copy.copy(self)
        for key, value in vars(self).items():
            setattr(selected, key, _select(value, rows))
        return selected

    # -- composition (the functions below: warmup, floor, scale, cycles, cooldown), and factor * schedule ---------

    def __mul__(self, factor: Any) -> Schedule:
        return scale(self, factor)

    __rmul__ = __mul__

    # -- value semantics ----------------------------------------------------------------------------------------

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Schedule) and self.to_spec() == other.to_spec()

    def __hash__(self) -> int:
        return hash(json.dumps(self.to_spec(), sort_keys=True))

    def __reduce__(self) -> tuple[Any, ...]:
        return (schedule, (self.to_spec(),))

    def __repr__(self) -> str:
        return f"fastsched.schedule({self.to_spec()!r})"


# -- parameters --------------------------------------------------------------------------------------------------


def _spec_value(value: Any) -> Any:
    """A parameter as plain data: numpy scalars as numbers, arrays as lists."""
    if segments.is_array(value):
        return [plain(v) for v in value.tolist()]
    if isinstance(value, (list, tuple)):
        return [_spec_value(v) for v in value]
    return plain(value)


def _count_spec(value: Any) -> Any:
    """A validated count as plain data: whole numbers as ints (as a user writes them), arrays as lists."""
    spec = _spec_value(value)
    if isinstance(spec, list):
        return [int(v) if float(v).is_integer() else v for v in spec]
    return int(spec) if isinstance(spec, float) and spec.is_integer() else spec


def _number(name: str, value: Any, check: Callable[[str, Any], Any], scalar_ok: Callable[[float], bool]) -> Any:
    """A validated number (float) or 1-D float64 array; `check` names `name` in its error."""
    number = scalar_number(value)
    if number is not None and scalar_ok(number):
        return number
    arr = as_numeric(name, value)
    checked = check(name, arr)
    return float(checked) if checked.ndim == 0 else checked


def _count(name: str, value: Any, *, positive: bool = False, non_negative: bool = True) -> Any:
    """A number of steps for a composition: finite, non-negative (positive where it divides)."""

    def check(name: str, arr: Any) -> Any:
        values = check_count(name, arr, positive)
        if non_negative and not positive and (values < 0).any():
            raise ValueError(f"`{name}` must be a non-negative number of steps, got {plain(values[values < 0][0])}")
        return values

    def scalar_ok(number: float) -> bool:
        return valid_count(number, positive) and (number >= 0 or not non_negative)

    return _number(name, value, check, scalar_ok)


def _float(name: str, value: Any, *, signed: bool = False) -> Any:
    return _number(
        name, value, lambda n, a: check_float(n, a, signed), lambda x: math.isfinite(x) and (signed or x >= 0)
    )


def _choice(name: str, value: Any, choices: Sequence[str]) -> Any:
    """One of `choices`, or a 1-D sequence of them (one per config)."""
    if isinstance(value, str):
        if value not in choices:
            raise ValueError(_choice_message(name, value, choices))
        return value
    values = [v.item() if hasattr(v, "item") else v for v in value] if _is_sequence(value) else None
    if values is None or not all(isinstance(v, str) for v in values):
        raise TypeError(f"`{name}` must be a str (one of {', '.join(map(repr, choices))}) or a list of them")
    bad = [v for v in values if v not in choices]
    if bad:
        raise ValueError(_choice_message(name, bad[0], choices))
    import numpy as np

    return np.asarray(values, dtype=object)


def _choice_message(name: str, value: Any, choices: Sequence[str]) -> str:
    listed = ", ".join(map(repr, choices))
    message = f"`{name}` must be one of {listed}, got {value!r}"
    if name.endswith("_type"):  # transformers' words first (warmup_type, decay_type), then ours naming the parameter
        expected = ", ".join(map(repr, choices[:-1])) + f" or {choices[-1]!r}"
        return f"Unknown {name.removesuffix('_type')} type: {value}, expected {expected} ({message})"
    return message


def _select(value: Any, rows: slice) -> Any:
    """`value` with every per-config array in it sliced to `rows` (schedules, lists and dicts walked through)."""
    if isinstance(value, Schedule):
        return value.select(rows)
    if segments.is_array(value):
        return value[rows]
    if isinstance(value, list):
        return [_select(v, rows) for v in value]
    if isinstance(value, dict):
        return {k: _select(v, rows) for k, v in value.items()}
    return value


def _is_sequence(value: Any) -> bool:
    return isinstance(value, (list, tuple)) or segments.is_array(value)


def _arrays_of(values: Mapping[str, Any]) -> list[Any]:
    return [v for v in values.values() if segments.is_array(v)]


# -- presets -----------------------------------------------------------------------------------------------------


class PresetSchedule(Schedule):
    """A named schedule of the registry (transformers' "cosine", torch's "torch.OneCycleLR", ...) with parameters."""

    kind = "schedule"

    def __init__(self, name: Any, **params: Any) -> None:
        preset = registry.get_preset(name)
        for key in params:
            if key not in preset.parameter_names:
                takes = ", ".join(preset.parameter_names) or "no parameters"
                raise TypeError(f"{preset.name} got an unexpected keyword argument `{key}`; it takes: {takes}")
        given = {key: value for key, value in params.items() if value is not None}
        for parameter in preset.parameters:
            if parameter.required and parameter.name not in given:
                raise ValueError(f"{preset.name} requires `{parameter.name}`, please provide that argument.")
        values: dict[str, Any] = {}
        for parameter in preset.parameters:
            if parameter.name not in given:
                continue
            value = given[parameter.name]
            if parameter.kind == "choice":
                values[parameter.name] = _choice(parameter.name, value, parameter.choices)
            elif parameter.kind in ("counts", "floats"):
                values[parameter.name] = _number_list(parameter, value)
            elif parameter.kind in _STRUCTURED_KINDS:
                values[parameter.name] = _STRUCTURED_KINDS[parameter.kind](parameter, value)
            else:
                values[parameter.name] = _number(
                    parameter.name,
                    value,
                    lambda n, a, p=parameter: check_parameter(p, a),
                    lambda x, p=parameter: _scalar_valid(p, x),
                )
        self.preset: Preset = preset
        self.name = preset.name
        self.given = {key: value if _is_sequence(value) else plain(value) for key, value in given.items()}
        self.values = values
        lengths = {len(v) for v in _arrays_of(values)}
        if len(lengths) > 1:
            listed = ", ".join(f"`{k}` has {len(v)}" for k, v in values.items() if segments.is_array(v))
            raise ValueError(f"sweep parameters must have one common length; {listed}")

    def array_parameters(self) -> dict[str, int]:
        found = {}
        for key, value in self.values.items():
            if segments.is_array(value):
                found[key] = len(value)
            elif isinstance(value, list):  # a "schedules" or "kwargs" parameter: its schedules' arrays, by place
                for i, part in enumerate(value):
                    found.update({f"{key}[{i}].{name}": n for name, n in part.array_parameters().items()})
        return found

    def build(self, context: Context) -> list[Item]:
        values = {
            p.name: self.values.get(p.name, None if p.default is REQUIRED else p.default)
            for p in self.preset.parameters
        }
        return builder(self.preset)(values, context)

    @property
    def params(self) -> dict[str, Any]:
        """The parameters given, as plain data (per-config arrays as lists)."""
        spec = {}
        for key, value in self.given.items():
            kind = self.preset.parameter(key).kind
            if kind in _STRUCTURED_KINDS:
                spec[key] = _structured_spec(kind, self.values[key])
            else:
                spec[key] = _spec_value(self.values[key] if segments.is_array(self.values.get(key)) else value)
        return spec

    def to_spec(self) -> dict[str, Any]:
        return {"schedule": self.name, **self.params}


def _scalar_valid(parameter: registry.Parameter, number: float) -> bool:
    if parameter.kind == "count":
        return valid_count(number, parameter.positive)
    return math.isfinite(number) and (parameter.signed or number >= 0)


def _number_list(parameter: registry.Parameter, value: Any) -> tuple[float, ...]:
    """A list parameter (milestones, boundaries): a sequence of numbers, each validated (the same for every config)."""
    if not _is_sequence(value):
        raise TypeError(f"`{parameter.name}` must be a list of numbers, got {type(value).__name__} {plain(value)!r}")
    items = list(value)
    checked = []
    for item in items:
        arr = as_numeric(parameter.name, item)
        if arr.ndim != 0:
            raise ValueError(f"`{parameter.name}` must be a list of numbers, got a nested list")
        if parameter.kind == "counts":
            checked.append(float(check_count(parameter.name, arr, parameter.positive)))
        else:
            checked.append(float(check_float(parameter.name, arr, parameter.signed)))
    return tuple(checked)


def _flag(parameter: registry.Parameter, value: Any) -> Any:
    """A "flag" parameter: a bool, or a 1-D sequence of bools (one per config)."""
    import numpy as np

    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    items = list(value) if _is_sequence(value) else None
    if items is None or not items or not all(isinstance(item, (bool, np.bool_)) for item in items):
        raise TypeError(
            f"`{parameter.name}` must be a bool or a list of bools, got {type(value).__name__} {value!r:.80}"
        )
    return np.asarray(items, dtype=bool)


def _mapping(parameter: registry.Parameter, value: Any) -> tuple[tuple[float, float], ...]:
    """A "mapping" parameter ({count: number}, optax's boundaries_and_scales), the same for every config, as (count,
    number) pairs in the given order. Keys may be numeric strings: a JSON spec's keys are strings."""
    if not isinstance(value, Mapping):
        raise TypeError(f"`{parameter.name}` must be a dict of {{step: number}}, got {type(value).__name__}")
    pairs: dict[float, float] = {}
    for key, item in value.items():
        try:
            number = float(key) if isinstance(key, str) else key
        except ValueError:
            raise ValueError(f"`{parameter.name}` must have steps as keys, got the key {key!r}") from None
        count = float(check_count(parameter.name, as_numeric(parameter.name, number)))
        if count in pairs:
            raise ValueError(f"`{parameter.name}` has the step {plain(number)} twice")
        arr = as_numeric(parameter.name, item)
        if arr.ndim != 0:
            raise ValueError(f"`{parameter.name}` must map each step to one number (the same for every config)")
        pairs[count] = float(check_float(parameter.name, arr, parameter.signed))
    return tuple(pairs.items())


def _schedule_list(parameter: registry.Parameter, value: Any) -> list[Schedule]:
    """A "schedules" parameter (schedule objects, preset names or specs), or a "kwargs" one (dicts of the parameters
    of the preset `parameter.choices[0]`), as a list of schedules."""
    if not _is_sequence(value):
        raise TypeError(f"`{parameter.name}` must be a list, got {type(value).__name__}")
    if parameter.kind == "schedules":
        return [as_schedule(item, f"{parameter.name}[{i}]") for i, item in enumerate(value)]
    schedules = []
    for i, item in enumerate(value):
        if not isinstance(item, Mapping):
            what = f"a dict of {parameter.choices[0]}'s parameters"
            raise TypeError(f"`{parameter.name}[{i}]` must be {what}, got {type(item).__name__}")
        schedules.append(PresetSchedule(parameter.choices[0], **item))
    return schedules


def _structured_spec(kind: str, value: Any) -> Any:
    """A "flag", "mapping", "schedules" or "kwargs" parameter as plain data."""
    if kind == "mapping":
        return {_count_spec(key): item for key, item in value}
    if kind == "schedules":
        return [item.to_spec() for item in value]
    if kind == "kwargs":
        return [item.params for item in value]
    return _spec_value(value)


# Parameter kinds beyond numbers, choices and lists of numbers (registry.Parameter): their validation.
_STRUCTURED_KINDS: dict[str, Callable[[registry.Parameter, Any], Any]] = {
    "flag": _flag,
    "mapping": _mapping,
    "schedules": _schedule_list,
    "kwargs": _schedule_list,
}

_BUILDERS: dict[str, Callable[[dict[str, Any], Context], list[Item]]] = {}


def builder(preset: Preset) -> Callable[[dict[str, Any], Context], list[Item]]:
    """The function that builds a preset's segments (imported on first use, so the registry stays light)."""
    function = _BUILDERS.get(preset.name)
    if function is None:
        module, _, attribute = preset.builder.partition(":")
        function = _BUILDERS[preset.name] = getattr(importlib.import_module(module), attribute)
    return function


# -- compositions ------------------------------------------------------------------------------------------------


def _shift(item: Item, offset: Any) -> Item:
    return item.shifted(offset) if offset is not None else item


def _composition_arrays(schedule: Schedule, names: dict[str, Any]) -> dict[str, int]:
    found: dict[str, int] = {}
    for name, value in names.items():
        if isinstance(value, Schedule):
            found.update(value.array_parameters())
        elif isinstance(value, list):
            for i, item in enumerate(value):
                found.update(_composition_arrays(schedule, {f"{name}[{i}]": item}))
        elif segments.is_array(value):
            found[name] = len(value)
    return found


class Join(Schedule):
    """optax's join_schedules: schedule i covers [boundaries[i - 1], boundaries[i]) and sees the step minus
    boundaries[i - 1]."""

    kind = "join"

    def __init__(self, schedules: Sequence[Schedule], boundaries: Sequence[Any]) -> None:
        schedules = [as_schedule(s, "schedules") for s in schedules]
        if not _is_sequence(boundaries):
            raise TypeError(f"`boundaries` must be a list, got {type(boundaries).__name__}")
        boundaries = list(boundaries)
        if len(boundaries) != len(schedules) - 1:
            raise ValueError(
                f"`boundaries` must have one entry fewer than `schedules` ({len(schedules)}), got {len(boundaries)}"
            )
        if not schedules:
            raise ValueError("`schedules` must hold at least one schedule")
        self.schedules = schedules
        self.boundaries = [_count(f"boundaries[{i}]", b) for i, b in enumerate(boundaries)]
        for i in range(1, len(self.boundaries)):
            earlier, later = self.boundaries[i - 1], self.boundaries[i]
            if _any_less(later, earlier):
                raise ValueError(f"`boundaries` must be non-decreasing, got {plain(earlier)} then {plain(later)}")

    def array_parameters(self) -> dict[str, int]:
        return _composition_arrays(self, {"schedules": self.schedules, "boundaries": self.boundaries})

    def build(self, context: Context) -> list[Item]:
        items: list[Item] = []
        for i, part in enumerate(self.schedules):
            low = self.boundaries[i - 1] if i else -INF
            high = self.boundaries[i] if i < len(self.boundaries) else INF
            for item in part.build(context):
                moved = _shift(item, low if i else None)
                start = segments.minimum(segments.maximum(segments.item_start(moved), low), high)
                items.append(segments.with_start(moved, start))
        return items

    def to_spec(self) -> dict[str, Any]:
        return {"join": [s.to_spec() for s in self.schedules], "boundaries": [_count_spec(b) for b in self.boundaries]}


def _any_less(a: Any, b: Any) -> bool:
    if segments.is_array(a) or segments.is_array(b):
        import numpy as np

        return bool(np.any(np.less(a, b)))
    return a < b


class Warmup(Schedule):
    """A warmup in front of a schedule: from `start_value` up to the schedule's value at its step 0 over
    `num_steps` steps (linear, cosine or 1-sqrt), then the schedule, which sees the step minus num_steps."""

    kind = "warmup"

    def __init__(self, inner: Schedule, num_steps: Any, *, shape: str = "linear", start_value: Any = 0.0) -> None:
        self.inner = as_schedule(inner, "schedule")
        self.num_steps = _count("num_steps", num_steps)
        self.shape = _choice("shape", shape, tuple(WARMUP_SHAPES))
        if not isinstance(self.shape, str):
            raise TypeError("`shape` must be one str for every config")
        self.start_value = _float("start_value", start_value, signed=True)

    def array_parameters(self) -> dict[str, int]:
        return _composition_arrays(
            self, {"schedule": self.inner, "num_steps": self.num_steps, "start_value": self.start_value}
        )

    def build(self, context: Context) -> list[Item]:
        peak = context.value_at(self.inner, 0.0)
        ramp = Segment(
            WARMUP_SHAPES[self.shape],
            -INF,
            span=segments.maximum(self.num_steps, 1.0),
            scale=peak - self.start_value,
            offset=self.start_value,
        )
        return Join([BuiltItems([ramp]), self.inner], [self.num_steps]).build(context)

    def to_spec(self) -> dict[str, Any]:
        return {
            "warmup": self.inner.to_spec(),
            "num_steps": _count_spec(self.num_steps),
            "shape": self.shape,
            "start_value": _spec_value(self.start_value),
        }


class BuiltItems(Schedule):
    """Segments built already (a composition's own pieces, a preset's parts, a drop-in's table): packed as a
    schedule, never part of a spec."""

    kind = "items"

    def __init__(self, items: list[Item]) -> None:
        self.items = items

    def array_parameters(self) -> dict[str, int]:
        return {}

    def build(self, context: Context) -> list[Item]:
        return list(self.items)

    def to_spec(self) -> dict[str, Any]:
        raise TypeError("segments built in code (a composition's pieces, a drop-in's table) have no spec")


class Affine(Schedule):
    """A schedule's values times `factor` plus `offset` (a floor is a rescale: min + (1 - min) * value)."""

    def __init__(self, inner: Schedule, kind: str, **params: Any) -> None:
        self.inner = as_schedule(inner, "schedule")
        self.kind = kind
        if kind == "scale":
            self.params = {"factor": _float("factor", params["factor"])}
        else:
            min_value, min_ratio = params.get("min_value"), params.get("min_ratio")
            if (min_value is None) == (min_ratio is None):
                raise ValueError("floor takes exactly one of `min_value` (an lr) or `min_ratio` (a fraction of it)")
            key = "min_value" if min_value is not None else "min_ratio"
            self.params = {key: _float(key, params[key])}

    def array_parameters(self) -> dict[str, int]:
        return _composition_arrays(self, {"schedule": self.inner, **self.params})

    def build(self, context: Context) -> list[Item]:
        if self.kind == "scale":
            factor, offset = self.params["factor"], 0.0
        else:
            ratio = self.params.get("min_ratio")
            if ratio is None:
                ratio = self.params["min_value"] / context.reference_lr
            factor, offset = 1.0 - ratio, ratio
        return [item.then_affine(factor, offset) for item in self.inner.build(context)]

    def to_spec(self) -> dict[str, Any]:
        return {self.kind: self.inner.to_spec(), **{k: _spec_value(v) for k, v in self.params.items()}}


class Cycles(Schedule):
    """A schedule's first `period` steps, repeated: cycle i is period_mul**i times as long (the schedule stretched
    to it) and its values peak_decay**i times as high (its peak; with decay="amplitude", its distance above its
    floor). After `limit` cycles (None: forever) the value is `final_value` (default: the schedule's value at
    step `period`, where each cycle ends)."""

    kind = "cycles"

    def __init__(
        self,
        inner: Schedule,
        period: Any,
        *,
        period_mul: Any = 1.0,
        peak_decay: Any = 1.0,
        limit: Any = None,
        final_value: Any = None,
        decay: str = "peak",
    ) -> None:
        self.inner = as_schedule(inner, "schedule")
        self.period = _count("period", period, positive=True)
        self.period_mul = _float("period_mul", period_mul)
        if _any_less(self.period_mul, 1e-300):
            raise ValueError(f"`period_mul` must be positive, got {plain(period_mul)}")
        self.peak_decay = _float("peak_decay", peak_decay)
        self.limit = None if limit is None else _count("limit", limit)
        self.final_value = None if final_value is None else _float("final_value", final_value, signed=True)
        if decay not in ("peak", "amplitude"):
            raise ValueError(f"`decay` must be 'peak' or 'amplitude', got {decay!r}")
        self.decay = decay

    def array_parameters(self) -> dict[str, int]:
        return _composition_arrays(
            self,
            {
                "schedule": self.inner,
                "period": self.period,
                "period_mul": self.period_mul,
                "peak_decay": self.peak_decay,
                "limit": self.limit,
                "final_value": self.final_value,
            },
        )

    def build(self, context: Context) -> list[Item]:
        inner_items = self.inner.build(context)
        if any(isinstance(item, Cycle) for item in inner_items):
            raise ValueError("`cycles` can't repeat a schedule that already cycles")
        cycle = Cycle(
            inner_items,
            0.0,
            self.period,
            mul=self.period_mul,
            decay=self.peak_decay,
            limit=INF if self.limit is None else self.limit,
            amplitude=self.decay == "amplitude",
        )
        if self.limit is None:
            return [cycle]
        final = self.final_value
        if final is None:
            final = context.value_at(self.inner, self.period)
        return [cycle, Segment("constant", INF, scale=final)]  # starts where the last cycle ends (table.pack)

    def to_spec(self) -> dict[str, Any]:
        spec = {"cycles": self.inner.to_spec(), "period": _count_spec(self.period)}
        for key in ("period_mul", "peak_decay", "limit", "final_value"):
            value = getattr(self, key)
            if value is not None:
                spec[key] = _count_spec(value) if key == "limit" else _spec_value(value)
        if self.decay != "peak":
            spec["decay"] = self.decay
        return spec


class Cooldown(Schedule):
    """A schedule until `at_step`, then a decay from the value it had there to `final_value` over `num_steps`
    steps (linear, cosine or 1-sqrt), then `final_value`: warmup-stable-decay's cooldown, branched at any step."""

    kind = "cooldown"

    def __init__(
        self, inner: Schedule, at_step: Any, num_steps: Any, *, shape: str = "linear", final_value: Any = 0.0
    ) -> None:
        self.inner = as_schedule(inner, "schedule")
        self.at_step = _count("at_step", at_step)
        self.num_steps = _count("num_steps", num_steps)
        self.shape = _choice("shape", shape, tuple(DECAY_SHAPES))
        if not isinstance(self.shape, str):
            raise TypeError("`shape` must be one str for every config")
        self.final_value = _float("final_value", final_value, signed=True)

    def array_parameters(self) -> dict[str, int]:
        return _composition_arrays(
            self,
            {
                "schedule": self.inner,
                "at_step": self.at_step,
                "num_steps": self.num_steps,
                "final_value": self.final_value,
            },
        )

    def build(self, context: Context) -> list[Item]:
        start_value = context.value_at(self.inner, self.at_step)
        decay = Segment(
            DECAY_SHAPES[self.shape],
            self.at_step,
            origin=self.at_step,
            span=segments.maximum(self.num_steps, 1.0),
            p0=0.5,  # the cosine shape's half wave
            scale=start_value - self.final_value,
            offset=self.final_value,
        )
        end = self.at_step + self.num_steps
        tail = Segment("constant", end, scale=self.final_value)
        items = []
        for item in self.inner.build(context):
            start = segments.minimum(segments.item_start(item), self.at_step)
            items.append(segments.with_start(item, start))
        return [*items, decay, tail]

    def to_spec(self) -> dict[str, Any]:
        return {
            "cooldown": self.inner.to_spec(),
            "at_step": _count_spec(self.at_step),
            "num_steps": _count_spec(self.num_steps),
            "shape": self.shape,
            "final_value": _spec_value(self.final_value),
        }


# -- the public functions ----------------------------------------------------------------------------------------

_COMPOSITIONS = ("join", "warmup", "floor", "scale", "cycles", "cooldown")
SPEC_KINDS = ("schedule", *_COMPOSITIONS)  # the key that says what a spec is


def schedule(name_or_spec: Any, /, **params: Any) -> Schedule:
    """A schedule object: ``schedule("cosine", num_warmup_steps=100, num_training_steps=1000)`` (any preset name,
    ``fastsched.preset_names()``), a spec (``schedule({"schedule": "cosine", ...})``, or its JSON text), or a
    schedule object itself (returned as it is).

    >>> s = fastsched.schedule("linear", num_warmup_steps=2, num_training_steps=4)
    >>> fastsched.multipliers(s, [0, 1, 2, 3, 4])
    array([0. , 0.5, 1. , 0.5, 0. ])
    """
    if isinstance(name_or_spec, Schedule):
        if params:
            raise TypeError("a schedule object takes no more parameters")
        return name_or_spec
    if isinstance(name_or_spec, Mapping) or (isinstance(name_or_spec, str) and name_or_spec.lstrip().startswith("{")):
        if params:
            raise TypeError("a spec takes no more parameters: put them in the spec")
        return from_spec(name_or_spec)
    return PresetSchedule(name_or_spec, **params)


def from_spec(spec: Any) -> Schedule:
    """The schedule a spec describes (a dict, or its JSON text); see the README's spec format."""
    if isinstance(spec, str):
        try:
            spec = json.loads(spec)
        except json.JSONDecodeError as exc:
            raise ValueError(f"the spec is not valid JSON: {exc}") from None
    if not isinstance(spec, Mapping):
        raise TypeError(f"a spec must be a dict, got {type(spec).__name__}")
    kinds = [key for key in ("schedule", *_COMPOSITIONS) if key in spec]
    if len(kinds) != 1:
        raise ValueError(
            "a spec must have exactly one of the keys 'schedule' (a preset name) or "
            f"{', '.join(map(repr, _COMPOSITIONS))}; got keys {sorted(spec)}"
        )
    kind = kinds[0]
    rest = {key: value for key, value in spec.items() if key != kind}
    try:
        if kind == "schedule":
            return PresetSchedule(spec["schedule"], **rest)
        if kind == "join":
            inner = spec["join"]
            if not _is_sequence(inner):
                raise TypeError("'join' must be a list of specs")
            return join([from_spec(part) for part in inner], **rest)
        return _COMPOSE[kind](from_spec(spec[kind]), **rest)
    except TypeError as exc:
        raise TypeError(f"in the {kind!r} spec: {exc}") from None


def as_schedule(value: Any, name: str = "schedule") -> Schedule:
    """A Schedule from a schedule object, a preset name or a spec."""
    if isinstance(value, Schedule):
        return value
    if isinstance(value, (str, Mapping)) or hasattr(value, "value"):
        return schedule(value)
    raise TypeError(f"`{name}` must be a schedule object, a preset name or a spec, got {type(value).__name__}")


def join(schedules: Sequence[Any], boundaries: Sequence[Any]) -> Schedule:
    """Schedules one after another, as optax's ``join_schedules``: schedule i takes over at boundaries[i - 1] and
    sees the step minus that boundary.

    >>> up = fastsched.schedule({"schedule": "linear", "num_warmup_steps": 0, "num_training_steps": 2})
    >>> fastsched.multipliers(fastsched.join([up, "constant"], [2]), [0, 1, 2, 3])
    array([1. , 0.5, 1. , 1. ])
    """
    return Join(schedules, boundaries)


def warmup(schedule: Any, num_steps: Any, *, shape: str = "linear", start_value: Any = 0.0) -> Schedule:
    """`schedule` after a warmup of `num_steps` steps from `start_value` (a multiplier of base_lr) up to the
    schedule's value at its step 0; shape "linear", "cosine" or "1-sqrt". The schedule sees the step minus
    num_steps (join semantics)."""
    return Warmup(as_schedule(schedule), num_steps, shape=shape, start_value=start_value)


def floor(schedule: Any, *, min_value: Any = None, min_ratio: Any = None) -> Schedule:
    """`schedule` rescaled onto [min, 1]: min + (1 - min) * value, min being `min_ratio` (a fraction of base_lr) or
    `min_value` (an lr, divided by the reference lr), as optax's alpha and transformers' min_lr do."""
    return Affine(as_schedule(schedule), "floor", min_value=min_value, min_ratio=min_ratio)


def scale(schedule: Any, factor: Any) -> Schedule:
    """`schedule` times `factor`."""
    return Affine(as_schedule(schedule), "scale", factor=factor)


def cycles(schedule: Any, period: Any, **options: Any) -> Schedule:
    """`schedule`'s first `period` steps repeated as cycles (options: period_mul, peak_decay, limit, final_value,
    decay="peak"|"amplitude"; see :class:`Cycles`). The cycle holding a step has a closed form: a million short
    cycles cost nothing."""
    return Cycles(as_schedule(schedule), period, **options)


def cooldown(schedule: Any, at_step: Any, num_steps: Any, **options: Any) -> Schedule:
    """`schedule` until `at_step`, then a decay from its value there to `final_value` (default 0) over `num_steps`
    steps, shape "linear" (default), "cosine" or "1-sqrt"."""
    return Cooldown(as_schedule(schedule), at_step, num_steps, **options)


_COMPOSE: dict[str, Callable[..., Schedule]] = {
    "warmup": warmup,
    "floor": floor,
    "scale": scale,
    "cycles": cycles,
    "cooldown": cooldown,
}
