"""What the fast CPU paths add, each checked against transformers like the plain path.

- fast_cos and its polynomial against libm, up to the fast-cos limit;
- every schedule's kernel at each level (FAST, FASTER), serial and parallel, float64 and float32, pinned
  columns (warmup_stable_decay's shapes, polynomial's power 1) and not, num_cycles up to 100, steps to 3x
  the schedule's length, against transformers;
- tile (block) boundaries and start offsets of the parallel kernel, runs of schedule codes in one table;
- FASTER's building blocks: the correctly rounded division without a divide, the cosine of turns;
- flat spans (warmup_stable_decay's stable phase, constant tails) filled with what the formula computes there,
  tiles dealt out to any number of threads;
- pack's scalar fast path and max_cosine_angle's one-row path against their array paths;
- how bulk.fill picks the level (libm beyond the fast-cos limit) and the kernel (serial / parallel);
- memmap outputs written and released chunk by chunk (a small file, small chunks).
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from fastsched.kernels import cpu
from fastsched.kernels import formulas as f
from numba.extending import register_jitable
from reference import float32_ulp, transformers_multipliers

import fastsched
from fastsched import bulk, schedules

FLOAT64_TOLERANCE = 1e-12

# (name, params): one config per specialised path, lengths chosen so that 3x the length crosses every phase
CASES = [
    ("constant", {}),
    ("constant_with_warmup", {"num_warmup_steps": 37}),
    ("linear", {"num_warmup_steps": 37, "num_training_steps": 500}),
    ("cosine", {"num_warmup_steps": 37, "num_training_steps": 500}),
    ("cosine", {"num_warmup_steps": 0, "num_training_steps": 333, "num_cycles": 100}),
    ("cosine_with_restarts", {"num_warmup_steps": 20, "num_training_steps": 700, "num_cycles": 7}),
    ("cosine_with_restarts", {"num_warmup_steps": 0, "num_training_steps": 1000, "num_cycles": 100}),
    ("polynomial", {"num_warmup_steps": 50, "num_training_steps": 400, "lr_end": 1e-4, "power": 1.0}),
    ("polynomial", {"num_warmup_steps": 50, "num_training_steps": 400, "lr_end": 0.0, "power": 0.5}),
    ("polynomial", {"num_warmup_steps": 0, "num_training_steps": 3, "lr_end": 0.0, "power": 0.1}),
    ("inverse_sqrt", {"num_warmup_steps": 40}),
    ("cosine_with_min_lr", {"num_warmup_steps": 37, "num_training_steps": 500, "num_cycles": 3, "min_lr_rate": 0.1}),
    ("cosine_warmup_with_min_lr", {"num_warmup_steps": 37, "num_training_steps": 500, "min_lr_rate": 0.05}),
    (
        "cosine_warmup_with_min_lr",
        {"num_warmup_steps": 37, "num_training_steps": 500, "min_lr_rate": 0.05, "warmup_lr_rate": 0.2},
    ),
    *[
        (
            "warmup_stable_decay",
            {
                "num_warmup_steps": 60,
                "num_stable_steps": 100,
                "num_decay_steps": 240,
                "warmup_type": warmup,
                "decay_type": decay,
                "min_lr_ratio": 0.01,
                "num_cycles": cycles,
            },
        )
        for warmup in ("linear", "cosine", "1-sqrt")
        for decay, cycles in (("linear", 0.5), ("cosine", 0.5), ("cosine", 100.0), ("1-sqrt", 0.5))
    ],
]
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


def run_kernel(name, params, num_steps, level, parallel, dtype, start=0, num_configs=1):
    table = schedules.pack(name, np.full(num_configs, BASE_LR), allow_arrays=True, **params)
    out = np.full((num_configs, num_steps), np.nan, dtype=dtype)
    cpu.fill_table(table.codes, table.params, table.base_lrs, start, out, level, parallel)
    return out


def assert_matches_transformers(got: np.ndarray, expected: np.ndarray) -> None:
    if got.dtype == np.float64:
        np.testing.assert_allclose(got / BASE_LR, expected, rtol=0, atol=FLOAT64_TOLERANCE)
    else:
        # the float64 value rounded once: within one float32 ulp of transformers' value
        error = np.abs(got.astype(np.float64) - BASE_LR * expected)
        assert (error <= float32_ulp(BASE_LR * expected) + 1e-12 * BASE_LR).all(), error.max()


# --- fast_cos ----------------------------------------------------------------------------------------------------


def test_fast_cos_is_within_a_few_1e16_of_libm_up_to_the_limit():
    rng = np.random.default_rng(0)
    angles = np.concatenate(
        [rng.uniform(-bound, bound, 20_000) for bound in (1.0, 4.0, 100.0, 2e3, 1e5, bulk.FAST_COS_MAX_ANGLE)]
        + [np.arange(-1000, 1000) * (math.pi / 2), np.array([0.0, math.pi, -math.pi, 2 * math.pi])]
    )
    got = np.array([f.fast_cos(a) for a in angles[:2000]])  # the Python function itself
    np.testing.assert_allclose(got, np.cos(angles[:2000]), rtol=0, atol=1e-15)
    trajectory = np.empty_like(angles)
    compiled_fast_cos(angles, trajectory)
    np.testing.assert_allclose(trajectory, np.cos(angles), rtol=0, atol=1e-15)
    assert f.fast_cos(0.0) == 1.0 and f.fast_cos(math.pi) == -1.0


def compiled_fast_cos(angles, out):
    from numba import njit

    @njit(fastmath=cpu.FAST_MATH, error_model="numpy")
    def run(angles, out):
        for i in range(angles.shape[0]):
            out[i] = f.fast_cos(angles[i])

    run(angles, out)


def compiled(function, *arrays):
    """out[i] = function(*(a[i] for a in arrays)), compiled as the fast kernels are (their fast-math flags)."""
    from numba import njit

    arity = len(arrays)

    @njit(fastmath=cpu.FAST_MATH, error_model="numpy")
    def run(a, b, out):
        for i in range(out.shape[0]):
            out[i] = function(a[i]) if arity == 1 else function(a[i], b[i])

    out = np.empty(arrays[0].shape[0])
    run(arrays[0], arrays[-1], out)
    return out


@register_jitable
def divide_exact_faster(numerator, denominator):
    return f.divide_exact(numerator, denominator, f.FASTER)


def test_faster_division_rounds_as_a_division_does():
    rng = np.random.default_rng(1)
    denominators = np.concatenate([rng.integers(1, 2**53, 30_000), rng.integers(1, 5_000, 30_000)]).astype(float)
    multiples = rng.integers(0, 2**20, denominators.size) * denominators  # quotients next to whole numbers
    numerators = np.concatenate(
        [rng.integers(0, 2**53, denominators.size).astype(float), multiples - 1, multiples, multiples + 1]
    )
    numerators = np.clip(numerators, 0, 2**53 - 1)
    denominators = np.resize(denominators, numerators.size)
    got = compiled(divide_exact_faster, numerators, denominators)
    np.testing.assert_array_equal(got, numerators / denominators)
    fractions = rng.uniform(0, 1e6, 50_000)
    divisors = rng.uniform(1, 1e4, 50_000)
    np.testing.assert_array_equal(compiled(divide_exact_faster, fractions, divisors), fractions / divisors)


def test_cosine_of_turns_is_within_1e15_of_libm():
    fractions = np.concatenate([np.linspace(-0.5, 0.5, 100_001), [0.0, 0.25, -0.25, 0.5, -0.5]])
    expected = 0.5 * (1.0 + np.cos(2.0 * math.pi * fractions))
    np.testing.assert_allclose(compiled(f.half_cos_turns, fractions), expected, rtol=0, atol=1e-15)
    assert f.half_cos_turns(0.0) == 1.0 and abs(f.half_cos_turns(0.5)) < 3e-16
    halves = 2.0 * fractions  # [-1, 1]: cos(pi * x)
    np.testing.assert_allclose(compiled(f.half_cos_half_turns, halves), expected, rtol=0, atol=1e-15)
    assert tuple(c / 4**k for k, c in enumerate(f._HALF_COS_TURNS)) == f._HALF_COS_HALF_TURNS


# --- every specialised kernel vs transformers ---------------------------------------------------------------------


@pytest.mark.parametrize("case", range(len(CASES)), ids=CASE_IDS)
@pytest.mark.parametrize("level", [f.FAST, f.FASTER], ids=["FAST", "FASTER"])
@pytest.mark.parametrize("parallel", [False, True], ids=["serial", "parallel"])
def test_each_kernel_matches_transformers(references, case, level, parallel):
    name, params = CASES[case]
    expected = references[case]
    for dtype in (np.float64, np.float32):
        got = run_kernel(name, params, expected.size, level, parallel, dtype)[0]
        assert_matches_transformers(got, expected)


@pytest.mark.parametrize("case", range(len(CASES)), ids=CASE_IDS)
def test_exact_kernels_equal_transformers_bit_for_bit(references, case):
    name, params = CASES[case]
    expected = references[case]
    got = run_kernel(name, params, expected.size, f.EXACT, False, np.float64)[0]
    np.testing.assert_array_equal(got, BASE_LR * expected)


@pytest.mark.parametrize("case", range(len(CASES)), ids=CASE_IDS)
def test_public_api_matches_transformers(references, case):
    name, params = CASES[case]
    expected = references[case]
    for dtype in (np.float64, np.float32):
        assert_matches_transformers(
            fastsched.trajectory(name, expected.size, base_lr=BASE_LR, dtype=dtype, **params), expected
        )


def test_pins_cover_wsd_shapes_and_polynomial_power_one():
    wsd = schedules.pack("warmup_stable_decay", 1.0, num_warmup_steps=1, num_decay_steps=2, num_stable_steps=3,
                         warmup_type="1-sqrt", decay_type="linear")  # fmt: skip
    pins = cpu.pins_for(f.WARMUP_STABLE_DECAY, wsd.params)
    assert pins[f.COL_WARMUP_SHAPE] == f.SHAPE_1_SQRT and pins[f.COL_DECAY_SHAPE] == f.SHAPE_LINEAR
    linear_power = schedules.pack("polynomial", 1.0, allow_arrays=True, num_warmup_steps=0, num_training_steps=[5, 6])
    assert cpu.pins_for(f.POLYNOMIAL, linear_power.params)[f.COL_POWER] == 1.0
    mixed = schedules.pack("polynomial", 1.0, allow_arrays=True, num_warmup_steps=0, num_training_steps=5, power=[1, 2])
    assert math.isnan(cpu.pins_for(f.POLYNOMIAL, mixed.params)[f.COL_POWER])
    assert all(math.isnan(p) for p in cpu.pins_for(f.COSINE, wsd.params))


# --- tiles, offsets, runs of codes ----------------------------------------------------------------------------


@pytest.mark.parametrize("num_steps", [1, cpu.BLOCK - 1, cpu.BLOCK, cpu.BLOCK + 1, 2 * cpu.BLOCK + 17])
@pytest.mark.parametrize("start", [0, 5, cpu.BLOCK - 3])
def test_parallel_tiles_and_offsets_match_the_exact_values(num_steps, start):
    rng = np.random.default_rng(num_steps + start)
    configs = 3
    params = dict(
        num_warmup_steps=rng.integers(0, 3 * cpu.BLOCK, configs),
        num_training_steps=rng.integers(3 * cpu.BLOCK, 6 * cpu.BLOCK, configs),
        num_cycles=rng.uniform(0.25, 100.0, configs),
    )
    table = schedules.pack("cosine_with_restarts", rng.uniform(1e-4, 1e-2, configs), allow_arrays=True, **params)
    exact = np.empty((configs, num_steps))
    cpu.fill_table(table.codes, table.params, table.base_lrs, start, exact, f.EXACT, False)
    for level in (f.FAST, f.FASTER):
        serial = np.full_like(exact, np.nan)
        parallel = np.full_like(exact, np.nan)
        cpu.fill_table(table.codes, table.params, table.base_lrs, start, serial, level, False)
        cpu.fill_table(table.codes, table.params, table.base_lrs, start, parallel, level, True)
        np.testing.assert_allclose(parallel, serial, rtol=0, atol=1e-15)
        np.testing.assert_allclose(
            parallel / table.base_lrs[:, None], exact / table.base_lrs[:, None], rtol=0, atol=1e-12
        )


FLAT_SPAN_CASES = [
    ("warmup_stable_decay", {"num_warmup_steps": 30, "num_stable_steps": 100, "num_decay_steps": 50}),
    ("warmup_stable_decay", {"num_warmup_steps": 30, "num_decay_steps": 80, "num_training_steps": 60}),  # S < 0
    ("warmup_stable_decay", {"num_warmup_steps": 0, "num_stable_steps": 40, "num_decay_steps": 0}),
    ("warmup_stable_decay", {"num_warmup_steps": 20, "num_stable_steps": 0, "num_decay_steps": 70, "num_cycles": 3.0}),
    ("constant", {}),
    ("constant_with_warmup", {"num_warmup_steps": 45}),
    ("linear", {"num_warmup_steps": 30, "num_training_steps": 90}),
    ("linear", {"num_warmup_steps": 90, "num_training_steps": 30}),
    ("cosine_with_restarts", {"num_warmup_steps": 10, "num_training_steps": 130, "num_cycles": 3.0}),
    ("cosine_with_restarts", {"num_warmup_steps": 50, "num_training_steps": 50}),
    ("polynomial", {"num_warmup_steps": 10, "num_training_steps": 120, "lr_end": 1e-3, "power": 1.0}),
    ("polynomial", {"num_warmup_steps": 10, "num_training_steps": 120, "lr_end": 1e-3, "power": 2.0}),
    ("polynomial", {"num_warmup_steps": 40, "num_training_steps": 40, "lr_end": 1e-3}),  # decay steps 0
    ("polynomial", {"num_warmup_steps": 60, "num_training_steps": 20, "lr_end": 1e-3}),  # T < W
]


@pytest.mark.parametrize("case", range(len(FLAT_SPAN_CASES)), ids=[n for n, _ in FLAT_SPAN_CASES])
@pytest.mark.parametrize("start", [0, 29, 30, 31, 129, 130, 131, 250])
def test_flat_spans_hold_what_the_formula_computes_there(case, start):
    """The kernels fill flat spans with one value: every step equals the formula's own value (multipliers_at,
    which loops over the formula step by step), bit for bit at EXACT and within 1e-12 at the fast levels."""
    name, params = FLAT_SPAN_CASES[case]
    num_steps = 300 - start % 7
    table = schedules.pack(name, 1.0, **params)
    expected = np.empty(num_steps)
    cpu.multipliers_at(table.codes[0], table.params[0], np.arange(start, start + num_steps), expected)
    for level in (f.EXACT, f.FAST, f.FASTER):
        for parallel in (False, True):
            got = np.full((1, num_steps), np.nan)
            cpu.fill_table(table.codes, table.params, table.base_lrs, start, got, level, parallel)
            if level == f.EXACT:
                np.testing.assert_array_equal(got[0], expected)
            else:
                np.testing.assert_allclose(got[0], expected, rtol=0, atol=1e-12)


@pytest.mark.parametrize("threads", [1, 2, 3, 5, 8])
def test_tiles_are_dealt_out_whatever_the_number_of_threads(threads):
    table = schedules.pack("warmup_stable_decay", np.array([1e-3, 2e-3, 3e-3]), allow_arrays=True,
                           num_warmup_steps=[0, 500, 3 * cpu.BLOCK], num_stable_steps=[cpu.BLOCK, 0, 7],
                           num_decay_steps=[2 * cpu.BLOCK, 3 * cpu.BLOCK + 3, 11])  # fmt: skip
    num_steps = 4 * cpu.BLOCK + 5
    serial = np.empty((3, num_steps))
    cpu.fill_table(table.codes, table.params, table.base_lrs, 3, serial, f.FASTER, False)
    kernel = cpu.fill_kernel(f.WARMUP_STABLE_DECAY, cpu.pins_for(f.WARMUP_STABLE_DECAY, table.params), f.FASTER, True)
    parallel = np.full_like(serial, np.nan)
    kernel(table.params, table.base_lrs, 3, parallel, threads)
    np.testing.assert_array_equal(parallel, serial)


# --- pack's and max_cosine_angle's shortcuts ------------------------------------------------------------------


# fmt: off
SCALAR_CASES = [
    ("cosine", 3e-4, {"num_warmup_steps": 10, "num_training_steps": 1000}),
    ("cosine", 1, {"num_warmup_steps": np.int64(10), "num_training_steps": 1000.0, "num_cycles": np.float32(1.5)}),
    ("polynomial", 1e-3, {"num_warmup_steps": 3, "num_training_steps": 50, "lr_end": 1e-5, "power": 2}),
    ("inverse_sqrt", 1e-3, {"num_warmup_steps": 0}),
    ("inverse_sqrt", 1e-3, {"num_warmup_steps": 7, "timescale": 3}),
    ("cosine_with_min_lr", 2e-3, {"num_warmup_steps": 3, "num_training_steps": 50, "min_lr": 1e-4}),
    ("cosine_warmup_with_min_lr", 2e-3, {"num_warmup_steps": 3, "num_training_steps": 50, "min_lr_rate": 0.1,
                                         "warmup_lr_rate": 0.2}),
    ("warmup_stable_decay", 1e-3, {"num_warmup_steps": 3, "num_decay_steps": 5, "warmup_type": "cosine",
                                   "num_stable_steps": 4, "decay_type": "1-sqrt", "min_lr_ratio": 0.1}),
    ("constant", 0.0, {}),
]
# fmt: on


@pytest.mark.parametrize("case", range(len(SCALAR_CASES)), ids=[n for n, *_ in SCALAR_CASES])
@pytest.mark.parametrize("allow_arrays", [False, True])
def test_scalar_shortcut_packs_what_the_array_path_packs(case, allow_arrays):
    name, base_lr, params = SCALAR_CASES[case]
    fast = schedules.pack(name, base_lr, allow_arrays=allow_arrays, **params)
    assert schedules._valid_scalars(schedules.get_schedule(name), base_lr, params) is not None
    # 0-d arrays are not scalars to the shortcut: they take the array path
    as_arrays = {k: v if isinstance(v, str) else np.asarray(v) for k, v in params.items()}
    slow = schedules.pack(name, np.asarray(base_lr), allow_arrays=allow_arrays, **as_arrays)
    for field in ("codes", "params", "base_lrs"):
        a, b = getattr(fast, field), getattr(slow, field)
        assert a.dtype == b.dtype and a.shape == b.shape and a.flags.writeable == b.flags.writeable
        np.testing.assert_array_equal(a, b)
    assert list(fast.configs) == list(slow.configs)
    for key in fast.configs:
        a, b = fast.configs[key], slow.configs[key]
        assert a.dtype == b.dtype and a.shape == b.shape
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("value", [True, -1, 1.5, math.nan, math.inf, 2**53, 2**64, "3", [3]])
def test_scalar_shortcut_leaves_every_bad_value_to_the_array_path(value):
    schedule = schedules.get_schedule("cosine")
    assert schedules._valid_scalars(schedule, 1.0, {"num_warmup_steps": value, "num_training_steps": 10}) is None
    valid_lr = schedules._valid_scalars(schedule, value, {"num_warmup_steps": 1, "num_training_steps": 10})
    assert (valid_lr is None) == (value not in (1.5, 2**53))  # a base_lr, unlike a count, may be 1.5 or 2**53


@pytest.mark.parametrize("case", range(len(SCALAR_CASES)), ids=[n for n, *_ in SCALAR_CASES])
@pytest.mark.parametrize("last_step", [0, 49, 10**6])
def test_max_cosine_angle_of_one_row_is_the_tables(case, last_step):
    name, base_lr, params = SCALAR_CASES[case]
    one = schedules.pack(name, base_lr, **params)
    two = schedules.PackedTable(np.repeat(one.codes, 2), np.repeat(one.params, 2, axis=0), one.base_lrs, {})
    assert schedules.max_cosine_angle(one, last_step) == schedules.max_cosine_angle(two, last_step)


def test_a_table_with_runs_of_codes_goes_to_each_schedules_kernel():
    parts = [
        schedules.pack("cosine", 1e-3, num_warmup_steps=5, num_training_steps=50),
        schedules.pack("linear", 2e-3, num_warmup_steps=5, num_training_steps=50),
        schedules.pack("linear", 3e-3, num_warmup_steps=0, num_training_steps=40),
        schedules.pack("warmup_stable_decay", 4e-3, num_warmup_steps=3, num_decay_steps=20, num_stable_steps=10),
        schedules.pack("cosine", 5e-3, num_warmup_steps=0, num_training_steps=30, num_cycles=2.0),
    ]
    codes = np.concatenate([p.codes for p in parts])
    params = np.concatenate([p.params for p in parts])
    base_lrs = np.concatenate([p.base_lrs for p in parts])
    out = np.empty((len(parts), 120))
    cpu.fill_table(codes, params, base_lrs, 0, out, f.EXACT, False)
    for row, part in zip(out, parts, strict=True):
        single = np.empty((1, 120))
        cpu.fill_table(part.codes, part.params, part.base_lrs, 0, single, f.EXACT, False)
        np.testing.assert_array_equal(row, single[0])


# --- how fill picks level and kernel ---------------------------------------------------------------------------


@pytest.fixture
def kernel_calls(monkeypatch):
    calls = []
    original = cpu.fill_table

    def spy(codes, params, base_lrs, start, out, fast, parallel):
        calls.append({"fast": fast, "parallel": parallel, "shape": out.shape, "start": start})
        return original(codes, params, base_lrs, start, out, fast, parallel)

    monkeypatch.setattr(cpu, "fill_table", spy)
    return calls


def test_levels_follow_the_largest_angle(kernel_calls):
    # cosine's angle reaches 2 * pi * num_cycles * progress; progress is 1 at num_training_steps
    fastsched.trajectory("cosine", 101, num_warmup_steps=0, num_training_steps=100, num_cycles=10)
    fastsched.trajectory("cosine", 101, num_warmup_steps=0, num_training_steps=100, num_cycles=100)
    assert [c["fast"] for c in kernel_calls] == [f.FASTER, f.FAST]


@pytest.mark.parametrize("over", [False, True], ids=["below", "above"])
def test_angles_near_the_fast_cos_limit(kernel_calls, over):
    num_steps = 1000
    # the last step's angle sits just below / above FAST_COS_MAX_ANGLE
    cycles = bulk.FAST_COS_MAX_ANGLE / (2 * math.pi) * (1.001 if over else 0.99)
    params = dict(num_warmup_steps=0, num_training_steps=num_steps, num_cycles=cycles)
    got = fastsched.trajectory("cosine", num_steps, **params)
    assert kernel_calls[-1]["fast"] == (f.EXACT if over else f.FAST)
    exact = fastsched.multipliers("cosine", np.arange(num_steps), **params)
    if over:
        np.testing.assert_array_equal(got, exact)  # libm's cos: transformers' values bit for bit
    else:
        np.testing.assert_allclose(got, exact, rtol=0, atol=1e-12)
    expected = transformers_multipliers("cosine", np.arange(num_steps)[::97], **params)
    np.testing.assert_allclose(got[::97], expected, rtol=0, atol=1e-12)


def test_serial_until_the_parallel_runtime_runs(kernel_calls, monkeypatch):
    monkeypatch.setattr(bulk, "_parallel_runtime_started", False)
    small = bulk.PARALLEL_THRESHOLD_WHEN_STARTED
    fastsched.trajectory("linear", small, num_warmup_steps=0, num_training_steps=small)
    fastsched.trajectory("linear", bulk.PARALLEL_THRESHOLD, num_warmup_steps=0, num_training_steps=small)
    fastsched.trajectory("linear", small, num_warmup_steps=0, num_training_steps=small)
    fastsched.trajectory("linear", small - 1, num_warmup_steps=0, num_training_steps=small)
    assert [c["parallel"] for c in kernel_calls] == [False, True, True, False]


# --- memmap chunks ------------------------------------------------------------------------------------------


@pytest.fixture
def released(monkeypatch):
    blocks = []
    original = bulk._release_pages

    def spy(block):
        blocks.append(block.shape)
        original(block)

    monkeypatch.setattr(bulk, "_release_pages", spy)
    return blocks


@pytest.mark.parametrize(
    ("configs", "num_steps", "chunk_bytes"),
    [(7, 1000, 4 * 4096), (3, 50_000, 4 * 4096), (1, 30_001, 4096 + 8)],
    ids=["rows-per-chunk", "pieces-of-rows", "odd-chunk"],
)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_memmap_is_written_chunk_by_chunk(tmp_path, monkeypatch, released, configs, num_steps, chunk_bytes, dtype):
    monkeypatch.setattr(bulk, "MEMMAP_CHUNK_BYTES", chunk_bytes)
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
    monkeypatch.setattr(bulk, "MEMMAP_CHUNK_BYTES", 4096)
    path = tmp_path / "base.bin"
    np.zeros(20_000).tofile(path)
    out = np.memmap(path, dtype=np.float64, mode="c", shape=(20_000,))
    fastsched.trajectory("linear", 20_000, out=out, num_warmup_steps=0, num_training_steps=20_000)
    assert released == []  # releasing private pages would drop what was written
    np.testing.assert_array_equal(out[:3], [1.0, 1.0 - 1 / 20_000, 1.0 - 2 / 20_000])
    assert (np.fromfile(path) == 0).all()


def test_trajectory_into_a_memmap_slice_of_a_1d_file(tmp_path, monkeypatch, released):
    monkeypatch.setattr(bulk, "MEMMAP_CHUNK_BYTES", 8192)
    out = np.memmap(tmp_path / "lr.bin", dtype=np.float64, mode="w+", shape=(10_000,))
    fastsched.trajectory("cosine", 10_000, out=out, num_warmup_steps=100, num_training_steps=10_000)
    assert len(released) == math.ceil(10_000 * 8 / 8192)
    expected = fastsched.trajectory("cosine", 10_000, num_warmup_steps=100, num_training_steps=10_000)
    np.testing.assert_allclose(out, expected, rtol=0, atol=1e-15)


# --- the on-disk cache follows formulas.py ----------------------------------------------------------------------


def test_kernels_capture_the_formulas_version():
    kernel = cpu.fill_kernel(f.COSINE, cpu.NO_PINS, f.FAST, False)
    captured = [cell.cell_contents for cell in kernel.py_func.__closure__]
    assert cpu.FORMULAS_VERSION in captured  # numba keys cached kernels on captured values
    assert cpu.FORMULAS_VERSION == cpu._formulas_version() != 0
