"""Drop-in replacements for transformers' schedulers: same functions, same values, a table lookup per step.

`get_scheduler` and every ``get_*_schedule*`` function take transformers' parameters (names, order, defaults)
and raise its errors. The precomputable schedules return a :class:`TableScheduler`: a
``torch.optim.lr_scheduler.LRScheduler`` with ``LambdaLR``'s semantics whose multipliers were computed once,
at construction, by the kernels in ``fastsched.kernels`` (libm cosine: transformers' float64 values exactly).
``step()`` then only reads the table and writes each param group's lr. No formula lives in this module.

The metric-driven names return what transformers returns: torch's ``ReduceLROnPlateau``, and transformers'
own ``GreedyLR`` (imported from transformers when it is installed).
"""

from __future__ import annotations

import array
import enum
import sys
import warnings
from typing import Any

import numpy as np
from torch import Tensor
from torch.optim import Optimizer
from torch.optim.lr_scheduler import LRScheduler, ReduceLROnPlateau

from . import bulk, schedules
from .kernels import cpu
from .kernels import formulas as f
from .schedules import SchedulerType

__all__ = [
    "TableScheduler",
    "get_constant_schedule",
    "get_constant_schedule_with_warmup",
    "get_cosine_schedule_with_warmup",
    "get_cosine_with_hard_restarts_schedule_with_warmup",
    "get_cosine_with_min_lr_schedule_with_warmup",
    "get_cosine_with_min_lr_schedule_with_warmup_lr_rate",
    "get_greedy_schedule",
    "get_inverse_sqrt_schedule",
    "get_linear_schedule_with_warmup",
    "get_polynomial_decay_schedule_with_warmup",
    "get_reduce_on_plateau_schedule",
    "get_scheduler",
    "get_wsd_schedule",
]

# The table is computed eagerly up to this many steps (32 MiB, ~40 ms); beyond, it grows as steps reach it.
EAGER_TABLE_STEPS = 1 << 22
# Growing by at least this many steps (and by a quarter of the table) keeps kernel calls rare past the table.
MIN_GROWTH_STEPS = 1 << 12


def plain_number(value: Any) -> Any:
    """numpy / torch scalars as Python numbers, so that state_dict() holds only plain types."""
    return value.item() if hasattr(value, "item") else value


def pack_for_optimizer(name: Any, optimizer: Optimizer, params: dict[str, Any]) -> schedules.PackedTable:
    """The schedule's packed table for `optimizer`: lr_end and min_lr are relative to optimizer.defaults["lr"], as
    transformers reads them; schedules without them don't look at the optimizer's lr (any value is fine there)."""
    schedule = schedules.get_schedule(name)
    relative = {"lr_end", "min_lr"} & set(schedule.parameter_names)
    reference_lr = plain_number(optimizer.defaults["lr"]) if relative else 1.0
    return schedules.pack(schedule.name, reference_lr, **params)


