"""DeepSpeed's schedules, named as DeepSpeed names them (`"deepspeed.<Name>"`), exact to the installed DeepSpeed
(`deepspeed.runtime.lr_schedules`).

Step k is the group's lr while update k is taken: step 0 is what the constructor sets (``get_lr()`` at
``last_batch_iteration = -1``), step k >= 1 the lr after k ``scheduler.step()`` calls, one per update as
DeepSpeed's engine makes them (``last_batch_iteration = k - 1``).

``base_lr`` is the group's lr before the scheduler is built. WarmupCosineLR multiplies it (a ratio schedule), and
WarmupLR's ``warmup_max_lr=None`` means it; the other lrs are absolute (WarmupDecayLR's ``warmup_max_lr``
defaults to 0.001 whatever the group's lr; OneCycle ignores it), given as fractions of base_lr, which must then be
positive. DeepSpeed's unknown ``warmup_type`` (a logged warning, then 'log') is refused here. Momentum parameters
are accepted and never change the lr.
"""

from __future__ import annotations

from typing import Any

from ..registry import REQUIRED, Parameter
from ..segments import INF, Item, Segment, floor, maximum, minimum, where
from ._support import any_true, check_whole, choice_is, first_where, library_preset, log, relative, shape_where

WARMUP_TYPES = ("log", "linear")

_REFERENCE = "deepspeed.runtime.lr_schedules.{} (the constructor's lr, then step() per update)"
_TOLERANCE = "1e-12 of the largest lr (measured worst: 5.6e-16, 8000 configs)"


_WARMUP_NUM_STEPS = Parameter("warmup_num_steps", "count", 1000, "warmup steps (an int; at least 2)", positive=True)


def _warmup_parameters(max_lr_default: Any) -> tuple[Parameter, ...]:
    return (
        Parameter("warmup_min_lr", "float", 0.0, "lr at the start of the warmup (absolute)"),
        Parameter("warmup_max_lr", "float", max_lr_default, "lr at the warmup's end (absolute; None: the group's)"),
        Parameter("warmup_num_steps", "count", 1000, "steps of warmup (an int; at least 2 are taken)", positive=True),
        Parameter("warmup_type", "choice", "log", "'log' or 'linear' warmup", choices=WARMUP_TYPES),
    )


_TOTAL = Parameter("total_num_steps", "count", REQUIRED, "total number of training steps")


_preset = library_preset(__name__, "deepspeed", _REFERENCE, _TOLERANCE)


PRESETS = (
    _preset(
        "WarmupLR",
        _warmup_parameters(None),
        "log or linear warmup from warmup_min_lr to warmup_max_lr, then constant",
        "warmup_lr",
    ),
    _preset(
        "WarmupDecayLR",
        (_TOTAL, *_warmup_parameters(0.001)),
        "log or linear warmup, then linear decay to warmup_min_lr at total_num_steps",
        "warmup_decay_lr",
    ),
    _preset(
        "WarmupCosineLR",
        (
            _TOTAL,
            Parameter("warmup_min_ratio", "float", 0.0, "lr at the start of the warmup, as a fraction of the group's"),
            Parameter(
                "warmup_num_steps", "count", 1000, "steps of warmup (an int; at least 2 are taken)", positive=True
            ),
            Parameter("cos_min_ratio", "float", 0.0001, "lr at the end of the cosine, as a fraction of the group's"),
            Parameter("warmup_type", "choice", "log", "'log' or 'linear' warmup", choices=WARMUP_TYPES),
        ),
        "0 at step 0, log or linear warmup of the group's lr, then cosine decay to cos_min_ratio at total_num_steps",
        "warmup_cosine_lr",
    ),
    _preset(
        "OneCycle",
        (
            Parameter("cycle_min_lr", "float", REQUIRED, "lr at the start and end of the cycle (absolute)"),
            Parameter("cycle_max_lr", "float", REQUIRED, "lr at the top of the cycle (absolute)"),
            Parameter("decay_lr_rate", "float", 0.0, "decay after the cycle: cycle_min_lr / (1 + rate * d / size)"),
            Parameter("cycle_first_step_size", "count", 2000, "steps up (an int)", positive=True),
            Parameter("cycle_second_step_size", "count", None, "steps down (an int; None: cycle_first_step_size)"),
            Parameter("cycle_first_stair_count", "count", 0, "stairs on the way up (0: a ramp)"),
            Parameter("cycle_second_stair_count", "count", None, "stairs on the way down (None: as on the way up)"),
            Parameter("decay_step_size", "count", 0, "steps per decay interval after the cycle (0: no decay)"),
            Parameter("cycle_momentum", "flag", True, "momentum only: never changes the lr"),
            Parameter("cycle_min_mom", "float", 0.8, "momentum only: never changes the lr"),
            Parameter("cycle_max_mom", "float", 0.9, "momentum only: never changes the lr"),
            Parameter("decay_mom_rate", "float", 0.0, "momentum only: never changes the lr"),
        ),
        "one cycle up from cycle_min_lr to cycle_max_lr and down (ramps or stairs), then cycle_min_lr or its decay",
        "one_cycle",
    ),
)


