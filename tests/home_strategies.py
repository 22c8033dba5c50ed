"""Hypothesis strategies: random configs of torch, timm, optax, DeepSpeed and Megatron-core schedules that the home
library accepts, under its own parameter names, sized so a test can step each to 3x its length in well under a
second (lengths up to about a thousand steps).

Each draws a HomeConfig; `home_libraries.home_lrs(*config.call(steps))` gives the home library's values.

"Valid" means the constructor accepts it and the library computes every step up to 3x the length without raising,
except where the library itself stops: torch's OneCycleLR raises past total_steps (the harness gives NaN there).
One home-library defect is drawn as is: jitted optax polynomial_schedule with a fractional power can be NaN from
the end of its transition (formulas.md, optax). Degenerate configs (a zero-length phase torch divides by, a factor
it later divides by, a `total_iters=0` whose recursive and closed forms disagree, a ChainedScheduler with
CosineAnnealingLR) are drawn only with `degenerate=True`, and then may raise in the constructor or part way;
formulas.md lists what each library does with them.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from home_libraries import (
    DEEPSPEED_SCHEDULERS,
    MEGATRON_LR_DECAY_STYLES,
    MEGATRON_WSD_DECAY_STYLES,
    OPTAX_SCHEDULES,
    TIMM_SCHEDULERS,
    TORCH_CLOSED_FORM,
    TORCH_SCHEDULERS,
)
from hypothesis import strategies as st

MAX_LENGTH = 1000


@dataclass(frozen=True)
class HomeConfig:
    """One schedule of one home library: `library.name(**params)` on a param group whose lr is `base_lr`
    (ignored by optax and Megatron, whose values are absolute), spanning `length` steps."""

    library: str
    name: str
    params: dict[str, Any] = field(hash=False)
    base_lr: float
    length: int

    @property
    def preset(self) -> str:
        return f"{self.library}.{self.name}"

    def call(self, steps: int) -> tuple[str, str, dict[str, Any], int, float]:
        """The positional arguments of home_libraries.home_lrs for `steps` steps."""
        return self.library, self.name, self.params, steps, self.base_lr


base_lrs = st.sampled_from([1.0, 0.1, 3e-4, 2.5])
unit = st.floats(0.0, 1.0)
positive_unit = st.floats(1e-3, 1.0)


def _bounded(length: float) -> int:
    return max(1, min(MAX_LENGTH, math.ceil(length)))


# --------------------------------------------------------------------------------------------------------- torch
def _one_cycle_divides_by_zero(total_steps: int, pct_start: float, three_phase: bool) -> bool:
    """Whether a phase of OneCycleLR is empty: torch then divides 0 by 0 at some step <= total_steps. The phase
    ends are computed exactly as torch computes them (lr_scheduler.py, OneCycleLR.__init__)."""
    ends = [float(pct_start * total_steps) - 1]
    if three_phase:
        ends.append(float(2 * pct_start * total_steps) - 2)
    ends.append(total_steps - 1)
    starts = [0.0, *ends[:-1]]
    return any(end - start == 0 for start, end in zip(starts, ends, strict=True))


@st.composite
def _torch_params(draw, name: str, base_lr: float, degenerate: bool) -> tuple[dict[str, Any], int]:
    iters = st.integers(0 if degenerate else 1, 400)
    if name == "ConstantLR":
        factor = draw(unit if degenerate else positive_unit)
        total_iters = draw(iters)
        return {"factor": factor, "total_iters": total_iters}, total_iters
    if name == "LinearLR":
        total_iters = draw(iters)
        params = {"start_factor": draw(positive_unit), "end_factor": draw(unit), "total_iters": total_iters}
        return params, total_iters
    if name == "StepLR":
        step_size = draw(st.integers(1, 200))
        gamma = draw(st.one_of(st.floats(0.05, 1.0), st.sampled_from([0.1, 0.5, 1.2])))
        return {"step_size": step_size, "gamma": gamma}, 4 * step_size
    if name == "MultiStepLR":
        # torch keeps milestones in a Counter: order does not matter and a repeated one decays gamma ** count.
        milestones = draw(st.lists(st.integers(1, 500), min_size=0, max_size=5))
        params = {"milestones": milestones, "gamma": draw(st.floats(0.05, 1.0))}
        return params, max(milestones, default=50) + 1
    if name == "ExponentialLR":
        gamma = draw(st.one_of(st.floats(0.9, 1.0), st.sampled_from([0.5, 0.999, 1.01])))
        return {"gamma": gamma}, draw(st.integers(1, 400))
    if name == "PolynomialLR":
        total_iters = draw(iters)
        power = draw(st.one_of(st.sampled_from([1.0, 2.0, 0.5]), st.floats(0.1, 4.0)))
        return {"total_iters": total_iters, "power": power}, total_iters
    if name == "CosineAnnealingLR":
        t_max = draw(st.integers(1, 400))
        return {"T_max": t_max, "eta_min": base_lr * draw(st.one_of(st.just(0.0), unit))}, t_max
    if name == "CosineAnnealingWarmRestarts":
        t_0, t_mult = draw(st.integers(1, 200)), draw(st.integers(1, 3))
        params = {"T_0": t_0, "T_mult": t_mult, "eta_min": base_lr * draw(st.one_of(st.just(0.0), unit))}
        return params, t_0 * (1 + t_mult)  # two cycles
    if name == "OneCycleLR":
        three_phase = draw(st.booleans())
        if draw(st.booleans()):
            params: dict[str, Any] = {"total_steps": draw(st.integers(1, 600))}
            total_steps = params["total_steps"]
        else:
            params = {"epochs": draw(st.integers(1, 20)), "steps_per_epoch": draw(st.integers(1, 30))}
            total_steps = params["epochs"] * params["steps_per_epoch"]
        pct_start = draw(st.one_of(st.just(0.3), unit))
        if not degenerate and _one_cycle_divides_by_zero(total_steps, pct_start, three_phase):
            pct_start = draw(unit.filter(lambda pct: not _one_cycle_divides_by_zero(total_steps, pct, three_phase)))
        params |= {
            "max_lr": base_lr * draw(st.floats(0.5, 10.0)),
            "pct_start": pct_start,
            "anneal_strategy": draw(st.sampled_from(["cos", "linear"])),
            "div_factor": draw(st.one_of(st.just(25.0), st.floats(1.0, 100.0))),
            "final_div_factor": draw(st.one_of(st.just(1e4), st.floats(1.0, 1e5))),
            "three_phase": three_phase,
        }
        return params, total_steps
    if name == "CyclicLR":
        up = draw(st.integers(1, 300))
        down = draw(st.one_of(st.none(), st.integers(0, 300)))
        mode = draw(st.sampled_from(["triangular", "triangular2", "exp_range"]))
        params = {
            "base_lr": base_lr * draw(unit),
            "max_lr": base_lr * draw(st.floats(0.5, 10.0)),
            "step_size_up": up,
            "step_size_down": down,
            "mode": mode,
        }
        if mode == "exp_range":
            params["gamma"] = draw(st.floats(0.99, 1.0))
        return params, 2 * (up + (up if down is None else down))  # two cycles
    if name == "SequentialLR":
        children = draw(st.lists(st.sampled_from(TORCH_CLOSED_FORM), min_size=1, max_size=3))
        drawn = [draw(_torch_params(child, base_lr, degenerate)) for child in children]
        gaps = [draw(st.integers(1, max(1, MAX_LENGTH // (3 * len(children))))) for _ in children[1:]]
        milestones = [sum(gaps[: i + 1]) for i in range(len(gaps))]
        params = {"schedulers": [(child, p) for child, (p, _) in zip(children, drawn, strict=True)]}
        params["milestones"] = milestones
        return params, max(milestones, default=0) + drawn[-1][1]
    if name == "ChainedScheduler":
        # The multiplicative classes: CosineAnnealingLR's recursion past T_max adds an amount that the other
        # factors do not scale, so a chain with it is drawn only on request (formulas.md, ChainedScheduler).
        multiplicative = [n for n in TORCH_CLOSED_FORM if n != "CosineAnnealingLR" or degenerate]
        children = draw(st.lists(st.sampled_from(multiplicative), min_size=1, max_size=3))
        drawn = [draw(_torch_params(child, base_lr, degenerate)) for child in children]
        params = {"schedulers": [(child, p) for child, (p, _) in zip(children, drawn, strict=True)]}
        return params, max(length for _, length in drawn)
    raise ValueError(f"`name` must be one of {TORCH_SCHEDULERS}, got {name!r}")


@st.composite
def torch_configs(draw, name: str | None = None, *, degenerate: bool = False) -> HomeConfig:
    """A torch.optim.lr_scheduler config (any of TORCH_SCHEDULERS when `name` is None)."""
    name = name or draw(st.sampled_from(TORCH_SCHEDULERS))
    base_lr = draw(base_lrs)
    params, length = draw(_torch_params(name, base_lr, degenerate))
    return HomeConfig("torch", name, params, base_lr, _bounded(length))


# ---------------------------------------------------------------------------------------------------------- timm
@st.composite
def _timm_warmup(draw, base_lr: float, prefix_default: bool) -> dict[str, Any]:
    warmup_t = draw(st.one_of(st.just(0), st.integers(1, 100)))
    params: dict[str, Any] = {"warmup_t": warmup_t, "t_in_epochs": draw(st.booleans())}
    if warmup_t:
        params["warmup_lr_init"] = base_lr * draw(unit)
    params["warmup_prefix"] = draw(st.one_of(st.just(prefix_default), st.booleans()))
    return params


@st.composite
def _timm_cycles(draw, base_lr: float) -> tuple[dict[str, Any], int]:
    """t_initial, lr_min and the cycle parameters shared by timm's cosine, tanh and poly schedulers."""
    cycle_mul = draw(st.one_of(st.just(1.0), st.floats(1.0, 3.0)))
    cycle_limit = draw(st.integers(1, 4))
    cycles_span = sum(cycle_mul**i for i in range(cycle_limit))  # t_initial units the cycles take
    t_initial = draw(st.integers(1, max(1, int(MAX_LENGTH / 2 / cycles_span))))
    params = {
        "t_initial": t_initial,
        "lr_min": base_lr * draw(st.one_of(st.just(0.0), st.floats(0.0, 0.5))),
        "cycle_mul": cycle_mul,
        "cycle_decay": draw(st.one_of(st.just(1.0), st.floats(0.1, 1.0))),
        "cycle_limit": cycle_limit,
    }
    return params, math.ceil(t_initial * cycles_span)


