"""The GPU side: bulk tables written straight into torch CUDA tensors, and a scheduler whose lr lives on the device.

Bulk (``cuda_multipliers`` / ``cuda_trajectory`` / ``cuda_sweep``, reached through ``fastsched.multipliers`` /
``trajectory`` / ``sweep`` with ``device="cuda"`` or a CUDA tensor as ``out=``): the parameters are validated
and packed on the host exactly as for the CPU kernels, the small packed table is copied to the device, and the
numba-cuda kernel writes the result into the torch tensor through ``__cuda_array_interface__`` on torch's
current stream. No host round trip of the result, no extra copy, no synchronization: the call returns as soon
as the kernel is queued, and torch's stream ordering makes the tensor safe to use.

Scheduler (:class:`CudaScheduler`): the multiplier table is computed once by the CPU kernel (transformers'
float64 values bit for bit) and copied to the device; ``step()`` advances a device-side step counter and
writes every param group's 0-d lr tensor with device ops only, so it can be captured in a CUDA graph.
It needs torch only (not numba-cuda) and runs on any torch device, which is how its logic is tested on CPU.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Mapping
from typing import Any

import numpy as np
import torch

from . import table as tables
from .cpu_backend import check_float32_range
from .registry import get_preset
from .scheduler_table import ScheduleTable, plain_number
from .validation import check_dtype, check_out, check_step, check_steps

_TORCH_FLOATS = {torch.float32: np.dtype(np.float32), torch.float64: np.dtype(np.float64)}
_NUMPY_FLOATS = {v: k for k, v in _TORCH_FLOATS.items()}


# ---------------------------------------------------------------------------------------------------------------
# Bulk tables on the GPU (fastsched.bulk's front door validates and packs; these write the result on the device)
# ---------------------------------------------------------------------------------------------------------------


def _torch_dtype(dtype: Any) -> torch.dtype:
    """float32 or float64 as a torch dtype, from a torch dtype or anything numpy reads as a dtype."""
    if isinstance(dtype, torch.dtype):
        if dtype not in _TORCH_FLOATS:
            raise TypeError(f"`dtype` must be float32 or float64, got {dtype}")
        return dtype
    return _NUMPY_FLOATS[check_dtype(dtype)]


def _cuda_output(shape: tuple[int, ...], dtype: Any, out: Any, device: torch.device) -> torch.Tensor:
    """`out` after the bulk API's checks (validation.check_out), or a new tensor on `device`."""
    if out is None:
        return torch.empty(shape, dtype=_torch_dtype(torch.float64 if dtype is None else dtype), device=device)
    if not isinstance(out, torch.Tensor):
        raise TypeError(f"`out` must be a torch CUDA tensor here, got {type(out).__name__}")
    if out.device != device:
        raise ValueError(f"`out` is on {out.device} but `device` is {device}")
    if out.requires_grad:
        raise ValueError("`out` must not require grad: the kernel writes it outside autograd")
    out_dtype = _TORCH_FLOATS.get(out.dtype)
    check_out(
        shape,
        None if dtype is None else np.dtype(_TORCH_FLOATS[_torch_dtype(dtype)]),
        out_dtype if out_dtype is not None else str(out.dtype).removeprefix("torch."),
        tuple(out.shape),
        contiguous=out.is_contiguous(),
    )
    return out


def _to_device(array: np.ndarray, device: torch.device) -> torch.Tensor:
    """A small host array on `device`: pinned and copied asynchronously, so the host never waits for the GPU."""
    host = torch.from_numpy(np.array(array, copy=True, order="C"))  # own, writable memory for from_numpy
    if device.type != "cuda":
        return host.to(device)
    return host.pin_memory().to(device, non_blocking=True)


