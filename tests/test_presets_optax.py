"""fastsched's optax presets against the installed optax (the harness, tests/home_libraries.py), at every step to 3x
each schedule's length.

- float64: within 1e-12 x max(1, |value|) of optax under jax's x64 mode (jitted, int64 counts), except at the steps
  where jitted optax is off from its own formula (optax_defects): there fastsched keeps to the formula.
- float32: fastsched's float32 is its float64 value rounded once, so it is as close to optax's float32 values as
  optax's float32 is to optax's float64, plus half a float32 ulp. No fixed number of ulps holds: optax's float32
  error grows where a fractional power or a power of a float32 decay_rate amplifies float32 rounding (measured:
  up to 23 float32 ulps of the schedule's largest |value| for polynomial_schedule, 19 for cosine_decay_schedule).
- trajectory = base_lr x optax's value; sweeps take per-config arrays of every numeric parameter.
"""

from __future__ import annotations

import inspect
import json
import math
import warnings
from typing import Any

import numpy as np
import optax
import pytest
from home_libraries import OPTAX_SCHEDULES, optax_values
from home_strategies import HomeConfig, optax_configs
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from reference import float32_ulp

import fastsched
from fastsched import registry

FLOAT64_TOLERANCE = 1e-12
hypothesis_settings = settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def preset(name: str) -> str:
    return f"optax.{name}"


def values(name: str, steps: int, **params: Any) -> np.ndarray:
    """fastsched's trajectory of optax.<name> (base_lr 1: optax's own values)."""
    return fastsched.trajectory(preset(name), steps, **params)


def fastsched_params(name: str, params: dict[str, Any]) -> dict[str, Any]:
    """The harness's optax parameters for fastsched: join_schedules' (name, params) children become specs."""
    if name != "join_schedules":
        return dict(params)
    children = [{"schedule": preset(child), **fastsched_params(child, p)} for child, p in params["schedules"]]
    return {"schedules": children, "boundaries": params["boundaries"]}


def optax_defects(name: str, params: dict[str, Any], steps: np.ndarray) -> np.ndarray:
    """Where jitted optax is off from its own formula, which fastsched keeps to (the presets' docs say so):

    - polynomial_schedule with a fractional power, from transition_begin + transition_steps on: XLA's
      1 - T * fl(1/T) leaves a residue of about 2**-54, whose fractional power is NaN or ~1e-8, not end_value
      (formulas.md, optax);
    - exponential_decay with staircase at the counts t - begin = k * T where XLA's (t - begin) * fl(1/T) rounds
      below k: optax's floor stays on stair k - 1 for that count (T = 49: 49 * fl(1/49) = 1 - 2**-53).
    """
    steps = np.asarray(steps, dtype=np.float64)
    none = np.zeros(steps.shape, dtype=bool)
    if name == "polynomial_schedule":
        if params["transition_steps"] <= 0 or float(params["power"]).is_integer():
            return none
        return steps - max(params.get("transition_begin", 0), 0) >= params["transition_steps"]
    if name == "warmup_exponential_decay_schedule":
        decay = {key: value for key, value in params.items() if key not in ("init_value", "warmup_steps")}
        after_warmup = steps >= params["warmup_steps"]
        return after_warmup & optax_defects("exponential_decay", decay, steps - params["warmup_steps"])
    if name == "exponential_decay":
        transition_steps = params["transition_steps"]
        if not params.get("staircase") or transition_steps <= 0 or params["decay_rate"] == 0:
            return none
        elapsed = steps - max(params.get("transition_begin", 0), 0)
        return (elapsed > 0) & (np.floor(elapsed * (1.0 / transition_steps)) != np.floor(elapsed / transition_steps))
    if name == "join_schedules":
        children, boundaries = params["schedules"], params["boundaries"]
        holder, local = np.zeros(steps.shape, dtype=int), steps.copy()
        for i, boundary in enumerate(boundaries[: len(children) - 1], start=1):  # jnp.where in list order
            holder[steps >= boundary], local[steps >= boundary] = i, steps[steps >= boundary] - boundary
        defects = none.copy()
        for i, (child, child_params) in enumerate(children):
            held = holder == i
            defects[held] = optax_defects(child, child_params, local[held])
        return defects
    return none


