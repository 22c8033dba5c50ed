"""The bulk API: multipliers at given steps, one schedule's trajectory, and a sweep's (configs x steps) table.

Each call validates and packs its parameters (schedules.py), checks or allocates the output, then makes
one kernel call. Nothing is written into a given `out` before every check has passed.
"""

from __future__ import annotations

import ctypes
import functools
import mmap
import os
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, DTypeLike

from . import schedules
from .kernels import cpu, formulas

# Below this many elements the serial kernel runs: the parallel runtime's first start costs ~0.2 s.
PARALLEL_THRESHOLD = 1 << 20
# Once this process has started the parallel runtime, requests from this size on use it too: a parallel call
# then costs some 10 us more than a serial one, so the time per element stays flat from here up.
PARALLEL_THRESHOLD_WHEN_STARTED = 1 << 16
# The fast cosine's range reduction is exact below this angle (radians); beyond it libm's cos is used.
FAST_COS_MAX_ANGLE = 1e7
# Formulas at the FASTER level are within 1e-15 + |angle| * 3.3e-16 of the exact values: below this angle
# (radians) that stays under 1e-13; above it the FAST level (8e-16 at any angle) runs.
FASTER_MAX_ANGLE = 256.0
# A shared np.memmap output is written this many bytes at a time, each chunk released from the process's memory
# once written (the page cache keeps it and writes it back): resident memory stays bounded by a chunk.
MEMMAP_CHUNK_BYTES = 64 << 20

_parallel_runtime_started = False


def check_step(name: str, value: Any) -> int:
    """A non-negative int step or count (what kernels carry exactly as float64), or an error naming `name`."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"`{name}` must be an int, got {type(value).__name__} {value!r}")
    if not 0 <= value <= schedules.MAX_STEP:
        raise ValueError(f"`{name}` must be a non-negative integer (at most 2**53 - 1), got {value}")
    return int(value)


def check_steps(steps: Any) -> tuple[np.ndarray, bool]:
    """`steps` (an int, or a 1-D array-like of ints) as a contiguous int64 array, and whether it was an int."""
    if isinstance(steps, (int, np.integer)) and not isinstance(steps, (bool, np.bool_)):
        return np.asarray([check_step("steps", steps)], dtype=np.int64), True
    try:
        arr = np.asarray(steps)
    except ValueError:
        raise ValueError("`steps` must be an int or a 1-D array of ints; got a ragged sequence") from None
    if arr.size and arr.dtype.kind not in "iu":
        raise TypeError(f"`steps` must be integers, got dtype {arr.dtype}")
    if arr.ndim != 1:
        raise ValueError(f"`steps` must be an int or a 1-D array of ints, got shape {arr.shape}")
    if arr.size and (arr.min() < 0 or arr.max() > schedules.MAX_STEP):
        bad = arr[(arr < 0) | (arr > schedules.MAX_STEP)][0]
        raise ValueError(f"`steps` must be non-negative integers (at most 2**53 - 1), got {bad}")
    return np.ascontiguousarray(arr, dtype=np.int64), False


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
    if out.dtype.byteorder not in "=|":
        raise ValueError(f"`out` must be in native byte order, got dtype {out.dtype.str}")
    if out.dtype not in (np.dtype(np.float32), np.dtype(np.float64)):
        raise TypeError(f"`out` must have dtype float32 or float64, got {out.dtype}")
    if dtype is not None and schedules.check_dtype(dtype) != out.dtype:
        raise TypeError(f"`out` has dtype {out.dtype} but `dtype` is {np.dtype(dtype)}")
    if out.shape != shape:
        raise ValueError(f"`out` must have shape {shape}, got {out.shape}")
    if not (out.flags.c_contiguous and out.flags.aligned and out.flags.writeable):
        raise ValueError("`out` must be a C-contiguous, aligned, writeable array")
    return out


def fill(table: schedules.PackedTable, start: int, out: np.ndarray, fast: bool = True) -> np.ndarray:
    """Run the kernels that write base_lr x multiplier of every config for steps start .. into out (configs, steps).

    `fast` lets the kernels use the vectorizable cosine and reciprocal divisions (within 1e-13 of the exact
    values: formulas.FASTER where the angles stay below FASTER_MAX_ANGLE, formulas.FAST up to
    FAST_COS_MAX_ANGLE); fast=False gives transformers' float64 values bit for bit.
    """
    if out.size == 0:
        return out
    last_step = start + out.shape[1] - 1
    if last_step > schedules.MAX_STEP:
        raise ValueError(f"`start` + `num_steps` must stay below 2**53, got last step {last_step}")
    level = formulas.EXACT
    if fast:
        angle = schedules.max_cosine_angle(table, last_step)
        level = formulas.FASTER if angle < FASTER_MAX_ANGLE else formulas.FAST if angle < FAST_COS_MAX_ANGLE else level
    if not (_is_shared_memmap(out) and out.nbytes > MEMMAP_CHUNK_BYTES):
        _fill_rows(table, slice(None), start, out, level)
        return out
    for rows, columns in _chunks(out.shape, out.itemsize):
        block = out[rows, columns]
        _fill_rows(table, rows, start + (columns.start or 0), block, level)
        _release_pages(block)
    return out


_UNIT_BASE_LR = np.ones(1)


def fill_multipliers(table: schedules.PackedTable, start: int, out: np.ndarray) -> np.ndarray:
    """The first config's multipliers for steps start .. into `out` (1-D float64): transformers' float64 values
    bit for bit, on one core. The schedulers' tables: they must be exact and must not start the parallel runtime."""
    cpu.fill_table(table.codes[:1], table.params[:1], _UNIT_BASE_LR, start, out.reshape(1, -1), formulas.EXACT)
    return out


