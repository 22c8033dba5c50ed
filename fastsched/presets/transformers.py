"""transformers' ten precomputable schedules, named and parametrized as transformers' ``SchedulerType`` does."""

from __future__ import annotations

import math
from typing import Any

from ..registry import Parameter, Preset
from ..segments import Item, Segment, floor, is_array, maximum, plain, where
from ..warn import warn

SHAPE_CHOICES = ("linear", "cosine", "1-sqrt")

_W = Parameter("num_warmup_steps", "count", help="steps of linear warmup from 0")
_T = Parameter("num_training_steps", "count", help="total number of training steps")
_HALF_CYCLE = Parameter("num_cycles", "float", 0.5, "number of cosine waves (0.5: one half-cosine down to 0)")
_MIN_LR = Parameter("min_lr", "float", None, "lr at the bottom of the cosine (absolute; one of min_lr, min_lr_rate)")
_MIN_LR_RATE = Parameter("min_lr_rate", "float", None, "lr at the bottom of the cosine as a fraction of base_lr")


def _preset(name: str, parameters: tuple[Parameter, ...], summary: str) -> Preset:
    return Preset(
        name,
        "transformers",
        parameters,
        summary,
        builder=f"{__name__}:{name}",
        reference="transformers.get_scheduler",
        tolerance="bit for bit (multipliers, schedulers); 1e-12 (trajectory, sweep)",
    )


PRESETS = (
    _preset("constant", (), "the optimizer's lr at every step"),
    _preset("constant_with_warmup", (_W,), "linear warmup, then constant"),
    _preset("linear", (_W, _T), "linear warmup, then linear decay to 0 at num_training_steps"),
    _preset("cosine", (_W, _T, _HALF_CYCLE), "linear warmup, then cosine decay"),
    _preset(
        "cosine_with_restarts",
        (_W, _T, Parameter("num_cycles", "float", 1, "number of hard restarts")),
        "linear warmup, then num_cycles cosine decays, each restarting from the base lr",
    ),
    _preset(
        "polynomial",
        (
            _W,
            _T,
            Parameter("lr_end", "float", 1e-7, "final lr (absolute, below base_lr)"),
            Parameter("power", "float", 1.0, "power of the polynomial decay"),
        ),
        "linear warmup, then polynomial decay from base_lr to lr_end",
    ),
    _preset(
        "inverse_sqrt",
        (
            _W,
            Parameter(
                "timescale", "count", None, "time scale (default num_warmup_steps, or 10000 if 0)", positive=True
            ),
        ),
        "linear warmup, then decay as 1/sqrt(step / timescale)",
    ),
    _preset(
        "cosine_with_min_lr",
        (_W, _T, _HALF_CYCLE, _MIN_LR, _MIN_LR_RATE),
        "linear warmup, then cosine decay to min_lr",
    ),
    _preset(
        "cosine_warmup_with_min_lr",
        (
            _W,
            _T,
            _HALF_CYCLE,
            _MIN_LR,
            _MIN_LR_RATE,
            Parameter("warmup_lr_rate", "float", None, "first warmup lr as a fraction (default: warmup from 1/W)"),
        ),
        "warmup counted from step 1 (or from warmup_lr_rate), then cosine decay to min_lr",
    ),
    _preset(
        "warmup_stable_decay",
        (
            _W,
            Parameter("num_decay_steps", "count", help="steps of the decay phase"),
            Parameter("num_training_steps", "count", None, "warmup + stable + decay steps"),
            Parameter("num_stable_steps", "count", None, "stable-phase steps (wins over num_training_steps)"),
            Parameter("warmup_type", "choice", "linear", "linear, cosine or 1-sqrt", choices=SHAPE_CHOICES),
            Parameter("decay_type", "choice", "cosine", "linear, cosine or 1-sqrt", choices=SHAPE_CHOICES),
            Parameter("min_lr_ratio", "float", 0.0, "lr at the start of warmup and end of decay, as a fraction"),
            _HALF_CYCLE,
        ),
        "warmup, a stable phase at base_lr, then decay to min_lr_ratio",
    ),
)


