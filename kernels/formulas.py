"""Each schedule's learning-rate multiplier, written once, as a scalar function of (step, parameters).

These are plain Python functions registered with ``register_jitable``: the CPU kernels (``njit``) and the
CUDA kernels (``cuda.jit`` device code) compile this same source, and nothing else in fastsched restates
a formula. The arithmetic follows transformers' ``optimization.py`` operation by operation, in the same
order, so that with ``fast=False`` the float64 results are transformers' own values bit for bit.

``fast`` selects how a cosine and a division are evaluated (EXACT, FAST, FASTER below): ``False`` calls
libm (what Python's ``math.cos`` calls) and divides; the fast levels use branch-free versions that LLVM can
vectorize (``fast_cos``; at FASTER ``half_cosine``'s polynomial in the turns) and multiply by reciprocals
(``divide_exact`` corrects the quotient where a division must round correctly). Kernels pass it as a
constant, so the branches are folded away.

Every schedule starts with its warmup (``step < num_warmup_steps``); ``warmup_done=True`` says the caller
knows the step is past it. The CPU kernels pass it as a constant to the steps after the warmup, so their loops
compute no warmup branch.

Steps and step counts arrive as float64 (exact for integers below 2**53); the Python layer validates
everything, so these functions trust their input.
"""

import math

from numba.core import types
from numba.extending import intrinsic, register_jitable

# Schedule codes: the row of the packed parameter table says which formula a config uses.
CONSTANT = 0
CONSTANT_WITH_WARMUP = 1
LINEAR = 2
COSINE = 3
COSINE_WITH_RESTARTS = 4
POLYNOMIAL = 5
INVERSE_SQRT = 6
COSINE_WITH_MIN_LR = 7
COSINE_WARMUP_WITH_MIN_LR = 8
WARMUP_STABLE_DECAY = 9

# Columns of the packed float64 parameter table (one row per config).
COL_WARMUP = 0  # num_warmup_steps
COL_TRAINING = 1  # num_training_steps
COL_CYCLES = 2  # num_cycles
COL_LR_END = 3  # polynomial: lr_end
COL_POWER = 4  # polynomial: power
COL_LR_INIT = 5  # polynomial: the optimizer's lr (base_lr) that lr_end is relative to
COL_TIMESCALE = 6  # inverse_sqrt: timescale (already defaulted)
COL_MIN_LR_RATE = 7  # cosine(_warmup)_with_min_lr: min_lr_rate; warmup_stable_decay: min_lr_ratio
COL_WARMUP_LR_RATE = 8  # cosine_warmup_with_min_lr: warmup_lr_rate, NaN when not given
COL_STABLE = 9  # warmup_stable_decay: num_stable_steps (already derived)
COL_DECAY = 10  # warmup_stable_decay: num_decay_steps
COL_WARMUP_SHAPE = 11  # warmup_stable_decay: SHAPE_* code of warmup_type
COL_DECAY_SHAPE = 12  # warmup_stable_decay: SHAPE_* code of decay_type
NUM_COLUMNS = 13

# How the formulas evaluate: their `fast` argument (False / True work as EXACT / FAST; the CPU kernels pass a
# compile-time constant, so the other branches fold away).
EXACT = 0  # libm's cos and true divisions: transformers' float64 values bit for bit
FAST = 1  # fast_cos for libm's cos: within 8e-16 of EXACT (the same angles, the same quotients)
# FAST, and divisions by the reciprocal: quotients (the angles too) are ~2 ulps off at most; a cosine is taken of
# the fraction of its turns (`half_cosine`), so results are within 1e-15 + |angle| * 3.3e-16 of EXACT (bulk.fill
# uses it where the angles are small). Divisions that must round correctly (`divide_exact`) still do.
FASTER = 2

# warmup_stable_decay's warmup_type / decay_type.
SHAPE_LINEAR = 0
SHAPE_COSINE = 1
SHAPE_1_SQRT = 2

