"""timm's schedules, named as timm names them (`"timm.<Name>"`), exact to the installed timm (`timm.scheduler`).

Step k is timm's t: the epoch with ``t_in_epochs=True`` (timm's default: the lr of epoch k, which timm's train.py
sets with ``scheduler.step(k)`` at the end of epoch k - 1), the update with ``t_in_epochs=False``
(``scheduler.step_update(k)`` after update k - 1). ``t_in_epochs`` only picks which of the two calls moves the lr,
so it doesn't change the value at a step: it is accepted for drop-in use. For a per-update table of a per-epoch
schedule, index the per-epoch values by ``update // updates_per_epoch``. Step 0 is what the constructor leaves in
the group: ``warmup_lr_init`` with a warmup, else the group's lr (timm's ``_get_lr(0)`` differs from it for
TanhLRScheduler, and for MultiStepLRScheduler with a milestone <= 1).

The group's initial lr is ``base_lr`` (timm's ``base_values``); ``lr_min`` and ``warmup_lr_init`` are absolute
lrs, so base_lr must be positive where they are not 0. timm's random noise (``noise_range_t`` and the
``noise_*`` parameters it turns on) has no precomputable values: ``noise_range_t`` is refused.

Cycles follow timm's own cycle index, ``floor(log(1 - t / t_initial * (1 - cycle_mul), cycle_mul))``, rounding
included (it can stay one cycle low at an exact boundary: cycle_mul = 3, t_initial = 1 restarts at t = 122, not
121). A cycle item of the segment model counts its cycles from where it starts; timm counts from t = 0 (or from
warmup_t with warmup_prefix) while a warmup without prefix, or TanhLRScheduler's step 0, covers the first steps.
There a cycle_mul of 1 cycles from the first cycle boundary after them (integer arithmetic, the same index), and
another cycle_mul lays out each cycle as its own segment, its first step found by timm's expression in Python (at
most MAX_LAID_OUT_CYCLES cycles before step 2**53).
"""

from __future__ import annotations

import itertools
import math
from typing import Any

from ..registry import MAX_STEP, REQUIRED, Parameter
from ..segments import INF, Cycle, Item, Segment, floor, is_array, maximum, minimum, plain, where
from ._support import AssertionValueError, any_true, check_whole, first_where, library_preset, relative, shape_where

# Cycles laid out as segments one by one (see the module's docstring): what bounds a table's rows.
MAX_LAID_OUT_CYCLES = 100

_REFERENCE = "timm.scheduler.{} (step(t) / step_update(t) from t = 1, the constructor's lr at 0)"
_TOLERANCE = "1e-12 of the largest lr (measured worst: 1.3e-15, 10000 configs)"


def _t_initial() -> Parameter:
    return Parameter("t_initial", "count", REQUIRED, "length of the first cycle (an int)", positive=True)


def _cycle_parameters() -> tuple[Parameter, ...]:
    return (
        Parameter("lr_min", "float", 0.0, "lr at the end of each cycle and after the last (absolute)"),
        Parameter("cycle_mul", "float", 1.0, "each cycle is this many times as long as the one before (>= 1)"),
        Parameter("cycle_decay", "float", 1.0, "each cycle's peak is this many times the one before"),
        Parameter("cycle_limit", "count", 1, "number of cycles; lr_min after them"),
    )


def _warmup_parameters(prefix: bool) -> tuple[Parameter, ...]:
    return (
        Parameter("warmup_t", "count", 0, "steps of linear warmup from warmup_lr_init (an int)"),
        Parameter("warmup_lr_init", "float", 0.0, "lr at step 0 of the warmup (absolute)"),
        Parameter("warmup_prefix", "flag", prefix, "True: the schedule starts after the warmup; False: at step 0"),
        Parameter("t_in_epochs", "flag", True, "whether timm steps per epoch or per update (same values per step)"),
    )


def _noise_parameters() -> tuple[Parameter, ...]:
    return (
        Parameter("noise_range_t", "counts", None, "timm's random noise: not supported (must stay None)"),
        Parameter("noise_pct", "float", 0.67, "noise parameter: no effect without noise_range_t"),
        Parameter("noise_std", "float", 1.0, "noise parameter: no effect without noise_range_t"),
        Parameter("noise_seed", "count", 42, "noise parameter: no effect without noise_range_t"),
    )


