"""Each schedule's learning-rate multiplier, written once, as a scalar function of (step, parameters).

These are plain Python functions registered with ``register_jitable``: the CPU kernels (``njit``) and the
CUDA kernels (``cuda.jit`` device code) compile this same source, and nothing else in fastsched restates
a formula. The arithmetic follows transformers' ``optimization.py`` operation by operation, in the same
order, so that with ``fast=False`` the float64 results are transformers' own values bit for bit.

``fast`` selects how a cosine is evaluated: ``False`` calls libm (what Python's ``math.cos`` calls);
``True`` uses ``fast_cos``, a branch-free version that LLVM can vectorize (bulk tables). Kernels pass it
as a constant, so the branch is folded away.

Steps and step counts arrive as float64 (exact for integers below 2**53); the Python layer validates
everything, so these functions trust their input.
"""

import math

from numba.extending import register_jitable

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

# warmup_stable_decay's warmup_type / decay_type.
SHAPE_LINEAR = 0
SHAPE_COSINE = 1
SHAPE_1_SQRT = 2

# 2*pi split for Cody-Waite reduction: HI and MID have 30 significant bits, so n * HI and n * MID are
# exact for every n < 2**23 (angles up to ~5e7 radians); LO carries the remaining bits.
_TWO_PI_HI = 6.283185310661793
_TWO_PI_MID = -3.4822062768002926e-09
_TWO_PI_LO = -1.401373759235972e-18
_INV_TWO_PI = 0.15915494309189535
_PI_HI = 3.141592653589793
_PI_LO = 1.2246467991473532e-16
_HALF_PI = 1.5707963267948966


@register_jitable
def fast_cos(angle):
    """cos(angle) without libm calls or branches (LLVM vectorizes it), for |angle| below ~5e7.

    Cody-Waite reduction by 2*pi to r in [-pi, pi], folding onto [0, pi/2] with cos(r) = -cos(pi - |r|),
    then the Taylor series to x**22, whose truncation error is below 1e-19 there. The result stays
    within a few 1e-16 of libm's for the same float64 angle.
    """
    n = math.floor(angle * _INV_TWO_PI + 0.5)
    r = ((angle - n * _TWO_PI_HI) - n * _TWO_PI_MID) - n * _TWO_PI_LO
    a = abs(r)
    flip = a > _HALF_PI
    x = ((_PI_HI - a) + _PI_LO) if flip else a
    x2 = x * x
    p = -8.896791392450574e-22
    p = p * x2 + 4.110317623312165e-19
    p = p * x2 - 1.5619206968586225e-16
    p = p * x2 + 4.779477332387385e-14
    p = p * x2 - 1.1470745597729725e-11
    p = p * x2 + 2.08767569878681e-09
    p = p * x2 - 2.755731922398589e-07
    p = p * x2 + 2.48015873015873e-05
    p = p * x2 - 0.001388888888888889
    p = p * x2 + 0.041666666666666664
    p = p * x2 - 0.5
    c = p * x2 + 1.0
    return -c if flip else c


@register_jitable
def cos(angle, fast):
    if fast:
        return fast_cos(angle)
    return math.cos(angle)


@register_jitable
def linear_warmup(step, num_warmup_steps):
    return step / max(1.0, num_warmup_steps)


@register_jitable
def constant_with_warmup(step, num_warmup_steps):
    if step < num_warmup_steps:
        return linear_warmup(step, num_warmup_steps)
    return 1.0


@register_jitable
def linear(step, num_warmup_steps, num_training_steps):
    if step < num_warmup_steps:
        return linear_warmup(step, num_warmup_steps)
    return max(0.0, (num_training_steps - step) / max(1.0, num_training_steps - num_warmup_steps))


@register_jitable
def cosine_progress(step, num_warmup_steps, num_training_steps):
    return (step - num_warmup_steps) / max(1.0, num_training_steps - num_warmup_steps)


@register_jitable
def cosine(step, num_warmup_steps, num_training_steps, num_cycles, fast):
    if step < num_warmup_steps:
        return linear_warmup(step, num_warmup_steps)
    progress = cosine_progress(step, num_warmup_steps, num_training_steps)
    return max(0.0, 0.5 * (1.0 + cos(math.pi * num_cycles * 2.0 * progress, fast)))


@register_jitable
def cosine_with_restarts(step, num_warmup_steps, num_training_steps, num_cycles, fast):
    if step < num_warmup_steps:
        return linear_warmup(step, num_warmup_steps)
    progress = cosine_progress(step, num_warmup_steps, num_training_steps)
    if progress >= 1.0:
        return 0.0
    return max(0.0, 0.5 * (1.0 + cos(math.pi * ((num_cycles * progress) % 1.0), fast)))


