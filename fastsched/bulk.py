"""The bulk API: multipliers at given steps, one schedule's trajectory, and a sweep's (configs x steps) table.

Each call validates and packs its parameters (schedules.py), checks or allocates the output, then makes
one kernel call. Nothing is written into a given `out` before every check has passed.
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, DTypeLike

from . import schedules
from .kernels import cpu

# Below this many elements the serial kernel runs: the parallel runtime's first start costs ~0.2 s.
PARALLEL_THRESHOLD = 1 << 20
# The fast cosine's range reduction is exact below this angle (radians); beyond it libm's cos is used.
FAST_COS_MAX_ANGLE = 1e7


def _check_step(name: str, value: Any) -> int:
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"`{name}` must be an int, got {type(value).__name__} {value!r}")
    if not 0 <= value <= schedules.MAX_STEP:
        raise ValueError(f"`{name}` must be a non-negative integer (at most 2**53 - 1), got {value}")
    return int(value)


def _available_memory() -> int:
    try:
        with open("/proc/meminfo") as meminfo:
            for line in meminfo:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")


def _output(shape: tuple[int, ...], dtype: DTypeLike | None, out: np.ndarray | None) -> np.ndarray:
    """The array to write: `out` after checking shape, dtype and layout, or a new one if memory allows."""
    if out is None:
        resolved = schedules.check_dtype(np.float64 if dtype is None else dtype)
        nbytes = int(np.prod(shape, dtype=object)) * resolved.itemsize
        available = _available_memory()
        if nbytes > available:
            raise MemoryError(
                f"an output of shape {shape} and dtype {resolved} needs {nbytes / 2**30:.1f} GiB, more than the "
                f"{available / 2**30:.1f} GiB available; reduce `num_steps` or pass `out=` (an np.memmap, say)"
            )
        return np.empty(shape, dtype=resolved)
    if not isinstance(out, np.ndarray):
        raise TypeError(f"`out` must be a numpy array (np.memmap included), got {type(out).__name__}")
    if dtype is not None and np.dtype(dtype) != out.dtype:
        raise TypeError(f"`out` has dtype {out.dtype} but `dtype` is {np.dtype(dtype)}")
    schedules.check_dtype(out.dtype)
    if out.shape != shape:
        raise ValueError(f"`out` must have shape {shape}, got {out.shape}")
    if not (out.flags.c_contiguous and out.flags.aligned and out.flags.writeable):
        raise ValueError("`out` must be a C-contiguous, aligned, writeable array")
    if out.dtype.byteorder not in "=|":
        raise ValueError(f"`out` must be in native byte order, got dtype {out.dtype.str}")
    return out


def fill(table: schedules.PackedTable, start: int, out: np.ndarray, fast: bool = True) -> np.ndarray:
    """Run the kernel that writes base_lr x multiplier of every config for steps start .. into out (configs, steps)."""
    if out.size == 0:
        return out
    last_step = start + out.shape[1] - 1
    if last_step > schedules.MAX_STEP:
        raise ValueError(f"`start` + `num_steps` must stay below 2**53, got last step {last_step}")
    fast = fast and schedules.max_cosine_angle(table, last_step) < FAST_COS_MAX_ANGLE
    kernel = cpu.fill_table_parallel if out.size >= PARALLEL_THRESHOLD else cpu.fill_table_serial
    kernel(table.codes, table.params, table.base_lrs, start, out, fast)
    return out


def _on_cuda(device: Any, out: Any) -> bool:
    """Whether the caller asks for a CUDA result: device="cuda..." / a torch.device, or a CUDA tensor as out."""
    if device is not None:
        return str(device).startswith("cuda")
    return type(out).__module__.startswith("torch") and getattr(out, "is_cuda", False)


def multipliers(
    name: Any, steps: int | ArrayLike, *, base_lr: float = 1.0, device: Any = None, **params: Any
) -> np.ndarray:
    """The schedule's multiplier of the optimizer's lr at each step: transformers' float64 values exactly.

    `steps` is a non-negative int or a 1-D array-like of them, in any order; the result has its shape.
    `base_lr` matters only where transformers makes a parameter relative to the optimizer's lr
    (polynomial's lr_end, min_lr).

    >>> fastsched.multipliers("linear", [0, 5, 10, 15], num_warmup_steps=10, num_training_steps=20)
    array([0. , 0.5, 1. , 0.5])
    """
    if _on_cuda(device, None):
        from . import gpu

        return gpu.cuda_multipliers(name, steps, base_lr=base_lr, device=device, **params)
    table = schedules.pack(name, base_lr, **params)
    if isinstance(steps, (int, np.integer)) and not isinstance(steps, (bool, np.bool_)):
        step_array = np.asarray([_check_step("steps", steps)], dtype=np.int64)
        scalar = True
    else:
        arr = np.asarray(steps)
        if arr.ndim != 1:
            raise ValueError(f"`steps` must be an int or a 1-D array of ints, got shape {arr.shape}")
        if arr.size and arr.dtype.kind not in "iu":
            raise TypeError(f"`steps` must be integers, got dtype {arr.dtype}")
        if arr.size and (arr.min() < 0 or arr.max() > schedules.MAX_STEP):
            bad = arr[(arr < 0) | (arr > schedules.MAX_STEP)][0]
            raise ValueError(f"`steps` must be non-negative integers (at most 2**53 - 1), got {bad}")
        step_array = np.ascontiguousarray(arr, dtype=np.int64)
        scalar = False
    out = np.empty(step_array.shape[0], dtype=np.float64)
    if out.size:
        cpu.multipliers_at(table.codes[0], table.params[0], step_array, out)
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
    array([0.   , 0.001 , 0.0005, 0.   ])
    """
    if _on_cuda(device, out):
        from . import gpu

        return gpu.cuda_trajectory(
            name, num_steps, base_lr=base_lr, start=start, dtype=dtype, out=out, device=device, **params
        )
    num_steps = _check_step("num_steps", num_steps)
    start = _check_step("start", start)
    table = schedules.pack(name, base_lr, **params)
    target = _output((num_steps,), dtype, out)
    fill(table, start, target.reshape(1, num_steps))
    return target


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

    Every numeric parameter, base_lr included, is a scalar or a 1-D array of length n (all arrays the same
    length), broadcast together; warmup_type and decay_type are scalars. Parallel over configs and steps.

    >>> fastsched.sweep("linear", 3, base_lr=[1.0, 2.0], num_warmup_steps=0, num_training_steps=2)
    array([[1. , 0.5, 0. ],
           [2. , 1. , 0. ]])
    """
    if _on_cuda(device, out):
        from . import gpu

        return gpu.cuda_sweep(
            name, num_steps, base_lr=base_lr, start=start, dtype=dtype, out=out, device=device, **params
        )
    num_steps = _check_step("num_steps", num_steps)
    start = _check_step("start", start)
    table = schedules.pack(name, base_lr, allow_arrays=True, **params)
    target = _output((table.num_configs, num_steps), dtype, out)
    return fill(table, start, target)
