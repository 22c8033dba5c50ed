"""Numerical building blocks of the shapes: how a division and a cosine are evaluated, at three methods.

The kernels pass ``method`` as a compile-time constant, so the other branches fold away:

- ``LIBM``: true divisions and libm's ``cos`` (what Python's ``math.cos`` calls) in the reference library's own
  order of operations: a reference's float64 values bit for bit.
- ``REDUCED``: divisions without a division instruction per value (``divide``: the reciprocal to twice float64's
  precision, so every quotient a float64 holds, 0 and 1 among them, is exact), and the cosine of the reference's
  own float64 angle by range reduction and a polynomial that LLVM vectorizes (libm's ``cos`` is a call it can't):
  within 1e-15 of LIBM at any angle below 5e7.
- ``TURNS``: as REDUCED, but the cosine is taken of the fraction of a turn ``elapsed * (cycles / span)`` (one
  reciprocal and no reduction): within 1e-15 + angle * 3.3e-16 of LIBM, so the bulk API uses it for small angles.

Every cosine here is evaluated as a square, ``0.5 * (1 + cos(2x)) = cos(x)**2``, and rounded onto the grid that
``0.5 * (1.0 + c)`` leaves (``on_half_cosine_grid``): where libm's cosine is exactly 1 or -1, so the reference's
value is exactly 1 or 0, these are too (a decay to zero ends at 0.0, a peak is 1.0), at every method.
"""

import math
from fractions import Fraction

from llvmlite import ir
from numba.core import cgutils, config, types
from numba.extending import intrinsic, register_jitable

LIBM = 0
REDUCED = 1
TURNS = 2
METHOD_NAMES = ("libm", "reduced", "turns")

# 2*pi split for Cody-Waite reduction: HI has 30 significant bits, so n * HI is exact for every n < 2**23
# (angles up to ~5e7 radians), with or without fused multiply-adds; LO = 2*pi - HI rounded, off by 7e-26.
_TWO_PI_HI = 6.283185310661793
_TWO_PI_LO = -3.4822062782016664e-09
_INV_TWO_PI = 0.15915494309189535
_INV_PI = 0.3183098861837907
# cos(pi * g) = C(g**2) for g in [-1/2, 1/2]: degree 9 in g**2, fitted (near-minimax, mathematical error 7e-21)
# with C(0) = 1 exactly; evaluated in float64 its error stays below 2.5e-16 (C(1/4) = 1.1e-16).
_COS_HALF_TURN = (
    1.0,
    -4.934802200544679,
    4.058712126416768,
    -1.3352627688545589,
    0.2353306303580646,
    -0.025806891377308204,
    0.001929574191715035,
    -0.00010463743312640958,
    4.300756943689742e-06,
    -1.3437983367174752e-07,
)


def _libdevice(builder, name, args):
    """On CUDA, libdevice's function `name` of float64 args, else None: NVVM refuses some LLVM intrinsics (llvm.rint:
    "Unsupported intrinsic", met on an H100 with CUDA 13), and libdevice computes the same values."""
    if not builder.module.triple.startswith("nvptx"):
        return None
    double = ir.DoubleType()
    function = cgutils.get_or_insert_function(builder.module, ir.FunctionType(double, [double] * len(args)), name)
    return builder.call(function, args)


@intrinsic
def fma(typingctx, a, b, c):
    """a * b + c rounded once (llvm.fma, libdevice's __nv_fma: one instruction on the CPUs and GPUs numba targets).
    Compiled code only."""
    if not all(isinstance(x, (types.Float, types.Integer)) for x in (a, b, c)):
        return None

    def codegen(context, builder, signature, args):  # numba has cast the arguments to float64
        cuda = _libdevice(builder, "__nv_fma", args)
        return builder.fma(*args) if cuda is None else cuda

    return types.float64(types.float64, types.float64, types.float64), codegen


def _rounding(llvm_name, libdevice_name):
    @intrinsic
    def rounding(typingctx, x):
        if not isinstance(x, (types.Float, types.Integer)):
            return None

        def codegen(context, builder, signature, args):
            cuda = _libdevice(builder, libdevice_name, args)
            if cuda is None:
                return builder.call(builder.module.declare_intrinsic(llvm_name, [args[0].type]), args)
            return cuda

        return types.float64(types.float64), codegen

    return rounding