@st.composite
def _timm_params(draw, name: str, base_lr: float) -> tuple[dict[str, Any], int]:
    if name in ("CosineLRScheduler", "TanhLRScheduler", "PolyLRScheduler"):
        params, length = draw(_timm_cycles(base_lr))
        if name == "TanhLRScheduler":
            lb = draw(st.floats(-10.0, 0.0))
            params |= {"lb": lb, "ub": draw(st.floats(lb + 0.1, 10.0))}
        if name == "PolyLRScheduler":
            params["power"] = draw(st.one_of(st.just(0.5), st.floats(0.1, 4.0)))
        if name in ("CosineLRScheduler", "PolyLRScheduler"):
            params["k_decay"] = draw(st.one_of(st.just(1.0), st.floats(0.5, 3.0)))
        params |= draw(_timm_warmup(base_lr, prefix_default=False))
    elif name == "StepLRScheduler":
        decay_t = draw(st.one_of(st.integers(1, 200), st.floats(0.5, 200.0)))  # timm floor-divides by a float too
        params = {"decay_t": decay_t, "decay_rate": draw(st.floats(0.1, 1.0))}
        params |= draw(_timm_warmup(base_lr, prefix_default=True))
        length = math.ceil(4 * decay_t)
    elif name == "MultiStepLRScheduler":
        decay_t = sorted(draw(st.lists(st.integers(1, 500), min_size=1, max_size=5)))  # timm bisects: sorted
        params = {"decay_t": decay_t, "decay_rate": draw(st.floats(0.1, 1.0))}
        params |= draw(_timm_warmup(base_lr, prefix_default=True))
        length = decay_t[-1] + 1
    else:
        raise ValueError(f"`name` must be one of {TIMM_SCHEDULERS}, got {name!r}")
    return params, length + params["warmup_t"]


