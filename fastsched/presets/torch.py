"""torch's schedules, named as torch names them (`"torch.<Name>"`), exact to the installed torch.

What a value is: the lr torch gives a param group at step k (the lr read before the k-th ``optimizer.step()``,
with ``scheduler.step()`` after each update; step 0 is what the constructor leaves), divided by the group's initial
lr (fastsched's ``base_lr``, the reference lr). So ``fastsched.trajectory("torch.StepLR", n, base_lr=X, ...)`` is
the lr of a group whose initial lr is X.

- The relative classes (ConstantLR, LinearLR, StepLR, MultiStepLR, ExponentialLR, PolynomialLR, CosineAnnealingLR,
  CosineAnnealingWarmRestarts) follow torch's closed forms, which torch's stepped (recursive, "chainable") values
  approach to within rounding (formulas.md 1 and 6 state the drift). Where the two forms part on a degenerate count
  (a ``total_iters`` of 0 or with a fraction, a negative or fractional milestone or step size), the values follow the
  stepped form: what training sees. ``eta_min`` is an absolute lr, relative to the reference lr.
- OneCycleLR and CyclicLR set the group's lr from their own parameters: their values are their absolute lrs divided
  by the reference lr (which must then be positive). OneCycleLR's values follow torch up to step ``total_steps``
  (the step torch still allows, extrapolating its last phase); torch raises past it, fastsched holds ``min_lr``
  (``max_lr / div_factor / final_div_factor``) from there on. Their momentum options are accepted and ignored: they
  never change the lr.
- SequentialLR and ChainedScheduler take their children as ``schedulers``: a list of specs (``{"schedule":
  "torch.LinearLR", "start_factor": 0.1}``), names or schedule objects of the classes above. SequentialLR is a join:
  child i takes over at ``milestones[i - 1]`` from its own step 0 (torch's reset to the child's closed form).
  ChainedScheduler is the product of its children's values where that product is a segment (at most one child
  changing between steps where the others hold); the rest is refused, naming the children.

Everything torch refuses is refused with torch's exception type (its message where it has one, or one naming the
parameter where torch crashes part way: a ZeroDivisionError becomes a ValueError at construction).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ..registry import REQUIRED, Parameter, Preset
from ..segments import INF, Cycle, Item, Segment, floor, is_array, item_start, maximum, minimum, plain, where

LIBRARY = "torch"

# The classes whose lr is a function of the group's initial lr (multiplied by it), and those that set it themselves.
RELATIVE = (
    "ConstantLR",
    "LinearLR",
    "StepLR",
    "MultiStepLR",
    "ExponentialLR",
    "PolynomialLR",
    "CosineAnnealingLR",
    "CosineAnnealingWarmRestarts",
)
ABSOLUTE = ("OneCycleLR", "CyclicLR")
COMPOSITIONS = ("SequentialLR", "ChainedScheduler")
# ChainedScheduler multiplies the group's lr by each child's ratio: a product for these (see _chained_factor_error).
MULTIPLICATIVE = ("ConstantLR", "LinearLR", "StepLR", "MultiStepLR", "ExponentialLR", "PolynomialLR")
CYCLIC_MODES = ("triangular", "triangular2", "exp_range")
ANNEAL_STRATEGIES = ("cos", "linear")

_CLOSED = "torch.optim.lr_scheduler.{} (stepped, and its closed form _get_closed_form_lr)"
_STEPPED = "torch.optim.lr_scheduler.{} (stepped)"


def _preset(
    name: str, parameters: tuple[Parameter, ...], summary: str, tolerance: str, *, closed_form: bool = False
) -> Preset:
    return Preset(
        f"torch.{name}",
        LIBRARY,
        parameters,
        summary,
        builder=f"{__name__}:{_builder_name(name)}",
        reference=(_CLOSED if closed_form else _STEPPED).format(name),
        tolerance=tolerance,
        extra={"absolute": name in ABSOLUTE},
    )


def _builder_name(name: str) -> str:
    """CosineAnnealingLR -> cosine_annealing_lr."""
    out = []
    for i, char in enumerate(name):
        if char.isupper() and i and (not name[i - 1].isupper() or (i + 1 < len(name) and name[i + 1].islower())):
            out.append("_")
        out.append(char.lower())
    return "".join(out)


# Tolerances, as |fastsched - torch| <= tolerance x the largest |lr| of the schedule (its scale), with the worst
# measured by tests/test_presets_torch.py's configs (150 per class, to 3x the length; formulas.md 6 has the drift).
_EXACT_CLOSED = (
    "x the largest lr: 1e-12 of torch's closed form (measured: {}); stepped: its recursion's drift, {} (measured {})"
)
_CLOSED_FORM_STEPPED = "x the largest lr: 1e-12 (torch's stepped values are closed forms; measured {})"
_COMPOSED = (
    "x the largest lr or the base lr: its children's (1e-12 of their closed forms; stepped: the sum of their drifts, "
    "measured {})"
)

_FACTOR_TOTAL = Parameter("total_iters", "count", 5, "steps until the factor is lifted", signed=True)
_GAMMA = Parameter("gamma", "float", 0.1, "multiplicative factor of the decay", signed=True)
_ETA_MIN = Parameter("eta_min", "float", 0.0, "minimum lr (absolute)", signed=True)
_CYCLE_MOMENTUM = Parameter("cycle_momentum", "flag", True, "cycles the momentum (accepted; never changes the lr)")

PRESETS: tuple[Preset, ...] = (
    _preset(
        "ConstantLR",
        (
            Parameter("factor", "float", 1.0 / 3, "the lr's factor until total_iters", signed=True),
            _FACTOR_TOTAL,
        ),
        "the lr times factor until total_iters, then the lr",
        _EXACT_CLOSED.format("bit for bit", "1e-15", "1.8e-16"),
        closed_form=True,
    ),
    _preset(
        "LinearLR",
        (
            Parameter("start_factor", "float", 1.0 / 3, "factor at step 0", signed=True),
            Parameter("end_factor", "float", 1.0, "factor from total_iters on", signed=True),
            Parameter("total_iters", "count", 5, "steps of the linear change", signed=True),
        ),
        "the lr times a factor changing linearly from start_factor to end_factor over total_iters",
        _EXACT_CLOSED.format("bit for bit", "2e-14", "8.4e-15"),
        closed_form=True,
    ),
    _preset(
        "StepLR",
        (Parameter("step_size", "count", REQUIRED, "period of the decay", signed=True), _GAMMA),
        "the lr times gamma every step_size steps",
        _EXACT_CLOSED.format("bit for bit", "1e-14", "7.1e-16"),
        closed_form=True,
    ),
    _preset(
        "MultiStepLR",
        (Parameter("milestones", "counts", REQUIRED, "steps where the lr is multiplied by gamma"), _GAMMA),
        "the lr times gamma at each milestone",
        _EXACT_CLOSED.format("bit for bit", "1e-15", "1.4e-16"),
        closed_form=True,
    ),
    _preset(
        "ExponentialLR",
        (Parameter("gamma", "float", REQUIRED, "multiplicative factor per step", signed=True),),
        "the lr times gamma ** step",
        _EXACT_CLOSED.format("bit for bit", "1.2e-16 x (steps + 2), a rounding a step", "3.9e-15 over 1200 steps"),
        closed_form=True,
    ),
    _preset(
        "PolynomialLR",
        (
            Parameter("total_iters", "count", 5, "steps of the decay", signed=True),
            Parameter("power", "float", 1.0, "power of the polynomial", signed=True),
        ),
        "the lr times (1 - step / total_iters) ** power, then 0",
        _EXACT_CLOSED.format("bit for bit", "2e-14", "2.0e-15"),
        closed_form=True,
    ),
    _preset(
        "CosineAnnealingLR",
        (
            Parameter("T_max", "count", REQUIRED, "steps of the half cosine (it continues past them)", signed=True),
            _ETA_MIN,
        ),
        "a cosine from the lr down to eta_min over T_max steps, and back up over the next T_max",
        _EXACT_CLOSED.format(
            "1.4e-15", "2e-15 + 1e-16 x T_max**2 (past T_max a ratio of two small numbers)", "4.5e-12 at T_max 400"
        ),
        closed_form=True,
    ),
    _preset(
        "CosineAnnealingWarmRestarts",
        (
            Parameter("T_0", "count", REQUIRED, "steps of the first cosine"),
            Parameter("T_mult", "count", 1, "each cosine is T_mult times as long as the one before"),
            _ETA_MIN,
        ),
        "cosines from the lr down towards eta_min, restarting after T_0, T_0 * T_mult, ... steps",
        _CLOSED_FORM_STEPPED.format("4.2e-16"),
    ),
    _preset(
        "OneCycleLR",
        (
            Parameter("max_lr", "float", REQUIRED, "peak lr (absolute)"),
            Parameter("total_steps", "count", None, "steps of the cycle (or epochs x steps_per_epoch)"),
            Parameter("epochs", "count", None, "epochs, with steps_per_epoch, if total_steps is not given"),
            Parameter("steps_per_epoch", "count", None, "steps per epoch, with epochs"),
            Parameter("pct_start", "float", 0.3, "fraction of the cycle spent increasing the lr", signed=True),
            Parameter("anneal_strategy", "choice", "cos", "cos or linear annealing", choices=ANNEAL_STRATEGIES),
            _CYCLE_MOMENTUM,
            Parameter("base_momentum", "float", 0.85, "lower momentum (accepted; never changes the lr)", signed=True),
            Parameter("max_momentum", "float", 0.95, "upper momentum (accepted; never changes the lr)", signed=True),
            Parameter("div_factor", "float", 25.0, "initial lr = max_lr / div_factor", signed=True),
            Parameter("final_div_factor", "float", 1e4, "min lr = initial lr / final_div_factor", signed=True),
            Parameter("three_phase", "flag", False, "up, back down to the initial lr, then to the min lr"),
        ),
        "the 1cycle policy: from max_lr / div_factor up to max_lr, then down to the min lr (absolute lrs)",
        _CLOSED_FORM_STEPPED.format("9.9e-16"),
    ),
    _preset(
        "CyclicLR",
        (
            Parameter("base_lr", "float", REQUIRED, "lower lr of the cycle (absolute)"),
            Parameter("max_lr", "float", REQUIRED, "upper lr of the cycle (absolute)"),
            Parameter("step_size_up", "count", 2000, "steps rising"),
            Parameter("step_size_down", "count", None, "steps falling (default step_size_up)"),
            Parameter("mode", "choice", "triangular", "triangular, triangular2 or exp_range", choices=CYCLIC_MODES),
            Parameter("gamma", "float", 1.0, "exp_range's factor per step", signed=True),
            Parameter(
                "scale_mode", "choice", "cycle", "accepted; each mode sets its own", choices=("cycle", "iterations")
            ),
            _CYCLE_MOMENTUM,
            Parameter("base_momentum", "float", 0.8, "lower momentum (accepted; never changes the lr)", signed=True),
            Parameter("max_momentum", "float", 0.9, "upper momentum (accepted; never changes the lr)", signed=True),
        ),
        "triangular cycles between base_lr and max_lr (absolute lrs), halved or decayed per mode",
        _CLOSED_FORM_STEPPED.format("3.7e-16"),
    ),
    _preset(
        "SequentialLR",
        (
            Parameter("schedulers", "schedules", REQUIRED, "the schedules, one after another (specs of torch.*)"),
            Parameter("milestones", "counts", REQUIRED, "steps where the next schedule takes over"),
        ),
        "torch schedules one after another, each from its own step 0 at its milestone",
        _COMPOSED.format("1.5e-12"),
    ),
    _preset(
        "ChainedScheduler",
        (Parameter("schedulers", "schedules", REQUIRED, "the schedules whose factors multiply (specs of torch.*)"),),
        "the product of torch schedules' factors (where at most one changes at a time)",
        _COMPOSED.format("2.2e-15"),
    ),
)


# ---------------------------------------------------------------------------------------------------------------
# helpers: every one works on floats and per-config float64 arrays alike
# ---------------------------------------------------------------------------------------------------------------


def _any(condition: Any) -> bool:
    return bool(condition.any()) if is_array(condition) else bool(condition)


def _first(condition: Any, value: Any) -> Any:
    """`value` at the first config where `condition` holds, as a plain number (ints for whole numbers)."""
    if is_array(value):
        value = value[int(condition.argmax())] if is_array(condition) else value[0]
    return _number(value)


def _number(value: Any) -> Any:
    """A number as a message shows it: whole numbers as ints (as a user writes a count)."""
    value = plain(value)
    return int(value) if isinstance(value, float) and value.is_integer() else value


def _refuse(condition: Any, value: Any, message: Callable[[Any], str], error: type[Exception] = ValueError) -> None:
    """Raise `error(message(value))` for the first config where `condition` holds."""
    if _any(condition):
        raise error(message(_first(condition, value)))


def _whole(value: Any) -> Any:
    return floor(value) == value


def _both(a: Any, b: Any) -> Any:
    return a & b if is_array(a) or is_array(b) else a and b


def _either(a: Any, b: Any) -> Any:
    return a | b if is_array(a) or is_array(b) else a or b


def _not(a: Any) -> Any:
    return ~a if is_array(a) else not a


def _relative(name: str, value: Any, reference_lr: Any) -> Any:
    """An absolute lr as a multiple of the reference lr (0 stays 0 whatever the reference)."""
    _refuse(
        _both(value != 0.0, _not(reference_lr > 0.0)),
        reference_lr,
        lambda lr: (
            f"`base_lr` must be positive where `{name}` (an absolute lr) is not 0: the values are multiples of "
            f"base_lr, got base_lr={lr}"
        ),
    )
    safe = where(reference_lr > 0.0, reference_lr, 1.0)
    return where(value == 0.0, 0.0, value / safe)


def _absolute(name: str, reference_lr: Any) -> Any:
    """The reference lr that an absolute schedule's lrs are divided by (refused unless positive)."""
    _refuse(
        _not(reference_lr > 0.0),
        reference_lr,
        lambda lr: (
            f"`base_lr` must be positive for torch.{name}: its lrs are absolute and the values are multiples of "
            f"base_lr (the group's initial lr), got base_lr={lr}"
        ),
    )
    return reference_lr


