"""Drop-in replacements for transformers' schedulers: same functions, same values, a table lookup per step.

`get_scheduler` and every ``get_*_schedule*`` function take transformers' parameters (names, order, defaults; counts
as floats or negative values too) and raise its errors. The precomputable schedules return a :class:`TableScheduler`:
a ``torch.optim.lr_scheduler.LambdaLR`` whose ``lr_lambdas`` are partials with transformers' keywords, and whose
multipliers were computed once, at construction, by the kernels in ``fastsched.kernels`` (libm cosine:
transformers' float64 values exactly; see ``fastsched.scheduler_table``). ``step()`` then only reads the table and
writes each param group's lr. No formula lives in this module.

The metric-driven names return what transformers returns: torch's ``ReduceLROnPlateau``, and transformers'
own ``GreedyLR`` (imported from transformers when it is installed).
"""

from __future__ import annotations

import enum
import functools
import sys
import warnings
from typing import Any

from torch import Tensor
from torch.optim import Optimizer
from torch.optim.lr_scheduler import EPOCH_DEPRECATION_WARNING, LambdaLR, ReduceLROnPlateau

from .registry import SchedulerType
from .scheduler_table import (
    RECORD_KEYS,
    ScheduleFunction,
    ScheduleTable,
    whole_step,
)

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

# torch's LRScheduler.step() checks of the call order, which TableScheduler.step() reports at its caller's line.
_OPTIMIZER_STEP_OVERRIDDEN = (
    "Seems like `optimizer.step()` has been overridden after learning rate scheduler "
    "initialization. Please, make sure to call `optimizer.step()` before "
    "`lr_scheduler.step()`. See more details at "
    "https://pytorch.org/docs/stable/optim.html#how-to-adjust-learning-rate"
)
_STEP_BEFORE_OPTIMIZER_STEP = (
    "Detected call of `lr_scheduler.step()` before `optimizer.step()`. "
    "In PyTorch 1.1.0 and later, you should call them in the opposite order: "
    "`optimizer.step()` before `lr_scheduler.step()`.  Failure to do this "
    "will result in PyTorch skipping the first value of the learning rate schedule. "
    "See more details at "
    "https://pytorch.org/docs/stable/optim.html#how-to-adjust-learning-rate"
)


def warn_of_call_order(optimizer: Optimizer) -> None:
    """torch's first LRScheduler.step() checks of the call order, at the line that called the scheduler's step()
    (which calls this)."""
    if not hasattr(optimizer.step, "_wrapped_by_lr_sched"):
        warnings.warn(_OPTIMIZER_STEP_OVERRIDDEN, UserWarning, stacklevel=3)
    elif not getattr(optimizer, "_opt_called", False):
        warnings.warn(_STEP_BEFORE_OPTIMIZER_STEP, UserWarning, stacklevel=3)


_GET_LR_OUTSIDE_STEP = "To get the last learning rate computed by the scheduler, please use `get_last_lr()`."