# 2*pi split for Cody-Waite reduction: HI has 30 significant bits, so n * HI is exact for every n < 2**23
# (angles up to ~5e7 radians), with or without fused multiply-adds; LO = 2*pi - HI rounded, off by 7e-26.
_TWO_PI_HI = 6.283185310661793
_TWO_PI_LO = -3.4822062782016664e-09
_INV_TWO_PI = 0.15915494309189535
# (t + 1.5 * 2**52) - 1.5 * 2**52 is t rounded to the nearest integer, for |t| < 2**51: two additions where
# math.floor costs a rounding and two conversions (float -> int -> float).
_ROUND_SHIFT = 6755399441055744.0
_TWO_TO_52 = 4503599627370496.0
# cos(r) = P(r**2) on [-pi, pi]: the degree-10 polynomial interpolating cos(sqrt(y)) at the Chebyshev extrema
# of [0, pi**2] (near-minimax, and exact at both ends: P(0) = 1, P(pi**2) = -1; no folding onto [0, pi/2]
# needed). Evaluated in float64 its error stays below 8e-16.
_COS = (
    1.0,
    -0.4999999999999997,
    0.04166666666666483,
    -0.001388888888885194,
    2.4801587298143825e-05,
    -2.7557319046446803e-07,
    2.087675145333187e-09,
    -1.1470636854196518e-11,
    4.778120315320138e-14,
    -1.5514622885993034e-16,
    3.653512761892795e-19,
)
# 0.5 * (1 + cos(2*pi*f)) = H(f**2) for f in [-1/2, 1/2]: the degree-10 polynomial interpolating
# 0.5 * (1 + cos(2*pi*sqrt(y))) at the Chebyshev extrema of [0, 1/4] (H(0) = 1 exactly, H(1/4) = 2e-16). The
# 0.5 * (1 + .) and the 2*pi are inside the coefficients, so FASTER's cosine costs the polynomial alone; evaluated
# in float64 (even_polynomial) its error stays below 7e-16.
_HALF_COS_TURNS = (
    1.0,
    -9.869604401089353,
    32.46969701133272,
    -42.72840860323319,
    30.12232068175612,
    -13.21312830656111,
    3.9517671380250543,
    -0.8571872292677295,
    0.14096294983860508,
    -0.018069613296720424,
    0.0016798789966619783,
)
_HALF_COS_HALF_TURNS = tuple(c * 0.25**k for k, c in enumerate(_HALF_COS_TURNS))


@intrinsic
def fma(typingctx, a, b, c):
    """a * b + c rounded once (llvm.fma: one instruction on the CPUs and GPUs numba targets). Compiled code only."""
    if not all(isinstance(x, (types.Float, types.Integer)) for x in (a, b, c)):
        return None

    def codegen(context, builder, signature, args):
        return builder.fma(*args)  # numba has cast the arguments to the signature's float64

    return types.float64(types.float64, types.float64, types.float64), codegen


def _rounding(llvm_name):
    @intrinsic
    def rounding(typingctx, x):
        if not isinstance(x, (types.Float, types.Integer)):
            return None

        def codegen(context, builder, signature, args):
            return builder.call(builder.module.declare_intrinsic(llvm_name, [args[0].type]), args)

        return types.float64(types.float64), codegen

    return rounding


# x rounded to a whole number, as a float64, by one instruction (no conversions to and from int). Compiled code only.
floor = _rounding("llvm.floor")  # math.floor's value
rint = _rounding("llvm.rint")  # the nearest, ties to even (the default rounding mode)


@register_jitable
def cos_reduced(r):
    """fast_cos's polynomial alone: cos(r) for r in [-pi, pi], within 8e-16 of libm's."""
    y = r * r
    p = _COS[10]
    for k in range(9, -1, -1):  # unrolled by LLVM: Horner's scheme on constants
        p = p * y + _COS[k]
    return p


@register_jitable
def fast_cos(angle):
    """cos(angle) without libm calls or branches (LLVM vectorizes it), for |angle| below ~5e7.

    Cody-Waite reduction by 2*pi to r in [-pi, pi] (n * HI is exact, so r is within 1e-16 of exact), then a
    degree-10 polynomial in r**2. The result stays within a few 1e-16 of libm's for the same float64 angle.
    """
    n = (angle * _INV_TWO_PI + _ROUND_SHIFT) - _ROUND_SHIFT
    return cos_reduced((angle - n * _TWO_PI_HI) - n * _TWO_PI_LO)


@register_jitable
def cos(angle, fast):
    if fast:
        return fast_cos(angle)
    return math.cos(angle)