def assert_float64_close(ours: np.ndarray, theirs: np.ndarray, compared: np.ndarray, base_lr: float = 1.0) -> None:
    """ours (base_lr x value) within the tolerance of base_lr x theirs at the compared steps."""
    error = np.abs(ours - base_lr * theirs)[compared]
    allowed = FLOAT64_TOLERANCE * base_lr * np.maximum(1.0, np.abs(theirs[compared]))
    bad = np.flatnonzero(error > allowed)
    assert bad.size == 0, f"step {np.flatnonzero(compared)[bad[0]]}: ours {ours[compared][bad[0]]!r}"


def assert_float32_close(name: str, params: dict, ours32: np.ndarray, double: np.ndarray, compared: np.ndarray) -> None:
    """ours32 (fastsched's float32) against optax's own float32 (x64 off, int32 counts): no farther than optax's
    float32 is from its float64 (`double`), plus half a float32 ulp (the one rounding of fastsched's float64)."""
    single = optax_values(name, params, len(ours32), x64=False)
    compared = compared & np.isfinite(single)
    error = np.abs(ours32.astype(np.float64) - single)[compared]
    own_error = np.abs(single - double)[compared]
    half_ulp = 0.5 * float32_ulp(np.maximum(np.abs(ours32), np.abs(single))[compared])
    slack = FLOAT64_TOLERANCE * np.maximum(1.0, np.abs(double[compared]))  # fastsched's float64 against optax's
    bad = np.flatnonzero(error > own_error + half_ulp + slack)
    assert bad.size == 0, f"step {np.flatnonzero(compared)[bad[0]]}: ours {ours32[compared][bad[0]]!r}"


# -- naming: optax's functions, parameters and defaults ------------------------------------------------------------


def test_every_optax_schedule_is_a_preset_with_optax_parameter_names_and_defaults():
    assert registry.preset_names("optax") == [preset(name) for name in OPTAX_SCHEDULES]
    for name in OPTAX_SCHEDULES:
        ours = registry.get_preset(preset(name))
        theirs = inspect.signature(getattr(optax, name)).parameters
        assert ours.parameter_names == tuple(theirs), name
        for parameter in ours.parameters:
            default = theirs[parameter.name].default
            assert parameter.default == (registry.REQUIRED if default is inspect.Parameter.empty else default), name
        assert "base_lr x optax's value" in ours.summary


# -- every preset against optax, random configs --------------------------------------------------------------------


@pytest.mark.parametrize("name", OPTAX_SCHEDULES)
@hypothesis_settings
@given(data=st.data())
def test_every_step_to_three_times_the_length_matches_optax(name: str, data: st.DataObject):
    config: HomeConfig = data.draw(optax_configs(name))
    base_lr = data.draw(st.sampled_from([1.0, 1.0, 0.1, 2.5]))
    steps = 3 * config.length
    params = fastsched_params(name, config.params)
    theirs = optax_values(name, config.params, steps)
    compared = ~optax_defects(name, config.params, np.arange(steps))

    ours = fastsched.trajectory(preset(name), steps, base_lr=base_lr, **params)
    assert ours.dtype == np.float64
    assert_float64_close(ours, theirs, compared, base_lr)

    # fastsched's float32 is its float64 value rounded once (test_float32_trajectory_is_the_float64_value_rounded_once;
    # calling it here would compile a float32 kernel per shape set, doubling this file's time on a cold cache)
    ours = ours if base_lr == 1.0 else fastsched.trajectory(preset(name), steps, **params)
    assert_float32_close(name, config.params, ours.astype(np.float32), theirs, compared)


FLOAT32_CASES = [
    ("exponential_decay", {"init_value": 0.3, "transition_steps": 7, "decay_rate": 1.05, "transition_begin": 10}),
    ("cosine_decay_schedule", {"init_value": 0.85, "decay_steps": 395, "exponent": 3.0}),
    (
        "warmup_cosine_decay_schedule",
        {"init_value": 0.1, "peak_value": 0.3, "warmup_steps": 160, "decay_steps": 303, "end_value": 1.9},
    ),
]


@pytest.mark.parametrize(("name", "params"), FLOAT32_CASES)
def test_float32_trajectory_is_the_float64_value_rounded_once(name: str, params: dict):
    ours = fastsched.trajectory(preset(name), 1000, **params)
    ours32 = fastsched.trajectory(preset(name), 1000, dtype=np.float32, **params)
    assert ours32.dtype == np.float32
    np.testing.assert_array_equal(ours32, ours.astype(np.float32))
    theirs = optax_values(name, params, 1000)
    assert_float32_close(name, params, ours32, theirs, np.ones(1000, dtype=bool))


