"""CPU kernels: loops over (configs x steps) that walk each row segment by segment, compiling ``shapes.py``.

Every kernel takes the segment table the Python layer built and validated (codes (n, S) int64, cols
(n, S, NUM_COLUMNS) float64, counts (n,) int64, base_lrs (n,) float64) and writes into an output array it is given
(np.memmap included), so that callers control allocation. One kernel signature serves every schedule, every
composition and mixed sweeps.

A row (or a tile of one) is cut at its segments' boundaries (and its cycles'); inside a segment the loop calls one
shape with the segment's columns held in locals: no dispatch, no loads from the table, so LLVM vectorizes it. A
constant segment is computed once and filled. Kernels are specialized by cosine method (numerics.LIBM / REDUCED /
TURNS), form (GENERAL / COUNTED / PLAIN: how much of a segment's columns the loops may take as whole numbers and
constants, the narrowest a table allows) and serial / parallel, compiled on first use and cached (compiler.jit).

Serial kernels serve small requests: a fresh process then never starts the parallel runtime (~0.2 s).
"""

from __future__ import annotations

import math

import numpy as np
from numba import get_num_threads, prange
from numba.extending import register_jitable

from . import compiler
from . import layout as L
from .numerics import LIBM, METHOD_NAMES, ceil
from .shapes import CYCLE, SHAPE_NAMES, SHAPES
from .walk import columns, cycle_first_step, cycle_index, finish, group_end, in_cycle, next_start, value_at

# REDUCED and TURNS kernels let LLVM contract a * b + c into fused multiply-adds and ignore the sign of zero: each
# changes a result by at most an ulp, far inside the 1e-12 contract. LIBM kernels use no fast-math flag, so they
# reproduce a reference's float64 operations bit for bit.
FAST_MATH = {"contract", "nsz"}
# Steps per parallel tile: (config, block of steps) tiles keep both cores busy for one long row as for many short
# ones; 16 Ki steps (128 KiB of float64) amortize a tile's set-up and stay inside a core's L2.
BLOCK = 1 << 14
# Runs of consecutive tiles a parallel kernel deals each thread (see fill_tiles): enough to even out a schedule whose
# cost changes along the row, few enough that each run streams through memory.
RUNS_PER_THREAD = 4


def _named(name):
    """register_jitable for a function made here per shape, method or shape set, renamed after what it holds.

    numba names compiled code after a function's __qualname__ and a per-process counter: two different functions
    from one factory, one in code loaded from the cache (numbered by the process that compiled it) and one compiled
    now, could get the same name, and the process would then run one in place of the other. Named after their
    contents, functions that share a name are the same code."""

    def decorate(function):
        function.__name__ = function.__qualname__ = name
        return register_jitable(function)

    return decorate


def _names(codes) -> str:
    return "_".join(SHAPES[code].__name__ for code in codes)


# How a kernel's loops read a segment's columns (the kernel's `form`): the CPU backend picks the narrowest form that
# holds for a table, so a process compiles the loops of the forms it uses only.
GENERAL = 0  # every column read at run time; the step is first_step + k
# ORIGIN, SHIFT and END whole numbers (or infinite), every step below 2**51, and every computed segment without LOW
# or POST_OFFSET: the loop counts steps from the piece's first (k) against ORIGIN - SHIFT - first_step and
# END - first_step (the same whole numbers, exactly) and multiplies the shape's value by base_lr x POST_SCALE.
# Three operations fewer per value. (No cycles: their positions are computed.)
COUNTED = 1
# COUNTED, and every computed segment's SCALE 1 and OFFSET 0: constants LLVM folds away (most presets' decays)
PLAIN = 2
FORM_NAMES = ("general", "counted", "plain")


@register_jitable
def _counted(c, first_step, scale, offset):
    """Columns whose shape, evaluated at step k, gives the segment's value at step first_step + k (COUNTED), with
    SCALE and OFFSET `scale` and `offset` (PLAIN passes 1.0 and 0.0: constants LLVM folds away once inlined)."""
    return (c[0], c[L.ORIGIN] - c[L.SHIFT] - first_step, c[L.END] - first_step, c[3], c[4], c[5], c[6], scale, offset,
            c[9], c[10], c[11], c[12], c[13], c[14], c[15], c[16], c[17], 0.0)  # fmt: skip


