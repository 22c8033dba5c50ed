"""transformers' ten precomputable schedules, named and parametrized as transformers' ``SchedulerType`` does."""

from __future__ import annotations

from ..registry import Parameter, Preset

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
