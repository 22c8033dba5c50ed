"""Each segment shape's value, written once, as a scalar function ``shape(step, c, method)``.

Positions and lengths in steps are only ever ``START``, ``ORIGIN``, ``END``, ``SPAN`` and ``SHIFT`` (what a join
shifts and a cycle stretches); the other parameters are numbers without a unit.

``step`` is a float64 step, ``c`` the segment's columns (a tuple indexed by ``layout``'s constants; the cycle
walker hands a shape its columns already placed in the step's cycle) and ``method`` a ``numerics`` method
(LIBM / REDUCED / TURNS, a compile-time constant in the kernels). These are the only formulas in fastsched: the
CPU kernels compile them inlined, the CUDA kernels as device functions, and the Python layer looks values up in
tables the kernels computed. ``progress`` is ``(step - ORIGIN) / SPAN``.

Where a reference library's values are promised bit for bit (transformers' multipliers and schedulers), a shape
follows that library's operations in its order (each shape says whose); the segment's ``SCALE`` and ``OFFSET``
then leave a plain value unchanged (``x * 1.0 + 0.0 == x``).

A shape reads the step only as ``elapsed(step, c)`` and ``END - step`` (what lets a kernel count steps from a
piece's first, with ORIGIN and END moved by as much: kernels/cpu.py's COUNTED form).

SHAPES[code] is the shape of code ``code``; a new shape is a function here, appended to SHAPES (and named in
BOUNDED_SHAPES when its value is a fraction in [0, 1] times SCALE plus OFFSET, in FRACTION_SHAPES when that holds
at every step).
"""

import math

from numba.extending import register_jitable

from . import layout as c_
from .numerics import LIBM, TURNS, divide, floor_of, half_cos, half_cos_turns, on_half_cosine_grid, turns_fraction
from .numerics import cos_half_turns as _cos_half_turns


@register_jitable
def elapsed(step, c):
    """Steps elapsed in the segment: (step - ORIGIN) + SHIFT (SHIFT is 0 but where a reference adds a second
    offset: transformers' step - num_warmup_steps + 1.0, step - num_warmup_steps - num_stable_steps)."""
    return (step - c[c_.ORIGIN]) + c[c_.SHIFT]


@register_jitable
def progress(step, c, method):
    return divide(elapsed(step, c), c[c_.SPAN], method)


@register_jitable
def affine(fraction, c):
    return fraction * c[c_.SCALE] + c[c_.OFFSET]


@register_jitable
def cycle(step, c, method):
    """A CYCLE segment's own value: never evaluated (the walker evaluates the cycled segments instead)."""
    return math.nan


@register_jitable
def constant(step, c, method):
    """SCALE + OFFSET (a fraction of 1)."""
    return affine(1.0, c)


@register_jitable
def linear(step, c, method):
    """fraction = progress, from 0 at ORIGIN to 1 at ORIGIN + SPAN: transformers' warmups (ORIGIN = -1: from step 1)."""
    return affine(progress(step, c, method), c)


@register_jitable
def linear_remaining(step, c, method):
    """fraction = (END - step) / SPAN: transformers' linear decay, max(0, (T - step) / max(1, T - W))."""
    return affine(divide(c[c_.END] - step, c[c_.SPAN], method), c)


@register_jitable
def linear_one_minus(step, c, method):
    """fraction = 1 - progress: transformers' warmup_stable_decay linear decay."""
    return affine(1.0 - progress(step, c, method), c)


@register_jitable
def linear_lerp(step, c, method):
    """OFFSET + SCALE * (step - ORIGIN) / SPAN, in that order: torch's LinearLR (closed form) and transformers'
    warmup_lr_rate warmup, rate + (1 - rate) * step / max(1, W - 1)."""
    return c[c_.OFFSET] + divide(c[c_.SCALE] * elapsed(step, c), c[c_.SPAN], method)


@register_jitable
def cosine(step, c, method):
    """fraction = 0.5 * (1 + cos(pi * cycles * 2 * progress)), cycles = P0: transformers' cosine decays (num_cycles
    waves; 0.5 is one half-cosine from 1 to 0, and it keeps following the cosine past the end)."""
    if method == TURNS:  # the fraction of a turn, elapsed * (cycles / span): no range reduction
        turns = elapsed(step, c) * (c[c_.P0] / c[c_.SPAN])
        return affine(half_cos_turns(turns_fraction(turns)), c)
    return affine(half_cos(math.pi * c[c_.P0] * 2.0 * progress(step, c, method), method), c)


@register_jitable
def cosine_restarts(step, c, method):
    """fraction = 0.5 * (1 + cos(pi * ((cycles * progress) % 1))), cycles = P0: transformers' hard restarts (the
    segment ends where progress reaches 1). (cycles * progress) % 1 is Python's, bit for bit, for the
    non-negative products here, without the fmod call that keeps LLVM from vectorizing."""
    turns = c[c_.P0] * progress(step, c, method)
    fraction = turns - floor_of(turns, method)
    if method == LIBM:
        return affine(0.5 * (1.0 + math.cos(math.pi * fraction)), c)
    g = 0.5 * fraction  # cos(pi * fraction) = 2 cos(pi * g)**2 - 1, g in [0, 1/2)
    h = _cos_half_turns(g)
    return affine(on_half_cosine_grid(h * h), c)