# x rounded to a whole number, as a float64, by one instruction (no conversions to and from int). Compiled code only.
floor = _rounding("llvm.floor", "__nv_floor")  # math.floor's value
ceil = _rounding("llvm.ceil", "__nv_ceil")  # math.ceil's value
rint = _rounding("llvm.rint", "__nv_rint")  # the nearest, ties to even (the default rounding mode)

if config.DISABLE_JIT:  # NUMBA_DISABLE_JIT=1 runs the kernels as Python: the same operations, without intrinsics

    def fma(a, b, c):
        return float(Fraction(float(a)) * Fraction(float(b)) + Fraction(float(c)))  # rounded once

    def floor(x):
        return float(math.floor(x)) if math.isfinite(x) else float(x)

    def ceil(x):
        return float(math.ceil(x)) if math.isfinite(x) else float(x)

    def rint(x):
        return float(round(x)) if math.isfinite(x) else float(x)  # round() ties to even, as rint


@register_jitable
def floor_of(x, method):
    """math.floor(x) as a float64 (|x| < 2**63): at LIBM by math.floor, which CUDA devices and numba's CUDA simulator
    run too; at the CPU-only methods by one vectorizable instruction."""
    if method == LIBM:
        return float(math.floor(x))
    return floor(x)


@register_jitable
def divide(numerator, denominator, method):
    """numerator / denominator: at LIBM a division; at REDUCED and TURNS, without a division instruction per value,
    numerator times the reciprocal carried to twice float64's precision (head + tail, computed once for a loop's
    fixed denominator: the tail from the head's exact residual 1 - denominator * head), in two operations. Within
    2**-104 of the quotient before its one rounding, so every quotient float64 holds exactly comes out exactly: 0,
    1 where numerator == denominator (the endpoints), and the rest is the quotient or its neighbour."""
    if method == LIBM:
        return numerator / denominator
    head = 1.0 / denominator
    tail = fma(-denominator, head, 1.0) * head
    return fma(numerator, head, numerator * tail)


@register_jitable
def cos_half_turns(g):
    """cos(pi * g) for g in [-1/2, 1/2] (no libm, no branch): Estrin's scheme on C(g**2), a third of Horner's chain
    of dependent operations, which keeps more values in flight in a vectorized loop."""
    c = _COS_HALF_TURN
    y = g * g
    y2 = y * y
    y4 = y2 * y2
    low = (c[0] + c[1] * y) + (c[2] + c[3] * y) * y2
    high = (c[4] + c[5] * y) + (c[6] + c[7] * y) * y2
    return low + (high + (c[8] + c[9] * y) * y4) * y4


@register_jitable
def on_half_cosine_grid(h):
    """h rounded as 0.5 * (1.0 + c) rounds it, c being a float64 cosine: 0 where c would be -1.0, 1 where 1.0."""
    return 0.5 * (h * 2.0 - 1.0) + 0.5  # 0.5 * (1.0 + c) exactly (0.5 * c is exact): one fused multiply-add


@register_jitable
def half_cos_turns(fraction):
    """0.5 * (1 + cos(2 * pi * fraction)) = cos(pi * fraction)**2 for fraction in [-1/2, 1/2]."""
    c = cos_half_turns(fraction)
    return on_half_cosine_grid(c * c)


@register_jitable
def half_cos_angle(angle):
    """0.5 * (1 + cos(angle)) for |angle| below ~5e7, without libm: Cody-Waite reduction by 2*pi to r in [-pi, pi]
    (n * HI is exact, so r is within 1e-16 of exact), then cos(r / 2)**2."""
    n = rint(angle * _INV_TWO_PI)
    r = (angle - n * _TWO_PI_HI) - n * _TWO_PI_LO
    c = cos_half_turns(r * (0.5 * _INV_PI))
    return on_half_cosine_grid(c * c)


@register_jitable
def half_cos(angle, method):
    """0.5 * (1.0 + cos(angle)), the expression of every cosine schedule, at LIBM or REDUCED."""
    if method == LIBM:
        return 0.5 * (1.0 + math.cos(angle))
    return half_cos_angle(angle)


@register_jitable
def turns_fraction(turns):
    """turns minus the nearest whole number: in [-1/2, 1/2], exact (below 2**51 turns)."""
    return turns - rint(turns)
