"""transformers' own values: the reference every parity test compares against (no formula is restated here)."""

from __future__ import annotations

import warnings
from typing import Any
from unittest import mock

import numpy as np
import torch
from transformers.optimization import get_scheduler as transformers_get_scheduler

# Parameters that get_scheduler takes by name; everything else travels in scheduler_specific_kwargs.
_TOP_LEVEL = ("num_warmup_steps", "num_training_steps")


class _LambdaCapture:
    """Stands in for LambdaLR to keep the lr_lambda transformers builds, without LambdaLR evaluating step 0
    (which raises for polynomial with num_warmup_steps == num_training_steps == 0)."""

    def __init__(self, optimizer, lr_lambda, last_epoch=-1):
        self.lr_lambdas = [lr_lambda]


def transformers_lambda(name: str, base_lr: float = 1.0, **params: Any):
    """The multiplier function transformers' scheduler for `name` steps through (LambdaLR's lr_lambdas[0])."""
    optimizer = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=base_lr)
    top = {k: v for k, v in params.items() if k in _TOP_LEVEL}
    specific = {k: v for k, v in params.items() if k not in _TOP_LEVEL}
    with warnings.catch_warnings(), mock.patch("transformers.optimization.LambdaLR", _LambdaCapture):
        warnings.simplefilter("ignore")
        scheduler = transformers_get_scheduler(name, optimizer, scheduler_specific_kwargs=specific or None, **top)
    return scheduler.lr_lambdas[0]


def transformers_multipliers(
    name: str, steps, base_lr: float = 1.0, *, patch_zero_division: bool = True, **params: Any
) -> np.ndarray:
    """transformers' multipliers at `steps`.

    polynomial with num_warmup_steps == num_training_steps divides by zero at that step; fastsched documents
    the schedule's end value there, which is transformers' own value one step later (patch_zero_division).
    """
    lr_lambda = transformers_lambda(name, base_lr, **params)

    def value(step: int) -> float:
        try:
            return float(lr_lambda(step))
        except ZeroDivisionError:
            if not patch_zero_division:
                raise
            return float(lr_lambda(step + 1))

    return np.array([value(int(step)) for step in steps], dtype=np.float64)


def float32_ulp(values: np.ndarray) -> np.ndarray:
    return np.spacing(np.abs(values).astype(np.float32)).astype(np.float64)
