"""Walking a config's segments: which segment (and which cycle) holds a step, and a segment's columns there.

Shared by the CPU kernels (which walk a row span by span), the scalar evaluation ``value_at`` and the CUDA
kernels. A row is ``codes`` (int64, one shape code per segment), ``cols`` (float64, NUM_COLUMNS per segment) and
``count``, the number of segments in use (the table pads shorter rows). See ``layout`` for the columns.
"""

import math

from numba.extending import register_jitable

from . import layout as L
from .shapes import CYCLE, SHAPES


@register_jitable
def columns(cols, j):
    """Segment j's columns as a tuple of locals (kept in registers across a loop, unlike loads from the table)."""
    r = cols[j]
    return (r[0], r[1], r[2], r[3], r[4], r[5], r[6], r[7], r[8], r[9], r[10], r[11], r[12], r[13], r[14], r[15],
            r[16], r[17], r[18])  # fmt: skip


@register_jitable
def group_end(codes, cols, j):
    """The index after top-level segment j: j + 1, or past the segments a CYCLE at j repeats."""
    if codes[j] == CYCLE:
        return j + 1 + int(cols[j, L.CYCLE_SEGMENTS])
    return j + 1


@register_jitable
def next_start(cols, count, j):
    """Where what follows index j starts (inf after the last segment)."""
    return cols[j, L.START] if j < count else math.inf


@register_jitable
def top_segment(codes, cols, count, step):
    """The top-level segment (a CYCLE counts as one) holding `step`: the last whose START <= step."""
    j = 0
    while True:
        after = group_end(codes, cols, j)
        if after < count and cols[after, L.START] <= step:
            j = after
        else:
            return j


# -- cycles --------------------------------------------------------------------------------------------------------


@register_jitable
def cycle_offset(head, i):
    """Where cycle i starts, counted from the CYCLE's START: PERIOD * (MUL**i - 1) / (MUL - 1) (timm's
    (1 - MUL**i) / (1 - MUL) * PERIOD for its form), i * PERIOD for MUL == 1."""
    period, mul = head[L.CYCLE_PERIOD], head[L.CYCLE_MUL]
    if mul == 1.0:
        return period * i
    if int(head[L.CYCLE_FORM]) % 2 == L.CYCLE_INDEX_TIMM:
        return (1.0 - mul**i) / (1.0 - mul) * period
    return period * (mul**i - 1.0) / (mul - 1.0)


@register_jitable
def cycle_index(head, t):
    """The index of the cycle holding the step t steps after the CYCLE's START (t >= 0)."""
    period, mul = head[L.CYCLE_PERIOD], head[L.CYCLE_MUL]
    if int(head[L.CYCLE_FORM]) % 2 == L.CYCLE_INDEX_TIMM:  # timm's own expressions, rounding included
        if mul == 1.0:
            return float(math.floor(t / period))
        return float(math.floor(math.log(1.0 - t / period * (1.0 - mul)) / math.log(mul)))
    # the last i whose cycle_offset(i) <= t: the closed form's estimate, corrected where it rounded off
    estimate = t / period if mul == 1.0 else math.log1p(t * (mul - 1.0) / period) / math.log(mul)
    estimate = float(math.floor(estimate))
    i = max(estimate, 0.0)
    while cycle_offset(head, i + 1.0) <= t:
        i += 1.0
    while i > 0.0 and cycle_offset(head, i) > t:
        i -= 1.0
    return i


@register_jitable
def cycle_first_step(head, i):
    """The first (whole) step of cycle i, by cycle_index itself (exact at boundaries that round)."""
    origin = head[L.START]
    step = float(math.ceil(origin + cycle_offset(head, i)))
    if not step < 2.0**53:  # past whole steps (or inf): no step to correct, and step -= 1.0 would not move
        return step
    while step - 1.0 >= origin and cycle_index(head, step - 1.0 - origin) >= i:
        step -= 1.0
    while step < 2.0**53 and cycle_index(head, step - origin) < i:
        step += 1.0
    return step


@register_jitable
def in_cycle(member, head, i):
    """A repeated segment's columns in cycle i: positions moved to the cycle's start and stretched by MUL**i, its
    SCALE by DECAY**i (the peak SCALE + OFFSET, or with CYCLE_DECAY_AMPLITUDE the distance from OFFSET)."""
    stretch = head[L.CYCLE_MUL] ** i
    base = head[L.START] + cycle_offset(head, i)
    decay = head[L.CYCLE_DECAY] ** i
    scale, offset = member[L.SCALE], member[L.OFFSET]
    if int(head[L.CYCLE_FORM]) >= L.CYCLE_DECAY_AMPLITUDE:
        scale = decay * scale
    elif decay != 1.0:
        scale = decay * (scale + offset) - offset
    return (
        base + member[L.START] * stretch,
        base + member[L.ORIGIN] * stretch,
        base + member[L.END] * stretch,
        member[L.SPAN] * stretch,
        member[L.P0],
        member[L.P1],
        member[L.P2],
        scale,
        offset,
        member[L.LOW],
        member[L.CYCLE_SEGMENTS],
        member[L.CYCLE_PERIOD],
        member[L.CYCLE_MUL],
        member[L.CYCLE_DECAY],
        member[L.CYCLE_LIMIT],
        member[L.CYCLE_FORM],
        member[L.POST_SCALE],
        member[L.POST_OFFSET],
        member[L.SHIFT] * stretch,
    )


# -- values --------------------------------------------------------------------------------------------------------


def _shape_dispatch(code_first):
    """shape_value(code, step, c, method) for codes code_first.. : a chain of comparisons, one call per shape
    (numba can't index a tuple of functions by a runtime value; inlined, the chain costs a few compares)."""
    if code_first == len(SHAPES):

        def no_shape(code, step, c, method):
            return math.nan

        return register_jitable(no_shape)
    shape = SHAPES[code_first]
    rest = _shape_dispatch(code_first + 1)

    def shape_value(code, step, c, method):
        if code == code_first:
            return shape(step, c, method)
        return rest(code, step, c, method)

    # Named after its place in the chain: numba names compiled code after __qualname__ and a per-process counter, so
    # two links of one name could stand in for each other between code loaded from the cache and code compiled now.
    shape_value.__name__ = shape_value.__qualname__ = f"shape_value_from_{shape.__name__}"
    return register_jitable(shape_value)


shape_value = _shape_dispatch(0)


@register_jitable
def segment_value(code, step, c, method):
    """The value of a segment of shape `code` with columns `c` at `step`: its shape, then max(., LOW), then the
    segment's POST_SCALE and POST_OFFSET."""
    return finish(shape_value(code, step, c, method), c)


@register_jitable
def finish(value, c):
    """max(value, LOW) * POST_SCALE + POST_OFFSET: a shape's value as the segment gives it."""
    return max(value, c[L.LOW]) * c[L.POST_SCALE] + c[L.POST_OFFSET]


@register_jitable
def value_at(codes, cols, count, step, method):
    """The row's value (the multiplier of base_lr) at `step`."""
    j = top_segment(codes, cols, count, step)
    if codes[j] != CYCLE:
        return segment_value(codes[j], step, columns(cols, j), method)
    head = columns(cols, j)
    i = cycle_index(head, step - head[L.START])
    members = int(head[L.CYCLE_SEGMENTS])
    m = 0  # the last repeated segment starting at or before the step, in this cycle
    while m + 1 < members and in_cycle(columns(cols, j + 2 + m), head, i)[L.START] <= step:
        m += 1
    return segment_value(codes[j + 1 + m], step, in_cycle(columns(cols, j + 1 + m), head, i), method)
