"""CPU kernels: loops over (configs x steps) that compile the formulas in `formulas.py`.

Every kernel takes the packed table the Python layer built and validated, and writes into an output array it
is given, so that callers control allocation (np.memmap included).

One kernel per (schedule, pinned columns, fast, serial/parallel), built on first use (`fill_kernel`): its
inner loop calls one schedule's formula with the row's parameters held in locals, no dispatch and no loads
from the table, so LLVM vectorizes it (with ``fast``, the cosine is `fast_cos`, which has no libm call). A
process compiles only what it uses, and numba caches each kernel on disk (``cache=True``; where the install
is read-only numba falls back to the user's cache directory).

Serial kernels serve small requests: a fresh process then never starts the parallel runtime (~0.2 s).
"""

from __future__ import annotations

import hashlib
import itertools
import math
from pathlib import Path

import numpy as np
from numba import njit, prange

from . import formulas as f

# Fast kernels let LLVM contract a * b + c into fused multiply-adds and ignore the sign of zero: each changes a
# result by at most an ulp, far inside the 1e-12 contract. Exact kernels (fast=False) use no fast-math flag, so
# they reproduce transformers' float64 operations bit for bit.
FAST_MATH = {"contract", "nsz"}
# Steps per parallel tile: (config, block of steps) tiles keep both cores busy for one long row as for many short
# ones; 16 Ki steps (128 KiB of float64) amortize a tile's set-up and stay inside a core's L2.
BLOCK = 1 << 14
NOT_PINNED = math.nan
NO_PINS = (NOT_PINNED,) * f.NUM_COLUMNS


def _formulas_version() -> int:
    """A number that changes with formulas.py's source.

    numba keys a cached kernel on the kernel file's timestamp and, for a closure, on the values it captures:
    every kernel here captures this number, so editing formulas.py can never load stale machine code."""
    try:
        source = Path(f.__file__).read_bytes()
    except OSError:  # no source next to the module: numba can't cache then either
        return 0
    return int.from_bytes(hashlib.sha256(source).digest()[:7], "little")


FORMULAS_VERSION = _formulas_version()

# (code, pins, fast, parallel) -> the compiled kernel (a numba dispatcher), filled by fill_kernel
KERNELS: dict[tuple, object] = {}


def fill_kernel(code: int, pins: tuple[float, ...] = NO_PINS, fast: int = f.FAST, parallel: bool = False):
    """The kernel writing out[i, j] = base_lrs[i] * multiplier of schedule `code` at step start + j, row i of params.

    `pins` holds a compile-time constant per table column (NaN: read the table); `fast` is the formulas' level
    (f.EXACT, f.FAST, f.FASTER; False / True mean EXACT / FAST), FAST_MATH comes with the fast ones; `parallel`
    selects the prange kernel over (config, block of steps) tiles. Call it as
    ``kernel(params, base_lrs, start, out)`` with params (n, NUM_COLUMNS), base_lrs (n,), out (n, num_steps).
    """
    # None for NaN in the key: NaNs compare unequal, and each fresh one would build a new kernel
    key = (int(code), tuple(None if math.isnan(p) else float(p) for p in pins), int(fast), bool(parallel))
    kernel = KERNELS.get(key)
    if kernel is None:
        pinned = tuple(NOT_PINNED if p is None else p for p in key[1])
        kernel = KERNELS[key] = _build_fill_kernel(f.FORMULAS[key[0]], pinned, *key[2:])
    return kernel


