"""Schedules as composable segments: every composition against values computed here from its definition.

The pieces' own values come from fastsched's presets (tested against transformers in test_parity.py); what these
tests check is each composition's definition (optax's join semantics, a warmup up to the schedule's value, a floor,
a scale, cycles with period multiplier and peak decay, a cooldown branched at a step), evaluated with numpy on the
pieces' values. Every composition is also checked on every path: multipliers, trajectory, sweep (arrays in any
part), specs and pickles.
"""

from __future__ import annotations

import json
import math
import pickle

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import fastsched

TOLERANCE = 1e-12
compose_settings = settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])

COSINE = {"schedule": "cosine", "num_warmup_steps": 0, "num_training_steps": 100}
LINEAR = {"schedule": "linear", "num_warmup_steps": 0, "num_training_steps": 80}
PIECES = [
    COSINE,
    LINEAR,
    {"schedule": "constant"},
    {"schedule": "polynomial", "num_warmup_steps": 0, "num_training_steps": 60, "power": 2.0, "lr_end": 0.0},
    {"schedule": "inverse_sqrt", "num_warmup_steps": 10},
    {"schedule": "warmup_stable_decay", "num_warmup_steps": 5, "num_stable_steps": 20, "num_decay_steps": 30},
]


def values(schedule, steps) -> np.ndarray:
    return fastsched.multipliers(schedule, np.asarray(steps, dtype=np.int64))


def assert_every_path(schedule, expected: np.ndarray, base_lr: float = 2e-3) -> None:
    """multipliers, trajectory (float64, float32, from a start) and sweep all give `expected` (steps 0 ..)."""
    steps = np.arange(len(expected))
    np.testing.assert_allclose(values(schedule, steps), expected, rtol=0, atol=TOLERANCE)
    lr = fastsched.trajectory(schedule, len(expected), base_lr=base_lr)
    np.testing.assert_allclose(lr / base_lr, expected, rtol=0, atol=TOLERANCE)
    lr32 = fastsched.trajectory(schedule, len(expected), base_lr=base_lr, dtype=np.float32)
    np.testing.assert_array_equal(lr32, lr.astype(np.float32))
    late = fastsched.trajectory(schedule, len(expected) - 7, base_lr=base_lr, start=7)
    np.testing.assert_allclose(late / base_lr, expected[7:], rtol=0, atol=TOLERANCE)
    table = fastsched.sweep(schedule, len(expected), base_lr=[base_lr, 2 * base_lr])
    np.testing.assert_allclose(table[1] / (2 * base_lr), expected, rtol=0, atol=TOLERANCE)


# -- join ----------------------------------------------------------------------------------------------------------


@compose_settings
@given(
    first=st.sampled_from(PIECES),
    second=st.sampled_from(PIECES),
    third=st.sampled_from(PIECES),
    boundaries=st.lists(st.integers(0, 150), min_size=2, max_size=2).map(sorted),
)
def test_join_follows_optax_join_schedules(first, second, third, boundaries):
    """Schedule i covers [b[i-1], b[i]) and sees the step minus b[i-1] (optax.join_schedules' definition)."""
    joined = fastsched.join([first, second, third], boundaries)
    steps = np.arange(300)
    b0, b1 = boundaries
    expected = np.where(
        steps < b0,
        values(first, steps),
        np.where(steps < b1, values(second, np.maximum(steps - b0, 0)), values(third, np.maximum(steps - b1, 0))),
    )
    assert_every_path(joined, expected)


def test_join_refuses_bad_boundaries():
    with pytest.raises(ValueError, match="`boundaries` must have one entry fewer"):
        fastsched.join([COSINE, LINEAR], [10, 20])
    with pytest.raises(ValueError, match="non-decreasing"):
        fastsched.join([COSINE, LINEAR, COSINE], [20, 10])
    with pytest.raises(ValueError, match=r"`boundaries\[0\]` must be a non-negative number of steps, got -1"):
        fastsched.join([COSINE, LINEAR], [-1])
    with pytest.raises(TypeError, match="`schedules` must be a schedule object, a preset name or a spec"):
        fastsched.join([COSINE, 3.0], [10])