def test_optax_float32_is_many_ulps_off_its_float64_where_a_fractional_power_amplifies_rounding():
    # Why the float32 bound is optax's own error plus half an ulp, not a fixed number of ulps: near the end of the
    # transition frac = 1 - t / T is small and carries float32 rounding of about 6e-8, which frac ** 0.1 amplifies.
    params = {"init_value": 1.0, "end_value": 0.0, "power": 0.1, "transition_steps": 500}
    compared = ~optax_defects("polynomial_schedule", params, np.arange(600))
    single, double = (optax_values("polynomial_schedule", params, 600, x64=x64) for x64 in (False, True))
    own_error = np.abs(single - double)[compared & np.isfinite(single)]
    assert own_error.max() > 10 * float32_ulp(np.array(1.0))  # 10 float32 ulps of the largest value, 1.0
    ours = values("polynomial_schedule", 600, **params).astype(np.float32)
    assert_float32_close("polynomial_schedule", params, ours, double, compared)


def test_optax_int32_counter_under_x64_computes_in_float32_within_the_float32_bound():
    # optax's optimizers count in int32; under x64, int32 / int promotes to float32 in jax (formulas.md, optax), so a
    # linear warmup and an exponential decay driven by optax's own counter are float32 values even with x64 on.
    params = {"init_value": 0.0, "peak_value": 0.3, "warmup_steps": 37, "transition_steps": 11, "decay_rate": 0.97}
    counted = optax_values("warmup_exponential_decay_schedule", params, 300, count_dtype="int32")
    np.testing.assert_array_equal(counted, counted.astype(np.float32))
    double = optax_values("warmup_exponential_decay_schedule", params, 300)
    ours32 = values("warmup_exponential_decay_schedule", 300, **params).astype(np.float32).astype(np.float64)
    half_ulp = 0.5 * float32_ulp(np.maximum(np.abs(ours32), np.abs(counted)))
    assert np.all(np.abs(ours32 - counted) <= np.abs(counted - double) + half_ulp)


# -- hand-checked values: optax's docstring examples and formulas.md's ---------------------------------------------


def test_optax_docstring_examples():
    assert values("constant_schedule", 101, value=5)[[0, 100]].tolist() == [5.0, 5.0]
    polynomial = values("polynomial_schedule", 111, init_value=1.0, end_value=0.01, transition_steps=100, power=2)
    assert polynomial[[0, 100]].tolist() == [1.0, 0.01]
    begun = values(
        "polynomial_schedule", 111, init_value=1.0, end_value=0.01, transition_steps=100, transition_begin=5, power=2
    )
    assert [f"{v:.4f}" for v in begun[[0, 5, 6, 104, 105, 110]]] == [
        "1.0000",
        "1.0000",
        "0.9803",
        "0.0101",
        "0.0100",
        "0.0100",
    ]
    linear = values("linear_schedule", 101, init_value=1.0, end_value=0.01, transition_steps=100)
    assert linear[[0, 100]].tolist() == [1.0, 0.01]
    constant = values("piecewise_constant_schedule", 251, init_value=1.0, boundaries_and_scales={100: 0.1, 200: 0.01})
    assert [str(v) for v in constant[[50, 150, 250]]] == ["1.0", "0.1", "0.001"]
    scales = {4: 0.1, 8: 0.01}
    interpolated = values(
        "piecewise_interpolate_schedule", 11, interpolate_type="linear", init_value=1.0, boundaries_and_scales=scales
    )
    assert [f"{v:.6f}" for v in interpolated[::2]] == [
        "1.000000",
        "0.550000",
        "0.100000",
        "0.050500",
        "0.001000",
        "0.001000",
    ]