@register_jitable
def polynomial(step, num_warmup_steps, num_training_steps, lr_end, power, lr_init):
    if step < num_warmup_steps:
        return linear_warmup(step, num_warmup_steps)
    decay_steps = num_training_steps - num_warmup_steps
    # transformers divides by zero at step == W == T; the schedule's value there is its end value.
    if step > num_training_steps or decay_steps == 0.0:
        return lr_end / lr_init
    pct_remaining = 1.0 - (step - num_warmup_steps) / decay_steps
    return ((lr_init - lr_end) * pct_remaining**power + lr_end) / lr_init


@register_jitable
def inverse_sqrt(step, num_warmup_steps, timescale):
    if step < num_warmup_steps:
        return linear_warmup(step, num_warmup_steps)
    shift = timescale - num_warmup_steps
    return 1.0 / math.sqrt((step + shift) / timescale)


@register_jitable
def cosine_with_min_lr(step, num_warmup_steps, num_training_steps, num_cycles, min_lr_rate, fast):
    if step < num_warmup_steps:
        return linear_warmup(step, num_warmup_steps)
    progress = cosine_progress(step, num_warmup_steps, num_training_steps)
    factor = 0.5 * (1.0 + cos(math.pi * num_cycles * 2.0 * progress, fast))
    return max(0.0, factor * (1.0 - min_lr_rate) + min_lr_rate)


@register_jitable
def cosine_warmup_with_min_lr(
    step, num_warmup_steps, num_training_steps, num_cycles, min_lr_rate, warmup_lr_rate, fast
):
    """transformers' `..._with_warmup_lr_rate` variant: warmup counts from step + 1; NaN warmup_lr_rate = None."""
    if step < num_warmup_steps:
        if math.isnan(warmup_lr_rate):
            return (step + 1.0) / max(1.0, num_warmup_steps)
        return warmup_lr_rate + (1.0 - warmup_lr_rate) * step / max(1.0, num_warmup_steps - 1.0)
    progress = (step - num_warmup_steps + 1.0) / max(1.0, num_training_steps - num_warmup_steps)
    factor = 0.5 * (1.0 + cos(math.pi * num_cycles * 2.0 * progress, fast))
    return max(0.0, factor * (1.0 - min_lr_rate) + min_lr_rate)


@register_jitable
def warmup_stable_decay(
    step, num_warmup_steps, num_stable_steps, num_decay_steps, warmup_shape, decay_shape, min_lr_ratio, num_cycles, fast
):
    if step < num_warmup_steps:
        progress = step / max(1.0, num_warmup_steps)
        if warmup_shape == SHAPE_LINEAR:
            factor = progress
        elif warmup_shape == SHAPE_COSINE:
            factor = 0.5 * (1.0 - cos(math.pi * progress, fast))
        else:
            factor = 1.0 - math.sqrt(1.0 - progress)
        return max(0.0, factor * (1.0 - min_lr_ratio) + min_lr_ratio)
    if step < num_warmup_steps + num_stable_steps:
        return 1.0
    if step < num_warmup_steps + num_stable_steps + num_decay_steps:
        progress = (step - num_warmup_steps - num_stable_steps) / max(1.0, num_decay_steps)
        if decay_shape == SHAPE_LINEAR:
            factor = 1.0 - progress
        elif decay_shape == SHAPE_COSINE:
            factor = 0.5 * (1.0 + cos(math.pi * num_cycles * 2.0 * progress, fast))
        else:
            factor = 1.0 - math.sqrt(progress)
        return max(0.0, factor * (1.0 - min_lr_ratio) + min_lr_ratio)
    return min_lr_ratio


@register_jitable
def multiplier(code, step, p, fast):
    """The multiplier of the schedule `code` with packed parameters `p` (one table row) at `step`."""
    if code == CONSTANT:
        return 1.0
    if code == CONSTANT_WITH_WARMUP:
        return constant_with_warmup(step, p[COL_WARMUP])
    if code == LINEAR:
        return linear(step, p[COL_WARMUP], p[COL_TRAINING])
    if code == COSINE:
        return cosine(step, p[COL_WARMUP], p[COL_TRAINING], p[COL_CYCLES], fast)
    if code == COSINE_WITH_RESTARTS:
        return cosine_with_restarts(step, p[COL_WARMUP], p[COL_TRAINING], p[COL_CYCLES], fast)
    if code == POLYNOMIAL:
        return polynomial(step, p[COL_WARMUP], p[COL_TRAINING], p[COL_LR_END], p[COL_POWER], p[COL_LR_INIT])
    if code == INVERSE_SQRT:
        return inverse_sqrt(step, p[COL_WARMUP], p[COL_TIMESCALE])
    if code == COSINE_WITH_MIN_LR:
        return cosine_with_min_lr(step, p[COL_WARMUP], p[COL_TRAINING], p[COL_CYCLES], p[COL_MIN_LR_RATE], fast)
    if code == COSINE_WARMUP_WITH_MIN_LR:
        return cosine_warmup_with_min_lr(
            step, p[COL_WARMUP], p[COL_TRAINING], p[COL_CYCLES], p[COL_MIN_LR_RATE], p[COL_WARMUP_LR_RATE], fast
        )
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
    )
