"""The exactness contract: fastsched's bulk API against the installed transformers, for every schedule type.

- multipliers(): transformers' float64 values bit for bit (libm cosine, same operations in the same order).
- trajectory() / sweep() float64: within 1e-12 of transformers' multiplier (x base_lr), steps to 3x the length.
- float32: the float64 value rounded once, so within one float32 ulp of transformers' value (1e-12 slack at 0).
"""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest
from examples import SCHEDULE_NAMES
from fastsched.kernels import numerics
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from reference import float32_ulp, transformers_multipliers
from strategies import configs, schedule_length

import fastsched
from fastsched import cpu_backend
from fastsched import table as tables

FLOAT64_TOLERANCE = 1e-12
parity_settings = settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def reference_and_steps(name, base_lr, params, start=0):
    num_steps = 3 * schedule_length(params) + 5
    steps = np.arange(start, start + num_steps)
    return transformers_multipliers(name, steps, base_lr, **params), steps


@pytest.mark.parametrize("name", SCHEDULE_NAMES)
@parity_settings
@given(data=st.data())
def test_multipliers_equal_transformers_bit_for_bit(name, data):
    _, base_lr, params = data.draw(configs(name))
    expected, steps = reference_and_steps(name, base_lr, params)
    order = data.draw(st.permutations(range(len(steps))))  # any order of steps
    shuffled = steps[np.asarray(order, dtype=np.int64)]
    got = fastsched.multipliers(name, shuffled, base_lr=base_lr, **params)
    np.testing.assert_array_equal(got, expected[shuffled - steps[0]])


@pytest.mark.parametrize("name", SCHEDULE_NAMES)
@parity_settings
@given(data=st.data())
def test_trajectory_within_1e12_of_transformers(name, data):
    _, base_lr, params = data.draw(configs(name))
    start = data.draw(st.sampled_from([0, 0, 7, 1000]))
    expected, steps = reference_and_steps(name, base_lr, params, start)
    got = fastsched.trajectory(name, len(steps), base_lr=base_lr, start=start, **params)
    assert got.dtype == np.float64
    np.testing.assert_allclose(got / base_lr, expected, rtol=0, atol=FLOAT64_TOLERANCE)

    got32 = fastsched.trajectory(name, len(steps), base_lr=base_lr, start=start, dtype=np.float32, **params)
    assert got32.dtype == np.float32
    np.testing.assert_array_equal(got32, got.astype(np.float32))  # computed in float64, rounded once
    reference32 = base_lr * expected
    assert np.all(np.abs(got32 - reference32) <= float32_ulp(reference32) + FLOAT64_TOLERANCE)


@parity_settings
@given(data=st.data())
def test_sweep_rows_match_transformers_for_mixed_configs(data):
    name = data.draw(st.sampled_from(SCHEDULE_NAMES))
    drawn = data.draw(st.lists(configs(name), min_size=1, max_size=5))
    # A sweep takes one value of each string option; keep the first config's and configs that share them.
    first = drawn[0][2]
    drawn = [c for c in drawn if all(c[2].get(k) == first.get(k) for k in ("warmup_type", "decay_type"))]
    keys = sorted(set().union(*(c[2] for c in drawn)))
    if any(any(k not in c[2] or c[2][k] is None for c in drawn) for k in keys):
        drawn = drawn[:1]  # optional parameters differ in presence: sweep one config
        keys = sorted(k for k, v in drawn[0][2].items() if v is not None)
    num_steps = 3 * max(schedule_length(c[2]) for c in drawn) + 5
    params = {}
    for key in keys:
        values = [c[2][key] for c in drawn]
        params[key] = values[0] if key in ("warmup_type", "decay_type") else np.asarray(values)
    base_lr = np.asarray([c[1] for c in drawn])
    got = fastsched.sweep(name, num_steps, base_lr=base_lr, **params)
    assert got.shape == (len(drawn), num_steps)
    for row, (_, config_lr, config_params) in zip(got, drawn, strict=True):
        expected = transformers_multipliers(name, range(num_steps), config_lr, **config_params)
        np.testing.assert_allclose(row / config_lr, expected, rtol=0, atol=FLOAT64_TOLERANCE)


