"""optax's schedules, named as optax names them (``"optax.<function>"``), exact to the installed optax.

optax schedules are absolute: a schedule's value IS the learning rate, it never sees an optimizer's lr. Here
``trajectory(name, n, base_lr=x)`` is ``x`` times optax's value (``base_lr`` defaults to 1: optax's own values), and
the torch schedulers scale by the optimizer's lr the same way (give the optimizer lr=1 for optax's values).

"Step k" is optax's ``schedule(k)``: the value optax's optimizers use for update k (their count starts at 0).
Reference: optax 0.2.8 (``optax/schedules/_schedule.py``, ``_join.py``) evaluated under ``jax.jit`` with jax's x64
mode and int64 counts; formulas.md (optax) transcribes each function. (optax's optimizers count in int32: under x64
jax then computes linear, polynomial and exponential schedules in float32, int32 / int -> float32; those values are
float32 values, as close to these as optax's float32 is.) float32 output is the float64 value rounded once.

Parameters keep optax's names and defaults; optax's dict ``boundaries_and_scales`` is a "mapping" parameter, sgdr's
``cosine_kwargs`` a "kwargs" list (dicts of warmup_cosine_decay_schedule's parameters) and join_schedules'
``schedules`` a "schedules" list (any schedule: an object, a preset name or a spec, optax's or not). For
non-decreasing, non-negative boundaries ``optax.join_schedules`` is ``fastsched.join`` (which also takes per-config
boundaries); the preset takes what optax takes besides: a later, smaller boundary wins, a negative one shifts its
schedule's count, and schedules or boundaries left over are ignored (with a warning; optax says nothing).

Where jitted optax is off from its own formula, these keep to the formula (optax's unjitted ``schedule(t)``): XLA
turns x / T into x * fl(1/T), so (1) a polynomial_schedule with a fractional power is NaN or ~1e-8 instead of
``end_value`` from the end of its transition (1 - T * fl(1/T) is +-2**-54, not 0): here it is ``end_value``; (2) a
staircase exponential_decay stays on stair k - 1 at the one count t - begin = k * T where k * T * fl(1/T) rounds
below k (T = 49, 98, 103, ...: 31 of T = 1..499): here it is floor((t - begin) / T). What optax accepts but computes
as NaN or inf (a negative ``power`` or ``exponent``, a negative ``decay_rate`` without ``staircase``, overflowing
products of scales) is refused, naming the parameter.
"""

from __future__ import annotations

import math
from typing import Any

from ..registry import REQUIRED, Parameter, Preset
from ..segments import INF, Item, Segment, is_array, item_start, maximum, minimum, plain, where, with_start
from ..warn import warn

LIBRARY = "optax"
REFERENCE = "{} (optax 0.2.8, jax 0.10.2: jitted, x64, int64 counts)"
# float32 output is the float64 value rounded once: it is as far from optax's float32 values as optax's float32 is
# from its own float64, plus half a float32 ulp (optax's float32 error has no fixed bound in ulps: a fractional
# power or a float32 decay_rate raised to count / T amplifies float32 rounding; tests/test_presets_optax.py).
TOLERANCE = "1e-12 x max(1, abs(value)) vs optax x64; float32: optax's own float32 error + 1/2 float32 ulp"
# the steps left out of the comparison: where jitted optax is off from its own formula (the module's docstring)
STAIRCASE_TOLERANCE = f"{TOLERANCE}; staircase: floor(t / T) where jitted optax steps a count late"
POWER_TOLERANCE = f"{TOLERANCE}; fractional power: end_value where jitted optax is NaN or ~1e-8"
ABSOLUTE = "absolute: base_lr x optax's value"


def _preset(function: str, parameters: tuple[Parameter, ...], summary: str, tolerance: str = TOLERANCE) -> Preset:
    return Preset(
        f"{LIBRARY}.{function}",
        LIBRARY,
        parameters,
        f"{summary} ({ABSOLUTE})",
        builder=f"{__name__}:{function}",
        reference=REFERENCE.format(f"optax.{function}"),
        tolerance=tolerance,
    )


def _value(name: str, default: Any = REQUIRED, help: str = "") -> Parameter:
    return Parameter(name, "float", default, help, signed=True)


