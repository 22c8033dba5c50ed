"""Megatron-core's lr schedule, named as Megatron names it (`"megatron.OptimizerParamScheduler"`), exact to the
installed megatron-core (`megatron.core.optimizer_param_scheduler`).

Step k is ``get_lr`` at ``num_steps = k``: the constructor runs ``step(0)``, and training calls ``step(increment)``
once per update. Megatron-LM's increment is the global batch size, with every step parameter counted in samples;
fastsched's steps are increments of 1, so give the parameters in steps (or read step k as sample k).

Megatron's lrs are absolute (``init_lr``, ``max_lr``, ``min_lr``; the group's lr is overwritten): they are given
as fractions of ``base_lr``, which must then be positive, so that ``trajectory(..., base_lr=X)`` is Megatron's lr
for any X (base_lr=1: Megatron's values as they are). Weight decay is scheduled alongside and never changes the lr:
its parameters are accepted (checked as Megatron checks them) and otherwise unused. Megatron refuses a config
with bare asserts; fastsched raises an error that is an AssertionError and a ValueError, naming the parameter.
"""

from __future__ import annotations

from typing import Any

from ..registry import REQUIRED, Parameter, Preset
from ..segments import INF, Item, Segment, floor, maximum, where
from ._support import AssertionValueError, any_true, choice_is, first_where, relative

LR_DECAY_STYLES = ("constant", "linear", "cosine", "inverse-square-root", "WSD")
WSD_DECAY_STYLES = ("exponential", "cosine", "linear", "minus_sqrt")
WD_INCR_STYLES = ("constant", "linear", "cosine")

PRESETS = (
    Preset(
        "megatron.OptimizerParamScheduler",
        "megatron",
        (
            Parameter("init_lr", "float", REQUIRED, "lr at step 0, where the warmup starts (absolute)"),
            Parameter("max_lr", "float", REQUIRED, "lr at the end of the warmup (absolute)"),
            Parameter("min_lr", "float", REQUIRED, "lr at the end of the decay and after it (absolute)"),
            Parameter("lr_warmup_steps", "count", REQUIRED, "steps of linear warmup; step lr_warmup_steps is max_lr"),
            Parameter("lr_decay_steps", "count", REQUIRED, "the step where the decay ends at min_lr", positive=True),
            Parameter("lr_decay_style", "choice", REQUIRED, "the decay after the warmup", choices=LR_DECAY_STYLES),
            Parameter("start_wd", "float", None, "weight decay only: never changes the lr"),
            Parameter("end_wd", "float", None, "weight decay only: never changes the lr"),
            Parameter("wd_incr_steps", "count", None, "weight decay only: never changes the lr"),
            Parameter(
                "wd_incr_style", "choice", None, "weight decay only: never changes the lr", choices=WD_INCR_STYLES
            ),
            Parameter("wsd_decay_steps", "count", None, "WSD: the last steps of lr_decay_steps that anneal"),
            Parameter("lr_wsd_decay_style", "choice", None, "WSD: the anneal's shape", choices=WSD_DECAY_STYLES),
        ),
        "linear warmup from init_lr to max_lr, then a constant, linear, cosine, inverse-square-root or WSD decay "
        "to min_lr at lr_decay_steps, min_lr after it",
        builder=f"{__name__}:optimizer_param_scheduler",
        reference="megatron.core.optimizer_param_scheduler.OptimizerParamScheduler (step(1) per update)",
        tolerance="1e-12 of the largest lr (measured worst: 5.4e-16, 10000 configs)",
    ),
)

# WSD's anneal from coeff 1 to 0 over wsd_decay_steps, by lr_wsd_decay_style (P0 = 0.5, P1 = 0 and P2 = -inf serve
# both cosine, 0.5 * (cos(pi * r) + 1), and exponential, 2 * 0.5 ** r - 1, no staircase and no bound; the others
# read none of them).
_WSD_SHAPES = {
    "linear": "linear_one_minus",  # 1 - r
    "cosine": "cosine",
    "exponential": "exponential",  # 0.5 ** r scaled by 2 * delta_lr, offset by min_lr - delta_lr
    "minus_sqrt": "sqrt_falling",  # 1 - sqrt(r)
}