@pytest.mark.parametrize("name", ["cosine", "cosine_with_restarts", "cosine_with_min_lr", "warmup_stable_decay"])
@pytest.mark.parametrize("num_cycles", [0.5, 7.3, 100.0])
def test_many_cycles_far_past_the_end(name, num_cycles):
    params = {"num_warmup_steps": 50, "num_cycles": num_cycles}
    if name == "warmup_stable_decay":
        params |= {"num_decay_steps": 5000, "num_stable_steps": 10}
    else:
        params["num_training_steps"] = 5000
    if name == "cosine_with_min_lr":
        params["min_lr_rate"] = 0.05
    steps = np.arange(0, 15_050)
    expected = transformers_multipliers(name, steps, **params)
    np.testing.assert_allclose(fastsched.trajectory(name, len(steps), **params), expected, rtol=0, atol=1e-12)


# Values worked out by hand from transformers' definitions.
HAND_CHECKED = [
    ("constant", {}, [(0, 1.0), (10**9, 1.0)]),
    ("constant_with_warmup", {"num_warmup_steps": 4}, [(0, 0.0), (1, 0.25), (4, 1.0), (100, 1.0)]),
    (
        "linear",
        {"num_warmup_steps": 10, "num_training_steps": 20},
        [(5, 0.5), (10, 1.0), (15, 0.5), (20, 0.0), (30, 0.0)],
    ),
    (
        "cosine",
        {"num_warmup_steps": 0, "num_training_steps": 100},
        [(0, 1.0), (50, 0.5), (100, 0.0), (150, 0.5), (200, 1.0)],
    ),
    (
        "cosine_with_restarts",
        {"num_warmup_steps": 0, "num_training_steps": 100, "num_cycles": 2},
        [(25, 0.5), (50, 1.0), (75, 0.5), (100, 0.0), (300, 0.0)],
    ),
    (
        "polynomial",
        {"num_warmup_steps": 0, "num_training_steps": 10, "lr_end": 0.0, "power": 2.0},
        [(5, 0.25), (10, 0.0), (20, 0.0)],
    ),
    ("inverse_sqrt", {"num_warmup_steps": 100}, [(50, 0.5), (100, 1.0), (400, 0.5)]),
    ("inverse_sqrt", {"num_warmup_steps": 0}, [(0, 1.0), (30_000, 0.5)]),  # timescale defaults to 10 000
    (
        "cosine_with_min_lr",
        {"num_warmup_steps": 0, "num_training_steps": 100, "min_lr_rate": 0.1},
        [(50, 0.55), (100, 0.1)],
    ),
    (
        "cosine_warmup_with_min_lr",
        {"num_warmup_steps": 10, "num_training_steps": 110, "min_lr_rate": 0.0},
        [(0, 0.1), (9, 1.0), (59, 0.5)],  # warmup from (step + 1) / W; decay progress from step - W + 1
    ),
    (
        "cosine_warmup_with_min_lr",
        {"num_warmup_steps": 10, "num_training_steps": 110, "min_lr_rate": 0.0, "warmup_lr_rate": 0.5},
        [(0, 0.5), (9, 1.0)],
    ),
    (
        "warmup_stable_decay",
        {
            "num_warmup_steps": 10,
            "num_stable_steps": 10,
            "num_decay_steps": 10,
            "decay_type": "linear",
            "min_lr_ratio": 0.1,
        },
        [(0, 0.1), (5, 0.55), (15, 1.0), (25, 0.55), (30, 0.1), (100, 0.1)],
    ),
    (
        "warmup_stable_decay",
        {"num_warmup_steps": 0, "num_training_steps": 10, "num_decay_steps": 10, "decay_type": "1-sqrt"},
        [(0, 1.0), (5, 1.0 - 0.5**0.5), (10, 0.0)],
    ),
]


@pytest.mark.parametrize(("name", "params", "expected"), HAND_CHECKED)
def test_hand_checked_values(name, params, expected):
    steps = [step for step, _ in expected]
    values = [value for _, value in expected]
    np.testing.assert_allclose(fastsched.multipliers(name, steps, **params), values, rtol=0, atol=1e-15)
    for step, value in expected:
        got = fastsched.trajectory(name, 1, start=step, **params)
        np.testing.assert_allclose(got, [value], rtol=0, atol=1e-15)