_INIT = _value("init_value", help="value at count 0")
_END = _value("end_value", help="value at the end of the transition")
_PEAK = _value("peak_value", help="value at the end of the warmup")
_TRANSITION = Parameter("transition_steps", "count", help="steps of the transition (<= 0: constant init_value)")
_BEGIN = Parameter("transition_begin", "count", 0, "steps before the transition starts (< 0: 0)")
_WARMUP = Parameter("warmup_steps", "count", help="steps of linear warmup from init_value to peak_value")
_SCALES = Parameter(  # signed: a negative scale is refused by the builder, in optax's words
    "boundaries_and_scales",
    "mapping",
    None,
    "{step: scale}: from each step on, the value is multiplied by its scale",
    signed=True,
)
_DECAY_RATE = _value("decay_rate", help="factor per transition_steps steps")
_STAIRCASE = Parameter("staircase", "flag", False, "decay in whole transitions (floor of the exponent)")
_DECAY_END = _value("end_value", None, "bound of the decay: a floor when decay_rate < 1, a ceiling otherwise")
_PCT_START = _value("pct_start", 0.3, "fraction of transition_steps rising to peak_value")
_DIV = Parameter("div_factor", "float", 25.0, "the first value is peak_value / div_factor")
_FINAL_DIV = Parameter("final_div_factor", "float", 1e4, "the last value is the first / final_div_factor")
_EXPONENT = Parameter("exponent", "float", 1.0, "power of the cosine decay")

_SGDR_CHILD = "optax.warmup_cosine_decay_schedule"

PRESETS = (
    _preset("constant_schedule", (_value("value", help="the value at every count"),), "value at every count"),
    _preset(
        "linear_schedule",
        (_INIT, _END, _TRANSITION, _BEGIN),
        "init_value until transition_begin, then linear to end_value over transition_steps, then end_value",
    ),
    _preset(
        "cosine_decay_schedule",
        (
            _INIT,
            Parameter("decay_steps", "count", help="steps of the cosine decay (> 0)"),
            _value("alpha", 0.0, "final value as a fraction of init_value"),
            _EXPONENT,
        ),
        "init_value * ((1 - alpha) * (0.5 * (1 + cos(pi * t / decay_steps)))**exponent + alpha), held from "
        "decay_steps on",
    ),
    _preset(
        "warmup_cosine_decay_schedule",
        (
            _INIT,
            _PEAK,
            _WARMUP,
            Parameter("decay_steps", "count", help="steps of warmup and decay together (> warmup_steps)"),
            _value("end_value", 0.0, "value at decay_steps and after"),
            _EXPONENT,
        ),
        "linear warmup to peak_value, then cosine decay to end_value at decay_steps (which counts the warmup)",
    ),
    _preset(
        "warmup_constant_schedule",
        (_INIT, _PEAK, _WARMUP),
        "linear warmup from init_value to peak_value, then peak_value (warmup_steps <= 0: init_value)",
    ),
    _preset(
        "warmup_exponential_decay_schedule",
        (_INIT, _PEAK, _WARMUP, _TRANSITION, _DECAY_RATE, _BEGIN, _STAIRCASE, _DECAY_END),
        "linear warmup to peak_value, then exponential_decay from peak_value (its count restarts at warmup_steps)",
        STAIRCASE_TOLERANCE,
    ),
    _preset(
        "exponential_decay",
        (_INIT, _TRANSITION, _DECAY_RATE, _BEGIN, _STAIRCASE, _DECAY_END),
        "init_value until transition_begin, then init_value * decay_rate ** (t / transition_steps), bounded by "
        "end_value",
        STAIRCASE_TOLERANCE,
    ),
    _preset(
        "polynomial_schedule",
        (_INIT, _END, Parameter("power", "float", help="power of the polynomial"), _TRANSITION, _BEGIN),
        "init_value until transition_begin, then (init - end) * (1 - t / transition_steps)**power + end, then "
        "end_value",
        POWER_TOLERANCE,
    ),
    _preset(
        "piecewise_constant_schedule",
        (_INIT, _SCALES),
        "init_value, multiplied by each boundary's scale from that boundary on",
    ),
    _preset(
        "piecewise_interpolate_schedule",
        (
            Parameter("interpolate_type", "choice", help="linear or cosine", choices=("linear", "cosine")),
            _INIT,
            _SCALES,
        ),
        "interpolates from step 0 through the accumulated values init, init*s1, init*s1*s2, ... at the boundaries",
    ),
    _preset(
        "sgdr_schedule",
        (
            Parameter(
                "cosine_kwargs",
                "kwargs",
                help="one dict of warmup_cosine_decay_schedule's parameters per cycle",
                choices=(_SGDR_CHILD,),
            ),
        ),
        "warmup-cosine cycles one after another, each decay_steps long; the last holds its end value",
    ),
    _preset(
        "linear_onecycle_schedule",
        (
            Parameter("transition_steps", "count", help="steps of the cycle (> 0)"),
            _PEAK,
            _PCT_START,
            _value("pct_final", 0.85, "fraction of transition_steps at which the value is back at the first"),
            _DIV,
            _FINAL_DIV,
        ),
        "linear from peak_value / div_factor up to peak_value, back down, then to the first / final_div_factor",
    ),
    _preset(
        "cosine_onecycle_schedule",
        (Parameter("transition_steps", "count", help="steps of the cycle (> 0)"), _PEAK, _PCT_START, _DIV, _FINAL_DIV),
        "cosine from peak_value / div_factor up to peak_value, then down to peak / (div * final_div)",
    ),
    _preset(
        "join_schedules",
        (
            Parameter("schedules", "schedules", help="the schedules (objects, preset names or specs), in order"),
            Parameter("boundaries", "counts", help="the step at which each next schedule takes over"),
        ),
        "schedule i from boundaries[i - 1] on, seeing the step minus that boundary (a later boundary wins)",
        f"{TOLERANCE}; its schedules' own",
    ),
)