class TableScheduler(LambdaLR):
    """transformers' LambdaLR for one of its schedules, with lr_lambdas that read a table the kernels computed.

    It is a ``torch.optim.lr_scheduler.LambdaLR``: ``lr_lambdas`` holds, per param group, a picklable
    ``functools.partial`` whose ``.keywords`` are those transformers' lr_lambda has for the same call and whose call
    returns the multiplier. Everything else is LambdaLR's too: each group's ``initial_lr`` is set with
    ``setdefault`` and kept in ``base_lrs``; ``last_epoch`` starts at -1 and the constructor steps once; each
    ``step()`` sets every group's lr to ``base_lr * lr_lambda(last_epoch)``, a tensor lr filled in place; construct
    with ``last_epoch >= 0`` to resume (the groups must then hold ``initial_lr``); lr_lambdas replaced by the user
    are called, as LambdaLR calls them; its warnings point at the caller's line.

    What differs is the cost: with its own lr_lambdas and float lrs, ``step()`` is a table lookup and a multiply
    per group (no formula, no kernel call, no array allocation). The table (a ``ScheduleTable``) holds the
    schedule's multipliers up to where it reaches its end value, or to its nominal length for the schedules that
    keep changing (cosine family, inverse_sqrt), which grow it as they are stepped past it: 8 bytes a step,
    computed at construction up to ``scheduler_table.EAGER_TABLE_STEPS`` steps and beyond as steps reach it.

    ``state_dict()`` is LambdaLR's (a few plain numbers: ``torch.load(weights_only=True)`` loads it) with a record of
    the schedule under "schedule"; states move both ways between this scheduler and transformers' LambdaLR. The
    table is a cache kept outside ``__dict__``: a loaded scheduler's ``__dict__`` is the saved one's.

    Args:
        optimizer (`torch.optim.Optimizer`):
            The optimizer for which to schedule the learning rate.
        name (`str` or `SchedulerType`):
            A precomputable schedule: one of `fastsched.preset_names("transformers")`.
        last_epoch (`int`, *optional*, defaults to -1):
            The index of the last epoch when resuming training.
        **schedule_params:
            The schedule's parameters, as transformers names them (`num_warmup_steps`, `num_training_steps`, ...).
            polynomial's `lr_end` and `min_lr` are relative to `optimizer.defaults["lr"]`, as in transformers.
    """

    # The table, its values and size (what a step reads: the table may replace them as it grows) and the lr_lambda
    # it was built with: caches, outside the __dict__ that is the scheduler's state.
    __slots__ = ("_armed", "_lr_lambda", "_size", "_table", "_values")

    def __init__(self, optimizer: Optimizer, name: str | enum.Enum, last_epoch: int = -1, **schedule_params: Any):
        if not isinstance(optimizer, Optimizer):
            raise TypeError(f"{type(optimizer).__name__} is not an Optimizer")
        last_epoch = whole_step("last_epoch", last_epoch)
        self._table = ScheduleTable.for_optimizer(name, optimizer, schedule_params)
        self._values, self._size = self._table.values, self._table.size
        self._lr_lambda = lr_lambda = functools.partial(ScheduleFunction(self._table), **self._table.keywords)
        self._armed = None  # step()'s table lookup waits for the step that checks the call order
        super().__init__(optimizer, lr_lambda, last_epoch)

    @property
    def schedule_name(self) -> str:
        """The schedule's name (transformers' SchedulerType value)."""
        return self._table.name

    @property
    def schedule_params(self) -> dict[str, Any]:
        """The schedule's parameters as given, in plain types."""
        return dict(self._table.params)

    def multiplier(self, step: int) -> float:
        """The schedule's multiplier of each group's base lr at `step` (what its lr_lambdas return)."""
        return self._table.multiplier(step)

    # -- LambdaLR -------------------------------------------------------------------------------------------------

    def get_lr(self) -> list[float | Tensor]:
        """Each group's lr at ``last_epoch``: ``base_lr * lr_lambda(last_epoch)``, as LambdaLR's get_lr() (with the
        scheduler's own lr_lambdas, one table lookup). Outside ``step()`` it warns at the caller's line, as torch
        does: ``get_last_lr()`` gives the lrs last set."""
        if not self._get_lr_called_within_step:
            warnings.warn(_GET_LR_OUTSIDE_STEP, UserWarning, stacklevel=2)
        step = self.last_epoch
        if self._lambdas_are_own():
            multiplier = self._table.multiplier(step)
            return [base_lr * multiplier for base_lr in self.base_lrs]
        return [base_lr * lr_lambda(step) for lr_lambda, base_lr in zip(self.lr_lambdas, self.base_lrs, strict=True)]

    def step(self, epoch: int | None = None) -> None:
        """Advance one step and set each group's lr to ``base_lr * lr_lambda(last_epoch)``, as LambdaLR's step().

        With its own lr_lambdas, float lrs and past the step that checks the call order, a step is a table lookup
        and a multiply per group. Otherwise it is torch's step(): the order warnings and the deprecated
        ``step(epoch)``'s at the caller's line, tensor lrs filled in place, replaced lr_lambdas called.
        """
        # _armed is the scheduler's own lr_lambda once the step torch checks the call order at is past (None before).
        # While every lr_lambda is still that one (none replaced, in place or not) and each group's lr still the float
        # the last step set (not a tensor put there since, which torch's path below fills in place), a step is a
        # table lookup. Identity checks, element by element: cheaper than comparing the lists.
        armed = self._armed
        if epoch is None and armed is not None:
            try:  # Trainer's two groups (decay / no decay), unrolled; other counts raise and take the loop below
                lambda_first, lambda_second = self.lr_lambdas
                first, second = self.optimizer.param_groups
                last_first, last_second = self._last_lr
            except ValueError:
                if self._step_from_table():
                    return
            else:
                if (
                    lambda_first is armed
                    and lambda_second is armed
                    and first["lr"] is last_first
                    and second["lr"] is last_second
                ):
                    step = self.last_epoch + 1
                    # ScheduleTable.multiplier, inlined (a call costs as much as the rest)
                    multiplier = self._values[step] if 0 <= step < self._size else self._multiplier_past_table(step)
                    base_first, base_second = self.base_lrs
                    first["lr"] = first_lr = base_first * multiplier
                    second["lr"] = second_lr = base_second * multiplier
                    self._last_lr = [first_lr, second_lr]
                    self._step_count += 1
                    self.last_epoch = step
                    return
        # torch's LRScheduler.step(), with its warnings at this method's caller's line
        if self._step_count == 1:
            warn_of_call_order(self.optimizer)
        if epoch is not None:
            warnings.warn(EPOCH_DEPRECATION_WARNING, UserWarning, stacklevel=2)
        previous = self.last_epoch, self._step_count
        self._step_count += 1
        self._get_lr_called_within_step = True
        try:
            self.last_epoch = self.last_epoch + 1 if epoch is None else epoch
            updates = list(zip(self.optimizer.param_groups, self.get_lr(), strict=True))
        except BaseException:
            self.last_epoch, self._step_count = previous  # nothing half-written
            raise
        finally:
            self._get_lr_called_within_step = False
        for group, lr in updates:
            if isinstance(group["lr"], Tensor):
                group["lr"].fill_(lr)  # in place: whatever holds the tensor (a compiled step) sees the new lr
            else:
                group["lr"] = lr
        self._last_lr = [
            group["lr"].clone() if isinstance(group["lr"], Tensor) else group["lr"] for group, _ in updates
        ]
        if self._step_count > 1:
            self._armed = self._lr_lambda

    def _lambdas_are_own(self) -> bool:
        """Whether lr_lambdas is still the scheduler's own lr_lambda, one per group (none replaced, in place or not)."""
        lambdas = self.lr_lambdas
        return len(lambdas) == len(self.base_lrs) and all(lr_lambda is self._lr_lambda for lr_lambda in lambdas)

    def _step_from_table(self) -> bool:
        """step()'s table lookup for any number of groups (step() unrolls two): False where torch's step must run.
        (Its own method: the comprehensions here would make step()'s locals cells, which cost every step.)"""
        groups, last_lrs = self.optimizer.param_groups, self._last_lr
        if not (
            len(groups) == len(last_lrs) == len(self.base_lrs)
            and self._lambdas_are_own()
            and all(group["lr"] is last for group, last in zip(groups, last_lrs))  # noqa: B905 (lengths checked)
        ):
            return False
        step = self.last_epoch + 1
        multiplier = self._table.multiplier(step)
        self._last_lr = lrs = [base_lr * multiplier for base_lr in self.base_lrs]
        for group, lr in zip(groups, lrs):  # noqa: B905 (lengths checked; strict= is slow)
            group["lr"] = lr
        self._step_count += 1
        self.last_epoch = step
        return True

    def _multiplier_past_table(self, step: int) -> float:
        multiplier = self._table.multiplier(step)  # may grow the table: read its values and size again
        self._values, self._size = self._table.values, self._table.size
        return multiplier

    def __getstate__(self) -> tuple[dict[str, Any], dict[str, Any]]:
        state, slots = super().__getstate__()
        # the table pickles as its schedule (a few numbers); its values are rebuilt, and read again on unpickling
        return state, {name: value for name, value in slots.items() if name not in ("_values", "_size")}

    def __setstate__(self, state: tuple[dict[str, Any], dict[str, Any]]) -> None:
        state, slots = state
        self.__dict__.update(state)
        for name, value in slots.items():
            setattr(self, name, value)
        self._values, self._size = self._table.values, self._table.size

    def state_dict(self) -> dict[str, Any]:
        """LambdaLR's state (``__dict__`` but the optimizer, and the lr_lambdas' ``__dict__``), with a record of the
        schedule under "schedule": plain types only, so ``torch.load(weights_only=True)`` loads it. It loads into
        transformers' LambdaLR too, and a LambdaLR's state loads here."""
        state = super().state_dict()
        state["schedule"] = self._table.record()
        return state

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """LambdaLR's load_state_dict(): the numbers of `state_dict` (a TableScheduler's or a LambdaLR's, keys it
        lacks keep their values) replace the scheduler's. As with LambdaLR, the scheduler keeps the schedule it was
        built with (the "schedule" record is not loaded). An integral float ``last_epoch`` is read as an int."""
        state = {key: value for key, value in state_dict.items() if key not in RECORD_KEYS}
        if "last_epoch" in state:
            state["last_epoch"] = whole_step("last_epoch", state["last_epoch"])
        super().load_state_dict(state)

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