def _no_bound(gamma: Any) -> Any:
    """The exponential shape's bound column that never binds (it bounds from below when its rate is < 1)."""
    return where(gamma < 1.0, -INF, INF)


def _scalar(name: str, value: Any) -> Any:
    """A value that must be the same for every config (a choice or a flag that changes the segments)."""
    if is_array(value):
        first = plain(value[0])
        if any(plain(v) != first for v in value):
            raise ValueError(f"`{name}` must be one value for every config of a sweep, got {list(value)!r}")
        return first
    return value


# ---------------------------------------------------------------------------------------------------------------
# the relative classes, stepped as `run` says
# ---------------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Run:
    """How a class is stepped: from its construction (alone, or in a ChainedScheduler), or `restart`ed at a milestone
    of a SequentialLR, which sets it to its closed form at step 0 and steps it from there (formulas.md 1.11); and
    for how many of its own steps (a SequentialLR's child runs until the next milestone): torch raises only where a
    step reaches a division by zero."""

    restart: bool = False
    steps: float = INF

    def reaches(self, step: Any) -> Any:
        return step < self.steps


ALONE = Run()


def constant_lr(p: dict[str, Any], context: Any) -> list[Item]:
    return constant_lr_items(p, context, ALONE)


def constant_lr_items(p: dict[str, Any], context: Any, run: Run) -> list[Item]:
    factor, total = p["factor"], p["total_iters"]
    _refuse(
        _either(factor > 1.0, factor < 0.0),
        factor,
        lambda _: "Constant multiplicative factor expected to be between 0 and 1.",
    )
    # Stepped, torch multiplies by 1 / factor at the step equal to total_iters (never at step 0): a whole number >= 1.
    lifted = _both(_whole(total), total >= 1.0)
    # 1 / factor is inf for 0 (ZeroDivisionError) and subnormal factors (the lr becomes NaN or inf)
    no_reciprocal = factor <= 2.0**-1024  # (1 / 2**-1024 is inf; 1 / the next float up is not)
    _refuse(
        _both(_both(lifted, no_reciprocal), run.reaches(total)),
        total,
        lambda steps: (
            f"`factor` must not be 0 (nor so small that 1 / factor overflows) with total_iters={steps}: torch's "
            "ConstantLR divides by it at step total_iters (ZeroDivisionError, or an lr of NaN)"
        ),
    )
    restored = factor + (1.0 - factor)  # torch's closed form: factor + (k >= total_iters) * (1 - factor)
    first = where(total <= 0.0, restored, factor) if run.restart else factor
    last = where(lifted, restored, first)
    return [Segment("constant", -INF, scale=first), Segment("constant", total, scale=last)]