@register_jitable
def cosine_rising(step, c, method):
    """fraction = 0.5 * (1 - cos(pi * progress)): transformers' warmup_stable_decay cosine warmup, from 0 to 1."""
    p = progress(step, c, method)
    if method == LIBM:
        return affine(0.5 * (1.0 - math.cos(math.pi * p)), c)
    h = _cos_half_turns(0.5 * (1.0 - p))  # 0.5 * (1 - cos(pi p)) = cos(pi (1 - p) / 2)**2
    return affine(on_half_cosine_grid(h * h), c)


@register_jitable
def polynomial(step, c, method):
    """((1 - (step - ORIGIN) / SPAN) ** P0 * SCALE + OFFSET) / P1: transformers' polynomial decay,
    (lr_range * pct_remaining**power + lr_end) / lr_init (P1 = 1 where nothing divides)."""
    remaining = 1.0 - progress(step, c, method)
    power = c[c_.P0]
    decayed = remaining if power == 1.0 else remaining**power  # no pow call (which LLVM can't vectorize) for 1
    return divide(c[c_.SCALE] * decayed + c[c_.OFFSET], c[c_.P1], method)


@register_jitable
def inverse_sqrt(step, c, method):
    """SCALE / sqrt(progress) + OFFSET: transformers' 1.0 / math.sqrt((step + shift) / timescale) with
    ORIGIN = -shift (step - (-shift) is step + shift bit for bit) and SPAN = timescale."""
    return c[c_.SCALE] / math.sqrt(progress(step, c, method)) + c[c_.OFFSET]


@register_jitable
def sqrt_rising(step, c, method):
    """fraction = 1 - sqrt(1 - progress): transformers' warmup_stable_decay 1-sqrt warmup."""
    return affine(1.0 - math.sqrt(1.0 - progress(step, c, method)), c)


@register_jitable
def sqrt_falling(step, c, method):
    """fraction = 1 - sqrt(progress): transformers' warmup_stable_decay 1-sqrt decay."""
    return affine(1.0 - math.sqrt(progress(step, c, method)), c)


# -- shapes of the ecosystem's schedules (torch, timm, optax, DeepSpeed, Megatron): 1e-12 to their home libraries --


@register_jitable
def exponential(step, c, method):
    """SCALE * P0 ** progress + OFFSET (P0: the rate per SPAN steps); P1 = 1 takes the floor of progress (a
    staircase: torch's StepLR gamma ** (k // step_size), timm's StepLRScheduler); a P2 that is not NaN bounds the
    value: from below when P0 < 1, from above otherwise (optax's exponential_decay end_value)."""
    p = progress(step, c, method)
    if c[c_.P1] == 1.0:
        p = floor_of(p, method)
    value = c[c_.SCALE] * c[c_.P0] ** p + c[c_.OFFSET]
    bound = c[c_.P2]
    if bound == bound:  # not NaN
        value = max(value, bound) if c[c_.P0] < 1.0 else min(value, bound)
    return value


@register_jitable
def tanh_fraction(step, c, method):
    """fraction = 0.5 * (1 - tanh(P0 * (1 - progress) + P1 * progress)): timm's TanhLRScheduler (lb = P0, ub = P1)."""
    p = progress(step, c, method)
    return affine(0.5 * (1.0 - math.tanh(c[c_.P0] * (1.0 - p) + c[c_.P1] * p)), c)


@register_jitable
def log_ramp(step, c, method):
    """fraction = P0 * log(elapsed): DeepSpeed's log warmup, inverse_log_warm_up * log(iteration + 1)
    (P0 = 1 / log(warmup_num_steps); ORIGIN and SHIFT make elapsed the iteration + 1)."""
    return affine(c[c_.P0] * math.log(elapsed(step, c)), c)


@register_jitable
def cosine_powers(step, c, method):
    """fraction = (0.5 * (1 + cos(pi * (elapsed**P1 / SPAN**P1))))**P2: timm's k_decay (P1 = k_decay) and optax's
    exponent (P2 = exponent), pow calls and libm's cos at every method (only configs with k or exponent != 1)."""
    e = elapsed(step, c)
    k = c[c_.P1]
    turns = (e**k) / (c[c_.SPAN] ** k)
    fraction = 0.5 * (1.0 + math.cos(math.pi * turns))
    return affine(fraction ** c[c_.P2], c)


@register_jitable
def polynomial_powers(step, c, method):
    """fraction = (1 - elapsed**P1 / SPAN**P1)**P0: timm's PolyLRScheduler with k_decay P1 (pow calls)."""
    e = elapsed(step, c)
    k = c[c_.P1]
    return affine((1.0 - (e**k) / (c[c_.SPAN] ** k)) ** c[c_.P0], c)


