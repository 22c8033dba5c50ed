"""CPU kernels: loops over (configs x steps) that compile the formulas in `formulas.py`.

Every kernel takes the packed table the Python layer built and validated, and writes into an output array it
is given, so that callers control allocation (np.memmap included).

One kernel per (schedule, pinned columns, fast, serial/parallel), built on first use (`fill_kernel`): its
inner loop calls one schedule's formula with the row's parameters held in locals, no dispatch and no loads
from the table, so LLVM vectorizes it (with ``fast``, the cosine has no libm call). Each row (or tile of one)
is split at the end of its warmup and around the spans where the schedule is constant (formulas.flat_spans:
warmup_stable_decay's stable phase, the tails), which are filled with the one value the formula gives there.
A process compiles only what it uses, and numba caches each kernel on disk (``cache=True``; where the install
is read-only numba falls back to the user's cache directory).

Serial kernels serve small requests: a fresh process then never starts the parallel runtime (~0.2 s).
"""

from __future__ import annotations

import hashlib
import itertools
import math
from pathlib import Path

import numpy as np
from numba import get_num_threads, njit, prange
from numba.extending import register_jitable

from . import formulas as f

# Fast kernels let LLVM contract a * b + c into fused multiply-adds and ignore the sign of zero: each changes a
# result by at most an ulp, far inside the 1e-12 contract. Exact kernels (fast=False) use no fast-math flag, so
# they reproduce transformers' float64 operations bit for bit.
FAST_MATH = {"contract", "nsz"}
# Steps per parallel tile: (config, block of steps) tiles keep both cores busy for one long row as for many short
# ones; 16 Ki steps (128 KiB of float64) amortize a tile's set-up and stay inside a core's L2.
BLOCK = 1 << 14
# Runs of consecutive tiles a parallel kernel deals each thread (fill_tiles): enough to even out a schedule whose
# cost changes along the row, few enough that each run streams through memory.
RUNS_PER_THREAD = 4
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
# (code, fast, parallel) as the caller passed them -> the kernel with NO_PINS: fill_kernel's shortcut
UNPINNED_KERNELS: dict[tuple, object] = {}


def fill_kernel(code: int, pins: tuple[float, ...] = NO_PINS, fast: int = f.FAST, parallel: bool = False):
    """The kernel writing out[i, j] = base_lrs[i] * multiplier of schedule `code` at step start + j, row i of params.

    `pins` holds a compile-time constant per table column (NaN: read the table); `fast` is the formulas' level
    (f.EXACT, f.FAST, f.FASTER; False / True mean EXACT / FAST), FAST_MATH comes with the fast ones; `parallel`
    selects the prange kernel over (config, block of steps) tiles. Call it as
    ``kernel(params, base_lrs, start, out)`` with params (n, NUM_COLUMNS), base_lrs (n,), out (n, num_steps), and
    a parallel one with numba.get_num_threads() as a fifth argument.
    """
    if pins is NO_PINS:  # what most calls pass: skip normalizing the key (some microseconds)
        kernel = UNPINNED_KERNELS.get((code, fast, parallel))
        if kernel is not None:
            return kernel
    # None for NaN in the key: NaNs compare unequal, and each fresh one would build a new kernel
    key = (int(code), tuple(None if math.isnan(p) else float(p) for p in pins), int(fast), bool(parallel))
    kernel = KERNELS.get(key)
    if kernel is None:
        pinned = tuple(NOT_PINNED if p is None else p for p in key[1])
        kernel = KERNELS[key] = _build_fill_kernel(key[0], f.FORMULAS[key[0]], pinned, *key[2:])
    if pins is NO_PINS:
        UNPINNED_KERNELS[code, fast, parallel] = kernel
    return kernel