@register_jitable
def cos_within_pi(angle, fast):
    """cos(angle) for an angle known to lie in [-pi, pi]: the fast levels skip the range reduction."""
    if fast:
        return cos_reduced(angle)
    return math.cos(angle)


@register_jitable
def divide(numerator, denominator, fast):
    """numerator / denominator; FASTER multiplies by the reciprocal instead, which a loop with a fixed denominator
    computes once (a division costs some ten multiplications and doesn't pipeline), one ulp off at most."""
    if fast == FASTER:
        return numerator * (1.0 / denominator)
    return numerator / denominator


@register_jitable
def divide_exact(numerator, denominator, fast):
    """numerator / denominator correctly rounded at every level. FASTER gets it without a division instruction:
    the reciprocal's quotient q (faithful), its exact residual r = numerator - q * denominator (an fma) and one
    correction q + r / denominator ~ fma(r, reciprocal, q), which rounds to the correctly rounded quotient
    (Markstein's theorem: reciprocal correctly rounded, q within an ulp; no under- or overflow for these operands)."""
    if fast == FASTER:
        reciprocal = 1.0 / denominator
        quotient = numerator * reciprocal
        return fma(fma(-quotient, denominator, numerator), reciprocal, quotient)
    return numerator / denominator


@register_jitable
def even_polynomial(c, x):
    """c[0] + c[1] * x**2 + ... + c[10] * x**20 by Estrin's scheme: a few more operations than Horner's but a
    third of its chain of dependent ones, which keeps more values in flight in a vectorized loop."""
    y = x * x
    y2 = y * y
    y4 = y2 * y2
    low = (c[0] + c[1] * y) + (c[2] + c[3] * y) * y2
    mid = (c[4] + c[5] * y) + (c[6] + c[7] * y) * y2
    high = (c[8] + c[9] * y) + c[10] * y2
    return low + (mid + high * y4) * y4


@register_jitable
def half_cos_turns(fraction):
    """0.5 * (1 + cos(2 * pi * fraction)) for fraction in [-1/2, 1/2], within 7e-16 (no libm, no branch)."""
    return even_polynomial(_HALF_COS_TURNS, fraction)


@register_jitable
def half_cos_half_turns(fraction):
    """0.5 * (1 + cos(pi * fraction)) for fraction in [-1, 1]: half_cos_turns(fraction / 2), the halving folded
    into the coefficients (exactly: they are scaled by powers of 4)."""
    return even_polynomial(_HALF_COS_HALF_TURNS, fraction)


@register_jitable
def half_cosine(num_cycles, elapsed, span, fast):
    """0.5 * (1 + cos(2 * pi * num_cycles * progress)), progress = elapsed / span: transformers' expressions at EXACT
    and FAST. FASTER computes the turns as elapsed * (num_cycles / span) (the reciprocal's quotient and one more
    rounding: within an ulp) and takes the cosine of their distance to the nearest whole turn (exact below 2**51
    turns) with the 2 * pi and the 0.5 * (1 + .) folded into the polynomial: some ten operations fewer per value
    for the same error bound (the angle was within an ulp too)."""
    if fast == FASTER:
        turns = elapsed * (num_cycles / span)
        return half_cos_turns(turns - rint(turns))
    progress = divide(elapsed, span, fast)
    return 0.5 * (1.0 + cos(math.pi * num_cycles * 2.0 * progress, fast))


@register_jitable
def linear_warmup(step, num_warmup_steps, fast=False):
    return divide(step, max(1.0, num_warmup_steps), fast)


@register_jitable
def constant_with_warmup(step, num_warmup_steps, fast=False, warmup_done=False):
    if not warmup_done and step < num_warmup_steps:
        return linear_warmup(step, num_warmup_steps, fast)
    return 1.0


@register_jitable
def linear(step, num_warmup_steps, num_training_steps, fast=False, warmup_done=False):
    if not warmup_done and step < num_warmup_steps:
        return linear_warmup(step, num_warmup_steps, fast)
    return max(0.0, divide(num_training_steps - step, max(1.0, num_training_steps - num_warmup_steps), fast))