def _over_total_iters(total: Any, run: Run, closed_form: Callable[[Any, Any], Any]) -> tuple[Any, Any, Any]:
    """(span, reached, last) of LinearLR's and PolynomialLR's change over total_iters: torch's stepped factor changes
    at steps 1 .. total_iters (whole steps; none for total_iters < 1), so it holds closed_form(reached, total_iters)
    from `reached` on (closed_form(min(total_iters, k), total_iters) is torch's closed form, in torch's operations)."""
    if run.restart:
        _refuse(
            total == 0.0,
            total,
            lambda _: (
                "`total_iters` must not be 0 in a SequentialLR after its first milestone: torch's closed form "
                "divides by it there (ZeroDivisionError)"
            ),
        )
    span = where(total > 0.0, total, 1.0)
    reached = where(total >= 1.0, floor(maximum(total, 1.0)), 0.0)
    last = closed_form(reached, span)
    if run.restart:  # a negative total_iters: the closed form at 0, closed_form(total_iters, total_iters), held
        held = total < 0.0
        last = where(held, closed_form(total, where(held, total, 1.0)), last)
        reached = where(held, -INF, reached)
    return span, reached, last


def linear_lr(p: dict[str, Any], context: Any) -> list[Item]:
    return linear_lr_items(p, context, ALONE)