def test_hand_checked_values():
    cosine = values("cosine_decay_schedule", 120, init_value=1.0, decay_steps=100, alpha=0.1)
    assert cosine[0] == 1.0 and cosine[50] == pytest.approx(0.55, rel=1e-15)
    assert np.all(cosine[100:] == 1.0 * 0.1)  # held from decay_steps on
    squared = values("cosine_decay_schedule", 101, init_value=2.0, decay_steps=100, exponent=2.0)
    assert squared[50] == pytest.approx(2.0 * 0.25, rel=1e-15) and squared[100] == 0.0
    warmup = values(
        "warmup_cosine_decay_schedule",
        200,
        init_value=0.0,
        peak_value=1.0,
        warmup_steps=10,
        decay_steps=110,
        end_value=0.1,
    )
    assert warmup[[0, 5, 10]].tolist() == [0.0, 0.5, 1.0] and warmup[60] == pytest.approx(0.55, rel=1e-15)
    assert np.all(warmup[110:] == 1.0 * (0.1 / 1.0))  # peak * (end / peak)
    linear_cycle = values("linear_onecycle_schedule", 101, transition_steps=100, peak_value=1.0)
    assert linear_cycle[[0, 30, 85, 100]] == pytest.approx([0.04, 1.0, 0.04, 4e-6], rel=1e-15)
    cosine_cycle = values("cosine_onecycle_schedule", 101, transition_steps=100, peak_value=1.0)
    assert cosine_cycle[[0, 30, 100]] == pytest.approx([0.04, 1.0, 4e-6], rel=1e-15)
    stairs = values(
        "exponential_decay",
        40,
        init_value=1.0,
        transition_steps=10,
        decay_rate=0.5,
        transition_begin=5,
        staircase=True,
        end_value=0.3,
    )
    assert stairs[[0, 5, 14, 15, 25, 39]].tolist() == [1.0, 1.0, 1.0, 0.5, 0.3, 0.3]
    growth = values("exponential_decay", 30, init_value=1.0, transition_steps=10, decay_rate=2.0, end_value=3.0)
    assert growth[[0, 10, 15, 20, 29]].tolist() == [1.0, 2.0, 2.0**1.5, 3.0, 3.0]  # end_value is a ceiling here
    children = [
        {"schedule": "optax.constant_schedule", "value": 0.5},
        {"schedule": "optax.linear_schedule", "init_value": 1.0, "end_value": 0.0, "transition_steps": 4},
    ]
    joined = values("join_schedules", 7, schedules=children, boundaries=[2])
    assert joined.tolist() == [0.5, 0.5, 1.0, 0.75, 0.5, 0.25, 0.0]
    cycle = {"init_value": 1.0, "peak_value": 1.0, "warmup_steps": 0, "decay_steps": 10}
    sgdr = values("sgdr_schedule", 21, cosine_kwargs=[cycle, cycle])
    assert sgdr[[0, 10, 20]].tolist() == [1.0, 1.0, 0.0]
    assert sgdr[9] == pytest.approx(0.5 * (1 + math.cos(math.pi * 0.9)), rel=1e-15)


def test_base_lr_multiplies_optax_values():
    params = {"init_value": 2.0, "peak_value": 4.0, "warmup_steps": 4}
    expected = values("warmup_constant_schedule", 6, **params)
    assert expected.tolist() == [2.0, 2.5, 3.0, 3.5, 4.0, 4.0]
    np.testing.assert_array_equal(
        fastsched.trajectory("optax.warmup_constant_schedule", 6, base_lr=0.5, **params), 0.5 * expected
    )


# -- optax's degenerate configs and the steps jitted optax gets wrong ----------------------------------------------