_K_DECAY = Parameter("k_decay", "float", 1.0, "k-decay exponent: the cycle's position enters as t**k / t_i**k (> 0)")


_preset = library_preset(__name__, "timm", _REFERENCE, _TOLERANCE)


PRESETS = (
    _preset(
        "CosineLRScheduler",
        (_t_initial(), *_cycle_parameters(), *_warmup_parameters(False), *_noise_parameters(), _K_DECAY),
        "cosine decay with restarts (cycle_mul, cycle_decay, cycle_limit, k_decay) after a linear warmup",
        "cosine_lr_scheduler",
    ),
    _preset(
        "TanhLRScheduler",
        (
            _t_initial(),
            Parameter("lb", "float", -7.0, "tanh's argument at the start of a cycle", signed=True),
            Parameter("ub", "float", 3.0, "tanh's argument at the end of a cycle (> lb)", signed=True),
            *_cycle_parameters(),
            *_warmup_parameters(False),
            *_noise_parameters(),
        ),
        "hyperbolic-tangent decay with restarts after a linear warmup",
        "tanh_lr_scheduler",
    ),
    _preset(
        "StepLRScheduler",
        (
            Parameter("decay_t", "count", REQUIRED, "steps between decays (a float is floor-divided)", positive=True),
            Parameter("decay_rate", "float", 1.0, "factor applied every decay_t steps"),
            *_warmup_parameters(True),
            *_noise_parameters(),
        ),
        "the lr times decay_rate every decay_t steps, after a linear warmup",
        "step_lr_scheduler",
    ),
    _preset(
        "MultiStepLRScheduler",
        (
            Parameter("decay_t", "counts", REQUIRED, "sorted milestones; milestone m applies from t = m - 1"),
            Parameter("decay_rate", "float", 1.0, "factor applied at each milestone"),
            *_warmup_parameters(True),
            *_noise_parameters(),
        ),
        "the lr times decay_rate at each milestone (from one step before it, as timm does), after a linear warmup",
        "multistep_lr_scheduler",
    ),
    _preset(
        "PolyLRScheduler",
        (
            _t_initial(),
            Parameter("power", "float", 0.5, "power of the polynomial decay"),
            *_cycle_parameters(),
            *_warmup_parameters(False),
            *_noise_parameters(),
            _K_DECAY,
        ),
        "polynomial decay with restarts (cycle_mul, cycle_decay, cycle_limit, k_decay) after a linear warmup",
        "poly_lr_scheduler",
    ),
)


# -- builders ------------------------------------------------------------------------------------------------------


def cosine_lr_scheduler(p: dict[str, Any], context: Any) -> list[Item]:
    _check_positive("k_decay", p["k_decay"])
    k = p["k_decay"]
    # 0.5 * (1 + cos(pi * t_curr / t_i)), or with k != 1 cos(pi * t_curr**k / t_i**k) (pow calls)
    member = dict(shape=shape_where(k == 1.0, "cosine", "cosine_powers"), p0=0.5, p1=k, p2=1.0)
    return _cycled(p, context, member, tanh=False)


def tanh_lr_scheduler(p: dict[str, Any], context: Any) -> list[Item]:
    lb, ub = p["lb"], p["ub"]
    unordered = lb >= ub
    if any_true(unordered):
        raise AssertionValueError(
            f"`lb` must be below `ub` (timm asserts lb < ub), got lb={first_where(unordered, lb)}, "
            f"ub={first_where(unordered, ub)}"
        )
    if any_true(p["cycle_limit"] < 0):
        raise AssertionValueError(
            f"`cycle_limit` must be >= 0 (timm asserts it), got {first_where(p['cycle_limit'] < 0, p['cycle_limit'])}"
        )
    member = dict(shape="tanh_fraction", p0=lb, p1=ub)
    return _cycled(p, context, member, tanh=True)


def poly_lr_scheduler(p: dict[str, Any], context: Any) -> list[Item]:
    _check_positive("k_decay", p["k_decay"])
    k = p["k_decay"]
    # (1 - t_curr / t_i) ** power, or with k != 1 (1 - t_curr**k / t_i**k) ** power; `polynomial` divides by P1 = 1
    member = dict(shape=shape_where(k == 1.0, "polynomial", "polynomial_powers"), p0=p["power"], p1=k)
    return _cycled(p, context, member, tanh=False)


