"""The CPU backend of the bulk API: the kernels fill a table's values into a numpy array (np.memmap included).

Small requests take the serial kernels (the parallel runtime's first start costs ~0.2 s), larger ones the parallel
kernels where a parallel region may run (kernels.compiler.parallel_region: not in a child forked after GNU OpenMP
ran, one thread at a time under workqueue). The cosine method is the fastest within the contract for the angles the
table reaches. The schedulers' tables (fill_multipliers) are always exact (LIBM) and serial.
"""

from __future__ import annotations

import ctypes
import functools
import math
import mmap

import numpy as np

from . import table as tables
from .kernels import compiler, numerics
from .validation import check_range

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
# Steps computed at a time where a float32 output's range must be checked value by value (check_float32_range).
FLOAT32_CHECK_CHUNK = 1 << 16

_parallel_runtime_started = False


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
    one = table.rows(slice(0, 1))
    _cpu_kernels().fill_table(
        one.codes, one.cols, one.counts, _UNIT_BASE_LR, start, out.reshape(1, -1), numerics.LIBM, form=one.form
    )
    return out


def _fill_rows(table: tables.SegmentTable, start: int, out: np.ndarray, method: int) -> None:
    """Fill `out` with the table's rows (serial where a parallel region can't run: see compiler.parallel_region)."""
    global _parallel_runtime_started
    cpu = _cpu_kernels()
    threshold = PARALLEL_THRESHOLD_WHEN_STARTED if _parallel_runtime_started else PARALLEL_THRESHOLD
    with compiler.parallel_region(out.size >= threshold) as parallel:
        cpu.fill_table(
            table.codes,
            table.cols,
            table.counts,
            table.base_lrs,
            start,
            out,
            method,
            parallel,
            table.shapes,
            table.form,
        )
    _parallel_runtime_started |= parallel


@functools.cache
def _cpu_kernels():
    from .kernels import cpu  # (on first use: importing it registers every shape with numba)

    return cpu


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