@register_jitable
def cosine(step, num_warmup_steps, num_training_steps, num_cycles, fast, warmup_done=False):
    if not warmup_done and step < num_warmup_steps:
        return linear_warmup(step, num_warmup_steps, fast)
    span = max(1.0, num_training_steps - num_warmup_steps)
    return max(0.0, half_cosine(num_cycles, step - num_warmup_steps, span, fast))


@register_jitable
def cosine_with_restarts(step, num_warmup_steps, num_training_steps, num_cycles, fast, warmup_done=False):
    if not warmup_done and step < num_warmup_steps:
        return linear_warmup(step, num_warmup_steps, fast)
    # A restart jumps from 0 back to 1: an ulp off in progress could put a step on the other side of one, so
    # every level divides exactly here (FASTER without a division instruction).
    progress = divide_exact(step - num_warmup_steps, max(1.0, num_training_steps - num_warmup_steps), fast)
    if progress >= 1.0:
        return 0.0
    turns = num_cycles * progress
    # Python's `turns % 1.0` bit for bit, turns being >= 0 here (both round the exact fraction once; from 2**52
    # on every float is an integer), without the fmod call that keeps LLVM from vectorizing.
    if fast == FASTER:
        return max(0.0, half_cos_half_turns(turns - floor(turns)))
    fraction = turns - float(int(turns)) if turns < _TWO_TO_52 else 0.0
    return max(0.0, 0.5 * (1.0 + cos_within_pi(math.pi * fraction, fast)))


@register_jitable
def polynomial(step, num_warmup_steps, num_training_steps, lr_end, power, lr_init, fast=False, warmup_done=False):
    if not warmup_done and step < num_warmup_steps:
        return linear_warmup(step, num_warmup_steps, fast)
    decay_steps = num_training_steps - num_warmup_steps
    # transformers divides by zero at step == W == T; the schedule's value there is its end value.
    if step > num_training_steps or decay_steps == 0.0:
        return divide(lr_end, lr_init, fast)
    # pow with a power below 1 turns an ulp of pct_remaining near 0 into far more: only power 1 divides fast
    if power == 1.0:
        pct_remaining = 1.0 - divide(step - num_warmup_steps, decay_steps, fast)
    else:
        pct_remaining = 1.0 - divide_exact(step - num_warmup_steps, decay_steps, fast)
    return divide((lr_init - lr_end) * pct_remaining**power + lr_end, lr_init, fast)


@register_jitable
def inverse_sqrt(step, num_warmup_steps, timescale, fast=False, warmup_done=False):
    if not warmup_done and step < num_warmup_steps:
        return linear_warmup(step, num_warmup_steps, fast)
    shift = timescale - num_warmup_steps
    return 1.0 / math.sqrt(divide(step + shift, timescale, fast))


@register_jitable
def cosine_with_min_lr(step, num_warmup_steps, num_training_steps, num_cycles, min_lr_rate, fast, warmup_done=False):
    if not warmup_done and step < num_warmup_steps:
        return linear_warmup(step, num_warmup_steps, fast)
    factor = half_cosine(num_cycles, step - num_warmup_steps, max(1.0, num_training_steps - num_warmup_steps), fast)
    return max(0.0, factor * (1.0 - min_lr_rate) + min_lr_rate)


@register_jitable
def cosine_warmup_with_min_lr(
    step, num_warmup_steps, num_training_steps, num_cycles, min_lr_rate, warmup_lr_rate, fast, warmup_done=False
):
    """transformers' `..._with_warmup_lr_rate` variant: warmup counts from step + 1; NaN warmup_lr_rate = None."""
    if not warmup_done and step < num_warmup_steps:
        if math.isnan(warmup_lr_rate):
            return divide(step + 1.0, max(1.0, num_warmup_steps), fast)
        return warmup_lr_rate + divide((1.0 - warmup_lr_rate) * step, max(1.0, num_warmup_steps - 1.0), fast)
    span = max(1.0, num_training_steps - num_warmup_steps)
    factor = half_cosine(num_cycles, step - num_warmup_steps + 1.0, span, fast)
    return max(0.0, factor * (1.0 - min_lr_rate) + min_lr_rate)