def optimizer_param_scheduler(p: dict[str, Any], context: Any) -> list[Item]:
    warmup, decay_steps, style = p["lr_warmup_steps"], p["lr_decay_steps"], p["lr_decay_style"]
    if not isinstance(style, str):
        raise TypeError("`lr_decay_style` must be one str for every config")
    _check(p)
    init, high, low = (relative(p[name], context.reference_lr, name) for name in ("init_lr", "max_lr", "min_lr"))
    delta = high - low
    # num_steps <= lr_warmup_steps (with a warmup): init_lr + ((max_lr - init_lr) * num_steps) / lr_warmup_steps
    items: list[Item] = [
        Segment("linear_lerp", -INF, span=maximum(warmup, 1.0), scale=high - init, offset=init),
    ]
    after_warmup = where(warmup > 0, floor(warmup) + 1.0, 0.0)
    after_decay = floor(decay_steps) + 1.0  # num_steps > lr_decay_steps: min_lr (but for 'constant')
    if style == "constant":
        return [*items, Segment("constant", after_warmup, scale=high)]
    if style == "inverse-square-root":
        # max(min_lr, max_lr * max(warmup, 1) ** 0.5 / max(num_steps, 1) ** 0.5): max_lr at steps 0 and 1 if no warmup
        scale = high * maximum(warmup, 1.0) ** 0.5
        decay = Segment("inverse_sqrt", maximum(after_warmup, 1.0), scale=scale, offset=0.0, low=low)
        items += [Segment("constant", after_warmup, scale=high), decay]
    elif style == "WSD":
        # coeff 1 until lr_decay_steps - wsd_decay_steps, then the anneal over the last wsd_decay_steps
        anneal_start = decay_steps - p["wsd_decay_steps"]
        wsd_style = p["lr_wsd_decay_style"]
        if wsd_style is None:  # then wsd_decay_steps is 0 (_check): no step anneals
            wsd_style = "linear"
        exponential = choice_is(wsd_style, "exponential")
        anneal = Segment(
            _WSD_SHAPES[wsd_style] if isinstance(wsd_style, str) else [_WSD_SHAPES[name] for name in wsd_style],
            floor(anneal_start) + 1.0,
            origin=anneal_start,
            span=maximum(p["wsd_decay_steps"], 1.0),
            p0=0.5,
            p1=0.0,
            p2=-INF,
            scale=where(exponential, 2.0 * delta, delta),
            offset=where(exponential, low - delta, low),
        )
        items += [Segment("constant", after_warmup, scale=delta, offset=low), anneal]
    else:
        # decay_ratio = (num_steps - lr_warmup_steps) / (lr_decay_steps - lr_warmup_steps); min_lr + coeff * delta_lr
        shape = "linear_one_minus" if style == "linear" else "cosine"
        items.append(Segment(shape, after_warmup, origin=warmup, span=decay_steps - warmup, p0=0.5, scale=delta,
                             offset=low))  # fmt: skip
    return [*items, Segment("constant", after_decay, scale=low)]


def _check(p: dict[str, Any]) -> None:
    """Megatron's asserts (optimizer_param_scheduler.py), and what it would fail on part way."""

    def refuse(condition: Any, message: str, *values: str) -> None:
        if any_true(condition):
            shown = ", ".join(f"{name}={first_where(condition, p[name])}" for name in values)
            raise AssertionValueError(f"{message} (Megatron asserts it), got {shown}")

    refuse(p["max_lr"] < p["min_lr"], "`max_lr` must be >= `min_lr`", "max_lr", "min_lr")
    refuse(p["init_lr"] > p["max_lr"], "`init_lr` must be <= `max_lr`", "init_lr", "max_lr")
    refuse(p["lr_warmup_steps"] < 0, "`lr_warmup_steps` must be non-negative", "lr_warmup_steps")
    refuse(p["lr_warmup_steps"] >= p["lr_decay_steps"], "`lr_warmup_steps` must be < `lr_decay_steps`",
           "lr_warmup_steps", "lr_decay_steps")  # fmt: skip
    if p["lr_decay_style"] == "WSD":
        if p["wsd_decay_steps"] is None:
            raise AssertionValueError("`wsd_decay_steps` must be given with lr_decay_style 'WSD' (Megatron asserts it)")
        refuse(p["wsd_decay_steps"] < 0, "`wsd_decay_steps` must be non-negative", "wsd_decay_steps")
        if p["lr_wsd_decay_style"] is None and any_true(p["wsd_decay_steps"] > 0):
            raise AssertionValueError(
                "`lr_wsd_decay_style` must be one of 'exponential', 'cosine', 'linear', 'minus_sqrt' with "
                "lr_decay_style 'WSD' (Megatron's anneal fails its `assert coeff is not None` without it)"
            )
    if p["start_wd"] is not None and p["end_wd"] is not None:
        refuse(p["end_wd"] < p["start_wd"], "`end_wd` must be >= `start_wd`", "end_wd", "start_wd")