def _build_fill_kernel(code, formula, pins, fast, parallel):
    version = FORMULAS_VERSION
    options = dict(cache=True, nogil=True, error_model="numpy", forceinline=True, fastmath=FAST_MATH if fast else False)

    @register_jitable
    def fill_piece(out_row, first, last, start, row, base_lr):
        """out_row[first:last] = base_lr * multiplier at steps start + first ..., in phases: the warmup (the formula
        with its warmup branch), then computed spans (warmup_done=True, a constant: no warmup branch) and the
        schedule's flat spans (formulas.flat_spans), where the value is computed once and filled."""
        warmup_end = _index(row[f.COL_WARMUP], start, first, last)
        warming = out_row[first:warmup_end]
        for k in range(warming.shape[0]):
            warming[k] = base_lr * formula(float(start + first + k), row, fast, False)
        plateau_first, plateau_end, tail_first = f.flat_spans(code, row)
        computed_first = warmup_end
        for phase in range(2):
            flat_first = _index(plateau_first if phase == 0 else tail_first, start, computed_first, last)
            flat_end = _index(plateau_end if phase == 0 else math.inf, start, flat_first, last)
            computed = out_row[computed_first:flat_first]
            for k in range(computed.shape[0]):
                computed[k] = base_lr * formula(float(start + computed_first + k), row, fast, True)
            if flat_end > flat_first:
                value = base_lr * formula(float(start + flat_first), row, fast, True)
                flat = out_row[flat_first:flat_end]
                for k in range(flat.shape[0]):
                    flat[k] = value
            computed_first = flat_end

    if parallel:

        @njit(parallel=True, **options)
        def fill_tiles(params, base_lrs, start, out, threads):
            _ = version  # captured: part of the cache key
            num_configs, num_steps = out.shape
            blocks_per_row = (num_steps + BLOCK - 1) // BLOCK
            num_tiles = num_configs * blocks_per_row
            # prange hands each of the `threads` threads one contiguous run of j. Tiles differ in cost (warmups,
            # flat spans, decays), so j -> tile deals each thread RUNS_PER_THREAD runs of consecutive tiles spread
            # over the table instead (run k of thread r is run k * threads + r): shares even out, and each run
            # still writes one stretch of memory. (numba.get_num_threads() here would make the kernel uncacheable.)
            runs = threads * RUNS_PER_THREAD
            run_length = (num_tiles + runs - 1) // runs
            share = run_length * RUNS_PER_THREAD
            for j in prange(share * threads):
                thread = j // share
                tile = ((j - thread * share) // run_length * threads + thread) * run_length + j % run_length
                if tile < num_tiles:
                    i = tile // blocks_per_row
                    first = (tile - i * blocks_per_row) * BLOCK
                    last = min(first + BLOCK, num_steps)
                    fill_piece(out[i], first, last, start, f.row_params(params[i], pins), base_lrs[i])

        return fill_tiles

    @njit(**options)
    def fill_rows(params, base_lrs, start, out):
        _ = version  # captured: part of the cache key
        for i in range(out.shape[0]):
            fill_piece(out[i], 0, out.shape[1], start, f.row_params(params[i], pins), base_lrs[i])

    return fill_rows


@register_jitable
def _index(step, start, low, high):
    """The index of float64 `step` in a row starting at step `start`, clamped to [low, high] (inf included)."""
    return int(min(max(step - start, float(low)), float(high)))


def pins_for(code: int, params: np.ndarray) -> tuple[float, ...]:
    """The columns worth fixing at compile time for these rows, all of one schedule: warmup_stable_decay's
    warmup and decay shapes (then only the chosen shapes are computed), and polynomial's power when it is 1
    (then no pow call, which LLVM can't vectorize). Few values, so few kernels."""
    if code != f.WARMUP_STABLE_DECAY and code != f.POLYNOMIAL:
        return NO_PINS
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
    if codes.shape[0] == 1 or (codes == codes[0]).all():
        runs = [(0, codes.shape[0])]
    else:
        runs = itertools.pairwise([0, *(np.flatnonzero(np.diff(codes)) + 1).tolist(), codes.shape[0]])
    threads = (get_num_threads(),) if parallel else ()  # the parallel kernels' fifth argument
    for first, last in runs:
        code = int(codes[first])
        rows = slice(first, last)
        kernel = fill_kernel(code, pins_for(code, params[rows]), fast, parallel)
        kernel(params[rows], base_lrs[rows], start, out[rows], *threads)


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
