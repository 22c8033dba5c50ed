"""The CPU kernels and their numerical building blocks, each checked against transformers or the exact values.

- the cosines of REDUCED (the reference's angle, range reduced) and TURNS (the fraction of a turn) against libm,
  and exactly 1 and 0 where libm's cosine is exactly 1 and -1; divide() exact wherever the quotient is a float64;
- every preset at each cosine method, serial and parallel, float64 and float32, num_cycles up to 100, steps to 3x
  the schedule's length, against transformers; LIBM bit for bit;
- parallel tiles, start offsets and thread counts; constant segments filled with the shape's own value; rows of
  different schedules (and different segment counts) in one table; cycles cut across tiles;
- how backend.fill picks the method (by the largest angle) and the kernel (serial until the parallel runtime runs),
  and that kernels hold only the loops of the shapes a table uses;
- memmap outputs written and released chunk by chunk (a small file, small chunks).
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from examples import EDGE_CASES, EXAMPLES, stacked
from fastsched.kernels import cpu, layout, numerics, shapes
from numba import njit
from numba.extending import register_jitable
from reference import float32_ulp, transformers_multipliers

import fastsched
from fastsched import cpu_backend as backend
from fastsched import table as tables

FLOAT64_TOLERANCE = 1e-12
METHODS = {"libm": numerics.LIBM, "reduced": numerics.REDUCED, "turns": numerics.TURNS}

# (name, params): every example and every edge case (tests/examples.py); 3x a length crosses every segment
CASES = [*EXAMPLES.items(), *EDGE_CASES]
CASE_IDS = [f"{name}-{i}" for i, (name, _) in enumerate(CASES)]
BASE_LR = 3e-3


def schedule_length(params: dict) -> int:
    length = params.get("num_training_steps", 0)
    length = max(length, params.get("num_warmup_steps", 0) + params.get("timescale", 0))
    wsd = sum(params.get(k, 0) for k in ("num_warmup_steps", "num_stable_steps", "num_decay_steps"))
    return max(length, wsd, 10)


@pytest.fixture(scope="module")
def references():
    """transformers' multipliers for steps 0 .. 3x each case's length."""
    table = {}
    for i, (name, params) in enumerate(CASES):
        steps = np.arange(3 * schedule_length(params) + 5)
        table[i] = transformers_multipliers(name, steps, BASE_LR, **params)
    return table


def packed(name, params, base_lr=BASE_LR) -> tables.SegmentTable:
    return tables.pack(fastsched.schedule(name, **params), base_lr)


def run_kernel(table, num_steps, method, parallel, dtype, start=0):
    out = np.full((table.num_configs, num_steps), np.nan, dtype=dtype)
    cpu.fill_table(table.codes, table.cols, table.counts, table.base_lrs, start, out, method, parallel)
    return out


def assert_matches_transformers(got: np.ndarray, expected: np.ndarray) -> None:
    if got.dtype == np.float64:
        np.testing.assert_allclose(got / BASE_LR, expected, rtol=0, atol=FLOAT64_TOLERANCE)
    else:
        # the float64 value rounded once: within one float32 ulp of transformers' value
        error = np.abs(got.astype(np.float64) - BASE_LR * expected)
        assert (error <= float32_ulp(BASE_LR * expected) + 1e-12 * BASE_LR).all(), error.max()


def compiled(function, *arrays):
    """out[i] = function(*(a[i] for a in arrays)), compiled as the fast kernels are (their fast-math flags)."""
    arity = len(arrays)

    @njit(fastmath=cpu.FAST_MATH, error_model="numpy")
    def run(a, b, out):
        for i in range(out.shape[0]):
            out[i] = function(a[i]) if arity == 1 else function(a[i], b[i])

    out = np.empty(arrays[0].shape[0])
    run(arrays[0], arrays[-1], out)
    return out


# --- numerics ------------------------------------------------------------------------------------------------------


def test_the_reduced_cosine_is_within_1e15_of_libm_up_to_its_limit():
    rng = np.random.default_rng(0)
    angles = np.concatenate(
        [rng.uniform(-bound, bound, 20_000) for bound in (1.0, 4.0, 100.0, 2e3, 1e5, backend.REDUCED_MAX_ANGLE)]
        + [np.arange(-1000, 1000) * (math.pi / 2), np.array([0.0, math.pi, -math.pi, 2 * math.pi])]
    )
    expected = 0.5 * (1.0 + np.cos(angles))
    np.testing.assert_allclose(compiled(numerics.half_cos_angle, angles), expected, rtol=0, atol=1e-15)


def test_the_cosine_of_turns_is_within_1e15_of_libm():
    fractions = np.concatenate([np.linspace(-0.5, 0.5, 100_001), [0.0, 0.25, -0.25, 0.5, -0.5]])
    expected = 0.5 * (1.0 + np.cos(2.0 * math.pi * fractions))
    np.testing.assert_allclose(compiled(numerics.half_cos_turns, fractions), expected, rtol=0, atol=1e-15)
    g = np.linspace(-0.5, 0.5, 10_001)
    np.testing.assert_allclose(compiled(numerics.cos_half_turns, g), np.cos(math.pi * g), rtol=0, atol=3e-16)


def test_where_libms_cosine_is_exactly_1_or_minus_1_the_half_cosines_are_exactly_1_or_0():
    """Peaks and valleys: at angle 0 and at odd multiples of pi (as float64 angles), for both methods."""
    valleys = np.array([math.pi, -math.pi, 3 * math.pi, 5 * math.pi, 99 * math.pi, 1001 * math.pi])
    assert (np.cos(valleys) == -1.0).all()
    np.testing.assert_array_equal(compiled(numerics.half_cos_angle, valleys), 0.0)
    peaks = np.array([0.0, 2 * math.pi, 100 * math.pi])
    np.testing.assert_array_equal(compiled(numerics.half_cos_angle, peaks), 1.0)
    np.testing.assert_array_equal(compiled(numerics.half_cos_turns, np.array([0.5, -0.5])), 0.0)
    np.testing.assert_array_equal(compiled(numerics.half_cos_turns, np.array([0.0, -0.0])), 1.0)


@register_jitable
def divide_reduced(numerator, denominator):
    return numerics.divide(numerator, denominator, numerics.REDUCED)


def test_divide_is_exact_where_the_quotient_is_a_float64_and_at_most_a_neighbour_elsewhere():
    """The fast methods' division: every quotient float64 holds (0, 1 where numerator == denominator, whole numbers,
    halves, ...) exactly, any other the correctly rounded quotient or its neighbour (within 2**-104 before rounding:
    a quotient that close to a rounding midpoint may round the other way)."""
    rng = np.random.default_rng(1)
    denominators = np.concatenate([rng.integers(1, 2**53, 30_000), rng.integers(1, 5_000, 30_000)]).astype(float)
    quotients = rng.integers(0, 2**20, denominators.size).astype(float)
    # the same denominators' multiples by whole numbers, halves and quarters (below 2**53: exact products)
    for share in (1.0, 0.5, 0.25):
        numerators = quotients * share * denominators
        held = numerators < 2**53
        got = compiled(divide_reduced, numerators[held], denominators[held])
        np.testing.assert_array_equal(got, quotients[held] * share)
    steps = rng.integers(1, 2**51, 20_000).astype(float)
    np.testing.assert_array_equal(compiled(divide_reduced, steps, steps), 1.0)  # the end of a warmup: exactly 1
    np.testing.assert_array_equal(compiled(divide_reduced, 0.0 * steps, steps), 0.0)
    numerators = np.clip(rng.integers(0, 2**53, denominators.size).astype(float), 0, 2**53 - 1)
    fractions, divisors = rng.uniform(0, 1e6, 50_000), rng.uniform(1, 1e4, 50_000)
    cases = ((numerators, denominators), (quotients * denominators + 1, denominators), (fractions, divisors))
    for top, bottom in cases:
        expected = top / bottom
        got = compiled(divide_reduced, top, bottom)
        assert (np.abs(got - expected) <= np.spacing(expected)).all()
        assert (got == expected).mean() > 0.999  # a neighbour only next to a midpoint


def test_every_shape_is_registered_once_and_cycle_is_code_0():
    assert shapes.SHAPES[shapes.CYCLE] is shapes.cycle and shapes.CYCLE == 0
    assert len(set(shapes.SHAPE_NAMES)) == len(shapes.SHAPES)
    assert len(layout.COLUMN_NAMES) == layout.NUM_COLUMNS


# --- every preset, every method, vs transformers -----------------------------------------------------------------


def turns_serves(case: int) -> bool:
    """TURNS serves angles below backend.TURNS_MAX_ANGLE only (REDUCED covers the rest)."""
    name, params = CASES[case]
    last_step = 3 * schedule_length(params) + 5
    return 2 * math.pi * packed(name, params).max_cosine_turns(last_step) < backend.TURNS_MAX_ANGLE


METHOD_CASES = [(case, "reduced") for case in range(len(CASES))]
METHOD_CASES += [(case, "turns") for case in range(len(CASES)) if turns_serves(case)]


@pytest.mark.parametrize(("case", "method"), METHOD_CASES, ids=[f"{CASE_IDS[c]}-{m}" for c, m in METHOD_CASES])
@pytest.mark.parametrize("parallel", [False, True], ids=["serial", "parallel"])
def test_each_method_matches_transformers(references, case, method, parallel):
    name, params = CASES[case]
    expected = references[case]
    table = packed(name, params)
    for dtype in (np.float64, np.float32):
        got = run_kernel(table, expected.size, METHODS[method], parallel, dtype)[0]
        assert_matches_transformers(got, expected)


@pytest.mark.parametrize("case", range(len(CASES)), ids=CASE_IDS)
def test_libm_kernels_equal_transformers_bit_for_bit(references, case):
    name, params = CASES[case]
    expected = references[case]
    got = run_kernel(packed(name, params), expected.size, numerics.LIBM, False, np.float64)[0]
    np.testing.assert_array_equal(got, BASE_LR * expected)


@pytest.mark.parametrize("case", range(len(CASES)), ids=CASE_IDS)
def test_public_api_matches_transformers(references, case):
    name, params = CASES[case]
    expected = references[case]
    for dtype in (np.float64, np.float32):
        assert_matches_transformers(
            fastsched.trajectory(name, expected.size, base_lr=BASE_LR, dtype=dtype, **params), expected
        )


# --- tiles, offsets, constant segments, mixed rows, cycles ----------------------------------------------------------


@pytest.mark.parametrize("num_steps", [1, cpu.BLOCK - 1, cpu.BLOCK, cpu.BLOCK + 1, 2 * cpu.BLOCK + 17])
@pytest.mark.parametrize("start", [0, 5, cpu.BLOCK - 3])
def test_parallel_tiles_and_offsets_match_the_exact_values(num_steps, start):
    rng = np.random.default_rng(num_steps + start)
    configs = 3
    schedule = fastsched.schedule(
        "cosine_with_restarts",
        num_warmup_steps=rng.integers(0, 3 * cpu.BLOCK, configs),
        num_training_steps=rng.integers(3 * cpu.BLOCK, 6 * cpu.BLOCK, configs),
        num_cycles=rng.uniform(0.25, 100.0, configs),
    )
    table = tables.pack(schedule, rng.uniform(1e-4, 1e-2, configs))
    exact = run_kernel(table, num_steps, numerics.LIBM, False, np.float64, start)
    for method in (numerics.REDUCED, numerics.TURNS):
        serial = run_kernel(table, num_steps, method, False, np.float64, start)
        parallel = run_kernel(table, num_steps, method, True, np.float64, start)
        np.testing.assert_array_equal(parallel, serial)
        np.testing.assert_allclose(
            parallel / table.base_lrs[:, None], exact / table.base_lrs[:, None], rtol=0, atol=1e-12
        )


CONSTANT_SEGMENT_CASES = [
    ("warmup_stable_decay", {"num_warmup_steps": 30, "num_stable_steps": 100, "num_decay_steps": 50}),
    ("warmup_stable_decay", {"num_warmup_steps": 30, "num_decay_steps": 80, "num_training_steps": 60}),  # S < 0
    ("warmup_stable_decay", {"num_warmup_steps": 0, "num_stable_steps": 40, "num_decay_steps": 0}),
    ("warmup_stable_decay", {"num_warmup_steps": 0, "num_stable_steps": 1, "num_decay_steps": -1}),
    ("constant", {}),
    ("constant_with_warmup", {"num_warmup_steps": 45}),
    ("linear", {"num_warmup_steps": 30, "num_training_steps": 90}),
    ("linear", {"num_warmup_steps": 90, "num_training_steps": 30}),
    ("linear", {"num_warmup_steps": 2.5, "num_training_steps": 10.5}),
    ("cosine_with_restarts", {"num_warmup_steps": 10, "num_training_steps": 130, "num_cycles": 3.0}),
    ("cosine_with_restarts", {"num_warmup_steps": 50, "num_training_steps": 50}),
    ("polynomial", {"num_warmup_steps": 10, "num_training_steps": 120, "lr_end": 1e-3, "power": 1.0}),
    ("polynomial", {"num_warmup_steps": 10, "num_training_steps": 120, "lr_end": 1e-3, "power": 2.0}),
    ("polynomial", {"num_warmup_steps": 40, "num_training_steps": 40, "lr_end": 1e-3}),  # decay steps 0
    ("polynomial", {"num_warmup_steps": 60, "num_training_steps": 20, "lr_end": 1e-3}),  # T < W
    ("polynomial", {"num_warmup_steps": 10.5, "num_training_steps": 99.5, "lr_end": 1e-3}),
]


@pytest.mark.parametrize("case", range(len(CONSTANT_SEGMENT_CASES)), ids=[n for n, _ in CONSTANT_SEGMENT_CASES])
@pytest.mark.parametrize("start", [0, 29, 30, 31, 129, 130, 131, 250])
def test_segments_hold_what_the_shape_computes_there(case, start):
    """Rows are cut at segment boundaries (whole steps, fractional boundaries rounded up) and constant segments are
    filled with one value: every step equals the value the scalar walk (values_at) gives it, bit for bit at LIBM and
    within 1e-12 at the fast methods -- and transformers' own."""
    name, params = CONSTANT_SEGMENT_CASES[case]
    num_steps = 300 - start % 7
    table = packed(name, params, 1.0)
    steps = np.arange(start, start + num_steps)
    expected = np.empty(num_steps)
    cpu.values_at(table.codes[0], table.cols[0], int(table.counts[0]), steps, expected)
    np.testing.assert_array_equal(expected, transformers_multipliers(name, steps, 1.0, **params))
    for method in METHODS.values():
        for parallel in (False, True):
            got = run_kernel(table, num_steps, method, parallel, np.float64, start)[0]
            if method == numerics.LIBM:
                np.testing.assert_array_equal(got, expected)
            else:
                np.testing.assert_allclose(got, expected, rtol=0, atol=1e-12)