# -- builders: each preset's segments, in transformers' operations (kernels/shapes.py says whose order each keeps) ---

INF = math.inf
_WARMUP_SHAPES = {"linear": "linear", "cosine": "cosine_rising", "1-sqrt": "sqrt_rising"}
_DECAY_SHAPES = {"linear": "linear_one_minus", "cosine": "cosine", "1-sqrt": "sqrt_falling"}


def _warmup(num_warmup_steps: Any) -> Segment:
    """float(step) / float(max(1, num_warmup_steps)) for step < num_warmup_steps."""
    return Segment("linear", -INF, span=maximum(1.0, num_warmup_steps))


def constant(p: dict[str, Any], context: Any) -> list[Item]:
    return [Segment("constant", -INF)]


def constant_with_warmup(p: dict[str, Any], context: Any) -> list[Item]:
    w = p["num_warmup_steps"]
    return [_warmup(w), Segment("constant", w)]


def linear(p: dict[str, Any], context: Any) -> list[Item]:
    w, t = p["num_warmup_steps"], p["num_training_steps"]
    decay = Segment("linear_remaining", w, end=t, span=maximum(1.0, t - w))
    return [_warmup(w), decay, Segment("constant", t, scale=0.0)]


def _cosine(p: dict[str, Any], min_lr_rate: Any = 0.0) -> Segment:
    w, t = p["num_warmup_steps"], p["num_training_steps"]
    span = maximum(1.0, t - w)
    return Segment("cosine", w, origin=w, end=t, span=span, p0=p["num_cycles"], scale=1.0 - min_lr_rate,
                   offset=min_lr_rate, low=0.0)  # fmt: skip


def cosine(p: dict[str, Any], context: Any) -> list[Item]:
    return [_warmup(p["num_warmup_steps"]), _cosine(p)]


def cosine_with_restarts(p: dict[str, Any], context: Any) -> list[Item]:
    w, t = p["num_warmup_steps"], p["num_training_steps"]
    span = maximum(1.0, t - w)
    restarts = Segment("cosine_restarts", w, origin=w, end=t, span=span, p0=p["num_cycles"], low=0.0)
    return [_warmup(w), restarts, Segment("constant", w + span, scale=0.0)]  # progress >= 1: 0


def polynomial(p: dict[str, Any], context: Any) -> list[Item]:
    w, t, lr_end, power = p["num_warmup_steps"], p["num_training_steps"], p["lr_end"], p["power"]
    lr_init = context.reference_lr
    if not all_true(lr_init > lr_end):
        bad = first_where(~(lr_init > lr_end) if is_array(lr_init > lr_end) else True, lr_end, lr_init)
        raise ValueError(
            f"lr_end ({bad[0]}) must be smaller than initial lr ({bad[1]}): `lr_end` is absolute and the initial lr "
            "is the optimizer's (base_lr)"
        )
    decay_steps = t - w
    decay = Segment("polynomial", w, origin=w, end=t, span=decay_steps, p0=power, p1=lr_init,
                    scale=lr_init - lr_end, offset=lr_end)  # fmt: skip
    # step > num_training_steps: lr_end / lr_init; transformers divides by zero at step T when W == T: the same
    tail = Segment("constant", where(decay_steps == 0.0, w, floor(t) + 1.0), scale=lr_end / lr_init)
    return [_warmup(w), decay, tail]


def inverse_sqrt(p: dict[str, Any], context: Any) -> list[Item]:
    w, timescale = p["num_warmup_steps"], p["timescale"]
    if timescale is None:  # transformers: num_warmup_steps or 10_000
        timescale = where(w != 0.0, w, 10_000.0)
        if not all_true(timescale > 0):
            raise ValueError(
                "`timescale` defaults to `num_warmup_steps`, which must then be positive (or 0, for 10000); "
                f"got num_warmup_steps={first_where(timescale <= 0, w)[0]}"
            )
    decay = Segment("inverse_sqrt", w, origin=w - timescale, span=timescale)  # (step + (timescale - w)) / timescale
    return [_warmup(w), decay]