def linear_lr_items(p: dict[str, Any], context: Any, run: Run) -> list[Item]:
    start, end, total = p["start_factor"], p["end_factor"], p["total_iters"]
    _refuse(
        _either(start > 1.0, start <= 0.0),
        start,
        lambda _: "Starting multiplicative factor expected to be greater than 0 and less or equal to 1.",
    )
    _refuse(
        _either(end > 1.0, end < 0.0), end, lambda _: "Ending multiplicative factor expected to be between 0 and 1."
    )
    span, reached, last = _over_total_iters(total, run, lambda k, t: start + (end - start) * k / t)
    ramp = Segment("linear_lerp", -INF, span=span, scale=end - start, offset=start)
    return [ramp, Segment("constant", reached, scale=last)]


def step_lr(p: dict[str, Any], context: Any) -> list[Item]:
    return step_lr_items(p, context, ALONE)


def step_lr_items(p: dict[str, Any], context: Any, run: Run) -> list[Item]:
    size, gamma = p["step_size"], p["gamma"]
    # alone, torch first divides by step_size at step 1; restarted, its closed form does at step 0
    _refuse(
        _both(size == 0.0, _either(run.restart, run.reaches(1.0))),
        size,
        lambda _: "`step_size` must not be 0: torch's StepLR takes the step modulo step_size (ZeroDivisionError)",
    )
    # Stepped, torch multiplies by gamma at the steps k > 0 with k % step_size == 0: the multiples of the numerator of
    # step_size as a fraction (step_size itself when it is a whole number; its closed form agrees there).
    period = where(size == 0.0, 1.0, _decay_period(size))  # (a 0 no step reaches: gamma ** 0 at step 0)
    return [Segment("exponential", -INF, span=period, p0=gamma, p1=1.0, p2=_no_bound(gamma))]


def _decay_period(size: Any) -> Any:
    if is_array(size):
        import numpy as np

        return np.array([abs(float(s).as_integer_ratio()[0]) for s in size], dtype=np.float64)
    return float(abs(float(size).as_integer_ratio()[0]))


def multi_step_lr(p: dict[str, Any], context: Any) -> list[Item]:
    return multi_step_lr_items(p, context, ALONE)


def multi_step_lr_items(p: dict[str, Any], context: Any, run: Run) -> list[Item]:
    milestones, gamma = p["milestones"], p["gamma"]
    # Stepped, torch multiplies by gamma ** count at a step in its Counter of milestones: whole milestones >= 0
    # (0 at construction). Restarted, its closed form at 0 counts every milestone <= 0 first.
    whole = [m for m in milestones if float(m).is_integer()]
    if run.restart:
        decays = sum(1 for m in milestones if m <= 0.0)
        later = sorted(m for m in whole if m >= 1.0)
    else:
        decays = sum(1 for m in whole if m == 0.0)
        later = sorted(m for m in whole if m >= 1.0)
    items: list[Item] = [Segment("constant", -INF, scale=gamma**decays)]
    for milestone in sorted(set(later)):
        decays += later.count(milestone)
        items.append(Segment("constant", milestone, scale=gamma**decays))  # torch: base_lr * gamma ** count
    return items