@register_jitable
def _power_one(c):
    """A polynomial's columns with P0 = 1 as a constant: its loop then has no pow call (which LLVM can't vectorize)."""
    return (c[0], c[1], c[2], c[3], 1.0, c[5], c[6], c[7], c[8], c[9], c[10], c[11], c[12], c[13], c[14], c[15],
            c[16], c[17], c[18])  # fmt: skip


# Each form's prologue (at a segment's start) and loop (`{columns}`: the columns its shape reads); base_lr is folded
# into the segment's post-scale and offset (the same values where those are 1 and 0, as in every preset).
_PROLOGUES = {
    GENERAL: "scale, offset, low = base_lr * c[POST_SCALE], base_lr * c[POST_OFFSET], c[LOW]",
    COUNTED: "c = counted(c, first_step, c[SCALE], c[OFFSET])\nscale = base_lr * c[POST_SCALE]",
    PLAIN: "c = counted(c, first_step, 1.0, 0.0)\nscale = base_lr * c[POST_SCALE]",
}
_LOOPS = {
    GENERAL: "for k in range(out.shape[0]):\n"
    "    out[k] = max({shape}(first_step + k, {columns}, method), low) * scale + offset",
    COUNTED: "for k in range(out.shape[0]):\n    out[k] = {shape}(float(k), {columns}, method) * scale",
}
_LOOPS[PLAIN] = _LOOPS[COUNTED]


def _indented(source: str, spaces: int) -> str:
    return "".join(" " * spaces + line + "\n" for line in source.splitlines())


def _fill_segment(codes, method, form):
    """fill_segment(code, out, first_step, c, base_lr): out[k] = base_lr * the value at first_step + k of a segment of
    shape `code` (one of the tuple `codes`) with columns `c`: a chain of comparisons, then that shape's loop, in the
    form's prologue and loop. A constant segment is computed once and filled; a polynomial of power 1 has its own
    loop (no pow call, which LLVM can't vectorize). All in one function made from source: numba compiles each
    function apart, at some 0.1 s each, and a function per shape would cost that per shape."""
    namespace = {name: getattr(L, name) for name in ("POST_SCALE", "POST_OFFSET", "LOW", "P0", "SCALE", "OFFSET")}
    namespace.update(math=math, method=method, finish=finish, counted=_counted, power_one=_power_one)
    loop = _LOOPS[form]
    body = ""
    constant = SHAPE_NAMES.index("constant")
    if constant in codes:
        namespace[f"shape_{constant}"] = SHAPES[constant]
        body += (
            f"if code == {constant}:\n"
            f"    value = base_lr * finish(shape_{constant}(first_step, c, method), c)\n"
            "    for k in range(out.shape[0]):\n        out[k] = value\n    return\n"
        )
    body += _PROLOGUES[form] + "\n"
    branches = [code for code in codes if code != constant]
    for i, code in enumerate(branches):
        namespace[f"shape_{code}"] = SHAPES[code]
        body += f"{'el' if i else ''}if code == {code}:\n"
        if SHAPES[code].__name__ == "polynomial":
            body += "    if c[P0] == 1.0:\n        one = power_one(c)\n"
            body += _indented(loop.format(shape=f"shape_{code}", columns="one"), 8)
            body += "    else:\n" + _indented(loop.format(shape=f"shape_{code}", columns="c"), 8)
        else:
            body += _indented(loop.format(shape=f"shape_{code}", columns="c"), 4)
    body += ("else:\n" if branches else "if True:\n") + "    out[:] = math.nan\n"
    exec("def fill_segment(code, out, first_step, c, base_lr):\n" + _indented(body, 4), namespace)
    return _named(f"fill_segment_{METHOD_NAMES[method]}_{FORM_NAMES[form]}_{_names(codes)}")(namespace["fill_segment"])


@register_jitable
def _index(step, start, low, high):
    """The index in a row starting at step `start` of the first whole step >= `step`, clamped to [low, high]."""
    return int(min(max(ceil(step) - start, float(low)), float(high)))