def _min_lr_rate(p: dict[str, Any], context: Any) -> Any:
    min_lr, min_lr_rate = p["min_lr"], p["min_lr_rate"]
    if min_lr is not None and min_lr_rate is not None:
        raise ValueError("Only one of min_lr or min_lr_rate should be set")
    if min_lr is not None:
        if not all_true(context.reference_lr > 0):
            raise ValueError("`base_lr` must be positive when `min_lr` is given (min_lr is relative to it)")
        return min_lr / context.reference_lr
    if min_lr_rate is None:
        raise ValueError("One of min_lr or min_lr_rate should be set through the `lr_scheduler_kwargs`")
    return min_lr_rate


def cosine_with_min_lr(p: dict[str, Any], context: Any) -> list[Item]:
    return [_warmup(p["num_warmup_steps"]), _cosine(p, _min_lr_rate(p, context))]


def cosine_warmup_with_min_lr(p: dict[str, Any], context: Any) -> list[Item]:
    w, t, rate = p["num_warmup_steps"], p["num_training_steps"], _min_lr_rate(p, context)
    warmup_lr_rate = p["warmup_lr_rate"]
    if warmup_lr_rate is None:  # (step + 1.0) / max(1.0, num_warmup_steps)
        warmup = Segment("linear", -INF, shift=1.0, span=maximum(1.0, w))
    else:  # warmup_lr_rate + (1.0 - warmup_lr_rate) * step / max(1, num_warmup_steps - 1)
        warmup = Segment("linear_lerp", -INF, span=maximum(1.0, w - 1.0), scale=1.0 - warmup_lr_rate,
                         offset=warmup_lr_rate)  # fmt: skip
    # progress = (step - num_warmup_steps + 1.0) / max(1.0, num_training_steps - num_warmup_steps)
    decay = Segment("cosine", w, origin=w, shift=1.0, end=t, span=maximum(1.0, t - w), p0=p["num_cycles"],
                    scale=1.0 - rate, offset=rate, low=0.0)  # fmt: skip
    return [warmup, decay]


def warmup_stable_decay(p: dict[str, Any], context: Any) -> list[Item]:
    w, d, t, s = p["num_warmup_steps"], p["num_decay_steps"], p["num_training_steps"], p["num_stable_steps"]
    if t is None and s is None:
        raise ValueError("Either num_training_steps or num_stable_steps must be specified.")
    if t is not None and s is not None:
        warn("Both num_training_steps and num_stable_steps are specified. num_stable_steps will be used.")
    if s is None:
        s = t - w - d  # transformers lets this go negative when warmup + decay exceed training steps; so do we
    ratio = p["min_lr_ratio"]
    affine = dict(scale=1.0 - ratio, offset=ratio, low=0.0)
    warmup = Segment(_names(p["warmup_type"], _WARMUP_SHAPES), -INF, span=maximum(1.0, w), **affine)
    # progress = float(step - num_warmup_steps - num_stable_steps) / float(max(1, num_decay_steps))
    decay = Segment(_names(p["decay_type"], _DECAY_SHAPES), w + s, origin=w, shift=-s, end=w + s + d,
                    span=maximum(1.0, d), p0=p["num_cycles"], **affine)  # fmt: skip
    return [warmup, Segment("constant", w), decay, Segment("constant", w + s + d, scale=ratio)]


def _names(choice: Any, shapes: dict[str, str]) -> Any:
    if isinstance(choice, str):
        return shapes[choice]
    return [shapes[c] for c in choice]


def all_true(condition: Any) -> bool:
    return bool(condition.all()) if is_array(condition) else bool(condition)


def first_where(condition: Any, *values: Any) -> tuple[Any, ...]:
    """The values (scalars or per-config arrays) at the first config where `condition` holds, as plain numbers."""
    if not is_array(condition):
        return tuple(plain(v) for v in values)
    i = int(condition.argmax())
    return tuple(plain(v[i]) if is_array(v) else plain(v) for v in values)