# -- builders: optax's operations, in its order where a shape allows (kernels/shapes.py) -------------------------------


def constant_schedule(p: dict[str, Any], context: Any) -> list[Item]:
    return [Segment("constant", -INF, scale=p["value"])]


def linear_schedule(p: dict[str, Any], context: Any) -> list[Item]:
    return _polynomial(p["init_value"], p["end_value"], 1.0, p["transition_steps"], p["transition_begin"])


def polynomial_schedule(p: dict[str, Any], context: Any) -> list[Item]:
    return _polynomial(p["init_value"], p["end_value"], p["power"], p["transition_steps"], p["transition_begin"])


def warmup_constant_schedule(p: dict[str, Any], context: Any) -> list[Item]:
    return _polynomial(p["init_value"], p["peak_value"], 1.0, p["warmup_steps"], 0.0)


def cosine_decay_schedule(p: dict[str, Any], context: Any) -> list[Item]:
    return _cosine_decay(p["init_value"], p["decay_steps"], p["alpha"], p["exponent"])


def warmup_cosine_decay_schedule(p: dict[str, Any], context: Any) -> list[Item]:
    init, peak, warmup_steps, decay_steps = p["init_value"], p["peak_value"], p["warmup_steps"], p["decay_steps"]
    end = p["end_value"]
    # alpha = 0.0 if peak_value == 0.0 else end_value / peak_value (no division by a zero peak in a sweep either)
    alpha = where(peak == 0.0, 0.0, end / where(peak == 0.0, 1.0, peak))
    _check(_finite(alpha), "peak_value", peak, "must not be so small that end_value / peak_value overflows")
    warmup = _polynomial(init, peak, 1.0, warmup_steps, 0.0)
    decay = _cosine_decay(peak, decay_steps - warmup_steps, alpha, p["exponent"])
    return _joined([warmup, decay], [warmup_steps])


def exponential_decay(p: dict[str, Any], context: Any) -> list[Item]:
    return _exponential(
        p["init_value"], p["transition_steps"], p["decay_rate"], p["transition_begin"], p["staircase"], p["end_value"]
    )


def warmup_exponential_decay_schedule(p: dict[str, Any], context: Any) -> list[Item]:
    warmup = _polynomial(p["init_value"], p["peak_value"], 1.0, p["warmup_steps"], 0.0)
    decay = _exponential(
        p["peak_value"], p["transition_steps"], p["decay_rate"], p["transition_begin"], p["staircase"], p["end_value"]
    )
    return _joined([warmup, decay], [p["warmup_steps"]])


def piecewise_constant_schedule(p: dict[str, Any], context: Any) -> list[Item]:
    pairs = sorted(p["boundaries_and_scales"] or ())
    _check_scales("piecewise_constant_schedule", pairs)
    items = [Segment("constant", -INF, scale=p["init_value"])]
    value = p["init_value"]
    for boundary, scale in pairs:  # optax: v * indicator + (1 - indicator) * scale * v, i.e. scale * v from boundary on
        value = scale * value
        _check(_finite(value), "boundaries_and_scales", scale, "must keep the products of the scales finite")
        items.append(Segment("constant", boundary, scale=value))
    return items