def _build_fill_kernel(formula, pins, fast, parallel):
    version = FORMULAS_VERSION
    options = dict(cache=True, nogil=True, error_model="numpy", forceinline=True, fastmath=FAST_MATH if fast else False)

    # Each row (or tile of one) splits at the end of its warmup: the steps after it go to a loop that tells the
    # formula so (warmup_done=True, a constant), which then computes no warmup branch.

    if parallel:

        @njit(parallel=True, **options)
        def fill_tiles(params, base_lrs, start, out):
            _ = version  # captured: part of the cache key
            num_configs, num_steps = out.shape
            blocks_per_row = (num_steps + BLOCK - 1) // BLOCK
            for tile in prange(num_configs * blocks_per_row):
                i = tile // blocks_per_row
                first = (tile - i * blocks_per_row) * BLOCK
                last = min(first + BLOCK, num_steps)
                row = f.row_params(params[i], pins)
                base_lr = base_lrs[i]
                warmup_end = min(max(int(row[f.COL_WARMUP]) - start, first), last)  # counts are integers
                warming = out[i, first:warmup_end]
                for k in range(warming.shape[0]):
                    warming[k] = base_lr * formula(float(start + first + k), row, fast, False)
                warmed = out[i, warmup_end:last]
                for k in range(warmed.shape[0]):
                    warmed[k] = base_lr * formula(float(start + warmup_end + k), row, fast, True)

        return fill_tiles

    @njit(**options)
    def fill_rows(params, base_lrs, start, out):
        _ = version  # captured: part of the cache key
        num_steps = out.shape[1]
        for i in range(out.shape[0]):
            row = f.row_params(params[i], pins)
            base_lr = base_lrs[i]
            warmup_end = min(max(int(row[f.COL_WARMUP]) - start, 0), num_steps)  # counts are integers
            warming = out[i, :warmup_end]
            for k in range(warming.shape[0]):
                warming[k] = base_lr * formula(float(start + k), row, fast, False)
            warmed = out[i, warmup_end:]
            for k in range(warmed.shape[0]):
                warmed[k] = base_lr * formula(float(start + warmup_end + k), row, fast, True)

    return fill_rows


def pins_for(code: int, params: np.ndarray) -> tuple[float, ...]:
    """The columns worth fixing at compile time for these rows, all of one schedule: warmup_stable_decay's
    warmup and decay shapes (then only the chosen shapes are computed), and polynomial's power when it is 1
    (then no pow call, which LLVM can't vectorize). Few values, so few kernels."""
    pins = list(NO_PINS)
    if code == f.WARMUP_STABLE_DECAY:
        for column in (f.COL_WARMUP_SHAPE, f.COL_DECAY_SHAPE):
            if (params[:, column] == params[0, column]).all():
                pins[column] = float(params[0, column])
    elif code == f.POLYNOMIAL and (params[:, f.COL_POWER] == 1.0).all():
        pins[f.COL_POWER] = 1.0
    return tuple(pins)


def fill_table(codes, params, base_lrs, start, out, fast=f.FAST, parallel=False):
    """out[i, j] = base_lrs[i] * multiplier(codes[i], start + j, params[i]), rounded once to out's dtype.

    Each run of configs of one schedule goes to that schedule's kernel (a table pack() made has one run)."""
    if (codes == codes[0]).all():  # what pack() makes: one run
        boundaries = [0, codes.shape[0]]
    else:
        boundaries = [0, *(np.flatnonzero(np.diff(codes)) + 1).tolist(), codes.shape[0]]
    for first, last in itertools.pairwise(boundaries):
        code = int(codes[first])
        rows = slice(first, last)
        kernel = fill_kernel(code, pins_for(code, params[rows]), fast, parallel)
        kernel(params[rows], base_lrs[rows], start, out[rows])


def fill_table_serial(codes, params, base_lrs, start, out, fast):
    """fill_table on one core."""
    fill_table(codes, params, base_lrs, start, out, fast, parallel=False)


def fill_table_parallel(codes, params, base_lrs, start, out, fast):
    """fill_table in parallel over (config, block of steps) tiles: cores stay busy for one config too."""
    fill_table(codes, params, base_lrs, start, out, fast, parallel=True)


def _build_multipliers_at():
    version = FORMULAS_VERSION

    @njit(cache=True, nogil=True, error_model="numpy")
    def multipliers_at(code, p, steps, out):
        """out[k] = multiplier(code, steps[k], p) with libm's cosine: transformers' float64 values exactly."""
        _ = version  # captured: part of the cache key
        for k in range(steps.shape[0]):
            out[k] = f.multiplier(code, float(steps[k]), p, False)

    return multipliers_at


multipliers_at = _build_multipliers_at()


def dispatchers() -> list:
    """Every kernel built in this process (numba dispatchers: their .stats count cache hits and misses)."""
    return [*KERNELS.values(), multipliers_at]