@pytest.mark.parametrize("threads", [1, 2, 3, 5, 8])
def test_tiles_are_dealt_out_whatever_the_number_of_threads(threads):
    schedule = fastsched.schedule(
        "warmup_stable_decay",
        num_warmup_steps=[0, 500, 3 * cpu.BLOCK],
        num_stable_steps=[cpu.BLOCK, 0, 7],
        num_decay_steps=[2 * cpu.BLOCK, 3 * cpu.BLOCK + 3, 11],
    )
    table = tables.pack(schedule, np.array([1e-3, 2e-3, 3e-3]))
    num_steps = 4 * cpu.BLOCK + 5
    serial = run_kernel(table, num_steps, numerics.TURNS, False, np.float64, 3)
    kernel = cpu.fill_kernel(numerics.TURNS, cpu.form_of(table.codes, table.cols), True, table.shapes)
    parallel = np.full_like(serial, np.nan)
    kernel(table.codes, table.cols, table.counts, table.base_lrs, 3, parallel, threads)
    np.testing.assert_array_equal(parallel, serial)


def test_rows_of_different_schedules_in_one_table():
    parts = [
        packed("cosine", {"num_warmup_steps": 5, "num_training_steps": 50}, 1e-3),
        packed("linear", {"num_warmup_steps": 5, "num_training_steps": 50}, 2e-3),
        packed("warmup_stable_decay", {"num_warmup_steps": 3, "num_decay_steps": 20, "num_stable_steps": 10}, 4e-3),
        tables.pack(fastsched.cycles({"schedule": "cosine", "num_warmup_steps": 2, "num_training_steps": 9}, 9), 5e-3),
        packed("constant", {}, 6e-3),
    ]
    table = stacked(*parts)
    for method in METHODS.values():
        out = run_kernel(table, 120, method, False, np.float64)
        for row, part in zip(out, parts, strict=True):
            np.testing.assert_array_equal(row, run_kernel(part, 120, method, False, np.float64)[0])


