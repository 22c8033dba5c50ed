"""The schedulers' table: one object for what a scheduler needs of a schedule.

A :class:`ScheduleTable` holds one schedule as transformers binds it, and its multipliers at whole steps:

- ``keywords``: what transformers' ``get_*`` function binds into its ``lr_lambda`` partial for the same call, computed
  as transformers computes it (``lr_init`` and ``min_lr_rate`` from the optimizer's lr, ``timescale``'s default,
  warmup_stable_decay's ``num_stable_steps``), so that the two compare equal; ``params``: the parameters as given,
  as plain numbers and strings (the record a scheduler's state carries under RECORD_KEYS);
- the packing relative to the optimizer's lr: polynomial's ``lr_end`` and the min-lr cosines' ``min_lr`` are
  absolute, so the schedule is packed against ``optimizer.defaults["lr"]``, where transformers reads them;
- the multipliers, transformers' float64 values bit for bit, computed by the kernels: held in a table computed at
  construction up to EAGER_TABLE_STEPS steps and grown (a quarter at a time) as steps pass its end; a step far
  past it is evaluated on its own;
- where the schedule becomes constant (``constant_from``, ``end_value``: the table ends there) and how long it is
  nominally (``nominal_length``: where the table of a schedule that keeps changing ends at first).

Counts are taken as transformers takes them: floats (``num_warmup_steps=0.1 * 25``) and negative values give
transformers' values at every step.

Any schedule object or composition (``fastsched.schedule(...)``, a spec) works the same way: its ``keywords`` are its
spec, its record its name and spec.

TableScheduler (torch_schedulers) reads ``values`` on every step; CudaScheduler (gpu) copies ``multipliers(n)`` to
its device. Every call into the packing and the kernels is in the block marked INTERNALS at the end of this module.
"""

from __future__ import annotations

import array
import enum
import math
import operator
from collections.abc import Mapping
from typing import Any

import numpy as np
from torch.optim import Optimizer

from . import cpu_backend, schedules
from . import table as tables
from .kernels import cpu
from .registry import get_preset
from .warn import warn

# The table is computed eagerly up to this many steps (32 MiB, ~40 ms); beyond, it grows as steps reach it.
EAGER_TABLE_STEPS = 1 << 22
# Growing by at least this many steps (and by a quarter of the table) keeps kernel calls rare past the table.
MIN_GROWTH_STEPS = 1 << 12
# Keys fastsched's schedulers add to LambdaLR's state: a record of the schedule (the scheduler's) and of the device
# table's horizon (CudaScheduler's). Loading skips them: as with LambdaLR, a scheduler keeps the schedule it was
# built with.
RECORD_KEYS = ("schedule", "horizon")


def plain_number(value: Any) -> Any:
    """`value` in plain types (what ``torch.load(weights_only=True)`` reads): an Enum as its value, a numpy or torch
    scalar as the Python number it holds."""
    if isinstance(value, enum.Enum):
        value = value.value
    return value.item() if hasattr(value, "item") else value