# -- warmup, floor, scale ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("shape", "rise"),
    [
        ("linear", lambda t: t),
        ("cosine", lambda t: 0.5 * (1 - np.cos(np.pi * t))),
        ("1-sqrt", lambda t: 1 - np.sqrt(np.clip(1 - t, 0, 1))),
    ],
)
@pytest.mark.parametrize("piece", PIECES)
def test_warmup_rises_from_its_start_value_to_the_schedule(shape, rise, piece):
    num_steps, start_value = 25, 0.1
    composed = fastsched.warmup(piece, num_steps, shape=shape, start_value=start_value)
    steps = np.arange(200)
    peak = float(values(piece, [0])[0])
    expected = np.where(
        steps < num_steps,
        start_value + (peak - start_value) * rise(steps / num_steps),
        values(piece, np.maximum(steps - num_steps, 0)),
    )
    assert_every_path(composed, expected)


@pytest.mark.parametrize("piece", PIECES)
def test_floor_rescales_and_scale_multiplies(piece):
    steps = np.arange(200)
    inner = values(piece, steps)
    assert_every_path(fastsched.floor(piece, min_ratio=0.1), 0.1 + 0.9 * inner)
    # min_value is an lr: relative to base_lr (the reference lr of the bulk API)
    np.testing.assert_allclose(
        fastsched.trajectory(fastsched.floor(piece, min_value=1e-4), 200, base_lr=1e-3),
        1e-3 * (0.1 + 0.9 * inner),
        rtol=0,
        atol=1e-15,
    )
    assert_every_path(fastsched.scale(piece, 0.25), 0.25 * inner)
    assert_every_path(0.25 * fastsched.schedule(piece), 0.25 * inner)


def test_floor_takes_exactly_one_bound():
    with pytest.raises(ValueError, match="exactly one of `min_value`"):
        fastsched.floor(COSINE)
    with pytest.raises(ValueError, match="exactly one of `min_value`"):
        fastsched.floor(COSINE, min_value=0.1, min_ratio=0.1)
    with pytest.raises(ValueError, match=r"`min_ratio` must be finite and non-negative, got -0\.5"):
        fastsched.floor(COSINE, min_ratio=-0.5)


# -- cycles --------------------------------------------------------------------------------------------------------


def cycle_reference(inner, steps, period, mul, decay, amplitude_floor=None):
    """Cycle i starts at period * (mul**i - 1) / (mul - 1) (i * period for mul 1), lasts period * mul**i, and holds
    the inner schedule stretched by mul**i, its peak scaled by decay**i."""
    out = np.empty(len(steps))
    for k, step in enumerate(steps):
        i = 0
        while True:
            nxt = period * (i + 1) if mul == 1 else period * (mul ** (i + 1) - 1) / (mul - 1)
            if step < nxt:
                break
            i += 1
        begin = period * i if mul == 1 else period * (mul**i - 1) / (mul - 1)
        local = (step - begin) / mul**i  # the inner schedule's (fractional) step
        out[k] = inner(local) * decay**i
    return out


@pytest.mark.parametrize(("period", "mul", "decay"), [(20, 1.0, 1.0), (20, 2.0, 0.5), (16, 1.5, 0.8), (30, 0.5, 1.0)])
def test_cycles_stretch_and_decay_each_cycle(period, mul, decay):
    # an inner schedule whose value at a fractional step is known: a linear decay from 1 to 0 over `period` steps
    inner = {"schedule": "linear", "num_warmup_steps": 0, "num_training_steps": period}
    cycled = fastsched.cycles(inner, period, period_mul=mul, peak_decay=decay)
    steps = np.arange(400 if mul >= 1 else 58)
    expected = cycle_reference(lambda u: max(0.0, (period - u) / period), steps, period, mul, decay)
    assert_every_path(cycled, expected)