@register_jitable
def stairs(step, c, method):
    """fraction = floor(progress * P0) / P0: DeepSpeed OneCycle's stair-quantized ramps (P0 stairs over SPAN)."""
    return affine(floor_of(progress(step, c, method) * c[c_.P0], method) / c[c_.P0], c)


@register_jitable
def inverse_linear(step, c, method):
    """SCALE / (1 + P0 * progress) + OFFSET: DeepSpeed OneCycle's decay, cycle_min_lr / (1 + decay_lr_rate *
    decay_interval)."""
    return c[c_.SCALE] / (1.0 + c[c_.P0] * progress(step, c, method)) + c[c_.OFFSET]


@register_jitable
def cyclic(step, c, method):
    """torch's CyclicLR, its own operations: k = elapsed, cycle = floor(1 + k / SPAN) (SPAN = total_size),
    x = 1 + k / SPAN - cycle, a triangle rising for P0 = step_ratio of the cycle; the height is scaled by
    scale_fn: P1 = 0 triangular (1), 1 triangular2 (1 / 2**(cycle - 1)), 2 exp_range (P2**k); value =
    OFFSET + SCALE * height (OFFSET = base_lr, SCALE = max_lr - base_lr)."""
    k = elapsed(step, c)
    cycle_index = floor_of(1.0 + k / c[c_.SPAN], method)
    x = 1.0 + k / c[c_.SPAN] - cycle_index
    ratio = c[c_.P0]
    scale_factor = x / ratio if x <= ratio else (x - 1.0) / (ratio - 1.0)
    height = c[c_.SCALE] * scale_factor
    mode = c[c_.P1]
    if mode == 1.0:
        height = height * (1.0 / (2.0 ** (cycle_index - 1.0)))
    elif mode == 2.0:
        height = height * c[c_.P2] ** k
    return c[c_.OFFSET] + height


@register_jitable
def exponential_floordiv(step, c, method):
    """SCALE * P0 ** (elapsed // SPAN) + OFFSET with Python's floor division of floats (numba's is the same,
    fmod-based): timm's StepLRScheduler, decay_rate ** (t // decay_t), whose decay_t may be a float. The
    `exponential` staircase takes floor(elapsed / SPAN), a stair early where the quotient rounds up to a whole
    number: 3 // 0.1 == 29.0 but floor(3 / 0.1) == 30."""
    return c[c_.SCALE] * c[c_.P0] ** (elapsed(step, c) // c[c_.SPAN]) + c[c_.OFFSET]


@register_jitable
def stairs_by_position(step, c, method):
    """fraction = floor(position * P0 / SPAN) / P0 in that order, position = elapsed (P1 = 0) or END - step
    (P1 = 1): DeepSpeed OneCycle's stairs, cycle_iteration * stair_count / cycle_first_step_size rising and
    (total_size - cycle_iteration) * stair_count / cycle_second_step_size falling. (`stairs` floors
    progress * P0, a stair low where progress rounds down: (15 / 22) * 22 < 15.)"""
    position = elapsed(step, c) if c[c_.P1] == 0.0 else c[c_.END] - step
    return affine(floor_of(divide(position * c[c_.P0], c[c_.SPAN], method), method) / c[c_.P0], c)


# SHAPES[code]: the shape with code `code` (fastsched.segments names them); CYCLE must stay code 0.
SHAPES = (
    cycle,
    constant,
    linear,
    linear_remaining,
    linear_one_minus,
    linear_lerp,
    cosine,
    cosine_restarts,
    cosine_rising,
    polynomial,
    inverse_sqrt,
    sqrt_rising,
    sqrt_falling,
    exponential,
    tanh_fraction,
    log_ramp,
    cosine_powers,
    polynomial_powers,
    stairs,
    inverse_linear,
    cyclic,
    exponential_floordiv,
    stairs_by_position,
)
SHAPE_NAMES = tuple(shape.__name__ for shape in SHAPES)
# Shapes whose value is fraction * SCALE + OFFSET with the fraction within [0, 1] (or its progress, for a linear):
# fastsched.table.max_abs_value bounds them without computing; any other shape's bound is computed.
BOUNDED_SHAPES = (
    "constant",
    "linear",
    "linear_remaining",
    "linear_one_minus",
    "linear_lerp",
    "cosine",
    "cosine_restarts",
    "cosine_rising",
    "polynomial",
    "inverse_sqrt",
    "sqrt_rising",
    "sqrt_falling",
    "tanh_fraction",
    "cosine_powers",
    "polynomial_powers",
    "stairs",
    "stairs_by_position",
)
# Shapes whose fraction is within [0, 1] at every step and method (squares and halves of 1 +- a cosine or tanh):
# where SCALE >= 0, a LOW at or below OFFSET never binds, and the packer drops it (one operation less per value).
FRACTION_SHAPES = ("cosine", "cosine_restarts", "cosine_rising", "tanh_fraction")
CYCLE = 0
