"""The bulk API, one front door: multipliers at given steps, one schedule's trajectory, a sweep's (configs x steps).

Each call validates and packs (``fastsched.table``), checks or allocates the output, then hands the table to a
backend: the CPU kernels (``fastsched.cpu_backend``), or the CUDA kernels (``fastsched.gpu``) for ``device="cuda"``
or a CUDA tensor as ``out``. Both share the output checks (``fastsched.validation``). Nothing is written into a
given ``out`` before every check has passed. (Modules import downwards only: bulk -> gpu -> cpu_backend, table,
validation; the schedulers -> cpu_backend.)
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, DTypeLike

from . import table as tables
from .cpu_backend import check_float32_range, fill
from .schedules import Schedule
from .table import schedule_of as as_schedule
from .validation import check_dtype, check_memory, check_out, check_range, check_step, check_steps, plain

# Configs packed and computed at a time: the segment table of a chunk (about 300 bytes a config) stays small
# whatever the sweep's size.
CONFIG_CHUNK = 1 << 16


def _output(shape: tuple[int, ...], dtype: DTypeLike | None, out: np.ndarray | None) -> np.ndarray:
    """The array to write: `out` after checking shape, dtype and layout, or a new one if memory allows."""
    if out is None:
        resolved = check_dtype(np.float64 if dtype is None else dtype)
        nbytes = math.prod(shape) * resolved.itemsize
        check_memory(nbytes, f"an output of shape {shape} and dtype {resolved}")
        return np.empty(shape, dtype=resolved)
    if not isinstance(out, np.ndarray):
        raise TypeError(f"`out` must be a numpy array (np.memmap included), got {type(out).__name__}")
    if out.dtype.byteorder not in "=|":
        raise ValueError(f"`out` must be in native byte order, got dtype {out.dtype.str}")
    check_out(
        shape,
        dtype,
        out.dtype,
        out.shape,
        contiguous=out.flags.c_contiguous and out.flags.aligned,
        writeable=out.flags.writeable,
    )
    return out


def cuda_device(device: Any, out: Any) -> Any:
    """The torch CUDA device a call asks for (`device`, or a CUDA tensor as `out`), or None for numpy on the CPU.

    `device` is read as torch reads it ("cuda", "cuda:1", 0, torch.device); anything else is refused, and a CUDA
    device without a usable GPU is a RuntimeError."""
    if device is None:
        is_cuda_tensor = type(out).__module__.startswith("torch") and getattr(out, "is_cuda", False)
        if not is_cuda_tensor:
            return None
        return out.device
    import torch

    if isinstance(device, bool):
        raise TypeError(f"`device` must be a CUDA device (a str, int or torch.device), got {device!r}")
    if isinstance(device, int):
        if device < 0:
            raise ValueError(f"`device` must be a CUDA device ordinal >= 0, got {device}")
        resolved = torch.device("cuda", device)
    else:
        try:
            resolved = torch.device(device)
        except (RuntimeError, TypeError) as exc:
            raise ValueError(f"`device` must be a CUDA device torch knows ('cuda', 'cuda:0', ...): {exc}") from None
    if resolved.type != "cuda":
        raise ValueError(
            f"`device` must be a CUDA device ('cuda', 'cuda:0', ...), got {plain(device)!r}: "
            "leave it out (None) for a numpy array computed on the CPU"
        )
    if not torch.cuda.is_available():
        raise RuntimeError(
            f"`device` {str(device)!r} asks for a CUDA result, but torch finds no usable CUDA GPU here "
            "(torch.cuda.is_available() is False); leave `device` out for numpy on the CPU"
        )
    return resolved


def multipliers(
    name: Any, steps: int | ArrayLike, *, base_lr: float = 1.0, device: Any = None, **params: Any
) -> np.ndarray:
    """The schedule's multiplier of the optimizer's lr at each step: the reference library's float64 values exactly.

    `name` is a preset name (with its parameters), a schedule object or a spec. `steps` is a non-negative int or
    a 1-D array-like of them, in any order; the result has its shape. `base_lr` matters only where a schedule makes
    a parameter relative to the optimizer's lr (polynomial's lr_end, min_lr).

    >>> fastsched.multipliers("linear", [0, 5, 10, 15], num_warmup_steps=10, num_training_steps=20)
    array([0. , 0.5, 1. , 0.5])
    """
    target = cuda_device(device, None)
    if target is not None:
        from . import gpu

        return gpu.cuda_multipliers(as_schedule(name, params), steps, base_lr=base_lr, device=target)
    table = tables.pack_one(name, params, base_lr)
    step_array, scalar = check_steps(steps)
    out = np.empty(step_array.shape[0], dtype=np.float64)
    if out.size:
        from .kernels import cpu

        cpu.values_at(table.codes[0], table.cols[0], int(table.counts[0]), step_array, out)
    return out.reshape(()) if scalar else out


def trajectory(
    name: Any,
    num_steps: int,
    *,
    base_lr: float = 1.0,
    start: int = 0,
    dtype: DTypeLike | None = None,
    out: np.ndarray | None = None,
    device: Any = None,
    **params: Any,
) -> np.ndarray:
    """base_lr x multiplier for steps start .. start + num_steps - 1, as float64 (default) or float32.

    Values are computed in float64 and rounded once. `dtype` defaults to float64, or to `out`'s dtype when
    `out` (a C-contiguous array of shape (num_steps,), np.memmap included) is given; `out` is returned.

    >>> fastsched.trajectory("cosine", 4, base_lr=1e-3, num_warmup_steps=1, num_training_steps=3)
    array([0.    , 0.001 , 0.0005, 0.    ])
    """
    return _bulk(name, num_steps, base_lr, start, dtype, out, device, params, one_config=True)


def sweep(
    name: Any,
    num_steps: int,
    *,
    base_lr: float | ArrayLike = 1.0,
    start: int = 0,
    dtype: DTypeLike | None = None,
    out: np.ndarray | None = None,
    device: Any = None,
    **params: Any,
) -> np.ndarray:
    """A (configs x steps) table: row i is the trajectory of config i, in one kernel call.

    Every numeric parameter of any part of the schedule, base_lr included, is a scalar or a 1-D array of length n
    (all arrays the same length), broadcast together. Parallel over configs and steps.

    >>> fastsched.sweep("linear", 3, base_lr=[1.0, 2.0], num_warmup_steps=0, num_training_steps=2)
    array([[1. , 0.5, 0. ],
           [2. , 1. , 0. ]])
    """
    return _bulk(name, num_steps, base_lr, start, dtype, out, device, params, one_config=False)


def _bulk(name, num_steps, base_lr, start, dtype, out, device, params, *, one_config: bool):
    target = cuda_device(device, out)
    num_steps = check_step("num_steps", num_steps)
    start = check_step("start", start)
    check_range(start, num_steps)
    if target is not None:
        from . import gpu

        return gpu.cuda_fill(as_schedule(name, params), num_steps, base_lr, start, dtype, out, target, one_config)
    if one_config:
        table = tables.pack_one(name, params, base_lr)
        target_array = _output((num_steps,), dtype, out)
        if target_array.dtype == np.float32:
            check_float32_range(table, start, num_steps)
        fill(table, start, target_array.reshape(1, num_steps))
        return target_array
    chunks = list(_config_chunks(as_schedule(name, params), base_lr))
    num_configs = chunks[-1][0].stop if chunks else 0
    target_array = _output((num_configs, num_steps), dtype, out)
    packed = []
    for rows, part_schedule, part_lrs in chunks:  # every check before anything is written
        table = tables.pack(part_schedule, part_lrs)
        if target_array.dtype == np.float32:
            check_float32_range(table, start, num_steps)
        packed.append((rows, table if len(chunks) == 1 else None))
    for (rows, table), (_, part_schedule, part_lrs) in zip(packed, chunks, strict=True):
        fill(table or tables.pack(part_schedule, part_lrs), start, target_array[rows])
    return target_array


def _config_chunks(resolved: Schedule, base_lr: Any):
    """(rows, schedule, base_lr) for chunks of at most CONFIG_CHUNK configs: bounded packing memory."""
    lrs = np.asarray(base_lr) if not np.isscalar(base_lr) else base_lr
    n = resolved.num_configs
    if getattr(lrs, "ndim", 0) == 1:
        if n not in (1, len(lrs)):
            listed = ", ".join(f"`{name}` has {length}" for name, length in resolved.array_parameters().items())
            raise ValueError(f"sweep parameters must have one common length; `base_lr` has {len(lrs)}, {listed}")
        n = len(lrs)
    if n <= CONFIG_CHUNK:
        yield slice(0, n), resolved, base_lr
        return
    for first in range(0, n, CONFIG_CHUNK):
        rows = slice(first, min(first + CONFIG_CHUNK, n))
        part_lrs = lrs[rows] if getattr(lrs, "ndim", 0) == 1 else lrs
        yield rows, resolved.select(rows), part_lrs