@pytest.mark.parametrize("start", [0, 1, cpu.BLOCK - 2, 3 * cpu.BLOCK + 11])
def test_cycles_cut_across_tiles_equal_the_scalar_walk(start):
    inner = fastsched.warmup(fastsched.schedule("cosine", num_warmup_steps=0, num_training_steps=997), 13)
    composed = fastsched.cycles(inner, 1010, period_mul=1.5, peak_decay=0.8)
    table = tables.pack(composed, 1.0)
    num_steps = 3 * cpu.BLOCK + 5
    expected = np.empty(num_steps)
    cpu.values_at(table.codes[0], table.cols[0], int(table.counts[0]), np.arange(start, start + num_steps), expected)
    for parallel in (False, True):
        np.testing.assert_array_equal(
            run_kernel(table, num_steps, numerics.LIBM, parallel, np.float64, start)[0], expected
        )
        got = run_kernel(table, num_steps, numerics.TURNS, parallel, np.float64, start)[0]
        np.testing.assert_allclose(got, expected, rtol=0, atol=1e-12)


def test_a_kernel_holds_only_the_loops_of_its_tables_shapes():
    cosine = packed("cosine", {"num_warmup_steps": 5, "num_training_steps": 50})
    wsd = packed("warmup_stable_decay", {"num_warmup_steps": 3, "num_decay_steps": 20, "num_stable_steps": 10})
    names = {shapes.SHAPE_NAMES[code] for code in cosine.shapes}
    assert names == {"linear", "cosine"}
    assert cpu.fill_kernel(numerics.TURNS, cpu.PLAIN, False, cosine.shapes) is not cpu.fill_kernel(
        numerics.TURNS, cpu.PLAIN, False, wsd.shapes
    )
    assert cpu.fill_kernel(numerics.TURNS, cpu.PLAIN, False, cosine.shapes) is cpu.fill_kernel(
        numerics.TURNS, cpu.PLAIN, False, cosine.shapes
    )