def exponential_lr(p: dict[str, Any], context: Any) -> list[Item]:
    return exponential_lr_items(p, context, ALONE)


def exponential_lr_items(p: dict[str, Any], context: Any, run: Run) -> list[Item]:
    gamma = p["gamma"]
    return [Segment("exponential", -INF, p0=gamma, p1=0.0, p2=_no_bound(gamma))]  # gamma ** k


def polynomial_lr(p: dict[str, Any], context: Any) -> list[Item]:
    return polynomial_lr_items(p, context, ALONE)


def polynomial_lr_items(p: dict[str, Any], context: Any, run: Run) -> list[Item]:
    total, power = p["total_iters"], p["power"]
    reaches_zero = _both(_whole(total), total >= 1.0)
    _refuse(
        _both(_both(reaches_zero, power < 0.0), run.reaches(total)),
        power,
        lambda value: (
            f"`power` must not be negative, got {value}: torch's PolynomialLR raises 0.0 to it at step "
            "total_iters (ZeroDivisionError)"
        ),
    )
    span, reached, last = _over_total_iters(total, run, lambda k, t: (1.0 - k / t) ** power)
    decay = Segment("polynomial", -INF, span=span, p0=power)
    return [decay, Segment("constant", reached, scale=last)]


def cosine_annealing_lr(p: dict[str, Any], context: Any) -> list[Item]:
    return cosine_annealing_lr_items(p, context, ALONE)


def cosine_annealing_lr_items(p: dict[str, Any], context: Any, run: Run) -> list[Item]:
    period, eta_min = p["T_max"], p["eta_min"]
    _refuse(
        _both(period == 0.0, _either(run.restart, run.reaches(1.0))),
        period,
        lambda _: (
            "`T_max` must not be 0: torch's CosineAnnealingLR divides by it (ZeroDivisionError at step 1, or "
            "at its milestone in a SequentialLR)"
        ),
    )
    period = where(period == 0.0, 1.0, period)  # (a 0 no step reaches: the lr at step 0)
    floor_ratio = _relative("eta_min", eta_min, context.reference_lr)
    # eta_min + (base_lr - eta_min) * (1 + cos(pi * k / T_max)) / 2, past T_max too
    return [Segment("cosine", -INF, span=period, p0=0.5, scale=1.0 - floor_ratio, offset=floor_ratio)]


def cosine_annealing_warm_restarts(p: dict[str, Any], context: Any) -> list[Item]:
    return cosine_annealing_warm_restarts_items(p, context, ALONE)


def cosine_annealing_warm_restarts_items(p: dict[str, Any], context: Any, run: Run) -> list[Item]:
    first, mult, eta_min = p["T_0"], p["T_mult"], p["eta_min"]
    _refuse(_either(first <= 0.0, _not(_whole(first))), first, lambda v: f"Expected positive integer T_0, but got {v}")
    _refuse(_either(mult < 1.0, _not(_whole(mult))), mult, lambda v: f"Expected integer T_mult >= 1, but got {v}")
    floor_ratio = _relative("eta_min", eta_min, context.reference_lr)
    # Stepped, torch counts T_cur = 0 .. T_i - 1 in cycles of T_i = T_0 * T_mult ** i: a cosine per cycle
    cosine = Segment("cosine", 0.0, span=first, p0=0.5, scale=1.0 - floor_ratio, offset=floor_ratio)
    return [Cycle([cosine], 0.0, first, mul=mult)]


# ---------------------------------------------------------------------------------------------------------------
# the absolute classes
# ---------------------------------------------------------------------------------------------------------------


def one_cycle_lr(p: dict[str, Any], context: Any) -> list[Item]:
    total = _one_cycle_total(p)
    pct, three_phase = p["pct_start"], _scalar("three_phase", p["three_phase"])
    # torch builds its phases here, then checks pct_start (OneCycleLR.__init__)
    ends = [pct * total - 1.0]  # float(pct_start * total_steps) - 1
    if three_phase:
        ends.append(2.0 * pct * total - 2.0)  # float(2 * pct_start * total_steps) - 2
    ends.append(total - 1.0)
    _refuse(
        _either(pct < 0.0, pct > 1.0), pct, lambda value: f"Expected float between 0 and 1 pct_start, but got {value}"
    )
    div, final_div = p["div_factor"], p["final_div_factor"]
    for name, value in (("div_factor", div), ("final_div_factor", final_div)):
        _refuse(
            value == 0.0, value, lambda _, n=name: f"`{n}` must not be 0: torch's OneCycleLR divides by it "
            "(ZeroDivisionError)"
        )  # fmt: skip
    starts = [0.0, *ends[:-1]]
    # A phase of no length divides 0 by 0 where a step lands in it: the first at step 0 when it ends there, the last
    # at step total_steps (which torch still computes) when it starts at total_steps - 1.
    _refuse(
        ends[0] == 0.0,
        pct,
        lambda value: (
            f"`pct_start` {value} makes torch's first OneCycleLR phase end at step 0: torch divides 0 by 0 "
            "there (ZeroDivisionError)"
        ),
    )
    _refuse(
        _both(ends[-1] - starts[-1] == 0.0, total > max_of(ends[:-1])),
        pct,
        lambda value: (
            f"`pct_start` {value} makes torch's last OneCycleLR phase start at step total_steps - 1: torch "
            "divides 0 by 0 at step total_steps (ZeroDivisionError)"
        ),
    )
    max_lr = p["max_lr"]
    initial = max_lr / div  # group["initial_lr"]
    min_lr = initial / final_div  # group["min_lr"]
    if three_phase:
        lrs = [(initial, max_lr), (max_lr, initial), (initial, min_lr)]
    else:
        lrs = [(initial, max_lr), (max_lr, min_lr)]
    reference_lr = _absolute("OneCycleLR", context.reference_lr)
    cos = p["anneal_strategy"] == "cos" if isinstance(p["anneal_strategy"], str) else _cos_mask(p["anneal_strategy"])
    return one_cycle_items(total, ends, lrs, cos, reference_lr)


