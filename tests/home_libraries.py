"""The home libraries' own learning rates: torch, timm, optax, DeepSpeed and Megatron-core.

Every value here comes from the library's own code, stepped or evaluated the way a training loop uses it; no
formula is restated (the formulas, with file:line, are in the project notes' formulas.md). Each function returns
a float64 array with one value per step 0..steps-1, and takes the schedule's parameters under the library's own
names as a mapping (so that a home parameter called `base_lr`, as torch's CyclicLR has, never clashes with ours).

What "step k" means, library by library:
- torch, timm, DeepSpeed: the lr of the optimizer's param group while update k is taken, i.e. read before the k-th
  `optimizer.step()`; the group's lr is `base_lr` before the scheduler is built. A training loop steps the
  scheduler after each update: torch `scheduler.step()`, DeepSpeed `scheduler.step()` (as its engine does), timm
  `scheduler.step_update(k)` after update k-1 when `t_in_epochs=False`, else `scheduler.step(k)` at the end of
  epoch k-1 (timm's own train.py). So step 0 is the lr the constructor leaves in the group.
- optax: the schedule's value at count k (int64 under x64, int32 otherwise; optax's own optimizer counter is int32,
  see optax_values); optax's schedules are absolute and never see a base lr.
- Megatron-core: OptimizerParamScheduler's lr at num_steps = k (its constructor runs step(0); training then calls
  step(increment) once per update; here increment = 1, so counts are steps rather than Megatron-LM's samples).

Where the library raises part way (torch's OneCycleLR past total_steps, a ZeroDivisionError of a degenerate
config), `errors="nan"` fills that step with NaN (and, for a stepped scheduler, every later one: its state is
lost); `errors="raise"` lets it propagate. A config the constructor rejects always raises.
"""

from __future__ import annotations

import contextlib
import importlib
import importlib.util
import logging
import sys
import types
import warnings
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any, Literal

import numpy as np
import torch

Params = Mapping[str, Any]
Errors = Literal["nan", "raise"]

# What the home libraries raise part way through a schedule they accepted (OneCycleLR past its end, 0/0 in a
# degenerate config, float overflow of gamma ** k, a complex power in timm's k-decay).
_STEP_ERRORS = (ArithmeticError, ValueError, TypeError)

TORCH_SCHEDULERS = (
    "ConstantLR",
    "LinearLR",
    "StepLR",
    "MultiStepLR",
    "ExponentialLR",
    "PolynomialLR",
    "CosineAnnealingLR",
    "CosineAnnealingWarmRestarts",
    "OneCycleLR",
    "CyclicLR",
    "SequentialLR",
    "ChainedScheduler",
)
# The classes with a `_get_closed_form_lr` (what torch uses when step(epoch) is given an epoch).
TORCH_CLOSED_FORM = (
    "ConstantLR",
    "LinearLR",
    "StepLR",
    "MultiStepLR",
    "ExponentialLR",
    "PolynomialLR",
    "CosineAnnealingLR",
)
TIMM_SCHEDULERS = (
    "CosineLRScheduler",
    "TanhLRScheduler",
    "StepLRScheduler",
    "MultiStepLRScheduler",
    "PolyLRScheduler",
)
OPTAX_SCHEDULES = (
    "constant_schedule",
    "linear_schedule",
    "cosine_decay_schedule",
    "warmup_cosine_decay_schedule",
    "warmup_constant_schedule",
    "warmup_exponential_decay_schedule",
    "exponential_decay",
    "polynomial_schedule",
    "piecewise_constant_schedule",
    "piecewise_interpolate_schedule",
    "sgdr_schedule",
    "linear_onecycle_schedule",
    "cosine_onecycle_schedule",
    "join_schedules",
)
DEEPSPEED_SCHEDULERS = ("WarmupLR", "WarmupDecayLR", "WarmupCosineLR", "OneCycle")
MEGATRON_SCHEDULERS = ("OptimizerParamScheduler",)
MEGATRON_LR_DECAY_STYLES = ("constant", "linear", "cosine", "inverse-square-root", "WSD")
MEGATRON_WSD_DECAY_STYLES = ("exponential", "cosine", "linear", "minus_sqrt")

LIBRARIES: dict[str, tuple[str, ...]] = {
    "torch": TORCH_SCHEDULERS,
    "timm": TIMM_SCHEDULERS,
    "optax": OPTAX_SCHEDULES,
    "deepspeed": DEEPSPEED_SCHEDULERS,
    "megatron": MEGATRON_SCHEDULERS,
}


def _check_name(library: str, name: str) -> None:
    if name not in LIBRARIES[library]:
        raise ValueError(f"`name` must be one of {library}'s {LIBRARIES[library]}, got {name!r}")