# max_lr * lr_warmup_steps**0.5 / step**0.5 until it reaches min_lr (0.1 at step 100)
MEGATRON_INVERSE_SQRT = {"init_lr": 0.0, "max_lr": 1.0, "min_lr": 0.1, "lr_warmup_steps": 1, "lr_decay_steps": 200,
                         "lr_decay_style": "inverse-square-root"}  # fmt: skip


def run_form(table, num_steps, method, form, start=0):
    out = np.full((table.num_configs, num_steps), np.nan)
    cpu.fill_table(table.codes, table.cols, table.counts, table.base_lrs, start, out, method, form=form)
    return out


@pytest.mark.parametrize(
    ("schedule", "form"),
    [
        (fastsched.schedule("cosine", num_warmup_steps=5, num_training_steps=50), cpu.PLAIN),
        (fastsched.schedule("linear", num_warmup_steps=[0, 5], num_training_steps=50), cpu.PLAIN),
        (
            fastsched.schedule("cosine_with_min_lr", num_warmup_steps=5, num_training_steps=50, min_lr_rate=0.1),
            cpu.COUNTED,
        ),
        (fastsched.schedule("polynomial", num_warmup_steps=5, num_training_steps=50, lr_end=1e-5), cpu.COUNTED),
        (fastsched.schedule("linear", num_warmup_steps=2.5, num_training_steps=50), cpu.PLAIN),  # whole positions
        (fastsched.schedule("cosine", num_warmup_steps=2.5, num_training_steps=50), cpu.GENERAL),  # ORIGIN 2.5
        (fastsched.schedule("linear", num_warmup_steps=5, num_training_steps=2.0**52), cpu.GENERAL),  # too far
        (
            fastsched.schedule(
                "warmup_stable_decay", num_warmup_steps=5, num_decay_steps=20, num_stable_steps=10, decay_type="linear"
            ),
            cpu.GENERAL,
        ),  # fmt: skip  (a floor: max(0, ...))
        (fastsched.schedule("megatron.OptimizerParamScheduler", **MEGATRON_INVERSE_SQRT), cpu.GENERAL),  # a floor
        (fastsched.cycles(fastsched.schedule("cosine", num_warmup_steps=2, num_training_steps=9), 9), cpu.GENERAL),
    ],
    ids=[
        "cosine",
        "linear-sweep",
        "min-lr",
        "polynomial",
        "float-span",
        "float-origin",
        "beyond-2-51",
        "floor",
        "min-lr-floor",
        "cycles",
    ],
)
def test_each_table_gets_the_narrowest_form_and_every_form_computes_what_general_does(schedule, form):
    table = tables.pack(schedule, np.array([3e-3] * schedule.num_configs))
    assert cpu.form_of(table.codes, table.cols) == form
    for method in METHODS.values():
        for start in (0, 3, 47):
            general = run_form(table, 130, method, cpu.GENERAL, start)
            for narrower in range(form, cpu.GENERAL, -1):  # every form the table allows
                np.testing.assert_array_equal(run_form(table, 130, method, narrower, start), general)


