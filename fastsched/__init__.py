"""fastsched: learning-rate schedules computed by compiled Numba kernels.

- Bulk tables: :func:`multipliers`, :func:`trajectory`, :func:`sweep` (numpy, CPU kernels).
- Schedules as objects and compositions: :func:`schedule`, :func:`join`, :func:`warmup`, :func:`floor`,
  :func:`scale`, :func:`cycles`, :func:`cooldown` (every one usable wherever a schedule name is).
- Drop-in transformers schedulers: :func:`get_scheduler` and the ``get_*_schedule*`` functions (torch).
- GPU-side lr tensors: :class:`CudaScheduler` (torch + numba-cuda).

``import fastsched`` imports neither torch nor the kernels: they load on first use.
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

# public name -> submodule that defines it; loaded on first access so that torch stays unimported
_LAZY = {
    "multipliers": "bulk",
    "trajectory": "bulk",
    "sweep": "bulk",
    "Schedule": "schedules",
    "schedule": "schedules",
    "join": "schedules",
    "warmup": "schedules",
    "floor": "schedules",
    "scale": "schedules",
    "cycles": "schedules",
    "cooldown": "schedules",
    "SchedulerType": "registry",
    "preset_names": "registry",
    "PRESETS": "registry",
    "get_scheduler": "torch_schedulers",
    "get_constant_schedule": "torch_schedulers",
    "get_constant_schedule_with_warmup": "torch_schedulers",
    "get_linear_schedule_with_warmup": "torch_schedulers",
    "get_cosine_schedule_with_warmup": "torch_schedulers",
    "get_cosine_with_hard_restarts_schedule_with_warmup": "torch_schedulers",
    "get_polynomial_decay_schedule_with_warmup": "torch_schedulers",
    "get_inverse_sqrt_schedule": "torch_schedulers",
    "get_cosine_with_min_lr_schedule_with_warmup": "torch_schedulers",
    "get_cosine_with_min_lr_schedule_with_warmup_lr_rate": "torch_schedulers",
    "get_wsd_schedule": "torch_schedulers",
    "get_reduce_on_plateau_schedule": "torch_schedulers",
    "get_greedy_schedule": "torch_schedulers",
    "TableScheduler": "torch_schedulers",
    "CudaScheduler": "gpu",
    "get_cuda_scheduler": "gpu",
}

__all__ = sorted(_LAZY)


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'fastsched' has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))