@register_jitable
def warmup_stable_decay(
    step,
    num_warmup_steps,
    num_stable_steps,
    num_decay_steps,
    warmup_shape,
    decay_shape,
    min_lr_ratio,
    num_cycles,
    fast,
    warmup_done=False,
):
    if not warmup_done and step < num_warmup_steps:
        # sqrt(1 - progress) would magnify an ulp of progress near 1: 1-sqrt divides exactly
        if warmup_shape == SHAPE_1_SQRT:
            progress = divide_exact(step, max(1.0, num_warmup_steps), fast)
        else:
            progress = divide(step, max(1.0, num_warmup_steps), fast)
        if warmup_shape == SHAPE_LINEAR:
            factor = progress
        elif warmup_shape == SHAPE_COSINE:
            factor = 0.5 * (1.0 - cos_within_pi(math.pi * progress, fast))
        else:
            factor = 1.0 - math.sqrt(1.0 - progress)
        return max(0.0, factor * (1.0 - min_lr_ratio) + min_lr_ratio)
    if step < num_warmup_steps + num_stable_steps:
        return 1.0
    if step < num_warmup_steps + num_stable_steps + num_decay_steps:
        # sqrt(progress) would magnify an ulp of progress near 0: 1-sqrt divides exactly
        decay_step = step - num_warmup_steps - num_stable_steps
        if decay_shape == SHAPE_LINEAR:
            factor = 1.0 - divide(decay_step, max(1.0, num_decay_steps), fast)
        elif decay_shape == SHAPE_COSINE:
            factor = half_cosine(num_cycles, decay_step, max(1.0, num_decay_steps), fast)
        else:
            factor = 1.0 - math.sqrt(divide_exact(decay_step, max(1.0, num_decay_steps), fast))
        return max(0.0, factor * (1.0 - min_lr_ratio) + min_lr_ratio)
    return min_lr_ratio


# Each schedule with its parameters read from a packed table row `p` (a 1-D float64 array, or the tuple that
# `row_params` makes of one): the unpacking exists once, here, for `multiplier` and for the CPU kernels, which
# compile one of these per schedule (FORMULAS[code]) so that their inner loops hold no dispatch.


@register_jitable
def constant_packed(step, p, fast, warmup_done=False):
    return 1.0


@register_jitable
def constant_with_warmup_packed(step, p, fast, warmup_done=False):
    return constant_with_warmup(step, p[COL_WARMUP], fast, warmup_done)


@register_jitable
def linear_packed(step, p, fast, warmup_done=False):
    return linear(step, p[COL_WARMUP], p[COL_TRAINING], fast, warmup_done)


@register_jitable
def cosine_packed(step, p, fast, warmup_done=False):
    return cosine(step, p[COL_WARMUP], p[COL_TRAINING], p[COL_CYCLES], fast, warmup_done)


@register_jitable
def cosine_with_restarts_packed(step, p, fast, warmup_done=False):
    return cosine_with_restarts(step, p[COL_WARMUP], p[COL_TRAINING], p[COL_CYCLES], fast, warmup_done)


@register_jitable
def polynomial_packed(step, p, fast, warmup_done=False):
    return polynomial(
        step, p[COL_WARMUP], p[COL_TRAINING], p[COL_LR_END], p[COL_POWER], p[COL_LR_INIT], fast, warmup_done
    )


@register_jitable
def inverse_sqrt_packed(step, p, fast, warmup_done=False):
    return inverse_sqrt(step, p[COL_WARMUP], p[COL_TIMESCALE], fast, warmup_done)


@register_jitable
def cosine_with_min_lr_packed(step, p, fast, warmup_done=False):
    return cosine_with_min_lr(
        step, p[COL_WARMUP], p[COL_TRAINING], p[COL_CYCLES], p[COL_MIN_LR_RATE], fast, warmup_done
    )


@register_jitable
def cosine_warmup_with_min_lr_packed(step, p, fast, warmup_done=False):
    return cosine_warmup_with_min_lr(
        step,
        p[COL_WARMUP],
        p[COL_TRAINING],
        p[COL_CYCLES],
        p[COL_MIN_LR_RATE],
        p[COL_WARMUP_LR_RATE],
        fast,
        warmup_done,
    )