def test_a_floor_no_value_reaches_is_dropped_and_one_that_binds_is_kept():
    cosine = packed("cosine", {"num_warmup_steps": 5, "num_training_steps": 50})  # transformers' max(0.0, ...)
    assert (cosine.cols[0, :, layout.LOW] == -math.inf).all()
    megatron = tables.pack(fastsched.schedule("megatron.OptimizerParamScheduler", **MEGATRON_INVERSE_SQRT))
    assert 0.1 in megatron.cols[0, :, layout.LOW]  # max(min_lr, ...) binds from step 100 on
    lrs = fastsched.trajectory(fastsched.schedule("megatron.OptimizerParamScheduler", **MEGATRON_INVERSE_SQRT), 120)
    assert lrs[99] > 0.1 and (lrs[101:] == 0.1).all()


def test_steps_past_whole_number_exactness_take_the_general_loops(monkeypatch):
    table = packed("cosine", {"num_warmup_steps": 5, "num_training_steps": 50})
    forms = []
    original = cpu.fill_kernel

    def spy(method, form, *rest):
        forms.append(form)
        return original(method, form, *rest)

    monkeypatch.setattr(cpu, "fill_kernel", spy)
    run_kernel(table, 10, numerics.LIBM, False, np.float64, start=2**51 - 5)
    run_kernel(table, 10, numerics.LIBM, False, np.float64, start=0)
    assert forms == [cpu.GENERAL, cpu.PLAIN]