def _optimizer(lr: float) -> torch.optim.Optimizer:
    # A parameter that never gets a gradient: optimizer.step() runs its hooks and leaves it alone.
    return torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=lr)


@contextlib.contextmanager
def _quiet(*logger_names: str) -> Iterator[None]:
    loggers = [logging.getLogger(name) for name in logger_names]
    levels = [log.level for log in loggers]
    for log in loggers:
        log.setLevel(logging.ERROR)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            yield
    finally:
        for log, level in zip(loggers, levels, strict=True):
            log.setLevel(level)


def _check_errors(errors: str) -> None:
    if errors not in ("nan", "raise"):
        raise ValueError(f"`errors` must be 'nan' or 'raise', got {errors!r}")


def _record(steps: int, read: Callable[[], float], advance: Callable[[int], None], errors: Errors) -> np.ndarray:
    """read() at step 0, then advance(k) and read() for k = 1..steps-1; NaN from the first advance that raises."""
    _check_errors(errors)
    values = np.full(steps, np.nan)
    for step in range(steps):
        try:
            if step > 0:
                advance(step)
            values[step] = read()  # a complex lr (timm's fractional powers of a negative) raises TypeError here
        except _STEP_ERRORS:
            if errors == "raise":
                raise
            break
    return values


# --------------------------------------------------------------------------------------------------------- torch
# OneCycleLR and CyclicLR cycle the optimizer's momentum by default; that never changes the lr, so it is off here.
_TORCH_LR_ONLY: dict[str, dict[str, Any]] = {
    "OneCycleLR": {"cycle_momentum": False},
    "CyclicLR": {"cycle_momentum": False},
}


def torch_scheduler(
    name: str, params: Params, optimizer: torch.optim.Optimizer
) -> torch.optim.lr_scheduler.LRScheduler:
    """torch.optim.lr_scheduler.<name>(optimizer, **params). SequentialLR and ChainedScheduler take
    `schedulers` as a list of (name, params) pairs, built on the same optimizer in order."""
    _check_name("torch", name)
    cls = getattr(torch.optim.lr_scheduler, name)
    params = dict(params)
    if name in ("SequentialLR", "ChainedScheduler"):
        children = [torch_scheduler(child, child_params, optimizer) for child, child_params in params.pop("schedulers")]
        if name == "ChainedScheduler":
            return cls(children, optimizer=optimizer, **params)
        return cls(optimizer, schedulers=children, **params)
    return cls(optimizer, **{**_TORCH_LR_ONLY.get(name, {}), **params})


def torch_lrs(name: str, params: Params, steps: int, base_lr: float = 1.0, *, errors: Errors = "nan") -> np.ndarray:
    """The lr torch gives update k = 0..steps-1: a group with lr `base_lr`, the scheduler built on it, then
    `optimizer.step(); scheduler.step()` per update (the recursive, "chainable" form torch uses in training)."""
    optimizer = _optimizer(base_lr)
    group = optimizer.param_groups[0]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # torch's own advice about step order and epochs
        scheduler = torch_scheduler(name, params, optimizer)

        def advance(_: int) -> None:
            optimizer.step()
            scheduler.step()

        return _record(steps, lambda: group["lr"], advance, errors)


def torch_closed_form_lrs(
    name: str, params: Params, steps: int, base_lr: float = 1.0, *, errors: Errors = "nan"
) -> np.ndarray:
    """torch's closed form (`_get_closed_form_lr`, what `step(epoch)` uses) at last_epoch = 0..steps-1."""
    if name not in TORCH_CLOSED_FORM:
        raise ValueError(f"`name` must be one of torch's closed forms {TORCH_CLOSED_FORM}, got {name!r}")
    _check_errors(errors)
    scheduler = torch_scheduler(name, params, _optimizer(base_lr))

    def closed_form(step: int) -> float:
        scheduler.last_epoch = step
        return scheduler._get_closed_form_lr()[0]

    values = np.full(steps, np.nan)
    for step in range(steps):
        try:
            values[step] = closed_form(step)
        except _STEP_ERRORS:
            if errors == "raise":
                raise
    return values


# ---------------------------------------------------------------------------------------------------------- timm
def timm_scheduler_module() -> types.ModuleType:
    """`timm.scheduler`, imported without running timm's package __init__ (which imports torchvision).

    When timm is not imported yet, `timm` is registered as a bare package module whose __path__ is the installed
    timm directory, so `timm.scheduler` (which needs only torch) imports on its own.
    """
    if "timm.scheduler" in sys.modules:
        return sys.modules["timm.scheduler"]
    if "timm" not in sys.modules:
        spec = importlib.util.find_spec("timm")
        if spec is None or spec.submodule_search_locations is None:
            raise ModuleNotFoundError("No module named 'timm'", name="timm")
        package = types.ModuleType("timm")
        package.__path__ = list(spec.submodule_search_locations)
        package.__file__ = spec.origin
        package.__spec__ = spec
        sys.modules["timm"] = package
    return importlib.import_module("timm.scheduler")