def piecewise_interpolate_schedule(p: dict[str, Any], context: Any) -> list[Item]:
    pairs = sorted(p["boundaries_and_scales"] or ())
    _check_scales("piecewise_interpolate_schedule", pairs)
    return _interpolated(p["interpolate_type"], p["init_value"], pairs, "boundaries_and_scales")


def linear_onecycle_schedule(p: dict[str, Any], context: Any) -> list[Item]:
    def scales(transition_steps: float, pct_start: float, pct_final: float, div: float, final_div: float) -> dict:
        return {
            int(pct_start * transition_steps): div,
            int(pct_final * transition_steps): 1.0 / div,
            transition_steps: 1.0 / final_div,
        }

    columns = (p["transition_steps"], p["pct_start"], p["pct_final"], p["div_factor"], p["final_div_factor"])
    return _onecycle("linear", p["peak_value"], columns, scales)


def cosine_onecycle_schedule(p: dict[str, Any], context: Any) -> list[Item]:
    def scales(transition_steps: float, pct_start: float, div: float, final_div: float) -> dict:
        return {int(pct_start * transition_steps): div, int(transition_steps): 1.0 / (div * final_div)}

    columns = (p["transition_steps"], p["pct_start"], p["div_factor"], p["final_div_factor"])
    return _onecycle("cosine", p["peak_value"], columns, scales)


def sgdr_schedule(p: dict[str, Any], context: Any) -> list[Item]:
    cycles = p["cosine_kwargs"]
    if not cycles:  # optax builds it, then fails with an IndexError at its first count
        raise ValueError("`cosine_kwargs` must hold at least one cycle (a dict of warmup_cosine_decay_schedule's)")
    parts, boundaries, step = [], [], 0.0
    for cycle in cycles:
        parts.append(_built(cycle, context))
        step = step + _parameter(cycle, "decay_steps")
        boundaries.append(step)
    return _joined(parts, boundaries[:-1])


def join_schedules(p: dict[str, Any], context: Any) -> list[Item]:
    schedules, boundaries = p["schedules"], list(p["boundaries"])
    if not schedules:  # optax builds it, then fails with an IndexError at its first count
        raise ValueError("`schedules` must hold at least one schedule")
    used = min(len(schedules), len(boundaries) + 1)
    if len(schedules) != len(boundaries) + 1:  # optax zips them and says nothing
        unused = (
            f"the last {len(schedules) - used} of `schedules`"
            if len(schedules) > used
            else f"the last {len(boundaries) - used + 1} of `boundaries`"
        )
        warn(
            f"optax.join_schedules takes one boundary fewer than schedules; got {len(schedules)} schedules and "
            f"{len(boundaries)} boundaries: {unused} are ignored, as optax ignores them"
        )
    return _joined([_built(schedule, context) for schedule in schedules[:used]], boundaries[: used - 1])


# -- the pieces optax composes its schedules of ---------------------------------------------------------------------


def _polynomial(init: Any, end: Any, power: Any, transition_steps: Any, transition_begin: Any) -> list[Item]:
    """optax's polynomial_schedule: (init - end) * frac**power + end, frac = 1 - clip(t - begin, 0, T) / T; a
    constant init_value when T <= 0. Before begin that is (init - end) * 1 + end (not always init, bit for bit)."""
    flat = transition_steps <= 0  # optax returns `lambda count: init_value`
    begin = maximum(transition_begin, 0.0)
    decay = init - end
    head = Segment("constant", -INF, scale=where(flat, init, decay), offset=where(flat, 0.0, end))
    ramp = Segment(
        "polynomial",
        where(flat, INF, begin),
        origin=begin,
        end=begin + transition_steps,
        span=where(flat, 1.0, transition_steps),
        p0=power,
        scale=decay,
        offset=end,
    )
    # frac = 0 from begin + T on: 0**power is 0, or 1 for power 0 (jitted optax can leave a residue there: formulas.md)
    tail = Segment("constant", where(flat, INF, begin + transition_steps), scale=decay * _zero_power(power) + end)
    return [head, ramp, tail]