DEGENERATE = [
    ("linear_schedule", {"init_value": 1.0, "end_value": 0.5, "transition_steps": 0}, 5),  # init_value throughout
    ("polynomial_schedule", {"init_value": 0.1, "end_value": 3.0, "power": 2.0, "transition_steps": -2}, 5),
    ("linear_schedule", {"init_value": 0.1, "end_value": 3.0, "transition_steps": 4, "transition_begin": -3}, 8),
    ("polynomial_schedule", {"init_value": 0.1, "end_value": 3.0, "power": 0.0, "transition_steps": 4}, 8),
    ("warmup_constant_schedule", {"init_value": 0.1, "peak_value": 1.0, "warmup_steps": 0}, 4),  # init, not peak
    ("exponential_decay", {"init_value": 1.0, "transition_steps": 0, "decay_rate": 0.5, "end_value": 2.0}, 5),
    ("exponential_decay", {"init_value": 1.0, "transition_steps": 3, "decay_rate": 0.0, "end_value": 2.0}, 5),
    ("exponential_decay", {"init_value": 1.0, "transition_steps": 3, "decay_rate": 0.5, "end_value": 2.0}, 5),
    ("exponential_decay", {"init_value": 1.0, "transition_steps": 2, "decay_rate": -0.5, "staircase": True}, 9),
    ("exponential_decay", {"init_value": 1.0, "transition_steps": 2, "decay_rate": 1.0, "end_value": 0.5}, 5),
    ("piecewise_constant_schedule", {"init_value": 1.0, "boundaries_and_scales": {0: 2.0, -3: 0.5, 4: 0.0}}, 6),
    ("piecewise_constant_schedule", {"init_value": 1.0, "boundaries_and_scales": {}}, 3),
    (
        "piecewise_interpolate_schedule",
        {"interpolate_type": "cosine", "init_value": 1.0, "boundaries_and_scales": {0: 2.0, 3: 0.5}},
        6,
    ),
    (
        "piecewise_interpolate_schedule",
        {"interpolate_type": "linear", "init_value": 1.0, "boundaries_and_scales": {-2: 2.0, 3: 0.5, 5: 3.0}},
        8,
    ),
    ("piecewise_interpolate_schedule", {"interpolate_type": "linear", "init_value": 0.3}, 3),
    ("linear_onecycle_schedule", {"transition_steps": 2, "peak_value": 1.0}, 5),  # {0: 25, 1: .04, 2: 1e-4}
    ("linear_onecycle_schedule", {"transition_steps": 1, "peak_value": 1.0}, 4),  # colliding keys merge
    ("cosine_onecycle_schedule", {"transition_steps": 3, "peak_value": 2.0, "pct_start": 1.0}, 5),
    (
        "warmup_cosine_decay_schedule",
        {"init_value": 0.5, "peak_value": 0.0, "warmup_steps": 2, "decay_steps": 5, "end_value": 1.0},
        8,
    ),  # alpha 0
    (
        "join_schedules",
        {
            "schedules": [
                ("constant_schedule", {"value": 1.0}),
                ("constant_schedule", {"value": 2.0}),
                ("linear_schedule", {"init_value": 3.0, "end_value": 0.0, "transition_steps": 3}),
            ],
            "boundaries": [4, 2],
        },
        8,
    ),  # a later, smaller boundary wins
    (
        "join_schedules",
        {
            "schedules": [
                ("constant_schedule", {"value": 1.0}),
                ("linear_schedule", {"init_value": 3.0, "end_value": 0.0, "transition_steps": 4}),
            ],
            "boundaries": [-2],
        },
        5,
    ),  # the second sees step + 2 from step 0
]


@pytest.mark.parametrize(("name", "params", "steps"), DEGENERATE)
def test_degenerate_configs_give_what_optax_gives(name: str, params: dict, steps: int):
    theirs = optax_values(name, params, steps)
    ours = values(name, steps, **fastsched_params(name, params))
    np.testing.assert_allclose(ours, theirs, rtol=FLOAT64_TOLERANCE, atol=FLOAT64_TOLERANCE)


def test_jitted_optax_fractional_polynomial_end_is_end_value_here():
    params = {"init_value": 1.0, "end_value": 0.25, "power": 0.5, "transition_steps": 10}
    theirs = optax_values("polynomial_schedule", params, 12)
    assert np.isnan(theirs[10:]).all()  # jitted optax: (1 - 10 * fl(1/10)) ** 0.5 = (-tiny) ** 0.5
    ours = values("polynomial_schedule", 12, **params)
    assert ours[10:].tolist() == [0.25, 0.25]
    np.testing.assert_allclose(ours[:10], theirs[:10], rtol=FLOAT64_TOLERANCE)
    assert optax_defects("polynomial_schedule", params, np.arange(12)).tolist() == [False] * 10 + [True] * 2


def test_jitted_optax_staircase_can_step_a_count_late_and_fastsched_does_not():
    params = {"init_value": 1.0, "transition_steps": 49, "decay_rate": 0.5, "staircase": True}
    theirs = optax_values("exponential_decay", params, 100)
    ours = values("exponential_decay", 100, **params)
    assert theirs[[48, 49, 50, 98, 99]].tolist() == [1.0, 1.0, 0.5, 0.5, 0.25]  # 49 * fl(1/49) = 1 - 2**-53
    assert ours[[48, 49, 50, 98, 99]].tolist() == [1.0, 0.5, 0.5, 0.25, 0.25]  # floor(count / 49)
    assert float(optax.exponential_decay(**params)(49)) == 0.5  # optax's own unjitted call agrees with fastsched
    assert np.flatnonzero(optax_defects("exponential_decay", params, np.arange(100))).tolist() == [49, 98]


