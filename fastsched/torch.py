"""Drop-in ``torch.optim.lr_scheduler`` classes whose ``step()`` looks the lr up in a table.

``from fastsched.torch import OneCycleLR`` (and ConstantLR, LinearLR, StepLR, MultiStepLR, ExponentialLR,
PolynomialLR, CosineAnnealingLR, CosineAnnealingWarmRestarts, CyclicLR, SequentialLR, ChainedScheduler): each class
IS torch's class (a subclass: ``isinstance`` holds, and everything but ``step()`` is torch's own code), so its
signature, defaults, validation and errors, attributes, ``state_dict()`` keys, ``get_last_lr()``, ``last_epoch``
and resume semantics are torch's.

``step()``: torch's order warnings and the deprecated ``step(epoch)``'s warning at the caller's line, then, where it
can, a table lookup: the schedule's lrs (and OneCycleLR's and CyclicLR's momentums) were computed once by
fastsched's kernels from the class's own attributes (its ``fastsched.presets.torch`` segments, one table per param
group, grown as steps pass its end), and a step writes each group's value (a tensor lr is filled in place). Where it
can't, the step is torch's own, so behaviour never differs:

- the constructor's step (and SequentialLR's restarts of a child) are torch's;
- the recursive classes (all but OneCycleLR, CyclicLR, CosineAnnealingWarmRestarts) read the group's lr: a step is a
  lookup only while every group holds the table's value at the current step (within SYNC_TOLERANCE, 1e-12, of its
  base lr: torch's own recursion stays that close, so a checkpoint of torch's values resumes by lookups). Anything
  else that set the lr (another scheduler in a ChainedScheduler, the user, torch's resume through
  ``last_epoch >= 0``, whose lrs lag its last_epoch) gives torch's recursive step, from that lr;
- OneCycleLR past ``total_steps`` (torch's ValueError), a CyclicLR with a custom ``scale_fn``, a step(epoch), a
  CosineAnnealingWarmRestarts whose T_cur/T_i are not those of its last_epoch, a changed attribute the table was
  computed from (it is recomputed, and used again once the lr matches it) and a config fastsched's segments refuse
  (a step torch divides by zero at) take torch's path.

The values: the closed forms of the recursive classes (``_get_closed_form_lr``), within 1e-12 of them; torch's
stepped values drift from those by the recursion's rounding (formulas.md 6: a few ulps, ~eps x T_max**2 for
CosineAnnealingLR past T_max), so a drop-in's lrs and ``_last_lr`` agree with torch's within that drift.
OneCycleLR's and CyclicLR's tables are torch's floats bit for bit (the same operations, libm's cosine).

SequentialLR is torch's, stepping its children: with fastsched's children their steps are lookups. ChainedScheduler
steps its children in one lookup where they are all fastsched's multiplicative classes (ConstantLR, LinearLR,
StepLR, MultiStepLR, ExponentialLR, PolynomialLR) and their product is a segment (see the torch.ChainedScheduler
preset); otherwise it is torch's.

On the GPU (CUDA-graph capturable): ``fastsched.CudaScheduler(optimizer, "torch.OneCycleLR", max_lr=..., ...)``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from torch import Tensor
from torch.optim import lr_scheduler as torch_lr_scheduler

from . import table as segment_tables
from .presets import torch as presets
from .scheduler_table import ScheduleTable
from .schedules import BuiltItems, Context
from .torch_schedulers import warn_of_call_order
from .warn import warn

__all__ = [
    "ChainedScheduler",
    "ConstantLR",
    "CosineAnnealingLR",
    "CosineAnnealingWarmRestarts",
    "CyclicLR",
    "ExponentialLR",
    "LinearLR",
    "MultiStepLR",
    "OneCycleLR",
    "PolynomialLR",
    "SequentialLR",
    "StepLR",
]


def _number(value: Any) -> float:
    """A float, a numpy or a torch scalar (a tensor lr) as a Python float."""
    return value if type(value) is float else float(value)


# A group's lr "holds the table's value" within this much of its base lr: torch's recursive values drift from the
# closed form by their rounding (formulas.md 6); anything that set the lr otherwise is far from it.
SYNC_TOLERANCE = 1e-12


class _Tables:
    """A scheduler's tables and what they were computed from (`watch`: the attributes, as objects).

    Per param group: its lr table, whose values times `scales[i]` are the lrs (the group's base lr for the
    relative classes, 1 for the absolute ones), and its momentum table or None. `last`: the last step they serve
    (None: every step); `reads_lr`: whether torch's get_lr reads the group's lr (then a lookup needs every group to
    hold the table's value at the step before). `written`, `written_at`: the floats the last lookup wrote, at what
    step (a shortcut of that check)."""

    __slots__ = (
        "last",
        "lrs",
        "momentums",
        "partials",
        "reads_lr",
        "scales",
        "usable",
        "watch",
        "written",
        "written_at",
    )

    def __init__(
        self,
        watch: tuple[Any, ...],
        lrs: list[ScheduleTable] | None,
        scales: list[float] | None = None,
        momentums: list[ScheduleTable] | None = None,
        *,
        last: int | None = None,
        reads_lr: bool = True,
    ) -> None:
        self.watch = watch
        self.usable = lrs is not None
        self.lrs = lrs or []
        self.scales = scales or [1.0] * len(self.lrs)
        self.momentums = momentums
        self.last = last
        self.reads_lr = reads_lr
        self.partials: list[tuple[ScheduleTable, ScheduleTable]] = []  # a ChainedScheduler's (see _chain_tables)
        self.written: list[Any] = []
        self.written_at: int | None = None

    def lr(self, group: int, step: int) -> float:
        table = self.lrs[group]
        multiplier = table.values[step] if 0 <= step < table.size else table.multiplier(step)
        return self.scales[group] * multiplier

    def momentum(self, group: int, step: int) -> float:
        table = self.momentums[group]  # type: ignore[index]
        return table.values[step] if 0 <= step < table.size else table.multiplier(step)

    def serves(self, step: int, groups: list[dict[str, Any]]) -> bool:
        """Whether a lookup at `step` is what torch's step computes there: in range, and where torch's get_lr reads
        the group's lr, every group holding the table's value at the step before (within SYNC_TOLERANCE x the
        group's base lr, and its dtype's rounding: torch's recursion drifts from it by its rounding)."""
        if not self.usable or step < 1 or (self.last is not None and step > self.last) or len(groups) != len(self.lrs):
            return False
        if not self.reads_lr:
            return True
        previous = step - 1
        if self.written_at == previous and all(map(_same, (group["lr"] for group in groups), self.written)):
            return True  # the floats the last lookup wrote, untouched
        for i, group in enumerate(groups):
            lr, expected = group["lr"], self.lr(i, previous)
            tolerance = SYNC_TOLERANCE * abs(self.scales[i])
            if isinstance(lr, Tensor):
                if lr.numel() != 1:
                    return False
                lr, tolerance = lr.item(), tolerance + abs(expected) * torch.finfo(lr.dtype).eps
            elif type(lr) is not float:
                return False
            if not abs(lr - expected) <= tolerance:
                return False
        return True

    def write(self, scheduler: Any, step: int) -> None:
        """Each group's lr (and momentum) at `step`, as torch's step writes them, and the scheduler's _last_lr."""
        last_lrs: list[Any] = []
        written: list[Any] = []
        momentums, use_beta1 = self.momentums, getattr(scheduler, "use_beta1", False)
        for i, group in enumerate(scheduler.optimizer.param_groups):
            value = self.lr(i, step)
            lr = group["lr"]
            if isinstance(lr, Tensor):
                lr.fill_(value)  # in place: whatever holds the tensor (a compiled step) sees the new lr
                last_lrs.append(lr.clone())
                written.append((lr, lr._version))  # in-place changes bump _version: untouched needs no read back
            else:
                group["lr"] = value
                last_lrs.append(value)
                written.append(value)
            if momentums is not None:
                momentum = self.momentum(i, step)
                if use_beta1:
                    group["betas"] = (momentum, *group["betas"][1:])
                else:
                    group["momentum"] = momentum
        scheduler._last_lr = last_lrs
        self.written, self.written_at = written, step


def _same(lr: Any, written: Any) -> bool:
    """Whether a group's lr is what the last lookup wrote: the same float object, or the same tensor unchanged since
    (its version counter; reading its value would be a device sync on a GPU)."""
    if type(written) is tuple:
        tensor, version = written
        return lr is tensor and lr._version == version
    return lr is written


class _TableSteps:
    """step() by table lookup for a torch scheduler class: the mixin of the drop-in classes."""

    __slots__ = ("_fastsched",)  # the tables: a cache outside __dict__, which is the state torch saves

    _fastsched_counts_steps = True  # torch's step() counts _step_count (CosineAnnealingWarmRestarts' doesn't)

    # -- what a class says: the attributes its tables are computed from, and the tables --------------------------

    def _fastsched_watch(self) -> tuple[Any, ...]:
        """The attributes (and group entries) the tables are computed from, as they are (compared each step)."""
        raise NotImplementedError

    def _fastsched_tables(self, watch: tuple[Any, ...]) -> _Tables:
        raise NotImplementedError

    def _fastsched_ready(self) -> bool:
        """Whether the scheduler's own state (beyond last_epoch and the lrs) is that of its last_epoch."""
        return True

    def _fastsched_advance(self) -> None:
        """The class's own bookkeeping of a step (CosineAnnealingWarmRestarts' T_cur and T_i)."""

    # -- the step -------------------------------------------------------------------------------------------------

    def step(self, epoch: int | None = None) -> None:
        """torch's step(), by table lookup where that gives torch's values (see the module's doc)."""
        if self._step_count == 1:  # torch's checks, at the caller's line
            warn_of_call_order(self.optimizer)
        if epoch is None and not self._is_initial and self._fastsched_step():
            return
        self._step_count += 1
        if epoch is not None:
            warn(torch_lr_scheduler.EPOCH_DEPRECATION_WARNING, UserWarning)
        self._update_lr(epoch)

    def _fastsched_step(self) -> bool:
        """One step by lookup, if it gives what torch's step would: True when done."""
        tables = self._fastsched_current()
        step = self.last_epoch + 1
        if not (tables.serves(step, self.optimizer.param_groups) and self._fastsched_ready()):
            return False
        tables.write(self, step)
        if self._fastsched_counts_steps:
            self._step_count += 1
        self._fastsched_advance()
        self.last_epoch = step
        return True

    def _fastsched_current(self) -> _Tables:
        """The tables for the scheduler's attributes now (recomputed where one changed)."""
        watch = self._fastsched_watch()
        tables = getattr(self, "_fastsched", None)
        if tables is None or tables.watch != watch:
            try:
                tables = self._fastsched_tables(watch)
            except (ValueError, ArithmeticError):  # what the segments refuse: torch's steps compute it (or raise)
                tables = _Tables(watch, None)
            self._fastsched = tables
        return tables

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """torch's load_state_dict(); the tables follow the attributes loaded."""
        super().load_state_dict(state_dict)  # type: ignore[misc]
        self._fastsched = None

    # the tables are a cache: a pickled or copied scheduler is its __dict__, as torch's is
    def __getstate__(self) -> dict[str, Any]:
        return self.__dict__.copy()

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._fastsched = None


class _RelativeSteps(_TableSteps):
    """The classes whose lr is the group's base lr times a factor, which torch's recursive get_lr computes from the
    group's lr: `_fastsched_values` are the preset's parameters, from the class's attributes."""

    __slots__ = ()

    _fastsched_builder: Callable[..., list[Any]]
    _fastsched_parameters: tuple[str, ...]  # the attributes that are the preset's parameters

    def _fastsched_values(self) -> dict[str, Any]:
        return {name: _number(getattr(self, name)) for name in self._fastsched_parameters}

    def _fastsched_watch(self) -> tuple[Any, ...]:
        return (*[getattr(self, name) for name in self._fastsched_parameters], *self.base_lrs)

    def _fastsched_tables(self, watch: tuple[Any, ...]) -> _Tables:
        values = self._fastsched_values()
        base_lrs = [_number(base_lr) for base_lr in self.base_lrs]
        name = f"torch.{_torch_class(type(self)).__name__}"
        by_base: dict[float, ScheduleTable] = {}
        for base_lr in base_lrs:
            if base_lr not in by_base:  # the values depend on the base lr only through eta_min
                items = type(self)._fastsched_builder(values, _context(base_lr), presets.ALONE)
                by_base[base_lr] = _table(name, items, base_lr, values)
        return _Tables(watch, [by_base[b] for b in base_lrs], base_lrs)


# -------------------------------------------------------------------------------------------------------------------
# The classes: torch's, with what their tables are computed from
# -------------------------------------------------------------------------------------------------------------------


class ConstantLR(_RelativeSteps, torch_lr_scheduler.ConstantLR):
    __doc__ = torch_lr_scheduler.ConstantLR.__doc__
    __slots__ = ()
    _fastsched_builder = staticmethod(presets.constant_lr_items)
    _fastsched_parameters = ("factor", "total_iters")


class LinearLR(_RelativeSteps, torch_lr_scheduler.LinearLR):
    __doc__ = torch_lr_scheduler.LinearLR.__doc__
    __slots__ = ()
    _fastsched_builder = staticmethod(presets.linear_lr_items)
    _fastsched_parameters = ("start_factor", "end_factor", "total_iters")


class StepLR(_RelativeSteps, torch_lr_scheduler.StepLR):
    __doc__ = torch_lr_scheduler.StepLR.__doc__
    __slots__ = ()
    _fastsched_builder = staticmethod(presets.step_lr_items)
    _fastsched_parameters = ("step_size", "gamma")


class MultiStepLR(_RelativeSteps, torch_lr_scheduler.MultiStepLR):
    __doc__ = torch_lr_scheduler.MultiStepLR.__doc__
    __slots__ = ()
    _fastsched_builder = staticmethod(presets.multi_step_lr_items)
    _fastsched_parameters = ("gamma",)

    def _fastsched_values(self) -> dict[str, Any]:
        milestones = tuple(sorted(_number(m) for m in self.milestones.elements()))
        return {"milestones": milestones, "gamma": _number(self.gamma)}

    def _fastsched_watch(self) -> tuple[Any, ...]:
        return (dict(self.milestones), *super()._fastsched_watch())  # (a dict's ==: the Counter's is Python's)


class ExponentialLR(_RelativeSteps, torch_lr_scheduler.ExponentialLR):
    __doc__ = torch_lr_scheduler.ExponentialLR.__doc__
    __slots__ = ()
    _fastsched_builder = staticmethod(presets.exponential_lr_items)
    _fastsched_parameters = ("gamma",)


class PolynomialLR(_RelativeSteps, torch_lr_scheduler.PolynomialLR):
    __doc__ = torch_lr_scheduler.PolynomialLR.__doc__
    __slots__ = ()
    _fastsched_builder = staticmethod(presets.polynomial_lr_items)
    _fastsched_parameters = ("total_iters", "power")


class CosineAnnealingLR(_RelativeSteps, torch_lr_scheduler.CosineAnnealingLR):
    __doc__ = torch_lr_scheduler.CosineAnnealingLR.__doc__
    __slots__ = ()
    _fastsched_builder = staticmethod(presets.cosine_annealing_lr_items)
    _fastsched_parameters = ("T_max", "eta_min")


class CosineAnnealingWarmRestarts(_RelativeSteps, torch_lr_scheduler.CosineAnnealingWarmRestarts):
    __doc__ = torch_lr_scheduler.CosineAnnealingWarmRestarts.__doc__
    __slots__ = ()
    _fastsched_builder = staticmethod(presets.cosine_annealing_warm_restarts_items)
    _fastsched_parameters = ("T_0", "T_mult", "eta_min")
    _fastsched_counts_steps = False  # torch's step() of this class counts no _step_count and warns of nothing

    def _fastsched_tables(self, watch: tuple[Any, ...]) -> _Tables:
        tables = super()._fastsched_tables(watch)
        tables.reads_lr = False  # its get_lr is a closed form of T_cur and T_i
        return tables

    def step(self, epoch: Any = None) -> None:
        """torch's step(), by table lookup where that gives torch's values (see the module's doc)."""
        if epoch is None and not self._is_initial and self._fastsched_step():
            return
        torch_lr_scheduler.CosineAnnealingWarmRestarts.step(self, epoch)

    def _fastsched_ready(self) -> bool:
        # T_cur and T_i are those that stepping from 0 to last_epoch gives (a step(epoch) may have set others)
        return (self.T_cur, self.T_i) == _restart_state(self.last_epoch, self.T_0, self.T_mult)

    def _fastsched_advance(self) -> None:
        self.T_cur = self.T_cur + 1  # torch's bookkeeping (CosineAnnealingWarmRestarts.step)
        if self.T_cur >= self.T_i:
            self.T_cur = self.T_cur % self.T_i
            self.T_i = self.T_i * self.T_mult


def _torch_class(cls: type) -> type:
    """The torch.optim.lr_scheduler class a drop-in class (or a user's subclass of one) is."""
    return next(c for c in cls.__mro__ if c.__module__ == torch_lr_scheduler.__name__)


def _restart_state(step: int, first: int, mult: int) -> tuple[int, int]:
    """(T_cur, T_i) after stepping CosineAnnealingWarmRestarts from 0 to `step`."""
    if mult == 1:
        return step % first, first
    cycle = first
    while step >= cycle:
        step -= cycle
        cycle *= mult
    return step, cycle


_ONE_CYCLE_KEYS = ("initial_lr", "max_lr", "min_lr")
_ONE_CYCLE_MOMENTUM_KEYS = ("max_momentum", "base_momentum")


class OneCycleLR(_TableSteps, torch_lr_scheduler.OneCycleLR):
    __doc__ = torch_lr_scheduler.OneCycleLR.__doc__
    __slots__ = ()

    def _fastsched_watch(self) -> tuple[Any, ...]:
        keys = _ONE_CYCLE_KEYS + (_ONE_CYCLE_MOMENTUM_KEYS if self.cycle_momentum else ())
        groups = [group[key] for group in self.optimizer.param_groups for key in keys]
        # (the phases list is torch's own object: compared by identity first, by value if replaced)
        return self.total_steps, self._anneal_func_type, self._schedule_phases, self.cycle_momentum, *groups

    def _fastsched_tables(self, watch: tuple[Any, ...]) -> _Tables:
        total = _number(self.total_steps)
        phases = self._schedule_phases
        ends = [_number(phase["end_step"]) for phase in phases]
        cos = self._anneal_func_type == "cos"
        lrs, momentums = [], []
        for group in self.optimizer.param_groups:
            values = [(_number(group[phase["start_lr"]]), _number(group[phase["end_lr"]])) for phase in phases]
            lrs.append(_table("torch.OneCycleLR", presets.one_cycle_items(total, ends, values, cos, 1.0), 1.0, {}))
            if self.cycle_momentum:
                values = [
                    (_number(group[phase["start_momentum"]]), _number(group[phase["end_momentum"]])) for phase in phases
                ]
                items = presets.one_cycle_items(total, ends, values, cos, 1.0)
                momentums.append(_table("torch.OneCycleLR", items, 1.0, {}))
        # torch raises past total_steps, and divides 0 by 0 at total_steps if its last phase has no length: there
        # its steps do
        last_phase_empty = ends[-1] - (ends[-2] if len(ends) > 1 else 0.0) == 0.0
        last = self.total_steps - 1 if last_phase_empty else self.total_steps
        return _Tables(watch, lrs, None, momentums if self.cycle_momentum else None, last=last, reads_lr=False)


class CyclicLR(_TableSteps, torch_lr_scheduler.CyclicLR):
    __doc__ = torch_lr_scheduler.CyclicLR.__doc__
    __slots__ = ()

    def _fastsched_watch(self) -> tuple[Any, ...]:
        momentums = (*self.base_momentums, *self.max_momentums) if self.cycle_momentum else ()
        return (
            self.total_size,
            self.step_ratio,
            self.mode,
            self.gamma,
            self.scale_mode,
            self._scale_fn_custom,
            self.cycle_momentum,
            *self.base_lrs,
            *self.max_lrs,
            *momentums,
        )

    def _fastsched_tables(self, watch: tuple[Any, ...]) -> _Tables:
        own_scale_mode = {"triangular": "cycle", "triangular2": "cycle", "exp_range": "iterations"}.get(self.mode)
        if self._scale_fn_custom is not None or own_scale_mode != self.scale_mode:
            return _Tables(watch, None)  # a scale function of the user's: torch's steps call it
        code, total, ratio, gamma = presets.MODE_CODES[self.mode], _number(self.total_size), self.step_ratio, self.gamma
        lrs, momentums = [], []
        for i, (base_lr, max_lr) in enumerate(zip(self.base_lrs, self.max_lrs, strict=True)):
            items = presets.cyclic_items(total, ratio, code, gamma, _number(base_lr), _number(max_lr), 1.0)
            lrs.append(_table("torch.CyclicLR", items, 1.0, {}))
            if self.cycle_momentum:  # max_momentum - (max_momentum - base_momentum) * ...: the same shape
                low, high = _number(self.max_momentums[i]), _number(self.base_momentums[i])
                items = presets.cyclic_items(total, ratio, code, gamma, low, high, 1.0)
                momentums.append(_table("torch.CyclicLR", items, 1.0, {}))
        return _Tables(watch, lrs, None, momentums if self.cycle_momentum else None, reads_lr=False)


class SequentialLR(torch_lr_scheduler.SequentialLR):
    __doc__ = (
        "torch's SequentialLR, its own code: it steps its children, whose steps are table lookups where they are "
        "fastsched.torch's classes.\n" + (torch_lr_scheduler.SequentialLR.__doc__ or "")
    )


_MULTIPLICATIVE = (ConstantLR, LinearLR, StepLR, MultiStepLR, ExponentialLR, PolynomialLR)


class ChainedScheduler(torch_lr_scheduler.ChainedScheduler):
    __doc__ = (
        "torch's ChainedScheduler: it steps its children in order. Where they are all fastsched.torch's "
        "multiplicative classes (ConstantLR, LinearLR, StepLR, MultiStepLR, ExponentialLR, PolynomialLR) on the "
        "optimizer's groups, in step with each other, and their product is a segment (the torch.ChainedScheduler "
        "preset), one lookup steps them all: each child's last_epoch, _step_count and _last_lr (the lrs after it, as "
        "torch's chain leaves them) and the groups' lrs.\n" + (torch_lr_scheduler.ChainedScheduler.__doc__ or "")
    )
    __slots__ = ("_fastsched",)

    def step(self) -> None:  # type: ignore[override]
        """torch's step() (each child's), as one lookup where the chain is a product fastsched computes."""
        if not self._fastsched_step():
            super().step()

    def _fastsched_step(self) -> bool:
        children = self._schedulers
        if not all(isinstance(child, _MULTIPLICATIVE) and child._step_count > 1 for child in children):
            return False  # (a child's first step warns of the call order: torch's steps do that)
        watch = tuple(item for child in children for item in (child, *child._fastsched_watch()))
        tables = getattr(self, "_fastsched", None)
        if tables is None or tables.watch != watch:
            tables = self._fastsched = _chain_tables(children, self.optimizer, watch)
        previous = children[0].last_epoch
        step = previous + 1
        groups = self.optimizer.param_groups
        if not tables.usable or any(child.last_epoch != previous for child in children):
            return False
        if not tables.serves(step, groups):  # the product's value at the step before, in every group
            return False
        for j, child in enumerate(children):
            child._step_count += 1
            child.last_epoch = step
            if j + 1 < len(children):  # the lrs after child j in torch's chain: its factors up to j at the step,
                before, after = tables.partials[j]  # the later children's still at the step before
                factor = _lookup(before, step) * _lookup(after, previous)
                child._last_lr = [scale * factor for scale in tables.scales]
        tables.write(children[-1], step)  # the groups' lrs: the last child's _last_lr
        self._last_lr = [lr.clone() if isinstance(lr, Tensor) else lr for lr in children[-1]._last_lr]
        return True

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """torch's load_state_dict(); the tables follow what was loaded."""
        super().load_state_dict(state_dict)
        self._fastsched = None

    def __getstate__(self) -> dict[str, Any]:
        return self.__dict__.copy()

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._fastsched = None


def _lookup(table: ScheduleTable, step: int) -> float:
    return table.values[step] if 0 <= step < table.size else table.multiplier(step)


def _chain_tables(children: list[Any], optimizer: Any, watch: tuple[Any, ...]) -> _Tables:
    """The product's tables (relative to each group's base lr, which every child must share): the full product as
    `lrs`; as `partials`, for each child but the last, the products of the children up to it and of those after it
    (torch's chain leaves the group's lr after child j at the first's factors of this step times the others' of
    the step before)."""
    base_lrs = [tuple(_number(b) for b in child.base_lrs) for child in children]
    if any(child.optimizer is not optimizer for child in children) or len(set(base_lrs)) != 1:
        return _Tables(watch, None)
    try:
        factors = [
            (
                _torch_class(type(child)).__name__,
                type(child)._fastsched_builder(child._fastsched_values(), _context(1.0), presets.ALONE),
            )
            for child in children
        ]
        product = _table("torch.ChainedScheduler", presets.product_items(factors), 1.0, {})
        partials = [
            (
                _table("torch.ChainedScheduler", presets.product_items(factors[: j + 1]), 1.0, {}),
                _table("torch.ChainedScheduler", presets.product_items(factors[j + 1 :]), 1.0, {}),
            )
            for j in range(len(factors) - 1)
        ]
    except (ValueError, ArithmeticError):  # a product that is no segment: torch's steps
        return _Tables(watch, None)
    scales = list(base_lrs[0])
    tables = _Tables(watch, [product] * len(scales), scales)
    tables.partials = partials
    return tables


# -------------------------------------------------------------------------------------------------------------------
# INTERNALS: the calls into the segment model (fastsched.table, fastsched.schedules). Re-point these if it moves.
# -------------------------------------------------------------------------------------------------------------------


def _context(reference_lr: float) -> Context:
    """The context a preset's segments are built in: one config, relative to `reference_lr`."""
    return Context(1, reference_lr, _no_value_at)


def _no_value_at(schedule: Any, step: Any) -> Any:
    raise AssertionError("torch's segments read no other schedule's value")


def _table(name: str, items: list[Any], reference_lr: float, record: dict[str, Any]) -> ScheduleTable:
    """The table of `items` (a preset's segments, built relative to `reference_lr`): their values at whole steps."""
    packed = segment_tables.pack(BuiltItems(items), 1.0, reference_lr=reference_lr, allow_arrays=False)
    return ScheduleTable(name, {"schedule": name, **record}, record, packed)