def _exponential(init: Any, transition_steps: Any, rate: Any, begin: Any, staircase: Any, end: Any) -> list[Item]:
    """optax's exponential_decay: init until begin, then init * rate ** ((t - begin) / T) (floored with staircase),
    bounded by end_value (a floor when rate < 1, a ceiling otherwise, the init_value included); a constant
    init_value when T <= 0 or rate == 0."""
    _check(
        _true(staircase) | (rate >= 0.0),
        "decay_rate",
        rate,
        "must be non-negative unless `staircase` (a negative rate to a fractional power is NaN)",
    )
    flat = (transition_steps <= 0) | (rate == 0.0)
    begin = maximum(begin, 0.0)
    if end is None:
        bound, bounded_init = where(rate < 1.0, -INF, INF), init  # max(x, -inf) / min(x, inf): no bound
    else:
        bound = end
        bounded_init = where(rate < 1.0, maximum(init, end), minimum(init, end))
    head = Segment("constant", -INF, scale=where(flat, init, bounded_init))
    # t = begin gives rate ** 0 = 1: init, as optax's where(t <= 0, init, ...) does
    decay = Segment(
        "exponential",
        where(flat, INF, begin),
        origin=begin,
        span=where(flat, 1.0, transition_steps),
        p0=rate,
        p1=where(staircase, 1.0, 0.0),
        p2=bound,
        scale=init,
    )
    return [head, decay]


def _cosine_decay(init: Any, decay_steps: Any, alpha: Any, exponent: Any) -> list[Item]:
    """optax's cosine_decay_schedule: init * ((1 - alpha) * (0.5 * (1 + cos(pi * min(t, T) / T)))**exponent + alpha)."""
    bad = ~_true(decay_steps > 0)
    if _any(bad):
        shown = _shown(_first(bad, decay_steps))
        raise ValueError(f"The cosine_decay_schedule requires positive decay_steps, got decay_steps={shown}.")
    # cosine_powers makes pow calls: only where the exponent needs them (a sweep: a list of names, one per config)
    shape = [_cosine_shape(e) for e in exponent] if is_array(exponent) else _cosine_shape(exponent)
    decay = Segment(
        shape, -INF, span=decay_steps, p0=0.5, p1=1.0, p2=exponent, scale=1.0 - alpha, offset=alpha, post_scale=init
    )
    tail = Segment("constant", decay_steps, scale=init * ((1.0 - alpha) * _zero_power(exponent) + alpha))
    return [decay, tail]


def _interpolated(kind: Any, init: Any, pairs: list[tuple[Any, Any]], name: str) -> list[Item]:
    """optax's piecewise_interpolate_schedule: from each bound (0, then the sorted boundaries) to the next, the
    accumulated values init, init*s1, init*s1*s2, ... interpolated over max(next - bound, 1) steps; the last value
    from the last boundary on. Bounds and scales are scalars or (padded, per-config) arrays."""
    bounds, values = [0.0], [init]
    for boundary, scale in pairs:
        bounds.append(boundary)
        values.append(values[-1] * scale)  # jnp.cumprod's left-to-right products
        _check(_finite(values[-1]), name, scale, "must keep the products of the scales finite")
    linear = kind == "linear" if isinstance(kind, str) else _true(kind == "linear")  # kind: an object array
    shape = _INTERPOLATION_SHAPES[kind] if isinstance(kind, str) else [_INTERPOLATION_SHAPES[k] for k in kind]
    items: list[Item] = []
    for i in range(len(pairs)):
        start, end = values[i], values[i + 1]
        low = bounds[i]
        # linear: (end - start) * pct + start; cosine: end + (start - end) / 2.0 * (cos(pi * pct) + 1), which is
        # the cosine shape's (0.5 * (1 + cos(pi * pct))) * (start - end) + end bit for bit (halving is exact)
        items.append(
            Segment(
                shape,
                low if i else -INF,
                origin=low,
                span=maximum(bounds[i + 1] - low, 1.0),
                p0=0.5,
                scale=where(linear, end - start, start - end),
                offset=where(linear, start, end),
            )
        )
    items.append(Segment("constant", bounds[-1] if pairs else -INF, scale=values[-1]))
    return items


_INTERPOLATION_SHAPES = {"linear": "linear", "cosine": "cosine"}