# -- sweeps: per-config arrays of every numeric parameter ----------------------------------------------------------

SWEEPS = [
    (
        "warmup_cosine_decay_schedule",
        {
            "init_value": [0.0, 0.1, 0.0],
            "peak_value": [1.0, 0.0, 2.0],
            "warmup_steps": [0, 5, 10],
            "decay_steps": [20, 25, 12],
            "end_value": 0.1,
            "exponent": [1.0, 2.0, 0.5],
        },
    ),
    (
        "exponential_decay",
        {
            "init_value": 1.0,
            "transition_steps": [3, 0, 5],
            "decay_rate": [0.5, 0.5, 1.1],
            "transition_begin": [0, 2, -1],
            "staircase": [True, False, False],
            "end_value": [0.2, 0.2, 1.4],
        },
    ),
    (
        "linear_onecycle_schedule",
        {
            "transition_steps": [1, 2, 30],
            "peak_value": [1.0, 2.0, 3.0],
            "pct_start": [0.3, 0.5, 0.2],
            "div_factor": [25.0, 10.0, 4.0],
        },
    ),
    ("cosine_onecycle_schedule", {"transition_steps": [1, 7, 30], "peak_value": 1.0, "pct_start": [0.3, 0.0, 0.5]}),
    (
        "piecewise_interpolate_schedule",
        {"interpolate_type": ["linear", "cosine"], "init_value": [1.0, 0.5], "boundaries_and_scales": {3: 0.5, 9: 2.0}},
    ),
    (
        "polynomial_schedule",
        {
            "init_value": [1.0, 0.0],
            "end_value": [0.0, 1.0],
            "power": [2.0, 0.5],
            "transition_steps": [10, -1],
            "transition_begin": [3, 0],
        },
    ),
]


def config_params(params: dict[str, Any], i: int) -> dict[str, Any]:
    return {key: value[i] if isinstance(value, list) else value for key, value in params.items()}


@pytest.mark.parametrize(("name", "params"), SWEEPS)
def test_sweep_rows_match_optax_config_by_config(name: str, params: dict):
    base_lrs = np.array([1.0, 0.5, 2.0])[: max(len(v) for v in params.values() if isinstance(v, list))]
    table = fastsched.sweep(preset(name), 40, base_lr=base_lrs, **params)
    assert table.shape == (len(base_lrs), 40)
    for i, base_lr in enumerate(base_lrs):
        config = config_params(params, i)
        theirs = optax_values(name, config, 40)
        assert_float64_close(table[i], theirs, ~optax_defects(name, config, np.arange(40)), base_lr)


def test_sweep_of_joined_and_sgdr_children_with_arrays():
    children = [
        {"schedule": "optax.constant_schedule", "value": [0.5, 1.5]},
        {"schedule": "optax.cosine_decay_schedule", "init_value": 1.0, "decay_steps": [4, 9]},
    ]
    table = fastsched.sweep("optax.join_schedules", 20, schedules=children, boundaries=[3])
    for i in range(2):
        config = {
            "schedules": [
                ("constant_schedule", {"value": [0.5, 1.5][i]}),
                ("cosine_decay_schedule", {"init_value": 1.0, "decay_steps": [4, 9][i]}),
            ],
            "boundaries": [3],
        }
        assert_float64_close(table[i], optax_values("join_schedules", config, 20), np.ones(20, dtype=bool))
    cycles = [
        {"init_value": 0.0, "peak_value": [1.0, 2.0], "warmup_steps": 2, "decay_steps": [6, 8]},
        {"init_value": 0.5, "peak_value": 1.0, "warmup_steps": [0, 3], "decay_steps": 7},
    ]
    table = fastsched.sweep("optax.sgdr_schedule", 20, cosine_kwargs=cycles)
    for i in range(2):
        config = {"cosine_kwargs": [config_params(cycle, i) for cycle in cycles]}
        assert_float64_close(table[i], optax_values("sgdr_schedule", config, 20), np.ones(20, dtype=bool))


# -- parameters that are dicts, lists of dicts and lists of schedules: specs -----------------------------------------