def test_cycles_with_a_limit_end_at_the_final_value():
    inner = {"schedule": "cosine", "num_warmup_steps": 0, "num_training_steps": 10}
    cycled = fastsched.cycles(inner, 10, period_mul=2.0, limit=3, final_value=0.05)
    steps = np.arange(120)
    ends = 10 * (2**3 - 1)  # 70: three cycles of 10, 20, 40 steps
    expected = cycle_reference(lambda u: 0.5 * (1 + math.cos(math.pi * u / 10)), steps, 10, 2.0, 1.0)
    expected[steps >= ends] = 0.05
    assert_every_path(cycled, expected)


def test_a_million_short_cycles_cost_nothing_and_any_start_is_exact():
    inner = {"schedule": "linear", "num_warmup_steps": 0, "num_training_steps": 3}
    cycled = fastsched.cycles(inner, 3)
    lr = fastsched.trajectory(cycled, 3_000_000)
    np.testing.assert_array_equal(lr[:6], [1.0, 2 / 3, 1 / 3, 1.0, 2 / 3, 1 / 3])
    np.testing.assert_array_equal(lr.reshape(-1, 3), np.tile([1.0, 2 / 3, 1 / 3], (1_000_000, 1)))
    far = 3 * 10**12 + 1  # the cycle holding a step has a closed form
    np.testing.assert_allclose(fastsched.trajectory(cycled, 3, start=far), [2 / 3, 1 / 3, 1.0], rtol=0, atol=1e-12)


def test_cycles_whose_boundaries_pass_2_to_the_53_end_promptly():
    """Past 2**53 whole steps no longer differ by one: the search for a cycle's first step stops there."""
    growing = fastsched.cycles("constant", 3, period_mul=2.0)
    np.testing.assert_array_equal(fastsched.trajectory(growing, 3, start=2**53 - 10), [1.0, 1.0, 1.0])
    limited = fastsched.join([fastsched.cycles(LINEAR, 3, period_mul=2.0, limit=60), "constant"], [2**53 - 1])
    # step 2**53 - 2 is in cycle 51, which starts at 3 * (2**51 - 1) and stretches the 80-step linear by 2**51
    in_cycle_51 = 1 - (2**53 - 2 - 3 * (2**51 - 1)) / 2**51 / 80
    np.testing.assert_allclose(fastsched.multipliers(limited, [2**53 - 2, 2**53 - 1]), [in_cycle_51, 1.0], atol=1e-12)


def test_a_sweep_of_cycle_limits_ends_each_config_where_its_own_limit_does():
    inner = {"schedule": "linear", "num_warmup_steps": 0, "num_training_steps": 4}
    limits = [1, 2, 3]
    swept = fastsched.sweep(fastsched.join([fastsched.cycles(inner, 4, limit=np.array(limits)), "constant"], [13]), 14)
    tooth = [1.0, 0.75, 0.5, 0.25]
    for row, limit in zip(swept, limits, strict=True):
        np.testing.assert_array_equal(row, tooth * limit + [0.0] * (13 - 4 * limit) + [1.0])


def test_cycles_refuse_nested_cycles_and_bad_periods():
    inner = fastsched.cycles(LINEAR, 10)
    with pytest.raises(ValueError, match="already cycles"):
        fastsched.trajectory(fastsched.cycles(inner, 20), 5)
    with pytest.raises(ValueError, match="`period` must be a positive number of steps"):
        fastsched.cycles(LINEAR, 0)
    with pytest.raises(ValueError, match="`period_mul` must be positive"):
        fastsched.cycles(LINEAR, 10, period_mul=0.0)