def step_lr_scheduler(p: dict[str, Any], context: Any) -> list[Item]:
    first, origin, ramp = _warmup(p, context)
    # decay_rate ** (t // decay_t), Python's floor division (decay_t may be a float)
    decays = Segment("exponential_floordiv", first, origin=origin, span=p["decay_t"], p0=p["decay_rate"])
    return [ramp(1.0), decays]


def multistep_lr_scheduler(p: dict[str, Any], context: Any) -> list[Item]:
    milestones = p["decay_t"]
    if any(later < earlier for earlier, later in itertools.pairwise(milestones)):
        raise ValueError(f"`decay_t` must be sorted (timm bisects it), got {[plain(m) for m in milestones]}")
    first, origin, ramp = _warmup(p, context)
    first = maximum(first, 1.0)  # step 0 is the constructor's lr, even where a milestone <= 1 applies at t = 0
    rate = p["decay_rate"]
    # bisect_right(decay_t, t + 1): milestone m counts from t = m - 1; equal milestones count twice
    items: list[Item] = [ramp(1.0), Segment("constant", first)]
    for count, milestone in enumerate(milestones, start=1):
        items.append(Segment("constant", maximum(origin + milestone - 1.0, first), scale=rate**count))
    return items


# -- warmup --------------------------------------------------------------------------------------------------------


def _warmup(p: dict[str, Any], context: Any) -> tuple[Any, Any, Any]:
    """(the first step after the warmup, where timm's t is 0 after it, ramp) for timm's linear warmup
    warmup_lr_init + t * (target - warmup_lr_init) / warmup_t; ramp(target) is that segment (target a multiplier;
    without a warmup, the constructor's lr: base_lr)."""
    if p["noise_range_t"] is not None:
        raise ValueError(
            "`noise_range_t` turns on timm's random lr noise (with noise_pct, noise_std, noise_seed), which has no "
            "precomputable values: not supported; leave `noise_range_t` None"
        )
    warmup_t = p["warmup_t"]
    if any_true(warmup_t < 0):
        raise AssertionValueError(f"`warmup_t` must be non-negative, got {first_where(warmup_t < 0, warmup_t)}")
    check_whole("warmup_t", warmup_t, "timm")
    start_value = relative(p["warmup_lr_init"], context.reference_lr, "warmup_lr_init")
    warming = warmup_t > 0
    origin = where(p["warmup_prefix"], warmup_t, 0.0)

    def ramp(target: Any) -> Segment:
        slope = where(warming, (target - start_value) / maximum(warmup_t, 1.0), 0.0)
        return Segment("linear", -INF, span=1.0, scale=slope, offset=where(warming, start_value, 1.0))

    return warmup_t, origin, ramp


# -- cycles (cosine, tanh, poly) -----------------------------------------------------------------------------------


def _cycled(p: dict[str, Any], context: Any, member: dict[str, Any], *, tanh: bool) -> list[Item]:
    """timm's warmup, then its cycles of `member` (a shape with its P0..P2), then lr_min. tanh: TanhLRScheduler,
    whose warmup without prefix ramps to the schedule's value at warmup_t (not to base_lr), and whose value at t = 0
    is not the group's lr (its curve never starts at the top)."""
    warmup_t, origin, ramp = _warmup(p, context)
    t_initial, mul = p["t_initial"], p["cycle_mul"]
    check_whole("t_initial", t_initial, "timm")
    if any_true(mul < 1.0):
        raise ValueError(
            f"`cycle_mul` must be >= 1, got {first_where(mul < 1.0, mul)}: below 1 timm's cycle index takes the log "
            "of a negative number (math domain error) from t = t_initial / (1 - cycle_mul) on"
        )
    lr_min = relative(p["lr_min"], context.reference_lr, "lr_min")
    limit = maximum(-floor(-p["cycle_limit"]), 0.0)  # cycles i < cycle_limit
    # The first step timm's cycles cover: warmup_t, or 1 where step 0 (the constructor's lr, the group's lr) is
    # not what the schedule gives at t = 0 (TanhLRScheduler; no cycles at all). Elsewhere the two are within an ulp.
    step_zero_apart = (limit == 0.0) | tanh
    first = where(warmup_t > 0, warmup_t, where(step_zero_apart, 1.0, 0.0))
    items = _Cycles(t_initial, mul, p["cycle_decay"], limit, lr_min, member).items(first, origin)
    target: Any = 1.0
    if tanh:  # timm's warmup_steps from _get_lr(warmup_t) without prefix: the schedule's value there
        at_warmup_t = context.value_at(_prebuilt_schedule(items), warmup_t)
        target = where(p["warmup_prefix"], 1.0, at_warmup_t)
    return [ramp(target), *items]


