"""The numerical machinery against its simpler alternative, side by side in one run (issue 10: keep only what moves
a bench goal).

Group ``methods-<dtype>``: one 10**7-step trajectory of each shape family filled at each cosine method, next to
``ndarray.fill`` of the same array:

- cosine: LIBM (libm's cos, one call per value: what a plain loop does), REDUCED (the reference's own angle, range
  reduced, a polynomial) and TURNS (the fraction of a turn, no reduction) -- the bulk API picks TURNS for angles
  below 256 radians, REDUCED up to 1e7;
- linear: LIBM (a true division per value) against REDUCED (divide: one two-part reciprocal per segment, a
  multiply and an fma per value, exact wherever the quotient is a float64);
- polynomial with power 1 (its own loop: no pow call) against power 1 + 1e-12 (the pow loop every other power
  takes).

``python bench/record.py`` turns these into ``method_*_vs_fill`` figures.
"""

from __future__ import annotations

import numpy as np
import pytest
from fastsched.kernels import numerics

import fastsched
from fastsched import cpu_backend
from fastsched import table as tables

NUM_STEPS = 10_000_000
BASE_LR = 3e-4
METHODS = {"libm": numerics.LIBM, "reduced": numerics.REDUCED, "turns": numerics.TURNS}
CASES = {
    "cosine": ("cosine", dict(num_warmup_steps=NUM_STEPS // 100, num_training_steps=NUM_STEPS), METHODS),
    "linear": (
        "linear",
        dict(num_warmup_steps=NUM_STEPS // 100, num_training_steps=NUM_STEPS),
        {"libm": numerics.LIBM, "reduced": numerics.REDUCED},
    ),
    "polynomial_power_1": (
        "polynomial",
        dict(num_warmup_steps=NUM_STEPS // 100, num_training_steps=NUM_STEPS, power=1.0),
        {"reduced": numerics.REDUCED},
    ),
    "polynomial_power_pow": (
        "polynomial",
        dict(num_warmup_steps=NUM_STEPS // 100, num_training_steps=NUM_STEPS, power=1.0 + 1e-12),
        {"reduced": numerics.REDUCED},
    ),
}
PARAMETERS = [(case, method) for case, (_, _, methods) in CASES.items() for method in methods]


@pytest.fixture(scope="module", params=["float64", "float32"])
def out(request):
    array = np.empty((1, NUM_STEPS), dtype=request.param)
    array.fill(0.0)  # pages mapped: neither side pays the page faults
    return array


def test_fill(benchmark, out):
    benchmark.group = f"methods-{out.dtype}"
    benchmark.extra_info.update(kind="fill", dtype=str(out.dtype), num_elements=out.size)
    benchmark(out.fill, BASE_LR)


@pytest.mark.parametrize(("case", "method"), PARAMETERS)
def test_method(benchmark, out, case, method):
    name, params, methods = CASES[case]
    table = tables.pack(fastsched.schedule(name, **params), BASE_LR)
    benchmark.group = f"methods-{out.dtype}"
    benchmark.extra_info.update(kind="method", case=case, method=method, dtype=str(out.dtype), num_elements=out.size)
    benchmark(cpu_backend.fill, table, 0, out, methods[method])
    expected = fastsched.trajectory(name, NUM_STEPS, base_lr=BASE_LR, dtype=out.dtype, **params)
    np.testing.assert_allclose(out[0], expected, rtol=0, atol=(1e-12 if out.dtype == np.float64 else 1e-10) * BASE_LR)