class TableScheduler(LRScheduler):
    """A ``LambdaLR`` whose lr_lambda is a table of the schedule's multipliers, computed once by the kernels.

    Semantics are ``LambdaLR``'s: each group's ``initial_lr`` is set with ``setdefault`` and kept in
    ``base_lrs``; ``last_epoch`` starts at -1 and the constructor steps once; each ``step()`` sets every group's
    lr to ``base_lr * multiplier(last_epoch)``; construct with ``last_epoch >= 0`` to resume (the groups must
    then hold ``initial_lr``); tensor lrs are updated in place. ``step()`` is a table lookup: no formula, no
    kernel call, no array allocation. Past the end of the table, schedules that have reached their end value
    return it; those that keep changing (cosine family, inverse_sqrt) extend the table, a kernel call every
    few thousand steps.

    Memory: 8 bytes per step of the schedule's span (up to where it reaches its end value, or to
    num_training_steps for the cosine family), computed at construction up to ``EAGER_TABLE_STEPS`` steps and
    beyond that as steps reach it; schedules that keep changing grow it by a quarter at a time as they are
    stepped past their span. ``state_dict()`` holds no table: a few plain numbers (``weights_only=True`` loads it).

    Args:
        optimizer (`torch.optim.Optimizer`):
            The optimizer for which to schedule the learning rate.
        name (`str` or `SchedulerType`):
            A precomputable schedule: one of `fastsched.schedule_names()`.
        last_epoch (`int`, *optional*, defaults to -1):
            The index of the last epoch when resuming training.
        **schedule_params:
            The schedule's parameters, as transformers names them (`num_warmup_steps`, `num_training_steps`, ...).
            polynomial's `lr_end` and `min_lr` are relative to `optimizer.defaults["lr"]`, as in transformers.
    """

    def __init__(self, optimizer: Optimizer, name: str | enum.Enum, last_epoch: int = -1, **schedule_params: Any):
        if not isinstance(optimizer, Optimizer):
            raise TypeError(f"{type(optimizer).__name__} is not an Optimizer")
        if isinstance(last_epoch, bool) or not isinstance(last_epoch, int):
            raise TypeError(f"`last_epoch` must be an int, got {type(last_epoch).__name__} {last_epoch!r}")
        self._packed = pack_for_optimizer(name, optimizer, schedule_params)
        self.schedule_name = schedules.canonical_name(name)
        self.schedule_params = {key: plain_number(value) for key, value in schedule_params.items() if value is not None}
        self._constant_from = schedules.constant_from(int(self._packed.codes[0]), self._packed.params[0])
        self._build_table()
        super().__init__(optimizer, last_epoch)

    # -- the table ------------------------------------------------------------------------------------------

    def _span(self) -> int:
        """Steps the table covers eagerly: up to the end value, or the schedule's nominal length."""
        if self._constant_from is not None:
            return self._constant_from + 1
        row = self._packed.params[0]
        if self._packed.codes[0] == f.INVERSE_SQRT:  # no num_training_steps: the warmup, then grown as stepped
            return int(row[f.COL_WARMUP]) + 1
        return int(max(row[f.COL_WARMUP], row[f.COL_TRAINING])) + 1

    def _build_table(self) -> None:
        self._table = array.array("d")
        self._table_len = 0
        self._grow_table(min(self._span(), EAGER_TABLE_STEPS))
        if self._constant_from is not None:
            self._end_multiplier = self._multipliers_at(self._constant_from)

    def _grow_table(self, num_steps: int) -> None:
        """Extend the table to `num_steps` steps with one (serial, exact) kernel call writing into the new tail."""
        start = self._table_len
        if num_steps <= start:
            return
        table = array.array("d", [0.0]) * num_steps  # exactly 8 bytes a step (extend() over-allocates by 1/16)
        table[:start] = self._table
        bulk.fill_multipliers(self._packed, start, np.frombuffer(table, dtype=np.float64, offset=8 * start))
        self._table = table
        self._table_len = num_steps

    def _multipliers_at(self, step: int) -> float:
        out = np.empty(1)
        cpu.multipliers_at(self._packed.codes[0], self._packed.params[0], np.array([step], dtype=np.int64), out)
        return float(out[0])

    def _multiplier_past_table(self, step: int) -> float:
        """The multiplier at a step the table doesn't hold (rare: past the schedule's span, or negative)."""
        if step < 0:  # last_epoch set below -1 by hand: as LambdaLR, evaluate the schedule there
            return self._multipliers_at(step)
        if self._constant_from is not None and step >= self._constant_from:
            return self._end_multiplier
        size = self._table_len
        if step >= max(2 * size, size + MIN_GROWTH_STEPS, EAGER_TABLE_STEPS):
            # A jump far past the table (step(epoch), a resume): evaluate there, don't fill every step up to it.
            return self._multipliers_at(step)
        # Grow by at least a quarter: the copy into the larger table stays amortized O(1) per step.
        target = max(step + 1, size + max(size // 4, MIN_GROWTH_STEPS))
        if self._constant_from is not None:
            target = min(target, self._constant_from + 1)
        self._grow_table(target)
        return self._table[step]

    def multiplier(self, step: int) -> float:
        """The schedule's multiplier of each group's base lr at `step` (what LambdaLR's lr_lambda returns)."""
        return self._table[step] if 0 <= step < self._table_len else self._multiplier_past_table(step)

    # -- LRScheduler ----------------------------------------------------------------------------------------

    def get_lr(self) -> list[float | Tensor]:
        """Each group's lr at ``last_epoch``: ``base_lr * multiplier``, as LambdaLR's get_lr().

        Warns outside ``step()`` as torch does (use ``get_last_lr()`` for the lrs last set).
        """
        if not self._get_lr_called_within_step:
            warnings.warn(
                "To get the last learning rate computed by the scheduler, please use `get_last_lr()`.",
                UserWarning,
                stacklevel=2,
            )
        multiplier = self.multiplier(self.last_epoch)
        return [base_lr * multiplier for base_lr in self.base_lrs]

    def step(self, epoch: int | None = None) -> None:
        """Advance one step and set each group's lr: ``base_lr * multiplier(last_epoch)``.

        The common case (float lrs) is a table lookup and one multiply per group. torch's own ``step()``
        handles the rest with LambdaLR's exact semantics: the step right after construction (where torch
        warns about the optimizer.step() / scheduler.step() order), the deprecated ``step(epoch)`` form, and
        tensor lrs (updated in place with ``fill_``).
        """
        if epoch is None and self._fast_step:
            groups = self.optimizer.param_groups
            base_lrs = self.base_lrs
            if len(groups) == len(base_lrs):  # else torch's step() raises, as LambdaLR does
                self._step_count += 1
                self.last_epoch = step = self.last_epoch + 1
                multiplier = self._table[step] if 0 <= step < self._table_len else self._multiplier_past_table(step)
                if len(base_lrs) == 2:  # Trainer's two groups (decay / no decay), unrolled: ~30% cheaper
                    lrs = [base_lrs[0] * multiplier, base_lrs[1] * multiplier]
                    groups[0]["lr"], groups[1]["lr"] = lrs
                else:
                    lrs = []
                    for group, base_lr in zip(groups, base_lrs):  # noqa: B905 (lengths checked; strict= is slow)
                        group["lr"] = lr = base_lr * multiplier
                        lrs.append(lr)
                self._last_lr = lrs
                return
        super().step(epoch)
        self._refresh_fast_step()

    def _initial_step(self) -> None:
        self._fast_step = False
        super()._initial_step()
        self._refresh_fast_step()

    def _refresh_fast_step(self) -> None:
        """Whether the next step() may take the fast path: float lrs, and not the step torch checks the order at.

        A tensor lr must be updated in place, never replaced by a float: torch's step() does that.
        """
        self._fast_step = self._step_count != 1 and not any(
            isinstance(value, Tensor)
            for value in (*self.base_lrs, *(group["lr"] for group in self.optimizer.param_groups))
        )

    def state_dict(self) -> dict[str, Any]:
        """The scheduler's state: a few plain numbers (no table), loadable with ``torch.load(weights_only=True)``.

        It also loads into transformers' ``LambdaLR`` (and a LambdaLR's state dict loads here): checkpoints
        move both ways between transformers and fastsched. ``schedule`` records the schedule for reference;
        as with LambdaLR, loading keeps the schedule the scheduler was built with.
        """
        return {
            "last_epoch": self.last_epoch,
            "_step_count": self._step_count,
            "base_lrs": list(self.base_lrs),
            "_last_lr": list(self._last_lr),
            "lr_lambdas": [None] * len(self.base_lrs),  # what LambdaLR.load_state_dict expects
            "schedule": {"name": self.schedule_name, **self.schedule_params},
        }

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Continue where the scheduler that saved `state_dict` (a TableScheduler or a LambdaLR) was."""
        self.last_epoch = state_dict["last_epoch"]
        self._step_count = state_dict["_step_count"]
        self.base_lrs = list(state_dict["base_lrs"])
        self._last_lr = list(state_dict.get("_last_lr", self._last_lr))
        self._refresh_fast_step()

    # -- pickle / deepcopy: the table is a pure function of the schedule's parameters; rebuild it -------------

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        del state["_table"]
        state["_table_len"] = 0
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._build_table()

    def __repr__(self) -> str:
        params = ", ".join(f"{key}={value!r}" for key, value in self.schedule_params.items())
        return f"{type(self).__name__}({self.schedule_name!r}{', ' if params else ''}{params})"


# -- transformers' functions ------------------------------------------------------------------------------------


def get_constant_schedule(optimizer: Optimizer, last_epoch: int = -1) -> TableScheduler:
    """
    Create a schedule with a constant learning rate, using the learning rate set in optimizer.

    Args:
        optimizer ([`~torch.optim.Optimizer`]):
            The optimizer for which to schedule the learning rate.
        last_epoch (`int`, *optional*, defaults to -1):
            The index of the last epoch when resuming training.

    Returns:
        `fastsched.TableScheduler` (LambdaLR's semantics) with the appropriate schedule.
    """
    return TableScheduler(optimizer, "constant", last_epoch)


def get_reduce_on_plateau_schedule(optimizer: Optimizer, **kwargs: Any) -> ReduceLROnPlateau:
    """
    Create a schedule with a constant learning rate that decreases when a metric has stopped improving.

    Args:
        optimizer ([`~torch.optim.Optimizer`]):
            The optimizer for which to schedule the learning rate.
        kwargs (`dict`, *optional*):
            Extra parameters to be passed to the scheduler. See `torch.optim.lr_scheduler.ReduceLROnPlateau`
            for possible parameters.

    Returns:
        `torch.optim.lr_scheduler.ReduceLROnPlateau` with the appropriate schedule.
    """
    return ReduceLROnPlateau(optimizer, **kwargs)


def get_constant_schedule_with_warmup(
    optimizer: Optimizer, num_warmup_steps: int, last_epoch: int = -1
) -> TableScheduler:
    """
    Create a schedule with a constant learning rate preceded by a warmup period during which the learning rate
    increases linearly between 0 and the initial lr set in the optimizer.

    Args:
        optimizer ([`~torch.optim.Optimizer`]):
            The optimizer for which to schedule the learning rate.
        num_warmup_steps (`int`):
            The number of steps for the warmup phase.
        last_epoch (`int`, *optional*, defaults to -1):
            The index of the last epoch when resuming training.

    Returns:
        `fastsched.TableScheduler` (LambdaLR's semantics) with the appropriate schedule.
    """
    return TableScheduler(optimizer, "constant_with_warmup", last_epoch, num_warmup_steps=num_warmup_steps)


def get_linear_schedule_with_warmup(
    optimizer: Optimizer, num_warmup_steps: int, num_training_steps: int, last_epoch: int = -1
) -> TableScheduler:
    """
    Create a schedule with a learning rate that decreases linearly from the initial lr set in the optimizer to 0, after
    a warmup period during which it increases linearly from 0 to the initial lr set in the optimizer.

    Args:
        optimizer ([`~torch.optim.Optimizer`]):
            The optimizer for which to schedule the learning rate.
        num_warmup_steps (`int`):
            The number of steps for the warmup phase.
        num_training_steps (`int`):
            The total number of training steps.
        last_epoch (`int`, *optional*, defaults to -1):
            The index of the last epoch when resuming training.

    Returns:
        `fastsched.TableScheduler` (LambdaLR's semantics) with the appropriate schedule.
    """
    return TableScheduler(
        optimizer, "linear", last_epoch, num_warmup_steps=num_warmup_steps, num_training_steps=num_training_steps
    )


def get_cosine_schedule_with_warmup(
    optimizer: Optimizer, num_warmup_steps: int, num_training_steps: int, num_cycles: float = 0.5, last_epoch: int = -1
) -> TableScheduler:
    """
    Create a schedule with a learning rate that decreases following the values of the cosine function between the
    initial lr set in the optimizer to 0, after a warmup period during which it increases linearly between 0 and the
    initial lr set in the optimizer.

    Args:
        optimizer ([`~torch.optim.Optimizer`]):
            The optimizer for which to schedule the learning rate.
        num_warmup_steps (`int`):
            The number of steps for the warmup phase.
        num_training_steps (`int`):
            The total number of training steps.
        num_cycles (`float`, *optional*, defaults to 0.5):
            The number of waves in the cosine schedule (the defaults is to just decrease from the max value to 0
            following a half-cosine).
        last_epoch (`int`, *optional*, defaults to -1):
            The index of the last epoch when resuming training.

    Returns:
        `fastsched.TableScheduler` (LambdaLR's semantics) with the appropriate schedule.
    """
    return TableScheduler(
        optimizer,
        "cosine",
        last_epoch,
        num_warmup_steps=num_warmup_steps,
        num_training_steps=num_training_steps,
        num_cycles=num_cycles,
    )


def get_cosine_with_hard_restarts_schedule_with_warmup(
    optimizer: Optimizer, num_warmup_steps: int, num_training_steps: int, num_cycles: int = 1, last_epoch: int = -1
) -> TableScheduler:
    """
    Create a schedule with a learning rate that decreases following the values of the cosine function between the
    initial lr set in the optimizer to 0, with several hard restarts, after a warmup period during which it increases
    linearly between 0 and the initial lr set in the optimizer.

    Args:
        optimizer ([`~torch.optim.Optimizer`]):
            The optimizer for which to schedule the learning rate.
        num_warmup_steps (`int`):
            The number of steps for the warmup phase.
        num_training_steps (`int`):
            The total number of training steps.
        num_cycles (`int`, *optional*, defaults to 1):
            The number of hard restarts to use.
        last_epoch (`int`, *optional*, defaults to -1):
            The index of the last epoch when resuming training.

    Returns:
        `fastsched.TableScheduler` (LambdaLR's semantics) with the appropriate schedule.
    """
    return TableScheduler(
        optimizer,
        "cosine_with_restarts",
        last_epoch,
        num_warmup_steps=num_warmup_steps,
        num_training_steps=num_training_steps,
        num_cycles=num_cycles,
    )


def get_polynomial_decay_schedule_with_warmup(
    optimizer: Optimizer,
    num_warmup_steps: int,
    num_training_steps: int,
    lr_end: float = 1e-7,
    power: float = 1.0,
    last_epoch: int = -1,
) -> TableScheduler:
    """
    Create a schedule with a learning rate that decreases as a polynomial decay from the initial lr set in the
    optimizer to end lr defined by *lr_end*, after a warmup period during which it increases linearly from 0 to the
    initial lr set in the optimizer.

    Args:
        optimizer ([`~torch.optim.Optimizer`]):
            The optimizer for which to schedule the learning rate.
        num_warmup_steps (`int`):
            The number of steps for the warmup phase.
        num_training_steps (`int`):
            The total number of training steps.
        lr_end (`float`, *optional*, defaults to 1e-7):
            The end LR.
        power (`float`, *optional*, defaults to 1.0):
            Power factor.
        last_epoch (`int`, *optional*, defaults to -1):
            The index of the last epoch when resuming training.

    Note: *power* defaults to 1.0 as in the fairseq implementation, which in turn is based on the original BERT
    implementation at
    https://github.com/google-research/bert/blob/f39e881b169b9d53bea03d2d341b31707a6c052b/optimization.py#L37

    `lr_end` is absolute and the decay runs from `optimizer.defaults["lr"]`, as in transformers. Where
    transformers divides by zero (step == num_warmup_steps == num_training_steps), the value is lr_end.

    Returns:
        `fastsched.TableScheduler` (LambdaLR's semantics) with the appropriate schedule.
    """
    return TableScheduler(
        optimizer,
        "polynomial",
        last_epoch,
        num_warmup_steps=num_warmup_steps,
        num_training_steps=num_training_steps,
        lr_end=lr_end,
        power=power,
    )


def get_inverse_sqrt_schedule(
    optimizer: Optimizer, num_warmup_steps: int, timescale: int | None = None, last_epoch: int = -1
) -> TableScheduler:
    """
    Create a schedule with an inverse square-root learning rate, from the initial lr set in the optimizer, after a
    warmup period which increases lr linearly from 0 to the initial lr set in the optimizer.

    Args:
        optimizer ([`~torch.optim.Optimizer`]):
            The optimizer for which to schedule the learning rate.
        num_warmup_steps (`int`):
            The number of steps for the warmup phase.
        timescale (`int`, *optional*, defaults to `num_warmup_steps`):
            Time scale (10 000 when `num_warmup_steps` is 0).
        last_epoch (`int`, *optional*, defaults to -1):
            The index of the last epoch when resuming training.

    Returns:
        `fastsched.TableScheduler` (LambdaLR's semantics) with the appropriate schedule.
    """
    return TableScheduler(optimizer, "inverse_sqrt", last_epoch, num_warmup_steps=num_warmup_steps, timescale=timescale)


def get_cosine_with_min_lr_schedule_with_warmup(
    optimizer: Optimizer,
    num_warmup_steps: int,
    num_training_steps: int,
    num_cycles: float = 0.5,
    last_epoch: int = -1,
    min_lr: float | None = None,
    min_lr_rate: float | None = None,
) -> TableScheduler:
    """
    Create a schedule with a learning rate that decreases following the values of the cosine function between the
    initial lr set in the optimizer to min_lr, after a warmup period during which it increases linearly between 0 and
    the initial lr set in the optimizer.

    Args:
        optimizer ([`~torch.optim.Optimizer`]):
            The optimizer for which to schedule the learning rate.
        num_warmup_steps (`int`):
            The number of steps for the warmup phase.
        num_training_steps (`int`):
            The total number of training steps.
        num_cycles (`float`, *optional*, defaults to 0.5):
            The number of waves in the cosine schedule (the defaults is to just decrease from the max value to 0
            following a half-cosine).
        last_epoch (`int`, *optional*, defaults to -1):
            The index of the last epoch when resuming training.
        min_lr (`float`, *optional*):
            The minimum learning rate to reach after the cosine schedule (relative to `optimizer.defaults["lr"]`).
        min_lr_rate (`float`, *optional*):
            The minimum learning rate as a ratio of the initial learning rate. If set, `min_lr` should not be set.

    Returns:
        `fastsched.TableScheduler` (LambdaLR's semantics) with the appropriate schedule.
    """
    return TableScheduler(
        optimizer,
        "cosine_with_min_lr",
        last_epoch,
        num_warmup_steps=num_warmup_steps,
        num_training_steps=num_training_steps,
        num_cycles=num_cycles,
        min_lr=min_lr,
        min_lr_rate=min_lr_rate,
    )


def get_cosine_with_min_lr_schedule_with_warmup_lr_rate(
    optimizer: Optimizer,
    num_warmup_steps: int,
    num_training_steps: int,
    num_cycles: float = 0.5,
    last_epoch: int = -1,
    min_lr: float | None = None,
    min_lr_rate: float | None = None,
    warmup_lr_rate: float | None = None,
) -> TableScheduler:
    """
    Create a schedule with a learning rate that decreases following the values of the cosine function between the
    initial lr set in the optimizer to min_lr, after a warmup period during which it increases linearly between 0 and
    the initial lr set in the optimizer.

    Args:
        optimizer ([`~torch.optim.Optimizer`]):
            The optimizer for which to schedule the learning rate.
        num_warmup_steps (`int`):
            The number of steps for the warmup phase.
        num_training_steps (`int`):
            The total number of training steps.
        num_cycles (`float`, *optional*, defaults to 0.5):
            The number of waves in the cosine schedule (the defaults is to just decrease from the max value to 0
            following a half-cosine).
        last_epoch (`int`, *optional*, defaults to -1):
            The index of the last epoch when resuming training.
        min_lr (`float`, *optional*):
            The minimum learning rate to reach after the cosine schedule (relative to `optimizer.defaults["lr"]`).
        min_lr_rate (`float`, *optional*):
            The minimum learning rate as a ratio of the initial learning rate. If set, `min_lr` should not be set.
        warmup_lr_rate (`float`, *optional*):
            The minimum learning rate as a ratio of the start learning rate. If not set, `warmup_lr_rate` will be
            treated as float(1/num_warmup_steps).

    Returns:
        `fastsched.TableScheduler` (LambdaLR's semantics) with the appropriate schedule.
    """
    return TableScheduler(
        optimizer,
        "cosine_warmup_with_min_lr",
        last_epoch,
        num_warmup_steps=num_warmup_steps,
        num_training_steps=num_training_steps,
        num_cycles=num_cycles,
        min_lr=min_lr,
        min_lr_rate=min_lr_rate,
        warmup_lr_rate=warmup_lr_rate,
    )


def get_wsd_schedule(
    optimizer: Optimizer,
    num_warmup_steps: int,
    num_decay_steps: int,
    num_training_steps: int | None = None,
    num_stable_steps: int | None = None,
    warmup_type: str = "linear",
    decay_type: str = "cosine",
    min_lr_ratio: float = 0,
    num_cycles: float = 0.5,
    last_epoch: int = -1,
) -> TableScheduler:
    """
    Create a schedule with a learning rate that has three stages:
    1. warmup: increase from min_lr_ratio times the initial learning rate to the initial learning rate following a
       warmup_type.
    2. stable: constant learning rate.
    3. decay: decrease from the initial learning rate to min_lr_ratio times the initial learning rate following a
       decay_type.

    Args:
        optimizer ([`~torch.optim.Optimizer`]):
            The optimizer for which to schedule the learning rate.
        num_warmup_steps (`int`):
            The number of steps for the warmup phase.
        num_decay_steps (`int`):
            The number of steps for the decay phase.
        num_training_steps (`int`, *optional*):
            The total number of training steps. This is the sum of the warmup, stable and decay steps. If
            `num_stable_steps` is not provided, the stable phase will be
            `num_training_steps - num_warmup_steps - num_decay_steps`.
        num_stable_steps (`int`, *optional*):
            The number of steps for the stable phase. Please ensure that
            `num_warmup_steps + num_stable_steps + num_decay_steps` equals `num_training_steps`, otherwise the other
            steps will default to the minimum learning rate.
        warmup_type (`str`, *optional*, defaults to "linear"):
            The type of warmup to use. Can be 'linear', 'cosine' or '1-sqrt'.
        decay_type (`str`, *optional*, defaults to "cosine"):
            The type of decay to use. Can be 'linear', 'cosine' or '1-sqrt'.
        min_lr_ratio (`float`, *optional*, defaults to 0):
            The minimum learning rate as a ratio of the initial learning rate.
        num_cycles (`float`, *optional*, defaults to 0.5):
            The number of waves in the cosine schedule (the defaults is to just decrease from the max value to 0
            following a half-cosine).
        last_epoch (`int`, *optional*, defaults to -1):
            The index of the last epoch when resuming training.

    Returns:
        `fastsched.TableScheduler` (LambdaLR's semantics) with the appropriate schedule.
    """
    return TableScheduler(
        optimizer,
        "warmup_stable_decay",
        last_epoch,
        num_warmup_steps=num_warmup_steps,
        num_decay_steps=num_decay_steps,
        num_training_steps=num_training_steps,
        num_stable_steps=num_stable_steps,
        warmup_type=warmup_type,
        decay_type=decay_type,
        min_lr_ratio=min_lr_ratio,
        num_cycles=num_cycles,
    )


def get_greedy_schedule(optimizer: Optimizer, **kwargs: Any) -> Any:
    """
    Create an adaptive learning rate scheduler that adjusts LR based on training metrics: transformers' `GreedyLR`.

    GreedyLR follows a metric (``scheduler.step(metric)``), so it has no table to precompute; fastsched returns
    transformers' own class rather than a copy of it. It needs a transformers release that has `GreedyLR`.

    Args:
        optimizer ([`~torch.optim.Optimizer`]):
            The optimizer for which to schedule the learning rate.
        kwargs (`dict`, *optional*):
            Extra parameters passed to the scheduler. See transformers' `GreedyLR` for possible parameters.

    Returns:
        `transformers.optimization.GreedyLR` with the appropriate schedule.

    Raises:
        NotImplementedError: where transformers (with GreedyLR) is not installed.
    """
    try:
        from transformers.optimization import GreedyLR
    except ImportError:
        raise NotImplementedError(
            "the 'greedy' schedule is transformers' GreedyLR, which follows a metric and is not reimplemented in "
            "fastsched: install a transformers release that has GreedyLR, or use 'reduce_lr_on_plateau' "
            "(torch's ReduceLROnPlateau) for a metric-driven schedule"
        ) from None
    return GreedyLR(optimizer, **kwargs)


TYPE_TO_SCHEDULER_FUNCTION = {
    SchedulerType.LINEAR: get_linear_schedule_with_warmup,
    SchedulerType.COSINE: get_cosine_schedule_with_warmup,
    SchedulerType.COSINE_WITH_RESTARTS: get_cosine_with_hard_restarts_schedule_with_warmup,
    SchedulerType.POLYNOMIAL: get_polynomial_decay_schedule_with_warmup,
    SchedulerType.CONSTANT: get_constant_schedule,
    SchedulerType.CONSTANT_WITH_WARMUP: get_constant_schedule_with_warmup,
    SchedulerType.INVERSE_SQRT: get_inverse_sqrt_schedule,
    SchedulerType.REDUCE_ON_PLATEAU: get_reduce_on_plateau_schedule,
    SchedulerType.COSINE_WITH_MIN_LR: get_cosine_with_min_lr_schedule_with_warmup,
    SchedulerType.COSINE_WARMUP_WITH_MIN_LR: get_cosine_with_min_lr_schedule_with_warmup_lr_rate,
    SchedulerType.WARMUP_STABLE_DECAY: get_wsd_schedule,
    SchedulerType.GREEDY: get_greedy_schedule,
}


def _scheduler_type(name: Any) -> SchedulerType:
    """fastsched's SchedulerType for a str, fastsched's enum or transformers' enum; transformers' error otherwise."""
    value = name.value if isinstance(name, enum.Enum) else name
    for member in SchedulerType:
        if member.value == value:
            return member
    valid = [member.value for member in SchedulerType]
    raise ValueError(f"{value} is not a valid SchedulerType, please select one of {valid}")


def _layerwise_dummy_optimizer_class() -> type | None:
    # Only transformers makes these; if it isn't imported, the optimizer can't be one.
    module = sys.modules.get("transformers.trainer_pt_utils")
    return getattr(module, "LayerWiseDummyOptimizer", None)


def get_scheduler(
    name: str | SchedulerType | enum.Enum,
    optimizer: Optimizer,
    num_warmup_steps: int | None = None,
    num_training_steps: int | None = None,
    scheduler_specific_kwargs: dict | None = None,
) -> Any:
    """
    Unified API to get any scheduler from its name: transformers' ``get_scheduler``, with fastsched's schedulers.

    Args:
        name (`str` or `SchedulerType`):
            The name of the scheduler to use (fastsched's or transformers' `SchedulerType`, or its value).
        optimizer (`torch.optim.Optimizer`):
            The optimizer that will be used during training.
        num_warmup_steps (`int`, *optional*):
            The number of warmup steps to do. This is not required by all schedulers (hence the argument being
            optional), the function will raise an error if it's unset and the scheduler type requires it.
        num_training_steps (`int``, *optional*):
            The number of training steps to do. This is not required by all schedulers (hence the argument being
            optional), the function will raise an error if it's unset and the scheduler type requires it.
        scheduler_specific_kwargs (`dict`, *optional*):
            Extra parameters for schedulers such as cosine with restarts. Mismatched scheduler types and scheduler
            parameters will cause the scheduler function to raise a TypeError.

    Returns:
        A `fastsched.TableScheduler` for the precomputable schedules; torch's `ReduceLROnPlateau` for
        "reduce_lr_on_plateau"; transformers' `GreedyLR` for "greedy".
    """
    # The checks below follow transformers' get_scheduler, in its order and with its messages.
    scheduler_type = _scheduler_type(name)
    schedule_func = TYPE_TO_SCHEDULER_FUNCTION[scheduler_type]
    label = f"SchedulerType.{scheduler_type.name}"  # how transformers' messages print the name

    layerwise_class = _layerwise_dummy_optimizer_class()
    if layerwise_class is not None and isinstance(optimizer, layerwise_class):
        return _layerwise_scheduler(
            scheduler_type, optimizer, num_warmup_steps, num_training_steps, scheduler_specific_kwargs
        )

    if scheduler_type == SchedulerType.CONSTANT:
        return schedule_func(optimizer)

    if scheduler_specific_kwargs is None:
        scheduler_specific_kwargs = {}

    if scheduler_type in (SchedulerType.REDUCE_ON_PLATEAU, SchedulerType.GREEDY):
        return schedule_func(optimizer, **scheduler_specific_kwargs)

    if num_warmup_steps is None:
        raise ValueError(f"{label} requires `num_warmup_steps`, please provide that argument.")

    if scheduler_type == SchedulerType.CONSTANT_WITH_WARMUP:
        return schedule_func(optimizer, num_warmup_steps=num_warmup_steps)

    if scheduler_type == SchedulerType.INVERSE_SQRT:
        return schedule_func(optimizer, num_warmup_steps=num_warmup_steps, **scheduler_specific_kwargs)

    if scheduler_type == SchedulerType.WARMUP_STABLE_DECAY:
        return schedule_func(
            optimizer,
            num_warmup_steps=num_warmup_steps,
            num_training_steps=num_training_steps,
            **scheduler_specific_kwargs,
        )

    if num_training_steps is None:
        raise ValueError(f"{label} requires `num_training_steps`, please provide that argument.")

    return schedule_func(
        optimizer, num_warmup_steps=num_warmup_steps, num_training_steps=num_training_steps, **scheduler_specific_kwargs
    )


def _layerwise_scheduler(
    scheduler_type: SchedulerType,
    optimizer: Any,
    num_warmup_steps: int | None,
    num_training_steps: int | None,
    scheduler_specific_kwargs: dict | None,
) -> Any:
    """transformers' handling of its LayerWiseDummyOptimizer (GaLore & co): one scheduler per parameter,
    stepped by a post-accumulate-grad hook, behind transformers' LayerWiseDummyScheduler."""
    from transformers.trainer_pt_utils import LayerWiseDummyScheduler

    optimizer_dict = optimizer.optimizer_dict
    scheduler_dict = {
        param: get_scheduler(
            scheduler_type,
            optimizer=optimizer_dict[param],
            num_warmup_steps=num_warmup_steps,
            num_training_steps=num_training_steps,
            scheduler_specific_kwargs=scheduler_specific_kwargs,
        )
        for param in optimizer_dict
    }

    def scheduler_hook(param: Any) -> None:
        scheduler_dict[param].step()

    for param in optimizer_dict:
        if param.requires_grad:
            param.register_post_accumulate_grad_hook(scheduler_hook)

    return LayerWiseDummyScheduler(optimizer_dict=optimizer_dict, lr=optimizer.defaults["lr"])