class _Cycles:
    """timm's cycles of one shape: cycle i lasts t_i = cycle_mul**i * t_initial timm steps and peaks at
    cycle_decay**i (times base_lr), from lr_min; i >= cycle_limit gives lr_min.

    As items: the laid-out cycles (configs that need them), the rest of a cycle_mul == 1 cycle that the warmup
    started, the cycles as one cycle item (timm's index), then lr_min from where timm's index reaches cycle_limit
    (found in Python, by timm's expression: the packer's search for a cycle's end doesn't stop past 2**53).
    Per config, the items a config doesn't use are empty (they start where the next one does)."""

    def __init__(self, t_initial: Any, mul: Any, decay: Any, limit: Any, lr_min: Any, member: dict[str, Any]):
        self.t_initial, self.mul, self.decay, self.limit, self.lr_min = t_initial, mul, decay, limit, lr_min
        self.member = member

    def items(self, first: Any, origin: Any) -> list[Item]:
        # Laid out: cycle_mul != 1 with steps before `first` (a warmup without prefix, or step 0 apart) that timm's
        # cycles don't cover while timm counts them from `origin`: a cycle item can't start later than it counts.
        laid_out = (self.mul != 1.0) & (first > origin)
        n = max((len(v) for v in (laid_out, first, self.t_initial, self.mul, self.decay, self.limit) if is_array(v)),
                default=1)  # fmt: skip
        configs = list(zip(*_per_config(n, laid_out, origin, self.t_initial, self.mul, self.limit), strict=True))
        segments, laid_out_end = self._laid_out(configs, first)
        # the rest of the cycle c0 that holds `first` (cycle_mul == 1: timm's index is t // t_initial)
        c0 = where(self.mul == 1.0, floor((first - origin) / self.t_initial), 0.0)
        partial_peak = where(c0 < self.limit, self.decay**c0, self.lr_min)
        partial = self._segment(where(laid_out, laid_out_end, first), origin + c0 * self.t_initial, self.t_initial,
                                partial_peak)  # fmt: skip
        # the cycles from the one after c0 (cycle_mul == 1) or from cycle 0 (otherwise): timm's index counted from
        # the cycle item's start (there t = 0, or t = c0 + 1 cycles: the same index in integer arithmetic)
        c1 = where(self.mul == 1.0, c0 + 1.0, 0.0)
        start = where(laid_out, laid_out_end, origin + c1 * self.t_initial)
        member = self._segment(0.0, 0.0, self.t_initial, self.decay**c1)
        cycle = Cycle([member], start, self.t_initial, mul=self.mul, decay=self.decay, limit=INF, timm_index=True)
        end = where(laid_out, laid_out_end, _column([_end_of_cycles(*config) for config in configs]))
        return [*segments, partial, cycle, Segment("constant", end, scale=self.lr_min)]

    def _segment(self, start: Any, origin: Any, span: Any, peak: Any) -> Segment:
        columns = {key: value for key, value in self.member.items() if key != "shape"}
        return Segment(self.member["shape"], start, origin=origin, span=span, scale=peak - self.lr_min,
                       offset=self.lr_min, **columns)  # fmt: skip

    def _laid_out(self, configs: list[tuple[float, ...]], first: Any) -> tuple[list[Segment], Any]:
        """The laid-out configs' cycles, one segment each from its first step (timm's index, in Python), and where
        they end; the other configs' rows are empty."""
        rows: list[list[tuple[float, float, float, float]]] = []
        ends = []
        for (take, origin, t_initial, mul, limit), decay in zip(configs, _per_config(len(configs), self.decay)[0],
                                                                strict=True):  # fmt: skip
            row: list[tuple[float, float, float, float]] = []
            end = 0.0
            while take and len(row) < limit:
                i = len(row)
                start = _timm_first_step(i, t_initial, mul)
                if start == INF:
                    break
                if i == MAX_LAID_OUT_CYCLES:
                    raise NotImplementedError(
                        "timm counts its cycles from t = 0, and here its warmup (warmup_prefix=False) or its first "
                        f"step comes first: with cycle_mul != 1 fastsched then lays out each cycle, at most "
                        f"{MAX_LAID_OUT_CYCLES} (this config has more before step 2**53); use warmup_prefix=True, "
                        "cycle_mul=1 or a smaller cycle_limit"
                    )
                # timm: t_i = cycle_mul ** i * t_initial; t_curr = t - (1 - cycle_mul ** i) / (1 - cycle_mul) *
                # t_initial; gamma = cycle_decay ** i
                row.append(
                    (origin + start, origin + (1 - mul**i) / (1 - mul) * t_initial, mul**i * t_initial, decay**i)
                )
            if take:
                end = origin + _timm_first_step(len(row), t_initial, mul) if len(row) == limit else INF
            rows.append(row)
            ends.append(end)
        laid_out_end = maximum(_column(ends), first)
        segments = []
        for i in range(max(len(row) for row in rows)):
            cycle_i = [row[i] if i < len(row) else (INF, 0.0, 1.0, 1.0) for row in rows]
            starts, origins, spans, peaks = (_column(list(column)) for column in zip(*cycle_i, strict=True))
            # a row past its config's cycles (inf) starts where what follows does: empty
            segments.append(self._segment(maximum(minimum(starts, laid_out_end), first), origins, spans, peaks))
        return segments, laid_out_end