def one_cycle_items(
    total: Any, ends: list[Any], values: list[tuple[Any, Any]], cos: Any, reference_lr: Any
) -> list[Item]:
    """OneCycleLR's segments from its phases (torch's _schedule_phases): phase i ends at step ends[i] and anneals
    from values[i][0] to values[i][1] (its lrs, or its momentums), divided by `reference_lr`. Past total_steps,
    where torch raises, the last phase's end value."""
    starts = [0.0, *ends[:-1]]
    past_end = total + 1.0
    items: list[Item] = []
    for i, ((start_step, end_step), (start_value, end_value)) in enumerate(
        zip(zip(starts, ends, strict=True), values, strict=True)
    ):
        first = -INF if i == 0 else minimum(floor(starts[i]) + 1.0, past_end)  # the first step past phase i - 1
        items.append(_anneal(cos, first, start_step, end_step, start_value, end_value, reference_lr))
    items.append(Segment("constant", past_end, scale=values[-1][1] / reference_lr))
    return items


def max_of(values: list[Any]) -> Any:
    out = values[0]
    for value in values[1:]:
        out = maximum(out, value)
    return out


def _cos_mask(strategies: Any) -> Any:
    import numpy as np

    return np.array([s == "cos" for s in strategies])


def _anneal(cos: Any, first: Any, start_step: Any, end_step: Any, start_lr: Any, end_lr: Any, reference_lr: Any) -> Any:
    """One OneCycleLR phase from step `first`: pct = (k - start_step) / (end_step - start_step) and torch's
    _annealing_cos, end + (start - end) / 2.0 * (cos(pi * pct) + 1) (the cosine shape at p0 = 0.5 computes
    ((1 + cos(pi * pct)) * 0.5) * (start - end) + end, the same float), or _annealing_linear, (end - start) * pct
    + start (the linear shape)."""
    span = end_step - start_step
    span = where(span == 0.0, 1.0, span)  # a phase of no length that no step reaches (checked above)
    cosine = {"scale": (start_lr - end_lr) / reference_lr, "offset": end_lr / reference_lr}
    linear = {"scale": (end_lr - start_lr) / reference_lr, "offset": start_lr / reference_lr}
    if isinstance(cos, bool):
        shape, columns = ("cosine", cosine) if cos else ("linear", linear)
    else:
        shape = ["cosine" if c else "linear" for c in cos]  # one shape per config
        columns = {key: where(cos, cosine[key], linear[key]) for key in cosine}
    return Segment(shape, first, origin=start_step, span=span, p0=0.5, **columns)


def _one_cycle_total(p: dict[str, Any]) -> Any:
    """total_steps, or epochs x steps_per_epoch, with torch's checks and messages in its order."""
    total, epochs, per_epoch = p["total_steps"], p["epochs"], p["steps_per_epoch"]
    if total is not None:
        _refuse(
            _either(total <= 0.0, _not(_whole(total))),
            total,
            lambda v: f"Expected positive integer total_steps, but got {v}",
        )
        return total
    if epochs is not None and per_epoch is not None:
        _refuse(
            _either(epochs <= 0.0, _not(_whole(epochs))),
            epochs,
            lambda v: f"Expected positive integer epochs, but got {v}",
        )
        _refuse(
            _either(per_epoch <= 0.0, _not(_whole(per_epoch))),
            per_epoch,
            lambda v: f"Expected positive integer steps_per_epoch, but got {v}",
        )
        return epochs * per_epoch
    raise ValueError("You must define either total_steps OR (epochs AND steps_per_epoch)")


MODE_CODES = {"triangular": 0.0, "triangular2": 1.0, "exp_range": 2.0}  # the cyclic shape's P1