def timm_computes(config: HomeConfig) -> bool:
    """Whether timm computes every step to 3x the config's length. With cycle_mul != 1 timm finds the cycle by
    floor(log(...)), which can land one cycle off at a boundary; the negative or too-long position in the cycle
    then gives a complex power under a fractional k_decay or power (TypeError), or log of a negative (ValueError).
    """
    from home_libraries import timm_get_lr

    values = timm_get_lr(config.name, config.params, 3 * config.length, config.base_lr)
    return not any(math.isnan(value) for value in values)


@st.composite
def timm_configs(draw, name: str | None = None, *, degenerate: bool = False) -> HomeConfig:
    """A timm.scheduler config (any of TIMM_SCHEDULERS when `name` is None), per-update or per-epoch."""
    name = name or draw(st.sampled_from(TIMM_SCHEDULERS))
    base_lr = draw(base_lrs)
    params, length = draw(_timm_params(name, base_lr))
    config = HomeConfig("timm", name, params, base_lr, _bounded(length))
    if not degenerate and params.get("cycle_mul", 1.0) != 1.0 and not timm_computes(config):
        # Rare; the fallback keeps the draw (and its shrinking) rather than rejecting it.
        config = HomeConfig("timm", name, params | {"cycle_mul": 1.0}, base_lr, config.length)
    return config