def _launch(launcher: Any, device: torch.device, *args: Any) -> None:
    """Run a kernels.cuda launcher on `device` and torch's current stream there (queued, not awaited)."""
    from numba import cuda

    with cuda.gpus[device.index], warnings.catch_warnings():
        # small tables make small grids; numba's low-occupancy warning is noise for them
        warnings.filterwarnings("ignore", message=r"Grid size \d+ will likely result in GPU under-utilization")
        # zero-copy views, made in the device's context; sync=False: the launch is ordered on torch's stream
        arrays = [cuda.as_cuda_array(a, sync=False) if isinstance(a, torch.Tensor) else a for a in args]
        stream = cuda.external_stream(torch.cuda.current_stream(device).cuda_stream)
        launcher(*arrays, stream)


def _kernels() -> Any:
    try:
        from .kernels import cuda as cuda_kernels
    except ImportError as exc:  # numba-cuda is the optional `cuda` extra
        raise ImportError("CUDA results need numba-cuda: pip install 'fastsched[cuda]'") from exc
    return cuda_kernels


def _indexed(device: torch.device) -> torch.device:
    return device if device.index is not None else torch.device("cuda", torch.cuda.current_device())


def cuda_multipliers(schedule: Any, steps: Any, *, base_lr: Any, device: torch.device) -> torch.Tensor:
    """fastsched.multipliers on a CUDA device: a float64 CUDA tensor (0-d for an int step).

    `steps` (an int, or a 1-D array-like or CPU tensor of ints) is checked on the host and copied once.
    """
    table = tables.pack(schedule, base_lr, allow_arrays=False)
    if isinstance(steps, torch.Tensor):
        steps = steps.detach().cpu().numpy()
    step_array, scalar = check_steps(steps)
    device = _indexed(device)
    out = torch.empty(step_array.shape[0], dtype=torch.float64, device=device)
    if out.numel():
        codes, cols = _to_device(table.codes[0], device), _to_device(table.cols[0], device)
        _launch(_kernels().values_at, device, codes, cols, int(table.counts[0]), _to_device(step_array, device), out)
    return out.reshape(()) if scalar else out


def cuda_fill(
    schedule: Any,
    num_steps: int,
    base_lr: Any,
    start: int,
    dtype: Any,
    out: Any,
    device: torch.device,
    one_config: bool,
) -> torch.Tensor:
    """fastsched.trajectory (one_config) or sweep into a CUDA tensor: `out` (returned), or a new one on `device`;
    one kernel launch, queued on torch's current stream."""
    device = _indexed(device)
    table = tables.pack(schedule, base_lr, allow_arrays=not one_config)
    shape = (num_steps,) if one_config else (table.num_configs, num_steps)
    result = _cuda_output(shape, dtype, out, device)
    if result.dtype == torch.float32:
        check_float32_range(table, start, num_steps)
    if result.numel() == 0:
        return result
    # The uploaded tables are dropped when this returns, before the kernel has run: safe, because torch's allocator
    # hands their memory only to later work on the same stream, which runs after the kernel.
    _launch(
        _kernels().fill_table,
        device,
        _to_device(table.codes, device),
        _to_device(table.cols, device),
        _to_device(table.counts, device),
        _to_device(table.base_lrs, device),
        start,
        result.view(table.num_configs, num_steps),
    )
    return result


# ---------------------------------------------------------------------------------------------------------------
# The device-side scheduler
# ---------------------------------------------------------------------------------------------------------------

# Tables of schedules that keep changing after num_training_steps cover at least this many steps (8 MiB).
DEFAULT_HORIZON = 1 << 20
# The largest device table a scheduler builds (1 GiB of float64; about a second of CPU kernel time to fill).
MAX_TABLE_STEPS = 1 << 27