def test_dict_and_list_parameters_round_trip_through_json_specs():
    piecewise = fastsched.schedule(
        "optax.piecewise_constant_schedule", init_value=1.0, boundaries_and_scales={100: 0.1, 200: 0.01}
    )
    sgdr = fastsched.schedule(
        "optax.sgdr_schedule",
        cosine_kwargs=[{"init_value": 0.0, "peak_value": 1.0, "warmup_steps": 2, "decay_steps": 6}],
    )
    joined = fastsched.schedule("optax.join_schedules", schedules=[piecewise, sgdr], boundaries=[150])
    for schedule in (piecewise, sgdr, joined):
        text = json.dumps(schedule.to_spec())  # the mapping's steps become JSON strings
        again = fastsched.schedule(text)
        assert again == schedule
        np.testing.assert_array_equal(fastsched.trajectory(again, 300), fastsched.trajectory(schedule, 300))
    assert piecewise.to_spec() == {
        "schedule": "optax.piecewise_constant_schedule",
        "init_value": 1.0,
        "boundaries_and_scales": {100: 0.1, 200: 0.01},
    }


def test_join_schedules_children_may_be_any_schedule():
    children = [
        "constant",
        fastsched.schedule("optax.linear_schedule", init_value=1.0, end_value=0.0, transition_steps=2),
    ]
    assert values("join_schedules", 5, schedules=children, boundaries=[1]).tolist() == [1.0, 1.0, 0.5, 0.0, 0.0]


def test_join_schedules_ignores_what_optax_ignores_and_says_so():
    three = [
        ("constant_schedule", {"value": 1.0}),
        ("constant_schedule", {"value": 2.0}),
        ("constant_schedule", {"value": 3.0}),
    ]
    for params in ({"schedules": three, "boundaries": [2]}, {"schedules": three[:2], "boundaries": [2, 4, 6]}):
        with pytest.warns(UserWarning, match="ignored, as optax ignores them"):
            ours = values("join_schedules", 8, **fastsched_params("join_schedules", params))
        np.testing.assert_array_equal(ours, optax_values("join_schedules", params, 8))


# -- refusals: what optax refuses, with its exception and words; what it computes as NaN, naming the parameter -------


def refused_by_both(name: str, params: dict, error: type[Exception], message: str, ours: str | None = None) -> None:
    """optax and fastsched raise `error` matching `message` (fastsched: `ours` where its words differ)."""
    with pytest.raises(error, match=message):
        getattr(optax, name)(**params)
    with pytest.raises(error, match=ours or message):
        values(name, 3, **params)


def test_refuses_what_optax_refuses_with_its_exception_and_message():
    positive = r"The cosine_decay_schedule requires positive decay_steps, got decay_steps=0\."
    refused_by_both("cosine_decay_schedule", {"init_value": 1.0, "decay_steps": 0}, ValueError, positive)
    warmup = {"init_value": 0.0, "peak_value": 1.0, "warmup_steps": 5, "decay_steps": 5}
    refused_by_both("warmup_cosine_decay_schedule", warmup, ValueError, positive)  # the decay's own steps
    negative = {"init_value": 1.0, "boundaries_and_scales": {3: -0.5}}
    refused_by_both(
        "piecewise_constant_schedule",
        negative,
        ValueError,
        "`piecewise_constant_schedule` expects non-negative scale factors",
    )
    refused_by_both(
        "piecewise_interpolate_schedule",
        {"interpolate_type": "linear", **negative},
        ValueError,
        "`piecewise_interpolate_schedule` expects non-negative scale factors",
    )
    for name in ("linear_onecycle_schedule", "cosine_onecycle_schedule"):
        refused_by_both(
            name,
            {"transition_steps": 0, "peak_value": 1.0},
            ValueError,
            "A linear onecycle schedule was set with a non-positive `transition_steps`",
        )
        zero_div = {"transition_steps": 10, "peak_value": 1.0, "div_factor": 0.0}
        refused_by_both(name, zero_div, ZeroDivisionError, "float division by zero", "`div_factor` must be non-zero")
    with pytest.raises(ValueError, match="interpolate_type"):  # optax: ValueError too, in its own words
        optax.piecewise_interpolate_schedule("quadratic", 1.0)
    with pytest.raises(ValueError, match="`interpolate_type` must be one of 'linear', 'cosine', got 'quadratic'"):
        values("piecewise_interpolate_schedule", 3, interpolate_type="quadratic", init_value=1.0)