def cyclic_lr(p: dict[str, Any], context: Any) -> list[Item]:
    base_lr, max_lr, gamma = p["base_lr"], p["max_lr"], p["gamma"]
    up = p["step_size_up"]
    down = p["step_size_down"] if p["step_size_down"] is not None else up
    for name, value in (("step_size_up", up), ("step_size_down", down)):
        _refuse(value < 0.0, value, lambda v, n=name: f"`{n}` must be a non-negative number of steps, got {v}")
    _refuse(
        up == 0.0,
        up,
        lambda _: (
            "`step_size_up` must be positive: torch's CyclicLR divides by step_size_up / (step_size_up + "
            "step_size_down) at step 0 (ZeroDivisionError)"
        ),
    )
    total = up + down  # torch: self.total_size = float(step_size_up) + float(step_size_down)
    mode = p["mode"]
    code = MODE_CODES[mode] if isinstance(mode, str) else _mode_codes(mode)
    reference_lr = _absolute("CyclicLR", context.reference_lr)
    return cyclic_items(total, up / total, code, gamma, base_lr, max_lr, reference_lr)


def cyclic_items(total: Any, ratio: Any, code: Any, gamma: Any, low: Any, high: Any, reference_lr: Any) -> list[Item]:
    """CyclicLR's segment: low + (high - low) * scale_factor * scale_fn(cycle or k), divided by `reference_lr`, by
    the cyclic shape (torch's own operations). Its momentum is the same with low = max_momentum, high =
    base_momentum: max_momentum - (max_momentum - base_momentum) * ..., the same float."""
    height, offset = (high - low) / reference_lr, low / reference_lr
    return [Segment("cyclic", -INF, span=total, p0=ratio, p1=code, p2=gamma, scale=height, offset=offset)]


def _mode_codes(modes: Any) -> Any:
    import numpy as np

    return np.array([MODE_CODES[m] for m in modes], dtype=np.float64)


# ---------------------------------------------------------------------------------------------------------------
# the compositions
# ---------------------------------------------------------------------------------------------------------------

_CHILD_BUILDERS: dict[str, Callable[[dict[str, Any], Any, Run], list[Item]]] = {
    "ConstantLR": constant_lr_items,
    "LinearLR": linear_lr_items,
    "StepLR": step_lr_items,
    "MultiStepLR": multi_step_lr_items,
    "ExponentialLR": exponential_lr_items,
    "PolynomialLR": polynomial_lr_items,
    "CosineAnnealingLR": cosine_annealing_lr_items,
    "CosineAnnealingWarmRestarts": cosine_annealing_warm_restarts_items,
}


def _children(value: Any, owner: str) -> list[tuple[str, dict[str, Any]]]:
    """(class name, builder values) of each child of a SequentialLR or ChainedScheduler: schedule objects, specs or
    names of torch's classes (the registry validates each)."""
    from .. import schedules

    if isinstance(value, (str, bytes)) or not isinstance(value, (list, tuple)):
        raise TypeError(
            f"`schedulers` must be a list of torch schedules (specs or schedule objects), got {value!r:.80}"
        )
    if not value:
        raise ValueError(f"{owner} expects at least one scheduler, but got no scheduler.")
    children = []
    for index, entry in enumerate(value):
        child = schedules.as_schedule(entry, f"schedulers[{index}]")
        name = getattr(child, "name", None)
        if not isinstance(child, schedules.PresetSchedule) or not str(name).startswith("torch."):
            raise TypeError(
                f"`schedulers[{index}]` must be a torch schedule (torch.<class>), got {child.to_spec()!r:.120}"
            )
        short = name.removeprefix("torch.")
        if short in COMPOSITIONS:
            raise ValueError(f"`schedulers[{index}]` is a {short}: fastsched's {owner} takes torch's other classes")
        values = {
            parameter.name: child.values.get(parameter.name, None if parameter.required else parameter.default)
            for parameter in child.preset.parameters
        }
        children.append((short, values))
    return children


def sequential_lr(p: dict[str, Any], context: Any) -> list[Item]:
    children = _children(p["schedulers"], "SequentialLR")
    milestones = list(p["milestones"])
    if len(milestones) != len(children) - 1:
        raise ValueError(
            "Sequential Schedulers expects number of schedulers provided to be one more "
            f"than the number of milestone points, but got number of schedulers {len(children)} and the "
            f"number of milestones to be equal to {len(milestones)}"
        )
    for i, milestone in enumerate(milestones):
        previous = milestones[i - 1] if i else 0.0
        if not (float(milestone).is_integer() and milestone > previous):
            raise ValueError(
                f"`milestones` must be whole steps, increasing from above 0, got {[_number(m) for m in milestones]}: "
                "torch's SequentialLR bisects them as given (fastsched supports the increasing ones)"
            )
    for index, (name, _) in enumerate(children):
        if name in ABSOLUTE:
            raise ValueError(
                f"`schedulers[{index}]` is a {name}, which sets the group's lr (and initial_lr) itself: in torch's "
                "SequentialLR the other schedules then depend on construction order; fastsched supports the relative "
                f"classes ({', '.join(RELATIVE)})"
            )
    bounds = [-INF, *milestones, INF]
    items: list[Item] = []
    for i, (name, values) in enumerate(children):
        low, high = bounds[i], bounds[i + 1]
        for item in _CHILD_BUILDERS[name](values, context, Run(restart=i > 0, steps=high - (low if i else 0.0))):
            moved = item.shifted(low) if i else item  # child i sees the step minus its milestone
            items.append(moved.replace(start=minimum(maximum(item_start(moved), low), high)))
    return items