def test_polynomial_where_transformers_divides_by_zero_gives_the_end_value():
    params = {"num_warmup_steps": 10, "num_training_steps": 10, "lr_end": 0.1, "power": 1.0}
    with pytest.raises(ZeroDivisionError):
        transformers_multipliers("polynomial", [10], patch_zero_division=False, **params)
    np.testing.assert_array_equal(fastsched.multipliers("polynomial", [9, 10, 11], **params), [0.9, 0.1, 0.1])
    np.testing.assert_allclose(fastsched.trajectory("polynomial", 3, start=9, base_lr=2.0, **params), [1.8, 0.1, 0.1])


def test_polynomial_lr_end_is_relative_to_base_lr():
    got = fastsched.trajectory("polynomial", 12, base_lr=1e-3, num_warmup_steps=0, num_training_steps=10, lr_end=1e-4)
    assert got[0] == pytest.approx(1e-3, abs=1e-18)
    assert got[10] == pytest.approx(1e-4, abs=1e-18)
    assert got[11] == pytest.approx(1e-4, abs=1e-18)


def test_scalar_step_gives_a_0d_array_and_empty_steps_an_empty_one():
    got = fastsched.multipliers("linear", 5, num_warmup_steps=10, num_training_steps=20)
    assert got.shape == () and got.dtype == np.float64 and float(got) == 0.5
    assert fastsched.multipliers("linear", [], num_warmup_steps=10, num_training_steps=20).shape == (0,)
    assert fastsched.trajectory("cosine", 0, num_warmup_steps=1, num_training_steps=2).shape == (0,)
    assert fastsched.sweep("cosine", 0, num_warmup_steps=[1, 2], num_training_steps=2).shape == (2, 0)


def test_transformers_and_fastsched_enums_are_accepted_as_names():
    from transformers.trainer_utils import SchedulerType as TransformersSchedulerType

    for name in (fastsched.SchedulerType.COSINE, TransformersSchedulerType.COSINE, "cosine"):
        np.testing.assert_array_equal(
            fastsched.trajectory(name, 5, num_warmup_steps=1, num_training_steps=4),
            fastsched.trajectory("cosine", 5, num_warmup_steps=1, num_training_steps=4),
        )


def test_out_memmap_is_written_and_returned(tmp_path):
    out = np.lib.format.open_memmap(tmp_path / "lr.npy", mode="w+", dtype=np.float32, shape=(3, 100))
    got = fastsched.sweep("cosine", 100, base_lr=[1.0, 0.5, 0.25], num_warmup_steps=10, num_training_steps=90, out=out)
    assert got is out
    out.flush()
    expected = fastsched.sweep("cosine", 100, base_lr=[1.0, 0.5, 0.25], num_warmup_steps=10, num_training_steps=90)
    np.testing.assert_array_equal(np.load(tmp_path / "lr.npy"), expected.astype(np.float32))


def test_large_sweep_takes_the_parallel_kernel_and_matches_the_serial_one():
    warmups = np.arange(0, 64) * 37
    small = np.stack(
        [
            fastsched.trajectory("cosine", 20_000, num_warmup_steps=w, num_training_steps=15_000, num_cycles=3.0)
            for w in warmups
        ]
    )
    big = fastsched.sweep("cosine", 20_000, num_warmup_steps=warmups, num_training_steps=15_000, num_cycles=3.0)
    np.testing.assert_array_equal(big, small)


UNBOUNDED = {"cosine", "cosine_with_min_lr", "cosine_warmup_with_min_lr", "inverse_sqrt"}


@pytest.mark.parametrize("name", SCHEDULE_NAMES)
@settings(max_examples=15, deadline=None)
@given(data=st.data())
def test_constant_from_is_where_the_schedule_stops_changing(name, data):
    """constant_from() (where scheduler tables may end): the multiplier never changes from that step on."""
    _, base_lr, params = data.draw(configs(name))
    last = tables.pack(fastsched.schedule(name, **params), base_lr).constant_from()
    if name in UNBOUNDED:
        assert last is None
        return
    length = schedule_length(params)
    steps = np.concatenate([np.arange(last, last + 3 * length + 20), [2**31, 2**40 + 3, 2**53 - 1]])
    values = fastsched.multipliers(name, steps, base_lr=base_lr, **params)
    np.testing.assert_array_equal(values, np.full_like(values, values[0]))


# -- exact endpoints -------------------------------------------------------------------------------------------------