class CudaScheduler(torch.optim.lr_scheduler.LRScheduler):
    """A scheduler whose learning rates are device tensors that advance on the device: CUDA-graph capturable.

    Each param group's ``lr`` becomes a 0-d tensor on the scheduler's device (a tensor lr already there is kept,
    same object, updated in place), which torch's ``capturable=True`` and ``fused=True`` Adam/AdamW read.
    The multipliers live in a device table computed once at construction by the CPU kernel (transformers'
    float64 values exactly). ``step()`` adds 1 to a device int64 step counter, clamps it into the table,
    gathers the multiplier and writes ``lr = initial_lr x multiplier`` (float64, rounded once to the lr's dtype)
    with device ops only: no host-device synchronization, no allocation, the same kernels on every call, so
    it can be captured together with forward, backward and ``optimizer.step()`` in one CUDA graph.

    Past the end of the table: schedules that become constant (constant, constant_with_warmup, linear,
    polynomial, cosine_with_restarts, warmup_stable_decay) get a table up to that point, so clamping the
    index gives the schedule's exact value at every step, forever. Schedules that keep changing (cosine,
    cosine_with_min_lr, cosine_warmup_with_min_lr, inverse_sqrt) get a table of ``horizon + 1`` steps
    (default: max(2**20, 2 x the longer of num_warmup_steps and num_training_steps)); from step ``horizon`` on
    their lr stays at its value at ``horizon``. The table costs 8 bytes a step of device memory.

    Arguments: ``name`` and ``**params`` as for ``fastsched.trajectory`` (transformers' names, e.g.
    ``num_warmup_steps``, ``num_training_steps``, ``num_cycles``), relative to ``optimizer.defaults["lr"]``
    where transformers makes them so; ``last_epoch`` as in torch's LRScheduler (resume with >= 0);
    ``device`` defaults to the device of the optimizer's first parameter; ``lr_dtype`` (default float32) is
    the dtype of the lr tensors it creates.

    Reading ``last_epoch`` or calling ``state_dict()`` copies the counter to the host (a sync): do it outside
    the hot loop. ``get_lr()`` / ``get_last_lr()`` return 0-d device tensors (no sync).
    """

    def __init__(
        self,
        optimizer: torch.optim.Optimizer,
        name: Any,
        *,
        last_epoch: int = -1,
        horizon: int | None = None,
        device: Any = None,
        lr_dtype: torch.dtype | None = None,
        **params: Any,
    ) -> None:
        # LRScheduler.__init__ is not called: it would wrap optimizer.step and take lrs as host floats.
        # Subclassing keeps isinstance checks (Accelerate's prepare, Trainer) working.
        if not isinstance(optimizer, torch.optim.Optimizer):
            raise TypeError(f"`optimizer` must be a torch.optim.Optimizer, got {type(optimizer).__name__}")
        if isinstance(last_epoch, bool) or not isinstance(last_epoch, int):
            raise TypeError(f"`last_epoch` must be an int, got {type(last_epoch).__name__} {last_epoch!r}")
        if last_epoch < -1:
            raise ValueError(f"`last_epoch` must be -1 (start) or a step >= 0 (resume), got {last_epoch}")
        self.optimizer = optimizer
        self.device = torch.device(device) if device is not None else self._parameter_device(optimizer)
        if self.device.type == "cuda" and self.device.index is None:  # "cuda" compares unequal to "cuda:0"
            self.device = torch.device("cuda", torch.cuda.current_device())
        self.lr_dtype = _torch_dtype(torch.float32 if lr_dtype is None else lr_dtype)
        groups = optimizer.param_groups
        if last_epoch != -1:
            for i, group in enumerate(groups):
                if "initial_lr" not in group:
                    raise KeyError(
                        f"param 'initial_lr' is not specified in param_groups[{i}] when resuming an optimizer"
                    )
        self._build_table(name, horizon, params)  # every check before the groups are touched
        for group in groups:
            group.setdefault("initial_lr", plain_number(group["lr"]))
        self.base_lrs: list[float] = [float(plain_number(group["initial_lr"])) for group in groups]

        # Device state and scratch buffers, allocated once: step() only writes into them.
        self._step = torch.full((), last_epoch + 1, dtype=torch.int64, device=self.device)
        self._index = torch.zeros(1, dtype=torch.int64, device=self.device)
        self._multiplier = torch.zeros(1, dtype=torch.float64, device=self.device)
        self._base_lr_tensor = _to_device(np.asarray(self.base_lrs, dtype=np.float64), self.device)
        self._lrs = torch.zeros(len(groups), dtype=torch.float64, device=self.device)
        self._lr_values = list(self._lrs.unbind(0))  # persistent 0-d views, one per group
        self._lr_tensors: list[torch.Tensor] = []
        self._bind_lr_tensors()
        self._step_count = 1  # torch's and Accelerate's host-side count of step() calls
        self._write_lrs()

    @staticmethod
    def _parameter_device(optimizer: torch.optim.Optimizer) -> torch.device:
        for group in optimizer.param_groups:
            for param in group["params"]:
                return param.device
        raise ValueError("the optimizer has no parameters to take a device from; pass `device=`")

    def _build_table(self, name: Any, horizon: int | None, params: Mapping[str, Any]) -> None:
        """Validate the schedule and put its multiplier table on the device (the one host-to-device copy)."""
        table = ScheduleTable.for_optimizer(name, self.optimizer, params)
        if horizon is not None:
            horizon = check_step("horizon", horizon)
        last = table.constant_from
        if last is None:
            last = horizon if horizon is not None else max(DEFAULT_HORIZON, 2 * (table.nominal_length - 1))
        if last + 1 > MAX_TABLE_STEPS:
            raise ValueError(
                f"the device table would hold {last + 1} steps ({(last + 1) * 8 / 2**30:.1f} GiB), more than "
                f"{MAX_TABLE_STEPS}; reduce `num_training_steps` / `horizon`, or use fastsched.get_scheduler"
            )
        self._schedule_table = table
        self.schedule_name = table.name
        self.schedule_params = dict(table.params)
        self.horizon = horizon
        self._table = _to_device(table.multipliers(last + 1), self.device)
        self._last_index = last

    def _bind_lr_tensors(self) -> None:
        """Make every group's lr a 0-d tensor on the device that step() writes: the group's own if it has one."""
        bound = []
        for group in self.optimizer.param_groups:
            lr = group["lr"]
            usable = (
                isinstance(lr, torch.Tensor)
                and lr.device == self.device
                and lr.dim() == 0
                and lr.dtype in (torch.float32, torch.float64, torch.bfloat16, torch.float16)
            )
            if not usable:
                lr = torch.zeros((), dtype=self.lr_dtype, device=self.device)
                group["lr"] = lr
            bound.append(lr)
        self._lr_tensors = bound

    def _write_lrs(self) -> None:
        """lr of every group = base_lr x table[clamp(step)]: device ops into preallocated tensors only."""
        torch.clamp(self._step.view(1), min=0, max=self._last_index, out=self._index)
        torch.index_select(self._table, 0, self._index, out=self._multiplier)
        torch.mul(self._base_lr_tensor, self._multiplier, out=self._lrs)
        for lr, value in zip(self._lr_tensors, self._lr_values, strict=True):
            lr.copy_(value)

    def step(self, epoch: int | None = None) -> None:
        """Advance the device step counter by one (or set it to `epoch`, deprecated as in torch) and write the lrs."""
        groups = self.optimizer.param_groups
        if any(group["lr"] is not lr for group, lr in zip(groups, self._lr_tensors, strict=True)):
            self._bind_lr_tensors()  # something (optimizer.load_state_dict) replaced a group's lr tensor
        self._step_count += 1
        if epoch is None:
            self._step.add_(1)
        else:
            warnings.warn(torch.optim.lr_scheduler.EPOCH_DEPRECATION_WARNING, UserWarning, stacklevel=2)
            self._step.fill_(epoch)
        self._write_lrs()

    @property
    def last_epoch(self) -> int:
        """The step the lrs are at (the device counter, copied to the host: a sync)."""
        return int(self._step.item())

    @last_epoch.setter
    def last_epoch(self, value: int) -> None:
        self._step.fill_(value)

    @property
    def step_tensor(self) -> torch.Tensor:
        """The device step counter itself (0-d int64), for use inside a captured graph or compiled code."""
        return self._step

    def get_lr(self) -> list[torch.Tensor]:
        """The lrs at the current step as 0-d device tensors (computed from the table; no sync)."""
        # index_select, not table[step]: indexing with a 0-d tensor would read the step on the host
        index = self._step.clamp(0, self._last_index).view(1)
        multiplier = torch.index_select(self._table, 0, index).squeeze(0)
        return [(self._base_lr_tensor[i] * multiplier).to(lr.dtype) for i, lr in enumerate(self._lr_tensors)]

    def get_last_lr(self) -> list[torch.Tensor]:
        """Copies of the lrs step() last wrote, as 0-d device tensors (no sync; .item() one to read it)."""
        return [lr.detach().clone() for lr in self._lr_tensors]

    def state_dict(self) -> dict[str, Any]:
        """Plain types only (torch.load(weights_only=True) accepts it), no table: a few hundred bytes.

        The keys are LambdaLR's and TableScheduler's, so checkpoints move between transformers' schedulers,
        fastsched's CPU scheduler and this one. ``schedule`` records the schedule for reference; as with
        LambdaLR, loading keeps the schedule this scheduler was built with. Reads the device counter (a sync).
        """
        return {
            "last_epoch": self.last_epoch,
            "_step_count": self._step_count,
            "base_lrs": list(self.base_lrs),
            "_last_lr": [float(lr) for lr in self._lr_tensors],
            "lr_lambdas": [None] * len(self.base_lrs),  # what LambdaLR.load_state_dict expects
            "schedule": self._schedule_table.record(),
            "horizon": self.horizon,
        }

    def load_state_dict(self, state_dict: Mapping[str, Any]) -> None:
        """Continue where the scheduler that saved `state_dict` was (a CudaScheduler, TableScheduler or LambdaLR)."""
        base_lrs = [float(plain_number(lr)) for lr in state_dict["base_lrs"]]
        if len(base_lrs) != len(self._lr_values):
            raise ValueError(
                f"the state has {len(base_lrs)} base lrs but the optimizer has {len(self._lr_values)} groups"
            )
        self.base_lrs = base_lrs
        self._base_lr_tensor.copy_(torch.tensor(base_lrs, dtype=torch.float64))
        self._step.fill_(int(state_dict["last_epoch"]))
        self._step_count = int(state_dict.get("_step_count", self._step_count))
        self._bind_lr_tensors()
        self._write_lrs()

    def __repr__(self) -> str:
        table = f"table_steps={self._last_index + 1}"
        return f"{type(self).__name__}({self.schedule_name!r}, {self.schedule_params}, device={self.device}, {table})"