# -- builders ------------------------------------------------------------------------------------------------------


def _warmup_num_steps(p: dict[str, Any]) -> Any:
    """DeepSpeed's max(2, warmup_num_steps), after its check that warmup_num_steps is a positive integer."""
    check_whole("warmup_num_steps", p["warmup_num_steps"], "DeepSpeed")
    return maximum(2.0, p["warmup_num_steps"])


def _ramp(p: dict[str, Any], steps: Any, scale: Any, offset: Any) -> Segment:
    """offset + scale * gamma for steps 1 .. `steps` (iterations 0 .. steps - 1): 'log' gamma = log(iteration + 1)
    * (1 / log(steps)), 'linear' gamma = iteration / steps."""
    log_type = choice_is(p["warmup_type"], "log")
    return Segment(
        shape_where(log_type, "log_ramp", "linear"),
        1.0,
        origin=where(log_type, 0.0, 1.0),  # log: elapsed = step = iteration + 1; linear: (step - 1) / steps
        span=steps,
        p0=1.0 / log(steps),
        scale=scale,
        offset=offset,
    )


def warmup_lr(p: dict[str, Any], context: Any) -> list[Item]:
    steps = _warmup_num_steps(p)
    low = relative(p["warmup_min_lr"], context.reference_lr, "warmup_min_lr")
    high = 1.0 if p["warmup_max_lr"] is None else relative(p["warmup_max_lr"], context.reference_lr, "warmup_max_lr")
    delta = high - low  # min_lr + delta_lr * gamma, gamma 1 after the warmup
    return [Segment("constant", -INF, scale=low), _ramp(p, steps, delta, low),
            Segment("constant", steps + 1.0, scale=delta, offset=low)]  # fmt: skip


def warmup_decay_lr(p: dict[str, Any], context: Any) -> list[Item]:
    steps, total = _warmup_num_steps(p), p["total_num_steps"]
    low = relative(p["warmup_min_lr"], context.reference_lr, "warmup_min_lr")
    delta = relative(p["warmup_max_lr"], context.reference_lr, "warmup_max_lr") - low
    # gamma = max(0, (total - iteration) / max(1, total - warmup)), iteration = step - 1: min_lr from total + 1
    decay = Segment("linear_remaining", steps + 1.0, end=total + 1.0, span=maximum(1.0, total - steps), scale=delta,
                    offset=low)  # fmt: skip
    return [Segment("constant", -INF, scale=low), _ramp(p, steps, delta, low), decay,
            Segment("constant", total + 1.0, scale=low)]  # fmt: skip