def _row_filler(method, form, shapes):
    """fill_piece(codes, cols, count, base_lr, start, out_row, first, last) for one cosine method, form and the shape
    codes `shapes` (a sorted tuple; CYCLE among them for rows with cycles): out_row[first:last] = base_lr * the row's
    value at steps start + first ..., segment by segment (cycle by cycle in a CYCLE). The method, the form and the
    shapes are constants of every function made here: each shape's loop is compiled for them alone, and a kernel
    holds only the loops of the shapes it is given (what keeps compiling one to a second or so)."""
    has_cycles = CYCLE in shapes
    fill_segment = _fill_segment(tuple(code for code in shapes if code != CYCLE), method, form)
    name = f"{METHOD_NAMES[method]}_{FORM_NAMES[form]}_{_names(shapes)}"

    @_named(f"fill_cycles_{name}")
    def fill_cycles(codes, cols, j, out_row, first, last, start, base_lr):
        head = columns(cols, j)
        members = int(head[L.CYCLE_SEGMENTS])
        k = first
        i = cycle_index(head, float(start + k) - head[L.START])
        while k < last:
            cycle_last = _index(cycle_first_step(head, i + 1.0), start, k, last)
            for m in range(members):
                c = in_cycle(columns(cols, j + 1 + m), head, i)
                if m + 1 < members:
                    member_last = _index(in_cycle(columns(cols, j + 2 + m), head, i)[L.START], start, k, cycle_last)
                else:
                    member_last = cycle_last
                if member_last > k:
                    fill_segment(codes[j + 1 + m], out_row[k:member_last], float(start + k), c, base_lr)
                    k = member_last
            k = cycle_last
            i += 1.0

    @_named(f"fill_piece_{name}")
    def fill_piece(codes, cols, count, base_lr, start, out_row, first, last):
        k = first
        j = 0
        while k < last and j < count:
            after = group_end(codes, cols, j)
            piece_last = _index(next_start(cols, count, after), start, k, last)
            if piece_last > k:
                if has_cycles and codes[j] == CYCLE:
                    fill_cycles(codes, cols, j, out_row, k, piece_last, start, base_lr)
                else:
                    fill_segment(codes[j], out_row[k:piece_last], float(start + k), columns(cols, j), base_lr)
                k = piece_last
            j = after

    return fill_piece


def _build_fill_kernel(method: int, form: int, parallel: bool, shapes: tuple[int, ...]):
    options = dict(nogil=True, error_model="numpy", fastmath=FAST_MATH if method != LIBM else False)
    fill_piece = _row_filler(method, form, shapes)

    name = f"{METHOD_NAMES[method]}_{FORM_NAMES[form]}_{_names(shapes)}"

    if parallel:

        def fill_tiles(codes, cols, counts, base_lrs, start, out, threads):
            num_configs, num_steps = out.shape
            blocks_per_row = (num_steps + BLOCK - 1) // BLOCK
            num_tiles = num_configs * blocks_per_row
            # prange hands each of the `threads` threads one contiguous run of j. Tiles differ in cost (warmups,
            # constant spans, decays), so j -> tile deals each thread RUNS_PER_THREAD runs of consecutive tiles
            # spread over the table instead (run k of thread r is run k * threads + r): shares even out, and each
            # run still writes one stretch of memory. (numba.get_num_threads() here would make it uncacheable.)
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
                    fill_piece(codes[i], cols[i], counts[i], base_lrs[i], start, out[i], first, last)

        fill_tiles.__name__ = fill_tiles.__qualname__ = f"fill_tiles_{name}"  # see _named
        return compiler.jit(parallel=True, **options)(fill_tiles)

    def fill_rows(codes, cols, counts, base_lrs, start, out):
        for i in range(out.shape[0]):
            fill_piece(codes[i], cols[i], counts[i], base_lrs[i], start, out[i], 0, out.shape[1])

    fill_rows.__name__ = fill_rows.__qualname__ = f"fill_rows_{name}"  # see _named
    return compiler.jit(**options)(fill_rows)


KERNELS: dict[tuple[int, int, bool, tuple[int, ...]], object] = {}


