"""The bulk API, one front door: multipliers at given steps, one schedule's trajectory, a sweep's (configs x steps).

Each call validates and packs (``fastsched.table``), checks or allocates the output, then hands the table to a
backend: the CPU kernels here, or the CUDA kernels (``fastsched.gpu``) for ``device="cuda"`` or a CUDA tensor as
``out``. Both share these checks. Nothing is written into a given ``out`` before every check has passed.
"""

from __future__ import annotations

import ctypes
import functools
import math
import mmap
import os
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, DTypeLike

from . import table as tables
from .kernels import compiler, numerics
from .registry import MAX_STEP
from .schedules import Schedule
from .table import schedule_of as as_schedule
from .validation import check_dtype, check_step, check_steps, plain

# Below this many elements the serial kernel runs: the parallel runtime's first start costs ~0.2 s.
PARALLEL_THRESHOLD = 1 << 20
# Once this process has started the parallel runtime, requests from this size on use it too: a parallel call
# then costs some 10 us more than a serial one, so the time per element stays flat from here up.
PARALLEL_THRESHOLD_WHEN_STARTED = 1 << 16
# The REDUCED cosine's range reduction is exact below this angle (radians); beyond it libm's cos is used.
REDUCED_MAX_ANGLE = 1e7
# TURNS is within 1e-15 + |angle| * 3.3e-16 of the exact values: below this angle (radians) that stays under 1e-13;
# above it REDUCED (1e-15 at any angle) runs.
TURNS_MAX_ANGLE = 256.0
# A shared np.memmap output is written this many bytes at a time, each chunk released from the process's memory
# once written (the page cache keeps it and writes it back): resident memory stays bounded by a chunk.
MEMMAP_CHUNK_BYTES = 64 << 20
# Configs packed and computed at a time: the segment table of a chunk (about 300 bytes a config) stays small
# whatever the sweep's size.
CONFIG_CHUNK = 1 << 16
# Steps computed at a time where a float32 output's range must be checked value by value (check_float32_range).
FLOAT32_CHECK_CHUNK = 1 << 16

_parallel_runtime_started = False


def _available_memory() -> int:
    try:
        with open("/proc/meminfo") as meminfo:
            for line in meminfo:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")


def check_memory(nbytes: int, what: str) -> None:
    available = _available_memory()
    if nbytes > available:
        raise MemoryError(
            f"{what} needs {nbytes / 2**30:.1f} GiB, more than the {available / 2**30:.1f} GiB available; "
            "reduce `num_steps` or the number of configs, or pass `out=` (an np.memmap, say)"
        )


def check_out(
    shape: tuple[int, ...],
    dtype: Any,
    out_dtype: Any,
    out_shape: tuple[int, ...],
    *,
    contiguous: bool,
    writeable: bool = True,
) -> None:
    """The checks every backend makes of a given `out` (a numpy array here, a torch CUDA tensor in fastsched.gpu)."""
    if out_dtype not in (np.dtype(np.float32), np.dtype(np.float64)):
        raise TypeError(f"`out` must have dtype float32 or float64, got {out_dtype}")
    if dtype is not None and check_dtype(dtype) != out_dtype:
        raise TypeError(f"`out` has dtype {out_dtype} but `dtype` is {np.dtype(dtype)}")
    if out_shape != shape:
        raise ValueError(f"`out` must have shape {shape}, got {out_shape}")
    if not (contiguous and writeable):
        raise ValueError("`out` must be a C-contiguous, aligned, writeable array")


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


def check_range(start: int, num_steps: int) -> None:
    last_step = start + num_steps - 1
    if num_steps and last_step > MAX_STEP:
        raise ValueError(f"`start` + `num_steps` must stay below 2**53, got last step {last_step}")


def cosine_method(table: tables.SegmentTable, last_step: int) -> int:
    """The fastest cosine method whose error stays inside the contract for every angle this table reaches."""
    angle = 2.0 * math.pi * table.max_cosine_turns(last_step)
    if angle < TURNS_MAX_ANGLE:
        return numerics.TURNS
    return numerics.REDUCED if angle < REDUCED_MAX_ANGLE else numerics.LIBM


def check_float32_range(table: tables.SegmentTable, start: int, num_steps: int) -> None:
    """Refuse a float32 output some value would overflow (to inf) before writing any: a cheap bound first; where it
    can't rule overflow out, the values themselves, computed in float64 a chunk at a time."""
    largest_lr = float(np.abs(table.base_lrs).max(initial=0.0))
    limit = float(np.finfo(np.float32).max)
    if largest_lr * table.max_abs_value(start, start + num_steps - 1) <= limit:
        return
    peak = 0.0
    chunk = np.empty((1, min(num_steps, FLOAT32_CHECK_CHUNK)))
    for row in range(table.num_configs):
        one = table.rows(slice(row, row + 1))
        for first in range(start, start + num_steps, chunk.shape[1]):
            block = chunk[:, : min(chunk.shape[1], start + num_steps - first)]
            _fill_rows(one, first, block, numerics.LIBM)
            peak = max(peak, float(np.abs(block).max()))
    if not peak <= limit:  # (NaN fails too)
        raise OverflowError(
            f"values up to {peak:.3g} (base_lr up to {largest_lr:.3g}) overflow float32 (max {limit:.3g}): use dtype "
            "float64 or a smaller `base_lr`"
        )


def fill(table: tables.SegmentTable, start: int, out: np.ndarray, method: int | None = None) -> np.ndarray:
    """Run the kernels that write base_lr x value of every config for steps start .. into out (configs, steps).

    `method` (numerics.LIBM / REDUCED / TURNS) defaults to the fastest within 1e-13 of LIBM for this table.
    """
    if out.size == 0:
        return out
    check_range(start, out.shape[1])
    if method is None:
        method = cosine_method(table, start + out.shape[1] - 1)
    if not (_is_shared_memmap(out) and out.nbytes > MEMMAP_CHUNK_BYTES):
        _fill_rows(table, start, out, method)
        return out
    for rows, columns in _chunks(out.shape, out.itemsize):
        block = out[rows, columns]
        _fill_rows(table.rows(rows), start + (columns.start or 0), block, method)
        _release_pages(block)
    return out


_UNIT_BASE_LR = np.ones(1)


def fill_multipliers(table: tables.SegmentTable, start: int, out: np.ndarray) -> np.ndarray:
    """The first config's values (multipliers) for steps start .. into `out` (1-D float64) at LIBM: a reference's
    float64 values bit for bit, on one core. The schedulers' tables: exact, and never the parallel runtime."""
    from .kernels import cpu as cpu

    one = table.rows(slice(0, 1))
    cpu.fill_table(one.codes, one.cols, one.counts, _UNIT_BASE_LR, start, out.reshape(1, -1), numerics.LIBM)
    return out


def _fill_rows(table: tables.SegmentTable, start: int, out: np.ndarray, method: int) -> None:
    """Fill `out` with the table's rows (serial where a parallel region can't run: see compiler.parallel_region)."""
    from .kernels import cpu as cpu

    global _parallel_runtime_started
    threshold = PARALLEL_THRESHOLD_WHEN_STARTED if _parallel_runtime_started else PARALLEL_THRESHOLD
    with compiler.parallel_region(out.size >= threshold) as parallel:
        cpu.fill_table(
            table.codes, table.cols, table.counts, table.base_lrs, start, out, method, parallel, table.shapes
        )
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
        from .kernels import cpu as cpu

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