# --- how fill picks method and kernel -----------------------------------------------------------------------------


@pytest.fixture
def kernel_calls(monkeypatch):
    calls = []
    original = cpu.fill_table

    def spy(codes, cols, counts, base_lrs, start, out, method, parallel=False, shapes=None, form=None):
        calls.append({"method": method, "parallel": parallel, "shape": out.shape, "start": start})
        return original(codes, cols, counts, base_lrs, start, out, method, parallel, shapes, form)

    monkeypatch.setattr(cpu, "fill_table", spy)
    return calls


def test_methods_follow_the_largest_angle(kernel_calls):
    # cosine's angle reaches 2 * pi * num_cycles * progress; progress is 1 at num_training_steps
    fastsched.trajectory("cosine", 101, num_warmup_steps=0, num_training_steps=100, num_cycles=10)
    fastsched.trajectory("cosine", 101, num_warmup_steps=0, num_training_steps=100, num_cycles=100)
    assert [c["method"] for c in kernel_calls] == [numerics.TURNS, numerics.REDUCED]


@pytest.mark.parametrize("over", [False, True], ids=["below", "above"])
def test_angles_near_the_reduced_cosines_limit(kernel_calls, over):
    num_steps = 1000
    # the last step's angle sits just below / above REDUCED_MAX_ANGLE
    cycles = backend.REDUCED_MAX_ANGLE / (2 * math.pi) * (1.001 if over else 0.99)
    params = dict(num_warmup_steps=0, num_training_steps=num_steps, num_cycles=cycles)
    got = fastsched.trajectory("cosine", num_steps, **params)
    assert kernel_calls[-1]["method"] == (numerics.LIBM if over else numerics.REDUCED)
    exact = fastsched.multipliers("cosine", np.arange(num_steps), **params)
    if over:
        np.testing.assert_array_equal(got, exact)  # libm's cos: transformers' values bit for bit
    else:
        np.testing.assert_allclose(got, exact, rtol=0, atol=1e-12)
    expected = transformers_multipliers("cosine", np.arange(num_steps)[::97], **params)
    np.testing.assert_allclose(got[::97], expected, rtol=0, atol=1e-12)