def _fill_rows(table: schedules.PackedTable, rows: slice, start: int, out: np.ndarray, level: int) -> None:
    """Fill `out` with rows `rows` of the table."""
    global _parallel_runtime_started
    threshold = PARALLEL_THRESHOLD_WHEN_STARTED if _parallel_runtime_started else PARALLEL_THRESHOLD
    parallel = out.size >= threshold
    cpu.fill_table(table.codes[rows], table.params[rows], table.base_lrs[rows], start, out, level, parallel)
    _parallel_runtime_started |= parallel


def _chunks(shape: tuple[int, int], itemsize: int):
    """(rows, columns) slices covering a (configs, steps) array, each block C-contiguous and about
    MEMMAP_CHUNK_BYTES: whole rows where a row is shorter than that, pieces of one row otherwise."""
    num_rows, num_columns = shape
    per_chunk = max(1, MEMMAP_CHUNK_BYTES // itemsize)
    if num_columns <= per_chunk:
        rows_per_chunk = per_chunk // num_columns
        for first in range(0, num_rows, rows_per_chunk):
            yield slice(first, min(first + rows_per_chunk, num_rows)), slice(0, num_columns)
        return
    for row in range(num_rows):
        for first in range(0, num_columns, per_chunk):
            yield slice(row, row + 1), slice(first, min(first + per_chunk, num_columns))


def _is_shared_memmap(out: np.ndarray) -> bool:
    # mode "c" maps the file copy-on-write: releasing those pages would drop what was written
    return isinstance(out, np.memmap) and getattr(out, "mode", None) in ("r+", "w+")


def _release_pages(block: np.ndarray) -> None:
    """Unmap a written block of a shared np.memmap from this process (madvise MADV_DONTNEED): the data stays in
    the page cache, marked dirty, and reaches the file as for any np.memmap write (out.flush() to force it)."""
    if not hasattr(mmap, "MADV_DONTNEED"):
        return  # not Linux: the OS pages the mapping out when memory is short
    libc = _libc()
    first = block.ctypes.data // mmap.PAGESIZE * mmap.PAGESIZE  # madvise wants a page-aligned start
    length = block.ctypes.data + block.nbytes - first
    libc.madvise(ctypes.c_void_p(first), ctypes.c_size_t(length), mmap.MADV_DONTNEED)


@functools.cache
def _libc() -> ctypes.CDLL:
    libc = ctypes.CDLL(None, use_errno=True)
    libc.madvise.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int]
    return libc


def _on_cuda(device: Any, out: Any) -> bool:
    """Whether the caller asks for a CUDA result: device="cuda..." / a torch.device, or a CUDA tensor as out."""
    if device is not None:
        # an int is a CUDA ordinal, as torch reads it
        return (isinstance(device, int) and not isinstance(device, bool)) or str(device).startswith("cuda")
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
    step_array, scalar = check_steps(steps)
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
    num_steps = check_step("num_steps", num_steps)
    start = check_step("start", start)
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
    num_steps = check_step("num_steps", num_steps)
    start = check_step("start", start)
    table = schedules.pack(name, base_lr, allow_arrays=True, **params)
    target = _output((table.num_configs, num_steps), dtype, out)
    return fill(table, start, target)