def whole_step(name: str, value: Any) -> int:
    """`value` as an int step: an int (numpy's and torch's too) or a float that is a whole number; a bool or a
    fraction is refused, naming `name`."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if not isinstance(value, (bool, np.bool_)):
        try:
            return operator.index(value)
        except TypeError:
            pass
        if isinstance(value, (float, np.floating)):
            if math.isfinite(value) and float(value).is_integer():
                return int(value)
            raise ValueError(f"`{name}` must be a whole number of steps, got {plain_number(value)!r}")
    raise TypeError(f"`{name}` must be an int, got {type(value).__name__} {plain_number(value)!r}")


def transformers_keywords(name: str, params: Mapping[str, Any], optimizer_lr: Any) -> dict[str, Any]:
    """The keywords transformers' get_* function for schedule `name` binds into its lr_lambda partial, given the
    (valid) parameters `params` and an optimizer whose ``defaults["lr"]`` is `optimizer_lr`: transformers' defaults
    filled in, its derived values computed by its own expressions (so they compare equal to transformers' own)."""
    preset = get_preset(name)
    given = {key: value for key, value in params.items() if value is not None}
    keywords = {p.name: given.get(p.name, None if p.required else p.default) for p in preset.parameters}
    if name == "polynomial":
        keywords["lr_init"] = optimizer_lr
    elif name == "inverse_sqrt" and keywords["timescale"] is None:
        if keywords["num_warmup_steps"] < 0:
            # transformers takes the warmup as the timescale and divides by zero at step 0
            raise ValueError(
                f"`num_warmup_steps` ({plain_number(keywords['num_warmup_steps'])}) is negative and `timescale` is "
                "not given: the default timescale is num_warmup_steps; pass a positive `timescale`"
            )
        keywords["timescale"] = keywords["num_warmup_steps"] or 10_000
    elif name in ("cosine_with_min_lr", "cosine_warmup_with_min_lr"):
        min_lr = keywords.pop("min_lr")
        if min_lr is not None:
            keywords["min_lr_rate"] = min_lr / optimizer_lr
    elif name == "warmup_stable_decay":
        num_training_steps = keywords.pop("num_training_steps")
        if keywords["num_stable_steps"] is None:
            keywords["num_stable_steps"] = (
                num_training_steps - keywords["num_warmup_steps"] - keywords["num_decay_steps"]
            )
    return keywords


class ScheduleTable:
    """One schedule's multipliers at whole steps, and what a scheduler keeps of the schedule (see the module's doc).

    Build it with :meth:`for_optimizer` (a scheduler's parameters) or :meth:`from_keywords` (transformers' partial
    keywords). ``multiplier(step)`` is transformers' lr_lambda(step); ``values`` is the table itself (an
    ``array.array('d')`` that a step may replace by a longer one: read it through the object). It pickles as its
    schedule (a few numbers) and rebuilds its table when unpickled.
    """

    itemsize = 8  # bytes per step held

    def __init__(self, name: str, keywords: dict[str, Any], params: dict[str, Any], packed: Any = None) -> None:
        """The table of schedule `name` bound with `keywords` (transformers' for its presets, a spec for any other
        schedule); `params` records how it was asked for, `packed` is the kernels' table when the caller has packed
        it already."""
        self._build(name, keywords, params, _pack_keywords(name, keywords) if packed is None else packed)

    @classmethod
    def for_optimizer(cls, name: Any, optimizer: Optimizer, params: Mapping[str, Any]) -> ScheduleTable:
        """The table a scheduler of `optimizer` needs for `name` (a preset name with fastsched's and transformers'
        parameters `params`, or a schedule object or spec): validated (errors name the parameter), packed against
        ``optimizer.defaults["lr"]`` (what absolute parameters such as lr_end and min_lr are relative to)."""
        if _is_schedule_object(name):
            if params:
                raise TypeError(
                    f"parameters {', '.join(map(repr, params))} go into the schedule object, not beside it: "
                    "fastsched.schedule(name, **params)"
                )
            schedule = schedules.schedule(name)
            spec = schedule.to_spec()
            _check_one_lr_for_absolute(spec, optimizer)
            packed = _pack_schedule(schedule, _reference_lr(optimizer))
            return cls(_record_name(spec), spec, {"spec": spec}, packed)
        preset = get_preset(name)
        _check_one_lr_for_absolute({"schedule": preset.name}, optimizer)
        given = {key: value for key, value in params.items() if value is not None}
        for parameter in preset.parameters:
            if parameter.required and parameter.name not in given:  # transformers' lambda: a TypeError at some step
                raise TypeError(f"`{parameter.name}` must be a number of steps, got None ({preset.name} requires it)")
        if preset.name == "warmup_stable_decay" and {"num_training_steps", "num_stable_steps"} <= set(given):
            warn("Both num_training_steps and num_stable_steps are specified. num_stable_steps will be used.")
            del given["num_training_steps"]  # as transformers: read nowhere
        relative = {"lr_end", "min_lr"} & set(preset.parameter_names)
        reference_lr = _reference_lr(optimizer) if relative or preset.library != "transformers" else 1.0
        packed = _pack(preset.name, reference_lr, {key: _choice_as_str(value) for key, value in given.items()})
        if preset.library == "transformers":
            keywords = transformers_keywords(preset.name, given, optimizer.defaults["lr"] if relative else None)
        else:
            keywords = {"schedule": preset.name, **{key: plain_number(value) for key, value in given.items()}}
        return cls(preset.name, keywords, {key: plain_number(value) for key, value in params.items()}, packed)

    @classmethod
    def from_keywords(cls, name: Any, keywords: Mapping[str, Any]) -> ScheduleTable:
        """The table of schedule `name` bound with the lr_lambda keywords `keywords` (transformers' for its
        presets, the spec for any other schedule)."""
        preset_name = name if name not in schedules.SPEC_KINDS and "schedule" not in keywords else None
        record_name = get_preset(preset_name).name if preset_name is not None else name
        return cls(record_name, dict(keywords), {key: plain_number(value) for key, value in keywords.items()})

    def _build(self, name: str, keywords: dict[str, Any], params: dict[str, Any], packed: Any) -> None:
        self.name = name
        self.keywords = keywords
        self.params = {key: value for key, value in params.items() if value is not None}
        self._packed = packed
        self.constant_from: int | None = packed.constant_from()
        self.end_value = None if self.constant_from is None else _multiplier_at(packed, self.constant_from)
        self.nominal_length = packed.nominal_length()
        self.values = array.array("d")
        self.size = 0  # len(values), read on every step
        eager = self.nominal_length if self.constant_from is None else self.constant_from + 1
        self._grow(min(eager, EAGER_TABLE_STEPS))

    # -- the multipliers --------------------------------------------------------------------------------------

    def multiplier(self, step: Any) -> float:
        """The multiplier at `step` (a whole number): transformers' lr_lambda(step), looked up where the table holds
        it."""
        if type(step) is not int:
            step = whole_step("step", step)
        return self.values[step] if 0 <= step < self.size else self._beyond_table(step)

    def multipliers(self, num_steps: int) -> np.ndarray:
        """The multipliers at steps 0 .. num_steps - 1, as a new float64 array (a device table, say)."""
        out = np.empty(num_steps)
        held = min(num_steps, self.size)
        if held:
            out[:held] = np.frombuffer(self.values, dtype=np.float64, count=held)
        _fill(self._packed, held, out[held:])
        return out

    def _beyond_table(self, step: int) -> float:
        """The multiplier at a step the table doesn't hold (rare: past its end, or negative)."""
        if step < 0:  # last_epoch set below -1 by hand: as LambdaLR, evaluate the schedule there
            return _multiplier_at(self._packed, step)
        if self.constant_from is not None and step >= self.constant_from:
            return self.end_value
        size = self.size
        if step >= max(2 * size, size + MIN_GROWTH_STEPS, EAGER_TABLE_STEPS):
            # A jump far past the table (step(epoch), a resume): evaluate there, don't fill every step up to it.
            return _multiplier_at(self._packed, step)
        # Grow by at least a quarter: the copy into the larger table stays amortized O(1) per step.
        target = max(step + 1, size + max(size // 4, MIN_GROWTH_STEPS))
        if self.constant_from is not None:
            target = min(target, self.constant_from + 1)
        self._grow(target)
        return self.values[step]

    def _grow(self, num_steps: int) -> None:
        """Extend the table to `num_steps` steps, the new tail computed by one kernel call."""
        start = len(self.values)
        if num_steps <= start:
            return
        values = array.array("d", [0.0]) * num_steps  # exactly 8 bytes a step (extend() over-allocates by 1/16)
        values[:start] = self.values
        _fill(self._packed, start, np.frombuffer(values, dtype=np.float64, offset=8 * start))
        self.values = values
        self.size = num_steps

    # -- size, record, pickling ---------------------------------------------------------------------------------

    def __len__(self) -> int:
        """Steps the table holds now."""
        return len(self.values)

    @property
    def nbytes(self) -> int:
        return self.itemsize * len(self.values)

    def record(self) -> dict[str, Any]:
        """The schedule as plain types, for a scheduler's state ("schedule"): its name and parameters as given (a
        composition: its kind and its spec)."""
        return {"name": self.name, **self.params}

    def __getstate__(self) -> dict[str, Any]:
        return {"name": self.name, "keywords": self.keywords, "params": self.params}  # the table is rebuilt

    def __setstate__(self, state: dict[str, Any]) -> None:
        self._build(state["name"], state["keywords"], state["params"], _pack_keywords(state["name"], state["keywords"]))

    def __repr__(self) -> str:
        params = ", ".join(f"{key}={value!r}" for key, value in self.params.items())
        return f"{type(self).__name__}({self.name!r}{', ' if params else ''}{params}, steps_held={len(self)})"


class ScheduleFunction:
    """The function of a scheduler's lr_lambdas: ``functools.partial(ScheduleFunction(table), **table.keywords)``
    behaves as transformers' lr_lambda for the schedule (same keywords, same values, read from the table).

    Called with other keywords (a partial re-bound by hand), it answers for the schedule those keywords describe.
    """

    def __init__(self, table: ScheduleTable) -> None:
        self.table = table

    def __call__(self, current_step: Any, **keywords: Any) -> float:
        table = self.table
        if keywords != table.keywords:
            table = self._table_for(keywords)
        return table.multiplier(current_step)

    def _table_for(self, keywords: dict[str, Any]) -> ScheduleTable:
        other = getattr(self, "_other", None)  # the last re-bound schedule, kept for the steps that follow
        if other is None or other.keywords != keywords:
            other = self._other = ScheduleTable.from_keywords(self.table.name, keywords)
        return other

    def __getstate__(self) -> dict[str, Any]:
        return {"table": self.table}

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.table.name!r})"


def _choice_as_str(value: Any) -> Any:
    """A str-Enum choice (``warmup_type``, say) as its str, which transformers' comparisons read it as."""
    return value.value if isinstance(value, enum.Enum) and isinstance(value, str) else value


def _is_schedule_object(name: Any) -> bool:
    """A schedule object or a spec (a dict, or its JSON text), rather than a preset name."""
    return isinstance(name, (schedules.Schedule, Mapping)) or (isinstance(name, str) and name.lstrip().startswith("{"))


def _record_name(spec: dict[str, Any]) -> str:
    """A composition's name in records: its kind (join, warmup, ...), or the preset's name."""
    return spec["schedule"] if "schedule" in spec else next(key for key in spec if key in schedules.SPEC_KINDS)


def _absolute_presets(spec: Any) -> list[str]:
    """The presets in `spec` whose values are lrs, not multipliers (torch's OneCycleLR and CyclicLR)."""
    if isinstance(spec, dict):
        name = spec.get("schedule")
        found = [name] if isinstance(name, str) and get_preset(name).extra.get("absolute") else []
        return found + [found_name for value in spec.values() for found_name in _absolute_presets(value)]
    if isinstance(spec, list):
        return [found_name for value in spec for found_name in _absolute_presets(value)]
    return []


def _check_one_lr_for_absolute(spec: Any, optimizer: Optimizer) -> None:
    """A schedule of absolute lrs gives every group the same lr in torch; a scheduler here scales each group's
    lr by the table, so groups of different lrs would get different ones: refused, pointing to the drop-in."""
    absolute = _absolute_presets(spec)
    if not absolute:
        return
    lrs = {float(plain_number(group.get("initial_lr", group["lr"]))) for group in optimizer.param_groups}
    if len(lrs) > 1:
        cls = absolute[0].removeprefix("torch.")
        raise ValueError(
            f"{absolute[0]} sets absolute lrs, but the optimizer's groups have different lrs "
            f"({', '.join(map(str, sorted(lrs)))}): use fastsched.torch.{cls}, which takes torch's per-group lists"
        )


def _reference_lr(optimizer: Optimizer) -> float:
    return float(plain_number(optimizer.defaults["lr"]))


# ---------------------------------------------------------------------------------------------------------------------
# INTERNALS: every call into schedules.py, bulk.py and the kernels. Re-point these to the segment model.
# ---------------------------------------------------------------------------------------------------------------------


def _pack(name: str, reference_lr: Any, params: Mapping[str, Any]) -> tables.SegmentTable:
    """Validate preset `name`'s parameters and pack them against `reference_lr` (what lr_end, min_lr and other
    absolute parameters are relative to); counts as transformers takes them (floats and negative values)."""
    return tables.pack_one(name, dict(params), 1.0, reference_lr=reference_lr)


def _pack_schedule(schedule: schedules.Schedule, reference_lr: Any) -> tables.SegmentTable:
    return tables.pack(schedule, 1.0, reference_lr=reference_lr, allow_arrays=False)


def _pack_keywords(name: str, keywords: Mapping[str, Any]) -> tables.SegmentTable:
    """_pack from lr_lambda keywords: transformers' (polynomial's lr_init is the lr its lr_end is relative to), or a
    schedule's spec."""
    if name in schedules.SPEC_KINDS or "schedule" in keywords:
        return _pack_schedule(schedules.schedule(dict(keywords)), 1.0)
    params = {key: _choice_as_str(value) for key, value in keywords.items() if key != "lr_init"}
    return _pack(name, plain_number(keywords.get("lr_init", 1.0)), params)


def _fill(packed: tables.SegmentTable, start: int, out: np.ndarray) -> None:
    """The exact multipliers at steps start, start + 1, ... into `out` (1-D float64), on one core."""
    if out.shape[0]:
        cpu_backend.fill_multipliers(packed, start, out)


def _multiplier_at(packed: tables.SegmentTable, step: int) -> float:
    out = np.empty(1)
    cpu.values_at(packed.codes[0], packed.cols[0], int(packed.counts[0]), np.array([step], dtype=np.int64), out)
    return float(out[0])