# -- cooldown ------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("shape", "fall"),
    [
        ("linear", lambda t: 1 - t),
        ("cosine", lambda t: 0.5 * (1 + np.cos(np.pi * t))),
        ("1-sqrt", lambda t: 1 - np.sqrt(np.clip(t, 0, 1))),
    ],
)
@pytest.mark.parametrize("at_step", [0, 33, 90])
def test_cooldown_branches_off_the_value_at_its_step(shape, fall, at_step):
    piece = {"schedule": "constant_with_warmup", "num_warmup_steps": 40}
    num_steps, final = 50, 0.02
    composed = fastsched.cooldown(piece, at_step, num_steps, shape=shape, final_value=final)
    steps = np.arange(220)
    start_value = float(values(piece, [at_step])[0])
    t = np.clip((steps - at_step) / num_steps, 0.0, 1.0)
    expected = np.where(
        steps < at_step,
        values(piece, steps),
        np.where(steps < at_step + num_steps, final + (start_value - final) * fall(t), final),
    )
    assert_every_path(composed, expected)


# -- arrays in any part, specs, pickles ----------------------------------------------------------------------------


def test_arrays_in_any_part_sweep_in_one_call():
    warmups = np.array([0, 10, 20])
    boundaries = np.array([50, 60, 70])
    ratios = np.array([0.0, 0.1, 0.2])
    composed = fastsched.floor(
        fastsched.join(
            [fastsched.schedule("cosine", num_warmup_steps=warmups, num_training_steps=100), "constant"], [boundaries]
        ),
        min_ratio=ratios,
    )
    assert composed.num_configs == 3
    table = fastsched.sweep(composed, 150, base_lr=[1.0, 2.0, 3.0])
    for i in range(3):
        one = fastsched.floor(
            fastsched.join(
                [fastsched.schedule("cosine", num_warmup_steps=int(warmups[i]), num_training_steps=100), "constant"],
                [int(boundaries[i])],
            ),
            min_ratio=float(ratios[i]),
        )
        np.testing.assert_array_equal(table[i], fastsched.trajectory(one, 150, base_lr=i + 1.0))
    with pytest.raises(ValueError, match=r"`num_warmup_steps`, `boundaries\[0\]`, `min_ratio` must be a scalar here"):
        fastsched.trajectory(composed, 10)


def test_arrays_of_different_lengths_are_refused():
    composed = fastsched.join(
        [fastsched.schedule("cosine", num_warmup_steps=[0, 1], num_training_steps=100), "constant"], [[5, 6, 7]]
    )
    with pytest.raises(ValueError, match="one common length"):
        fastsched.sweep(composed, 10)


SPECS = [
    COSINE,
    {"join": [COSINE, {"schedule": "constant"}], "boundaries": [40]},
    {"warmup": LINEAR, "num_steps": 10, "shape": "cosine", "start_value": 0.0},
    {"floor": COSINE, "min_ratio": 0.1},
    {"scale": COSINE, "factor": 0.5},
    {"cycles": LINEAR, "period": 80, "period_mul": 2.0, "peak_decay": 0.5, "limit": 3},
    {"cooldown": {"schedule": "constant"}, "at_step": 50, "num_steps": 20, "shape": "1-sqrt", "final_value": 0.0},
    {"warmup": {"cooldown": {"floor": COSINE, "min_ratio": 0.05}, "at_step": 60, "num_steps": 30}, "num_steps": 5},
]


@pytest.mark.parametrize("spec", SPECS, ids=lambda s: next(iter(s)))
def test_specs_round_trip_through_json_pickle_and_equality(spec):
    composed = fastsched.schedule(spec)
    assert_holds(composed.to_spec(), spec)  # what was given, as given (defaults added)
    again = fastsched.schedule(json.dumps(composed.to_spec()))
    assert again == composed and hash(again) == hash(composed)
    unpickled = pickle.loads(pickle.dumps(composed))
    assert unpickled == composed
    np.testing.assert_array_equal(fastsched.trajectory(unpickled, 300), fastsched.trajectory(composed, 300))