def _onecycle(kind: str, peak: Any, columns: tuple[Any, ...], scales: Any) -> list[Item]:
    """A one-cycle schedule: piecewise_interpolate_schedule(kind, peak / div_factor, scales(*columns)), optax's dict
    (colliding keys merge: the later scale wins). Configs of a sweep may have different keys: each is laid out on
    its own, then padded with empty pieces (scale 1) at its last boundary."""
    transition_steps, div_factor, final_div_factor = columns[0], columns[-2], columns[-1]
    if _any(~_true(transition_steps > 0)):
        raise ValueError("A linear onecycle schedule was set with a non-positive `transition_steps`")  # optax's words
    for name, value in (("div_factor", div_factor), ("final_div_factor", final_div_factor)):
        if _any(value == 0.0):  # optax divides by it in Python
            raise ZeroDivisionError(f"`{name}` must be non-zero: optax divides by it")
    if not any(is_array(column) for column in columns):
        return _interpolated(kind, peak / div_factor, sorted(scales(*columns).items()), "div_factor")
    import numpy as np

    n = max(len(column) for column in columns if is_array(column))
    configs = [sorted(scales(*(plain(c[i]) if is_array(c) else c for c in columns)).items()) for i in range(n)]
    width = max(len(pairs) for pairs in configs)
    padded = [pairs + [(pairs[-1][0], 1.0)] * (width - len(pairs)) for pairs in configs]
    pairs = [(np.array([float(c[j][0]) for c in padded]), np.array([c[j][1] for c in padded])) for j in range(width)]
    return _interpolated(kind, peak / div_factor, pairs, "div_factor")


def _joined(parts: list[list[Item]], boundaries: list[Any]) -> list[Item]:
    """optax's join_schedules: jnp.where(step < boundary, output, schedule(step - boundary)) in list order, so the
    schedule of the last boundary at or before the step holds it, seeing the step minus its own boundary. Schedule
    i covers [min(b_i, b_i+1, ...), min(b_i+1, ...)): a later, smaller boundary empties the ones before it."""
    covers = list(boundaries)
    for i in range(len(covers) - 2, -1, -1):
        covers[i] = minimum(covers[i], covers[i + 1])
    items: list[Item] = []
    for i, part in enumerate(parts):
        low = covers[i - 1] if i else -INF
        high = covers[i] if i < len(covers) else INF
        for item in part:
            moved = item.shifted(boundaries[i - 1]) if i else item
            items.append(with_start(moved, minimum(maximum(item_start(moved), low), high)))
    return items


# -- a schedule parameter's parts (the one place that reads fastsched.schedules' objects) ---------------------------


def _built(schedule: Any, context: Any) -> list[Item]:
    """A "schedules"/"kwargs" parameter's schedule (a fastsched.schedules.Schedule): its items."""
    return schedule.build(context)


def _parameter(schedule: Any, name: str) -> Any:
    """The validated value of a "kwargs" item's required parameter (a fastsched.schedules.PresetSchedule's)."""
    return schedule.values[name]


# -- checks and small helpers (scalars or per-config arrays alike) --------------------------------------------------


def _check_scales(function: str, pairs: list[tuple[Any, Any]]) -> None:
    if not all(scale >= 0.0 for _, scale in pairs):
        raise ValueError(f"`{function}` expects non-negative scale factors")


def _check(ok: Any, name: str, value: Any, requirement: str) -> None:
    """Raise ValueError naming `name` (at the first config where `ok` fails) unless `ok` holds everywhere."""
    bad = ~_true(ok)
    if _any(bad):
        raise ValueError(f"`{name}` {requirement}, got {_shown(_first(bad, value))}")


def _true(condition: Any) -> Any:
    """A condition as a numpy bool (scalar or array), so that ~ and | work on it."""
    import numpy as np

    return np.asarray(condition, dtype=bool) if is_array(condition) else np.bool_(bool(condition))


def _any(condition: Any) -> bool:
    return bool(condition.any()) if is_array(condition) else bool(condition)


def _first(condition: Any, value: Any) -> Any:
    if is_array(condition) and is_array(value):
        return plain(value[int(condition.argmax())])
    return plain(value)


def _shown(value: Any) -> str:
    """A count as optax would show it: whole numbers without a fraction."""
    return repr(int(value)) if isinstance(value, float) and value.is_integer() else repr(value)


def _finite(value: Any) -> Any:
    import numpy as np

    return np.isfinite(value) if is_array(value) else math.isfinite(value)


def _cosine_shape(exponent: float) -> str:
    return "cosine" if exponent == 1.0 else "cosine_powers"


def _zero_power(power: Any) -> Any:
    """0.0 ** power for power >= 0 (1 for power 0), for scalars and arrays."""
    return where(power == 0.0, 1.0, 0.0)