def warmup_cosine_lr(p: dict[str, Any], context: Any) -> list[Item]:
    steps, total = _warmup_num_steps(p), p["total_num_steps"]
    warmup_ratio, cos_ratio = p["warmup_min_ratio"], p["cos_min_ratio"]
    # the ratio of the group's lr: warmup_min_ratio + gamma * (1 - warmup_min_ratio), then the cosine from
    # progress (iteration - warmup + 1) / max(1, total - warmup), held at cos_min_ratio from progress 1
    span = maximum(1.0, total - steps)
    cosine = Segment("cosine", steps + 1.0, origin=steps, span=span, p0=0.5, scale=1.0 - cos_ratio, offset=cos_ratio,
                     low=0.0)  # fmt: skip
    return [Segment("constant", -INF, scale=0.0), _ramp(p, steps, 1.0 - warmup_ratio, warmup_ratio), cosine,
            Segment("constant", steps + span, scale=maximum(cos_ratio, 0.0))]  # fmt: skip


def one_cycle(p: dict[str, Any], context: Any) -> list[Item]:
    first = p["cycle_first_step_size"]
    second = first if p["cycle_second_step_size"] is None else p["cycle_second_step_size"]
    check_whole("cycle_first_step_size", first, "fastsched")
    check_whole("cycle_second_step_size", second, "fastsched")
    if any_true(second < 0):
        raise ValueError(f"`cycle_second_step_size` must be non-negative, got {first_where(second < 0, second)}")
    decay_size = p["decay_step_size"]
    if any_true(decay_size < 0):
        raise ValueError(f"`decay_step_size` must be non-negative, got {first_where(decay_size < 0, decay_size)}")
    up = p["cycle_first_stair_count"]
    down = up if p["cycle_second_stair_count"] is None else p["cycle_second_stair_count"]
    low = relative(p["cycle_min_lr"], context.reference_lr, "cycle_min_lr")
    height = relative(p["cycle_max_lr"], context.reference_lr, "cycle_max_lr") - low
    total = first + second
    ratio = first / total
    # The cycle at batch k = step (one batch ahead of last_batch_iteration): cycle_min_lr + height * scale_factor, the
    # scale factor torch's CyclicLR's triangle (shape `cyclic`) or, with a stair count, floor(position * count /
    # size) / count from DeepSpeed's integer batch offset.
    rising = Segment(
        shape_where(up > 0, "stairs_by_position", "cyclic"),
        -INF,
        span=where(up > 0, first, total),
        p0=where(up > 0, up, ratio),
        p1=0.0,  # stairs: by elapsed steps; cyclic: triangular
        scale=height,
        offset=low,
    )
    # At the peak, k = cycle_first_step_size, DeepSpeed picks the half (and its stair count) by x <= step_ratio in
    # floats, x = 1 + k / total_size - floor(1 + k / total_size): the stairs' exact 1 or the triangle's value there.
    quotient = 1.0 + first / total
    stairs_at_peak = where(quotient - floor(quotient) <= ratio, up > 0, down > 0)
    peak = Segment(shape_where(stairs_at_peak, "constant", "cyclic"), first, span=total, p0=ratio, p1=0.0,
                   scale=height, offset=low)  # fmt: skip
    falling = Segment(
        shape_where(down > 0, "stairs_by_position", "cyclic"),
        minimum(first + 1.0, total),
        end=total,
        span=where(down > 0, where(second > 0, second, 1.0), total),
        p0=where(down > 0, down, ratio),
        p1=where(down > 0, 1.0, 0.0),  # stairs: by the steps left (total - k); cyclic: triangular
        scale=height,
        offset=low,
    )
    # batch total_size ends the cycle at cycle_min_lr; then the decay, cycle_min_lr / (1 + rate * (k - total) / size),
    # skipped (cycle_min_lr) where decay_step_size or decay_lr_rate is 0
    skip = (decay_size == 0) | (p["decay_lr_rate"] == 0)
    decay = Segment(
        shape_where(skip, "constant", "inverse_linear"),
        total + 1.0,
        origin=total,
        span=where(skip, 1.0, decay_size),
        p0=p["decay_lr_rate"],
        scale=low,
    )
    return [rising, peak, falling, Segment("constant", total, scale=low), decay]