# --------------------------------------------------------------------------------------------------------- optax
# No subnormals or near-zero peaks: warmup_cosine_decay_schedule divides end_value by peak_value.
values = st.one_of(st.sampled_from([1.0, 0.1, 3e-4, 0.0]), st.floats(1e-6, 3.0))
transition_counts = st.one_of(st.integers(1, 500), st.integers(-3, 0))  # <= 0: optax holds init_value
begins = st.one_of(st.just(0), st.integers(-3, 200))  # < 0: optax starts at 0


@st.composite
def _scales(draw, min_size: int = 0) -> dict[int, float]:
    boundaries = draw(st.lists(st.integers(1, 600), min_size=min_size, max_size=4, unique=True))
    return {boundary: draw(st.floats(0.0, 2.0)) for boundary in boundaries}


@st.composite
def _warmup_cosine_kwargs(draw) -> dict[str, Any]:
    warmup_steps = draw(st.integers(0, 200))
    return {
        "init_value": draw(values),
        "peak_value": draw(values),
        "warmup_steps": warmup_steps,
        "decay_steps": warmup_steps + draw(st.integers(1, 400)),  # optax raises unless the decay is positive
        "end_value": draw(values),
        "exponent": draw(st.one_of(st.just(1.0), st.floats(0.5, 3.0))),
    }


@st.composite
def _exponential_kwargs(draw) -> dict[str, Any]:
    return {
        "transition_steps": draw(transition_counts),
        "decay_rate": draw(st.one_of(st.floats(0.1, 1.0), st.sampled_from([0.5, 1.05, 0.0]))),
        "transition_begin": draw(begins),
        "staircase": draw(st.booleans()),
        "end_value": draw(st.one_of(st.none(), values)),
    }


def _span(begin: int, steps: int) -> int:
    return max(begin, 0) + max(steps, 0)