def structural(name: str, params: dict, steps: np.ndarray) -> np.ndarray:
    """The steps where a schedule's value is 0 or 1 by construction, not by rounding: segment boundaries (0, the end
    of warmup, of training, of the stable phase and of the decay) and a cosine's peaks and valleys (cycles x
    progress a multiple of 1/2, in exact rational arithmetic). (Elsewhere a value may round to 1.0 in transformers'
    last operation and to its neighbour in ours: within the 1e-12 contract, not an endpoint.)"""
    w = params.get("num_warmup_steps", 0)
    t = params.get("num_training_steps") or 0
    s = params.get("num_stable_steps")
    d = params.get("num_decay_steps", 0)
    if name == "warmup_stable_decay" and s is None:
        s = t - w - d
    marks = {0, w, t} | ({w + s, w + s + d} if s is not None else set())
    at_mark = np.isin(steps, sorted(marks))
    if name in ("cosine", "cosine_with_min_lr", "cosine_with_restarts", "cosine_warmup_with_min_lr"):
        cycles = Fraction(params.get("num_cycles", 0.5 if name != "cosine_with_restarts" else 1))
        origin = w - 1 if name == "cosine_warmup_with_min_lr" else w
        span = max(1, t - w)
        half_turns = [(2 * cycles * (int(k) - origin) / span).denominator == 1 for k in steps]
        at_mark |= np.asarray(half_turns) & (steps >= w)
    return at_mark


@pytest.mark.parametrize("name", SCHEDULE_NAMES)
@parity_settings
@given(data=st.data())
def test_where_transformers_gives_exactly_0_or_1_so_does_every_method(name, data):
    """The end of a decay to zero, the end of warmup, the peaks of polynomial and inverse_sqrt, a cosine's valleys:
    exactly 0.0 and exactly base_lr, float64 and float32, whichever cosine method the kernels run."""
    _, base_lr, params = data.draw(configs(name))
    start = data.draw(st.sampled_from([0, 3]))
    expected, steps = reference_and_steps(name, base_lr, params, start)
    exact = ((expected == 0.0) | (expected == 1.0)) & structural(name, params, steps)
    table = tables.pack(fastsched.schedule(name, **params), base_lr)
    for method in (numerics.LIBM, numerics.REDUCED, numerics.TURNS):
        for dtype in (np.float64, np.float32):
            out = np.empty((1, len(steps)), dtype=dtype)
            cpu_backend.fill(table, start, out, method)
            np.testing.assert_array_equal(out[0][exact], (base_lr * expected[exact]).astype(dtype))
            if method == numerics.LIBM:  # (the others' error bounds hold at the angles the bulk API gives them)
                np.testing.assert_array_equal(out[0], (base_lr * expected).astype(dtype))


COUNTS = st.one_of(st.integers(-50, 400), st.floats(-50.0, 400.0, allow_nan=False).map(lambda x: round(x, 2)))


@pytest.mark.parametrize("name", [n for n in SCHEDULE_NAMES if n != "constant"])
@parity_settings
@given(data=st.data())
def test_float_and_negative_counts_give_transformers_values(name, data):
    """Counts as transformers takes them (num_warmup_steps=0.1 * 25, num_training_steps=10.5, negative values)."""
    _, base_lr, params = data.draw(configs(name))
    for key in ("num_warmup_steps", "num_training_steps", "num_stable_steps", "num_decay_steps"):
        if key in params and params[key] is not None:
            params[key] = data.draw(COUNTS, label=key)
    if name == "inverse_sqrt" and params.get("timescale") is None:
        params["timescale"] = data.draw(st.floats(0.5, 500.0), label="timescale")
    if name == "polynomial":  # transformers divides by zero at step T where W == T
        assume(params["num_warmup_steps"] != params["num_training_steps"])
    lengths = {key: abs(value) for key, value in params.items() if isinstance(value, (int, float))}
    steps = np.arange(0, 3 * int(schedule_length(lengths)) + 20)
    try:
        expected = transformers_multipliers(name, steps, base_lr, **params)
    except (ValueError, ZeroDivisionError, OverflowError):  # transformers fails there: ours may refuse it
        return
    assume(np.isfinite(expected).all())
    got = fastsched.multipliers(name, steps, base_lr=base_lr, **params)
    np.testing.assert_array_equal(got, expected)  # transformers' operations in its order: bit for bit
    lr = fastsched.trajectory(name, len(steps), base_lr=base_lr, **params)
    np.testing.assert_allclose(lr / base_lr, expected, rtol=0, atol=FLOAT64_TOLERANCE)