def timm_scheduler(name: str, params: Params, optimizer: torch.optim.Optimizer) -> Any:
    """timm.scheduler.<name>(optimizer, **params), timm's warnings silenced."""
    _check_name("timm", name)
    with _quiet("timm"):  # "will have no effect" when t_initial == cycle_mul == cycle_decay == 1
        return getattr(timm_scheduler_module(), name)(optimizer, **params)


def timm_lrs(name: str, params: Params, steps: int, base_lr: float = 1.0, *, errors: Errors = "nan") -> np.ndarray:
    """The lr timm gives update (t_in_epochs=False) or epoch (t_in_epochs=True, timm's default) k = 0..steps-1.

    Step 0 is what the constructor leaves in the group (warmup_lr_init with a warmup, else base_lr), which is not
    always `_get_lr(0)` (TanhLRScheduler; MultiStepLRScheduler with a milestone <= 1). Step k >= 1 is the lr after
    `step_update(k)` or `step(k)`; the other of the two calls is a no-op for that scheduler.
    """
    optimizer = _optimizer(base_lr)
    group = optimizer.param_groups[0]
    scheduler = timm_scheduler(name, params, optimizer)
    advance = scheduler.step if scheduler.t_in_epochs else scheduler.step_update
    return _record(steps, lambda: group["lr"], advance, errors)


def timm_get_lr(name: str, params: Params, steps: int, base_lr: float = 1.0, *, errors: Errors = "nan") -> np.ndarray:
    """timm's `_get_lr(t)` at t = 0..steps-1 (stateless: what step(t) / step_update(t) would set)."""
    _check_errors(errors)
    scheduler = timm_scheduler(name, params, _optimizer(base_lr))
    values = np.full(steps, np.nan)
    for step in range(steps):
        try:
            values[step] = scheduler._get_lr(step)[0]
        except _STEP_ERRORS:
            if errors == "raise":
                raise
    return values


# --------------------------------------------------------------------------------------------------------- optax
def optax_schedule(name: str, params: Params) -> Callable[[Any], Any]:
    """optax.<name>(**params). join_schedules takes `schedules` as (name, params) pairs; sgdr_schedule takes
    `cosine_kwargs` as optax does (a list of warmup_cosine_decay_schedule keyword dicts)."""
    import optax

    _check_name("optax", name)
    params = dict(params)
    if name == "join_schedules":
        params["schedules"] = [optax_schedule(child, child_params) for child, child_params in params["schedules"]]
    return getattr(optax, name)(**params)


def optax_values(
    name: str, params: Params, steps: int, *, x64: bool = True, jit: bool = True, count_dtype: str | None = None
) -> np.ndarray:
    """optax's schedule at counts 0..steps-1, as float64 (float32 values widened exactly).

    x64: jax's 64-bit mode for this evaluation only (`jax.enable_x64` is a context manager: the process-wide
    setting is untouched). jit: jax.jit(jax.vmap(schedule)), as inside a jitted update step; eager vmap can differ
    from it by an ulp. count_dtype: "int64" by default under x64 (what a Python int step becomes), "int32"
    otherwise; "int32" under x64 is optax's own optimizer counter (`scale_by_schedule` keeps an int32 count), with
    which jax's promotion makes linear/polynomial/exponential schedules compute in float32 even under x64
    (int32 / int -> float32).
    """
    import jax
    import jax.numpy as jnp

    count_dtype = count_dtype or ("int64" if x64 else "int32")
    if count_dtype not in ("int32", "int64") or (count_dtype == "int64" and not x64):
        raise ValueError(f"`count_dtype` must be 'int32', or 'int64' with x64=True, got {count_dtype!r} (x64={x64})")
    schedule = optax_schedule(name, params)
    with jax.enable_x64(x64):
        counts = jnp.arange(steps, dtype=count_dtype)
        evaluate = jax.vmap(schedule)
        if jit:
            evaluate = jax.jit(evaluate)
        values = np.asarray(evaluate(counts))
    expected = {(True, "int64"): np.float64, (False, "int32"): np.float32}.get((x64, count_dtype))
    if expected is not None and values.dtype != expected:
        raise TypeError(f"optax's {name} gave {values.dtype} values, expected {np.dtype(expected)} (x64={x64})")
    return values.astype(np.float64)