def chained_scheduler(p: dict[str, Any], context: Any) -> list[Item]:
    children = _children(p["schedulers"], "ChainedScheduler")
    if len(children) == 1:
        name, values = children[0]
        if name in ABSOLUTE:
            return _ABSOLUTE_BUILDERS[name](values, context)
        return _CHILD_BUILDERS[name](values, context, ALONE)
    for index, (name, _) in enumerate(children):
        if name not in MULTIPLICATIVE:
            raise ValueError(f"`schedulers[{index}]`: {_chained_factor_error(name)}")
    factors = [(name, _CHILD_BUILDERS[name](values, context, ALONE)) for name, values in children]
    return product_items(factors)


def _chained_factor_error(name: str) -> str:
    if name == "CosineAnnealingLR":
        return (
            "torch's ChainedScheduler is no product with a CosineAnnealingLR: past T_max its recursion adds an amount "
            "at each minimum that the other schedulers' factors don't scale; fastsched chains "
            f"{', '.join(MULTIPLICATIVE)}"
        )
    return (
        f"a {name} sets the group's lr from its own closed form in torch's ChainedScheduler, discarding the other "
        f"schedulers' factors; fastsched chains {', '.join(MULTIPLICATIVE)}"
    )


def product_items(factors: list[tuple[str, list[Item]]]) -> list[Item]:
    """The product of the factors' values as segments: cut at every factor's segment start, each piece is the one
    factor that changes there (its segment scaled by the others' constant values), or a constant; a piece where two
    change is refused."""
    breaks = {0.0}
    for _, items in factors:
        for item in items:
            start = _same_start(item_start(item))
            if math.isfinite(start):
                breaks.add(max(start, 0.0))
    points = sorted(breaks)
    out: list[Item] = []
    for i, first in enumerate(points):
        last = points[i + 1] if i + 1 < len(points) else INF  # the piece covers steps first .. last - 1
        changing: list[tuple[str, Segment]] = []
        constant: Any = 1.0
        for name, items in factors:
            segment = _segment_at(items, first)
            value = _constant_on(segment, first, last)
            if value is None:
                changing.append((name, segment))
            else:
                constant = constant * value
        if len(changing) > 1:
            names = " and ".join(name for name, _ in changing)
            until = "on" if last == INF else f"to step {int(last) - 1}"  # (pieces of one step are constant)
            raise ValueError(
                f"torch.ChainedScheduler: {names} both change from step {int(first)} {until}: their product is not a "
                "segment fastsched computes (it chains schedules where at most one changes at a time, e.g. a warmup "
                "while the others hold)"
            )
        start = -INF if i == 0 else first
        piece = changing[0][1].then_affine(constant, 0.0) if changing else Segment("constant", scale=constant)
        out.append(piece.replace(start=start))
    return out


def _same_start(start: Any) -> float:
    if is_array(start):
        first = float(start[0])
        if not all(float(s) == first or (math.isnan(first) and math.isnan(s)) for s in start):
            raise ValueError(
                "torch.ChainedScheduler: its children's step counts must be the same for every config of a sweep"
            )
        return first
    return float(start)


def _segment_at(items: list[Item], step: float) -> Segment:
    """The factor's segment holding `step` (the last whose start is at or before it)."""
    holding = items[0]
    for item in items[1:]:
        if _same_start(item_start(item)) <= step:
            holding = item
    assert isinstance(holding, Segment)
    return holding


def _constant_on(segment: Segment, first: float, last: float) -> Any:
    """The segment's value if it holds one value over steps first .. last - 1 (a constant, a stair of a staircase,
    or any of the children's shapes over one step), else None."""
    c = segment.columns
    if segment.shape == "constant" or last - first == 1.0:
        return _value_at(segment, first)
    one_stair = (
        segment.shape == "exponential"
        and _all_equal(c["p1"], 1.0)
        and math.isfinite(last)
        and _all_equal(_progress(c, first, stairs=True), _progress(c, last - 1.0, stairs=True))
    )
    return _value_at(segment, first) if one_stair else None


def _progress(c: dict[str, Any], step: float, *, stairs: bool = False) -> Any:
    progress = ((step - c["origin"]) + c["shift"]) / c["span"]
    return floor(progress) if stairs else progress


def _value_at(segment: Segment, step: float) -> Any:
    """The segment's value at `step`, by the operations of its shape in kernels/shapes.py (the shapes the children
    of a ChainedScheduler have)."""
    c, shape = segment.columns, segment.shape
    if shape == "constant":
        value = c["scale"] + c["offset"]
    elif shape == "linear_lerp":
        value = c["offset"] + c["scale"] * ((step - c["origin"]) + c["shift"]) / c["span"]
    elif shape == "polynomial":
        value = ((1.0 - _progress(c, step)) ** c["p0"] * c["scale"] + c["offset"]) / c["p1"]
    elif shape == "exponential":
        value = c["scale"] * c["p0"] ** _progress(c, step, stairs=_all_equal(c["p1"], 1.0)) + c["offset"]
    else:
        raise AssertionError(f"no value of a {shape} segment here")
    return maximum(value, c["low"]) * c["post_scale"] + c["post_offset"]


def _all_equal(a: Any, b: Any) -> bool:
    equal = a == b
    return bool(equal.all()) if is_array(equal) else bool(equal)


_ABSOLUTE_BUILDERS = {"OneCycleLR": one_cycle_lr, "CyclicLR": cyclic_lr}