def test_refuses_what_optax_computes_as_nan_or_fails_on_later_naming_the_parameter():
    negative_rate = {"init_value": 1.0, "transition_steps": 2, "decay_rate": -0.5}
    assert np.isnan(optax_values("exponential_decay", negative_rate, 4)[1])
    with pytest.raises(ValueError, match="`decay_rate` must be non-negative unless `staircase`"):
        values("exponential_decay", 4, **negative_rate)
    with pytest.raises(ValueError, match="`power` must be finite and non-negative, got -1"):
        values("polynomial_schedule", 3, init_value=1.0, end_value=0.0, power=-1.0, transition_steps=2)
    with pytest.raises(ValueError, match="`exponent` must be finite and non-negative"):
        values("cosine_decay_schedule", 3, init_value=1.0, decay_steps=2, exponent=-1.0)
    with pytest.raises(IndexError):  # optax builds an empty sgdr, then fails at its first count
        optax.sgdr_schedule([])(0)
    with pytest.raises(ValueError, match="`cosine_kwargs` must hold at least one cycle"):
        values("sgdr_schedule", 3, cosine_kwargs=[])
    with pytest.raises(ValueError, match="`schedules` must hold at least one schedule"):
        values("join_schedules", 3, schedules=[], boundaries=[])
    with pytest.raises(ValueError, match="`boundaries_and_scales` must keep the products of the scales finite"):
        values("piecewise_constant_schedule", 3, init_value=1e300, boundaries_and_scales={1: 1e10})
    with pytest.raises(ValueError, match="`peak_value` must not be so small that end_value / peak_value overflows"):
        values(
            "warmup_cosine_decay_schedule",
            3,
            init_value=0.0,
            peak_value=1e-310,
            warmup_steps=1,
            decay_steps=3,
            end_value=1.0,
        )


def test_refuses_children_swept_over_different_numbers_of_configs():
    children = [
        {"schedule": "optax.constant_schedule", "value": [0.5, 1.0]},
        {"schedule": "optax.constant_schedule", "value": [0.5, 1.0, 2.0]},
    ]
    message = r"`schedules\[0\]\.value` has 2, `schedules\[1\]\.value` has 3"
    with pytest.raises(ValueError, match=message):
        fastsched.sweep("optax.join_schedules", 3, schedules=children, boundaries=[1])


def test_refuses_malformed_dict_list_and_flag_parameters():
    with pytest.raises(TypeError, match=r"`boundaries_and_scales` must be a dict of \{step: number\}, got list"):
        fastsched.schedule("optax.piecewise_constant_schedule", init_value=1.0, boundaries_and_scales=[(1, 0.5)])
    with pytest.raises(ValueError, match=r"`boundaries_and_scales` has the step 1\.0 twice"):
        fastsched.schedule(
            "optax.piecewise_constant_schedule", init_value=1.0, boundaries_and_scales={"1": 0.5, "1.0": 0.1}
        )
    with pytest.raises(ValueError, match="`boundaries_and_scales` must have steps as keys, got the key 'one'"):
        fastsched.schedule("optax.piecewise_constant_schedule", init_value=1.0, boundaries_and_scales={"one": 0.5})
    with pytest.raises(ValueError, match="`boundaries_and_scales` must be finite"):
        fastsched.schedule("optax.piecewise_constant_schedule", init_value=1.0, boundaries_and_scales={1: math.nan})
    with pytest.raises(TypeError, match="`staircase` must be a bool or a list of bools, got int 1"):
        fastsched.schedule("optax.exponential_decay", init_value=1.0, transition_steps=2, decay_rate=0.5, staircase=1)
    with pytest.raises(TypeError, match=r"`cosine_kwargs\[0\]` must be a dict of optax.warmup_cosine_decay"):
        fastsched.schedule("optax.sgdr_schedule", cosine_kwargs=[3])
    with pytest.raises(ValueError, match=r"optax\.warmup_cosine_decay_schedule requires `decay_steps`"):
        fastsched.schedule(
            "optax.sgdr_schedule", cosine_kwargs=[{"init_value": 0.0, "peak_value": 1.0, "warmup_steps": 2}]
        )
    with pytest.raises(TypeError, match=r"`schedules\[1\]` must be a schedule object, a preset name or a spec"):
        fastsched.schedule("optax.join_schedules", schedules=["constant", 3], boundaries=[1])


def test_no_warning_for_a_matched_join():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        values("join_schedules", 4, schedules=["constant", "constant"], boundaries=[2])