@register_jitable
def warmup_stable_decay_packed(step, p, fast, warmup_done=False):
    return warmup_stable_decay(
        step,
        p[COL_WARMUP],
        p[COL_STABLE],
        p[COL_DECAY],
        p[COL_WARMUP_SHAPE],
        p[COL_DECAY_SHAPE],
        p[COL_MIN_LR_RATE],
        p[COL_CYCLES],
        fast,
        warmup_done,
    )


# FORMULAS[code]: the packed formula of schedule `code`.
FORMULAS = (
    constant_packed,
    constant_with_warmup_packed,
    linear_packed,
    cosine_packed,
    cosine_with_restarts_packed,
    polynomial_packed,
    inverse_sqrt_packed,
    cosine_with_min_lr_packed,
    cosine_warmup_with_min_lr_packed,
    warmup_stable_decay_packed,
)


@register_jitable
def flat_spans(code, p):
    """Where schedule `code` (parameters `p`) stays constant after its warmup, as float64 steps: a plateau
    [plateau_first, plateau_end) and a tail [tail_first, inf); inf where there is none.

    Not a formula: the first steps where the formulas' own comparisons (the same float64 expressions) put them
    in a constant branch, so a kernel can compute the value there once and fill: warmup_stable_decay's stable
    phase and tail, and the ends of the schedules that stop changing (cosine and inverse_sqrt never do).
    """
    w = p[COL_WARMUP]
    if code == WARMUP_STABLE_DECAY:
        stable_end = w + p[COL_STABLE]
        return w, stable_end, stable_end + p[COL_DECAY]
    tail = math.inf
    if code == CONSTANT:
        tail = 0.0
    elif code == CONSTANT_WITH_WARMUP:
        tail = w
    elif code == LINEAR:
        tail = p[COL_TRAINING]  # (training - step) * ... <= 0 from there: max(0, .) = 0
    elif code == COSINE_WITH_RESTARTS:
        tail = w + max(1.0, p[COL_TRAINING] - w)  # progress >= 1 (correctly rounded at every level)
    elif code == POLYNOMIAL:
        tail = w if p[COL_TRAINING] - w == 0.0 else p[COL_TRAINING] + 1.0  # lr_end / lr_init
    return math.inf, math.inf, tail


@register_jitable
def pinned(value, pin):
    """`pin` unless it is NaN (then `value`): a kernel that pins a column to a compile-time constant gets code
    specialised for it (warmup_stable_decay's shapes, polynomial's power 1) once LLVM folds the comparisons."""
    return value if math.isnan(pin) else pin


@register_jitable
def row_params(p, pins):
    """Row `p` of the packed table as a tuple of NUM_COLUMNS locals, a column's value replaced by pins[column]
    where that is not NaN. Locals, unlike loads from `p`, stay in registers across a loop that writes `out`."""
    return (
        pinned(p[0], pins[0]),
        pinned(p[1], pins[1]),
        pinned(p[2], pins[2]),
        pinned(p[3], pins[3]),
        pinned(p[4], pins[4]),
        pinned(p[5], pins[5]),
        pinned(p[6], pins[6]),
        pinned(p[7], pins[7]),
        pinned(p[8], pins[8]),
        pinned(p[9], pins[9]),
        pinned(p[10], pins[10]),
        pinned(p[11], pins[11]),
        pinned(p[12], pins[12]),
    )


@register_jitable
def multiplier(code, step, p, fast):
    """The multiplier of the schedule `code` with packed parameters `p` (one table row) at `step`."""
    if code == CONSTANT:
        return constant_packed(step, p, fast)
    if code == CONSTANT_WITH_WARMUP:
        return constant_with_warmup_packed(step, p, fast)
    if code == LINEAR:
        return linear_packed(step, p, fast)
    if code == COSINE:
        return cosine_packed(step, p, fast)
    if code == COSINE_WITH_RESTARTS:
        return cosine_with_restarts_packed(step, p, fast)
    if code == POLYNOMIAL:
        return polynomial_packed(step, p, fast)
    if code == INVERSE_SQRT:
        return inverse_sqrt_packed(step, p, fast)
    if code == COSINE_WITH_MIN_LR:
        return cosine_with_min_lr_packed(step, p, fast)
    if code == COSINE_WARMUP_WITH_MIN_LR:
        return cosine_warmup_with_min_lr_packed(step, p, fast)
    return warmup_stable_decay_packed(step, p, fast)