# ----------------------------------------------------------------------------------------------------- DeepSpeed
def deepspeed_lr_schedules() -> types.ModuleType:
    """deepspeed.runtime.lr_schedules (importing deepspeed logs that it falls back to the CPU accelerator)."""
    with _quiet("DeepSpeed"):
        return importlib.import_module("deepspeed.runtime.lr_schedules")


# OneCycle cycles Adam's betas when the optimizer has them and warns otherwise; neither changes the lr.
_DEEPSPEED_LR_ONLY: dict[str, dict[str, Any]] = {"OneCycle": {"cycle_momentum": False}}


def deepspeed_lrs(name: str, params: Params, steps: int, base_lr: float = 1.0, *, errors: Errors = "nan") -> np.ndarray:
    """The lr DeepSpeed gives update k = 0..steps-1: step 0 is what the constructor sets (its get_lr at
    last_batch_iteration = -1), step k >= 1 the lr after k `scheduler.step()` calls (last_batch_iteration = k-1)."""
    _check_name("deepspeed", name)
    module = deepspeed_lr_schedules()
    optimizer = _optimizer(base_lr)
    group = optimizer.param_groups[0]
    with _quiet("DeepSpeed"):
        scheduler = getattr(module, name)(optimizer, **{**_DEEPSPEED_LR_ONLY.get(name, {}), **params})
        return _record(steps, lambda: group["lr"], lambda _: scheduler.step(), errors)


# ------------------------------------------------------------------------------------------------------ Megatron
def megatron_scheduler_class() -> type:
    """megatron.core.optimizer_param_scheduler.OptimizerParamScheduler (megatron.core warns that Transformer
    Engine and Apex are missing, and falls back to torch)."""
    with _quiet("megatron"):
        module = importlib.import_module("megatron.core.optimizer_param_scheduler")
    return module.OptimizerParamScheduler


# Weight decay is scheduled alongside the lr and never changes it: held constant here.
_MEGATRON_WEIGHT_DECAY = {"start_wd": 0.0, "end_wd": 0.0, "wd_incr_steps": 1, "wd_incr_style": "constant"}


def megatron_lrs(name: str, params: Params, steps: int, base_lr: float = 1.0, *, errors: Errors = "nan") -> np.ndarray:
    """OptimizerParamScheduler's lr at num_steps = 0..steps-1 (increment 1 per update). Its lrs are absolute
    (init_lr, max_lr, min_lr): `base_lr` only sets the group's lr before the constructor overwrites it."""
    _check_name("megatron", name)
    scheduler_class = megatron_scheduler_class()
    optimizer = _optimizer(base_lr)
    group = optimizer.param_groups[0]
    with _quiet("megatron"):
        scheduler = scheduler_class(optimizer, **{**_MEGATRON_WEIGHT_DECAY, **params})
        return _record(steps, lambda: group["lr"], lambda _: scheduler.step(1), errors)


# ------------------------------------------------------------------------------------------------------ dispatch
_TRAJECTORIES: dict[str, Callable[..., np.ndarray]] = {
    "torch": torch_lrs,
    "timm": timm_lrs,
    "deepspeed": deepspeed_lrs,
    "megatron": megatron_lrs,
}


def home_lrs(library: str, name: str, params: Params, steps: int, base_lr: float = 1.0, **options: Any) -> np.ndarray:
    """The home library's lr at steps 0..steps-1 for `<library>.<name>`; options go to the library's function
    (errors=...; for optax x64=... and jit=..., and base_lr is not used: optax's schedules are absolute)."""
    if library not in LIBRARIES:
        raise ValueError(f"`library` must be one of {tuple(LIBRARIES)}, got {library!r}")
    if library == "optax":
        return optax_values(name, params, steps, **options)
    return _TRAJECTORIES[library](name, params, steps, base_lr, **options)


def preset_names() -> Sequence[str]:
    """Every "<library>.<name>" this module can compute."""
    return [f"{library}.{name}" for library, names in LIBRARIES.items() for name in names]


def assert_close(ours: np.ndarray, home: np.ndarray, tolerance: float = 1e-12, least_scale: float = 0.0) -> float:
    """|ours - home| <= tolerance x the schedule's scale (its largest |lr|, or `least_scale` where larger) at every
    step; returns the worst ratio to the scale."""
    assert not np.isnan(home).any()
    scale = max(float(np.abs(home).max()), least_scale, np.finfo(float).tiny)
    error = float(np.abs(ours - home).max()) / scale
    assert error <= tolerance, (error, tolerance, int(np.abs(ours - home).argmax()))
    return error