@st.composite
def _optax_params(draw, name: str) -> tuple[dict[str, Any], int]:
    if name == "constant_schedule":
        return {"value": draw(values)}, draw(st.integers(1, 300))
    if name in ("linear_schedule", "polynomial_schedule"):
        params = {
            "init_value": draw(values),
            "end_value": draw(values),
            "transition_steps": draw(transition_counts),
            "transition_begin": draw(begins),
        }
        if name == "polynomial_schedule":
            params["power"] = draw(st.one_of(st.sampled_from([1.0, 2.0, 0.5]), st.floats(0.1, 4.0)))
        return params, _span(params["transition_begin"], params["transition_steps"])
    if name == "cosine_decay_schedule":
        decay_steps = draw(st.integers(1, 500))
        params = {
            "init_value": draw(values),
            "decay_steps": decay_steps,
            "alpha": draw(st.one_of(st.just(0.0), unit)),
            "exponent": draw(st.one_of(st.just(1.0), st.floats(0.5, 3.0))),
        }
        return params, decay_steps
    if name == "warmup_cosine_decay_schedule":
        params = draw(_warmup_cosine_kwargs())
        return params, params["decay_steps"]
    if name == "warmup_constant_schedule":
        warmup_steps = draw(st.integers(0, 300))  # 0: optax's linear_schedule then holds init_value, not peak
        return {"init_value": draw(values), "peak_value": draw(values), "warmup_steps": warmup_steps}, warmup_steps
    if name == "exponential_decay":
        params = {"init_value": draw(values)} | draw(_exponential_kwargs())
        return params, _span(params["transition_begin"], 4 * params["transition_steps"])
    if name == "warmup_exponential_decay_schedule":
        warmup_steps = draw(st.integers(0, 200))
        params = {"init_value": draw(values), "peak_value": draw(values), "warmup_steps": warmup_steps}
        params |= draw(_exponential_kwargs())
        return params, warmup_steps + _span(params["transition_begin"], 4 * params["transition_steps"])
    if name == "piecewise_constant_schedule":
        scales = draw(st.one_of(st.none(), _scales()))
        return {"init_value": draw(values), "boundaries_and_scales": scales}, max(scales or [0]) + 1
    if name == "piecewise_interpolate_schedule":
        scales = draw(st.one_of(st.none(), _scales()))
        params = {
            "interpolate_type": draw(st.sampled_from(["linear", "cosine"])),
            "init_value": draw(values),
            "boundaries_and_scales": scales,
        }
        return params, max(scales or [0]) + 1
    if name == "sgdr_schedule":
        cycles = draw(st.lists(_warmup_cosine_kwargs(), min_size=1, max_size=3))
        return {"cosine_kwargs": cycles}, sum(cycle["decay_steps"] for cycle in cycles)
    if name in ("linear_onecycle_schedule", "cosine_onecycle_schedule"):
        transition_steps = draw(st.integers(1, 600))
        params = {
            "transition_steps": transition_steps,
            "peak_value": draw(values),
            "pct_start": draw(st.one_of(st.just(0.3), unit)),
            "div_factor": draw(st.one_of(st.just(25.0), st.floats(1.0, 100.0))),
            "final_div_factor": draw(st.one_of(st.just(1e4), st.floats(1.0, 1e5))),
        }
        if name == "linear_onecycle_schedule":
            params["pct_final"] = draw(st.one_of(st.just(0.85), st.floats(params["pct_start"], 1.0)))
        return params, transition_steps
    if name == "join_schedules":
        children = draw(st.lists(st.sampled_from(OPTAX_SCHEDULES[:-1]), min_size=1, max_size=3))
        drawn = [draw(_optax_params(child)) for child in children]
        gaps = [draw(st.integers(0, max(1, MAX_LENGTH // (3 * len(children))))) for _ in children[1:]]
        boundaries = [sum(gaps[: i + 1]) for i in range(len(gaps))]
        params = {"schedules": [(child, p) for child, (p, _) in zip(children, drawn, strict=True)]}
        params["boundaries"] = boundaries
        return params, max(boundaries, default=0) + drawn[-1][1]
    raise ValueError(f"`name` must be one of {OPTAX_SCHEDULES}, got {name!r}")


@st.composite
def optax_configs(draw, name: str | None = None) -> HomeConfig:
    """An optax schedule config (any of OPTAX_SCHEDULES when `name` is None); base_lr is 1.0 and unused."""
    name = name or draw(st.sampled_from(OPTAX_SCHEDULES))
    params, length = draw(_optax_params(name))
    return HomeConfig("optax", name, params, 1.0, _bounded(length))


# ----------------------------------------------------------------------------------------------------- DeepSpeed
@st.composite
def _deepspeed_params(draw, name: str, base_lr: float) -> tuple[dict[str, Any], int]:
    warmup_type = draw(st.sampled_from(["log", "linear"]))
    warmup_num_steps = draw(st.integers(1, 300))  # DeepSpeed uses max(2, warmup_num_steps)
    if name in ("WarmupLR", "WarmupDecayLR"):
        params: dict[str, Any] = {
            "warmup_min_lr": base_lr * draw(st.one_of(st.just(0.0), unit)),
            "warmup_num_steps": warmup_num_steps,
            "warmup_type": warmup_type,
        }
        # WarmupLR's default max is the group's lr; WarmupDecayLR's is 0.001 whatever the group's lr.
        if draw(st.booleans()):
            params["warmup_max_lr"] = base_lr * draw(st.floats(0.5, 2.0))
        if name == "WarmupLR":
            return params, max(2, warmup_num_steps)
        params["total_num_steps"] = draw(st.integers(1, 600))
        return params, max(params["total_num_steps"], 2)
    if name == "WarmupCosineLR":
        params = {
            "total_num_steps": draw(st.integers(1, 600)),
            "warmup_min_ratio": draw(st.one_of(st.just(0.0), unit)),
            "warmup_num_steps": warmup_num_steps,
            "cos_min_ratio": draw(st.one_of(st.just(1e-4), unit)),
            "warmup_type": warmup_type,
        }
        return params, max(params["total_num_steps"], 2)
    if name == "OneCycle":
        first = draw(st.integers(1, 300))
        second = draw(st.one_of(st.none(), st.integers(0, 300)))
        params = {
            "cycle_min_lr": base_lr * draw(unit),
            "cycle_max_lr": base_lr * draw(st.floats(0.5, 10.0)),
            "decay_lr_rate": draw(st.one_of(st.just(0.0), st.floats(0.0, 1.0))),
            "cycle_first_step_size": first,
            "cycle_second_step_size": second,
            "cycle_first_stair_count": draw(st.one_of(st.just(0), st.integers(1, 10))),
            "cycle_second_stair_count": draw(st.one_of(st.none(), st.integers(0, 10))),
            "decay_step_size": draw(st.one_of(st.just(0), st.integers(1, 100))),
        }
        return params, 2 * (first + (first if second is None else second))  # the cycle, then as long decaying
    raise ValueError(f"`name` must be one of {DEEPSPEED_SCHEDULERS}, got {name!r}")


@st.composite
def deepspeed_configs(draw, name: str | None = None) -> HomeConfig:
    """A deepspeed.runtime.lr_schedules config (any of DEEPSPEED_SCHEDULERS when `name` is None)."""
    name = name or draw(st.sampled_from(DEEPSPEED_SCHEDULERS))
    base_lr = draw(base_lrs)
    params, length = draw(_deepspeed_params(name, base_lr))
    return HomeConfig("deepspeed", name, params, base_lr, _bounded(length))


# ------------------------------------------------------------------------------------------------------ Megatron
@st.composite
def megatron_configs(draw, lr_decay_style: str | None = None) -> HomeConfig:
    """An OptimizerParamScheduler lr config (any of MEGATRON_LR_DECAY_STYLES when `lr_decay_style` is None)."""
    style = lr_decay_style or draw(st.sampled_from(MEGATRON_LR_DECAY_STYLES))
    max_lr = draw(base_lrs)
    warmup = draw(st.one_of(st.just(0), st.integers(1, 200)))
    decay_steps = warmup + draw(st.integers(1, 500))  # Megatron asserts lr_warmup_steps < lr_decay_steps
    params: dict[str, Any] = {
        "init_lr": max_lr * draw(st.one_of(st.just(0.0), unit)),
        "max_lr": max_lr,
        "min_lr": max_lr * draw(st.one_of(st.just(0.0), unit)),
        "lr_warmup_steps": warmup,
        "lr_decay_steps": decay_steps,
        "lr_decay_style": style,
    }
    if style == "WSD":
        params["wsd_decay_steps"] = draw(st.integers(0, decay_steps))
        params["lr_wsd_decay_style"] = draw(st.sampled_from(MEGATRON_WSD_DECAY_STYLES))
    return HomeConfig("megatron", "OptimizerParamScheduler", params, max_lr, _bounded(decay_steps))


LIBRARY_CONFIGS = {
    "torch": torch_configs,
    "timm": timm_configs,
    "optax": optax_configs,
    "deepspeed": deepspeed_configs,
    "megatron": megatron_configs,
}


def home_configs(library: str | None = None) -> st.SearchStrategy[HomeConfig]:
    """A config of any library's schedule (or of `library`'s)."""
    if library is not None:
        return LIBRARY_CONFIGS[library]()
    return st.one_of(*(strategy() for strategy in LIBRARY_CONFIGS.values()))