def _end_of_cycles(laid_out: float, origin: float, t_initial: float, mul: float, limit: float) -> float:
    """Where timm's index reaches cycle_limit, counted from `origin` (inf past 2**53)."""
    if laid_out:
        return INF  # (the laid-out cycles' own end is used)
    if mul == 1.0:
        end = origin + limit * t_initial  # timm: t // t_initial
        return end if end <= MAX_STEP else INF
    return origin + _timm_first_step(int(limit), t_initial, mul) if limit < 2**62 else INF


def _timm_first_step(i: int, t_initial: float, mul: float) -> float:
    """The first whole t >= 0 that timm's cycle index puts in cycle i or later (its index only grows with t), or
    inf where that is past 2**53. cycle_mul != 1."""
    if i == 0:
        return 0.0
    if i > math.log1p(MAX_STEP * (mul - 1) / t_initial) / math.log(mul) + 1:  # cycle i starts past 2**53
        return INF

    def index(t: int) -> int:  # timm's own expression (cosine_lr.py, tanh_lr.py, poly_lr.py)
        return math.floor(math.log(1 - t / t_initial * (1 - mul), mul))

    t = max(0, math.ceil(t_initial * (mul**i - 1) / (mul - 1)))
    while t > 0 and index(t - 1) >= i:
        t -= 1
    while index(t) < i:
        t += 1
    return float(t) if t <= MAX_STEP else INF


def _prebuilt_schedule(items: list[Item]) -> Any:
    # The one call into fastsched.schedules' internals: a schedule of ready-made items, which Context.value_at reads.
    from ..schedules import BuiltItems

    return BuiltItems(items)


# -- small helpers -------------------------------------------------------------------------------------------------


def _check_positive(name: str, value: Any) -> None:
    if any_true(value <= 0):
        raise ValueError(f"`{name}` must be positive, got {first_where(value <= 0, value)}")


def _per_config(n: int, *values: Any) -> list[list[float]]:
    """Each value (a scalar or a per-config array) as a list of n Python floats."""
    return [[float(v[i]) for i in range(n)] if is_array(v) else [float(v)] * n for v in values]


def _column(values: list[float]) -> Any:
    """One float for one config, else a float64 array."""
    if len(values) == 1:
        return values[0]
    import numpy

    return numpy.asarray(values, dtype=numpy.float64)