def get_cuda_scheduler(
    name: Any,
    optimizer: torch.optim.Optimizer,
    num_warmup_steps: int | None = None,
    num_training_steps: int | None = None,
    scheduler_specific_kwargs: dict[str, Any] | None = None,
    *,
    horizon: int | None = None,
    device: Any = None,
    lr_dtype: torch.dtype | None = None,
    last_epoch: int = -1,
) -> CudaScheduler:
    """transformers' get_scheduler signature, returning a CudaScheduler.

    As in transformers, num_warmup_steps / num_training_steps reach only the schedules that take them
    (constant ignores both; inverse_sqrt uses num_training_steps only to size its table's horizon).
    """
    preset = get_preset(name)
    params = dict(scheduler_specific_kwargs or {})
    for key, value in (("num_warmup_steps", num_warmup_steps), ("num_training_steps", num_training_steps)):
        if key in preset.parameter_names:
            params[key] = value
    for key in ("num_warmup_steps", "num_training_steps"):  # get_scheduler's checks, in its order and words
        if key in preset.parameter_names and preset.parameter(key).required and params.get(key) is None:
            raise ValueError(f"{preset.name} requires `{key}`, please provide that argument.")
    if horizon is None and num_training_steps is not None and "num_training_steps" not in preset.parameter_names:
        horizon = max(DEFAULT_HORIZON, 2 * math.ceil(num_training_steps))
    return CudaScheduler(
        optimizer, name, last_epoch=last_epoch, horizon=horizon, device=device, lr_dtype=lr_dtype, **params
    )