def test_serial_until_the_parallel_runtime_runs(kernel_calls, monkeypatch):
    monkeypatch.setattr(backend, "_parallel_runtime_started", False)
    small = backend.PARALLEL_THRESHOLD_WHEN_STARTED
    fastsched.trajectory("linear", small, num_warmup_steps=0, num_training_steps=small)
    fastsched.trajectory("linear", backend.PARALLEL_THRESHOLD, num_warmup_steps=0, num_training_steps=small)
    fastsched.trajectory("linear", small, num_warmup_steps=0, num_training_steps=small)
    fastsched.trajectory("linear", small - 1, num_warmup_steps=0, num_training_steps=small)
    assert [c["parallel"] for c in kernel_calls] == [False, True, True, False]


# --- memmap chunks ------------------------------------------------------------------------------------------


@pytest.fixture
def released(monkeypatch):
    blocks = []
    original = backend._release_pages

    def spy(block):
        blocks.append(block.shape)
        original(block)

    monkeypatch.setattr(backend, "_release_pages", spy)
    return blocks


@pytest.mark.parametrize(
    ("configs", "num_steps", "chunk_bytes"),
    [(7, 1000, 4 * 4096), (3, 50_000, 4 * 4096), (1, 30_001, 4096 + 8)],
    ids=["rows-per-chunk", "pieces-of-rows", "odd-chunk"],
)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_memmap_is_written_chunk_by_chunk(tmp_path, monkeypatch, released, configs, num_steps, chunk_bytes, dtype):
    monkeypatch.setattr(backend, "MEMMAP_CHUNK_BYTES", chunk_bytes)
    params = dict(
        base_lr=np.linspace(1e-4, 1e-3, configs),
        num_warmup_steps=np.arange(configs) * 10,
        num_training_steps=np.full(configs, num_steps // 2),
        num_cycles=np.linspace(0.5, 3, configs),
    )
    expected = fastsched.sweep("cosine", num_steps, start=3, dtype=dtype, **params)
    path = tmp_path / "sweep.bin"
    out = np.memmap(path, dtype=dtype, mode="w+", shape=(configs, num_steps))
    assert fastsched.sweep("cosine", num_steps, start=3, out=out, **params) is out
    assert len(released) > 1 and sum(np.prod(shape) for shape in released) == configs * num_steps
    assert max(np.prod(shape) for shape in released) * np.dtype(dtype).itemsize <= max(chunk_bytes, num_steps * 8)
    np.testing.assert_allclose(out, expected, rtol=0, atol=1e-15)  # pages released are still there
    out.flush()
    del out
    np.testing.assert_allclose(np.fromfile(path, dtype=dtype).reshape(configs, num_steps), expected, rtol=0, atol=1e-15)


def test_copy_on_write_memmap_is_not_released(tmp_path, monkeypatch, released):
    monkeypatch.setattr(backend, "MEMMAP_CHUNK_BYTES", 4096)
    path = tmp_path / "base.bin"
    np.zeros(20_000).tofile(path)
    out = np.memmap(path, dtype=np.float64, mode="c", shape=(20_000,))
    fastsched.trajectory("linear", 20_000, out=out, num_warmup_steps=0, num_training_steps=20_000)
    assert released == []  # releasing private pages would drop what was written
    np.testing.assert_array_equal(out[:3], [1.0, 1.0 - 1 / 20_000, 1.0 - 2 / 20_000])
    assert (np.fromfile(path) == 0).all()


def test_trajectory_into_a_memmap_slice_of_a_1d_file(tmp_path, monkeypatch, released):
    monkeypatch.setattr(backend, "MEMMAP_CHUNK_BYTES", 8192)
    out = np.memmap(tmp_path / "lr.bin", dtype=np.float64, mode="w+", shape=(10_000,))
    fastsched.trajectory("cosine", 10_000, out=out, num_warmup_steps=100, num_training_steps=10_000)
    assert len(released) == math.ceil(10_000 * 8 / 8192)
    expected = fastsched.trajectory("cosine", 10_000, num_warmup_steps=100, num_training_steps=10_000)
    np.testing.assert_allclose(out, expected, rtol=0, atol=1e-15)