def fill_kernel(method: int, form: int, parallel: bool, shapes: tuple[int, ...]):
    """The kernel for this cosine method and form, serial or parallel, for rows made of the shape codes `shapes` (a
    sorted tuple), built on first use. Call it as ``kernel(codes, cols, counts, base_lrs, start, out)``, a parallel
    one with numba.get_num_threads() after."""
    key = (method, form, parallel, shapes)
    kernel = KERNELS.get(key)
    if kernel is None:
        key = (int(method), int(form), bool(parallel), tuple(int(code) for code in shapes))
        kernel = KERNELS[key] = _build_fill_kernel(*key)
    return kernel


def shapes_of(codes) -> tuple[int, ...]:
    """The sorted shape codes of a table (what fill_kernel specializes on)."""
    return tuple(sorted(set(codes.ravel().tolist())))


# Whole numbers below this (steps, and ORIGIN, SHIFT and END) keep COUNTED's sums of three exact in float64.
COUNTED_LIMIT = 2.0**51
_CONSTANT = SHAPE_NAMES.index("constant")
# The columns form_of reads: the positions, then COUNTED's conditions (no LOW, no POST_OFFSET), then PLAIN's (SCALE
# 1, OFFSET 0), with the values those conditions ask for.
_FORM_COLUMNS = [L.ORIGIN, L.SHIFT, L.END, L.LOW, L.POST_OFFSET, L.SCALE, L.OFFSET]
_FORM_VALUES = np.array([-math.inf, 0.0, 1.0, 0.0])


def form_of(codes, cols, shapes=None) -> int:
    """The narrowest form whose loops compute these rows exactly as GENERAL's do (steps below COUNTED_LIMIT).
    `shapes` (the table's shapes_of, when the caller has it) saves computing it."""
    shapes = shapes_of(codes) if shapes is None else shapes
    if CYCLE in shapes:
        return GENERAL
    picked = cols[:, :, _FORM_COLUMNS]
    positions = picked[:, :, :3]
    if not (np.floor(positions) == positions).all():  # (NaN fails too)
        return GENERAL
    size = np.abs(positions)
    if size.max(initial=0.0, where=size != math.inf) >= COUNTED_LIMIT:
        return GENERAL
    # per condition: whether every computed segment (not a constant) holds its _FORM_VALUES value
    holds = picked[:, :, 3:] == _FORM_VALUES
    if _CONSTANT in shapes:
        holds[codes == _CONSTANT] = True
    holds = holds.all(axis=(0, 1))
    if not (holds[0] and holds[1]):
        return GENERAL
    return PLAIN if holds[2] and holds[3] else COUNTED


def fill_table(codes, cols, counts, base_lrs, start, out, method, parallel=False, shapes=None, form=None):
    """out[i, j] = base_lrs[i] * the value of row i at step start + j, rounded once to out's dtype. `shapes` and
    `form` (the table's shapes_of and form_of, when the caller has them) save computing them."""
    shapes = shapes_of(codes) if shapes is None else shapes
    if form is None:
        form = form_of(codes, cols, shapes)
    if not (start > -COUNTED_LIMIT and start + out.shape[1] < COUNTED_LIMIT):
        form = GENERAL
    kernel = fill_kernel(method, form, parallel, shapes)
    if parallel:
        kernel(codes, cols, counts, base_lrs, start, out, get_num_threads())
    else:
        kernel(codes, cols, counts, base_lrs, start, out)


@compiler.jit(nogil=True, error_model="numpy")
def values_at(codes, cols, count, steps, out):
    """out[k] = the row's value at steps[k], at LIBM: a reference's float64 values exactly."""
    for k in range(steps.shape[0]):
        out[k] = value_at(codes, cols, count, float(steps[k]), LIBM)


@compiler.jit(nogil=True, error_model="numpy")
def first_steps_of_cycles(head, indices, out):
    """out[k] = the first step of cycle indices[k] of the CYCLE segment with columns `head` (the packer's use)."""
    c = columns(head.reshape(1, -1), 0)
    for k in range(indices.shape[0]):
        out[k] = cycle_first_step(c, float(indices[k]))


@compiler.jit(nogil=True, error_model="numpy")
def row_values_at(codes, cols, counts, steps, out):
    """out[i] = row i's value at steps[i], at LIBM (compositions read a schedule's value where they branch off)."""
    for i in range(steps.shape[0]):
        out[i] = value_at(codes[i], cols[i], counts[i], steps[i], LIBM)