def assert_holds(full, given):
    """Every key of the spec `given` is in `full` with the same value (nested specs compared the same way)."""
    if isinstance(given, dict):
        for key, value in given.items():
            assert_holds(full[key], value)
    elif isinstance(given, list):
        assert len(full) == len(given)
        for full_item, given_item in zip(full, given, strict=True):
            assert_holds(full_item, given_item)
    else:
        assert full == given and type(full) is type(given), (full, given)


def test_spec_errors_name_what_is_wrong():
    with pytest.raises(ValueError, match="exactly one of the keys 'schedule'"):
        fastsched.schedule({"num_warmup_steps": 3})
    with pytest.raises(ValueError, match="not valid JSON"):
        fastsched.schedule("{not json")
    with pytest.raises(TypeError, match=r"in the 'warmup' spec: .*unexpected keyword argument 'steps'"):
        fastsched.schedule({"warmup": COSINE, "steps": 3})
    with pytest.raises(ValueError, match="'cosinus' is not a valid SchedulerType"):
        fastsched.schedule({"schedule": "cosinus"})
    with pytest.raises(TypeError, match="go into the schedule object"):
        fastsched.trajectory(fastsched.schedule(COSINE), 10, num_warmup_steps=3)


# -- the schedulers ------------------------------------------------------------------------------------------------


def two_group_optimizer(torch, lr_type=float):
    first, second = torch.zeros(3, requires_grad=True), torch.zeros(2, requires_grad=True)
    groups = [{"params": [first]}, {"params": [second], "lr": lr_type(4e-4)}]
    return torch.optim.SGD(groups, lr=1e-3)


@pytest.mark.parametrize("spec", SPECS, ids=lambda s: next(iter(s)))
def test_the_torch_scheduler_steps_a_composition_and_resumes_it_exactly(spec):
    torch = pytest.importorskip("torch")
    import io

    composed = fastsched.schedule(spec)
    expected = values(composed, np.arange(120))
    optimizer = two_group_optimizer(torch)
    scheduler = fastsched.TableScheduler(optimizer, composed)
    for step in range(60):
        assert [group["lr"] for group in optimizer.param_groups] == pytest.approx(
            [1e-3 * expected[step], 4e-4 * expected[step]], rel=1e-15, abs=0
        )
        optimizer.step()
        scheduler.step()
    buffer = io.BytesIO()
    torch.save(scheduler.state_dict(), buffer)
    state = torch.load(io.BytesIO(buffer.getvalue()), weights_only=True)
    assert state["schedule"]["spec"] == composed.to_spec()

    resumed_optimizer = two_group_optimizer(torch)
    resumed = fastsched.TableScheduler(resumed_optimizer, fastsched.schedule(state["schedule"]["spec"]))
    resumed.load_state_dict(state)
    for group, lr in zip(resumed_optimizer.param_groups, scheduler.get_last_lr(), strict=True):
        group["lr"] = lr
    for _ in range(60):
        resumed_optimizer.step()
        resumed.step()
        scheduler.optimizer.step()
        scheduler.step()
        assert resumed.get_last_lr() == scheduler.get_last_lr()
    unpickled = pickle.loads(pickle.dumps(scheduler))
    assert unpickled.multiplier(100) == scheduler.multiplier(100) == expected[100]


@pytest.mark.parametrize("spec", SPECS[1:4], ids=lambda s: next(iter(s)))
def test_the_gpu_scheduler_runs_a_composition_on_cpu_tensors(spec):
    torch = pytest.importorskip("torch")
    composed = fastsched.schedule(spec)
    expected = values(composed, np.arange(80))
    optimizer = two_group_optimizer(torch)
    scheduler = fastsched.CudaScheduler(optimizer, composed, device="cpu", lr_dtype=torch.float64)
    for step in range(80):
        lrs = [float(group["lr"]) for group in optimizer.param_groups]
        np.testing.assert_allclose(lrs, [1e-3 * expected[step], 4e-4 * expected[step]], rtol=1e-15, atol=0)
        scheduler.step()
    assert scheduler.state_dict()["schedule"]["spec"] == composed.to_spec()
