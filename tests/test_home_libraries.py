"""The reference harness reads each home library right: hand-checked values from the libraries' docs and sources
(formulas.md cites them), the step conventions the harness documents, and every strategy's configs computing."""

from __future__ import annotations

import math
import sys

import jax
import numpy as np
import pytest
from examples import MEGATRON_BASE, MEGATRON_HAND_CHECKED
from home_libraries import (
    LIBRARIES,
    TORCH_CLOSED_FORM,
    _optimizer,
    home_lrs,
    optax_values,
    timm_get_lr,
    timm_lrs,
    timm_scheduler,
    timm_scheduler_module,
    torch_closed_form_lrs,
    torch_lrs,
)
from home_strategies import LIBRARY_CONFIGS, HomeConfig, torch_configs
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

EXACT = {"rtol": 1e-15, "atol": 1e-15}  # numpy.testing
APPROX = {"rel": 1e-15, "abs": 1e-15}  # pytest.approx


def cosine(start: float, end: float, fraction: float) -> float:
    return end + (start - end) * (1 + math.cos(math.pi * fraction)) / 2


# --------------------------------------------------------------------------------------------------------- torch
def test_torch_one_cycle_first_peak_last_and_past_the_end():
    lrs = torch_lrs("OneCycleLR", {"max_lr": 1.0, "total_steps": 100}, 102)
    assert lrs[0] == pytest.approx(1.0 / 25)  # max_lr / div_factor
    assert lrs[29] == 1.0  # the peak at float(pct_start * total_steps) - 1
    assert lrs[99] == pytest.approx(1.0 / 25 / 1e4)  # initial_lr / final_div_factor at total_steps - 1
    assert lrs[100] > lrs[99]  # step total_steps is allowed and extrapolates the cosine back up (pytorch#91765)
    assert np.isnan(lrs[101])  # the next step() raises: NaN under errors="nan"
    with pytest.raises(ValueError, match="Tried to step 101 times"):
        torch_lrs("OneCycleLR", {"max_lr": 1.0, "total_steps": 100}, 102, errors="raise")


def test_torch_one_cycle_three_phase_returns_to_the_initial_lr_before_annihilating():
    lrs = torch_lrs("OneCycleLR", {"max_lr": 1.0, "total_steps": 100, "three_phase": True}, 100)
    assert lrs[29] == 1.0 and lrs[58] == pytest.approx(0.04)  # phase ends at 30 - 1 and 2 * 30 - 2
    assert lrs[99] == pytest.approx(0.04 / 1e4)


def test_torch_cyclic_lr_modes():
    params = {"base_lr": 0.1, "max_lr": 1.0, "step_size_up": 3}
    np.testing.assert_allclose(
        torch_lrs("CyclicLR", params, 8), [0.1, 0.4, 0.7, 1.0, 0.7, 0.4, 0.1, 0.4], rtol=1e-14, atol=0
    )
    halved = torch_lrs("CyclicLR", params | {"mode": "triangular2"}, 13)
    assert halved[3] == pytest.approx(1.0) and halved[9] == pytest.approx(0.1 + 0.9 / 2)  # 2nd cycle's peak
    exp_range = torch_lrs("CyclicLR", params | {"mode": "exp_range", "gamma": 0.9}, 4)
    assert exp_range[3] == pytest.approx(0.1 + 0.9 * 0.9**3)  # scaled by gamma ** iterations


def test_torch_cyclic_lr_ignores_the_group_lr():
    params = {"base_lr": 0.1, "max_lr": 1.0, "step_size_up": 3}
    np.testing.assert_array_equal(torch_lrs("CyclicLR", params, 7, 1.0), torch_lrs("CyclicLR", params, 7, 5.0))


def test_torch_sequential_lr_docs_example():
    # torch's SequentialLR docstring: lr 0.005 for epochs 0..19, then 0.05, 0.045, 0.0405 (base lr 0.05).
    schedulers = [("ConstantLR", {"factor": 0.1, "total_iters": 20}), ("ExponentialLR", {"gamma": 0.9})]
    lrs = torch_lrs("SequentialLR", {"schedulers": schedulers, "milestones": [20]}, 23, 0.05)
    np.testing.assert_allclose(lrs[:20], 0.005, rtol=1e-15)
    np.testing.assert_allclose(lrs[20:], [0.05, 0.045, 0.0405], rtol=1e-15)


def test_torch_chained_scheduler_multiplies_its_schedulers():
    # (torch's ChainedScheduler docstring shows these values 10x too large: its ConstantLR applies from step 0.)
    schedulers = [("ConstantLR", {"factor": 0.1, "total_iters": 20}), ("ExponentialLR", {"gamma": 0.9})]
    lrs = torch_lrs("ChainedScheduler", {"schedulers": schedulers}, 22, 0.05)
    steps = np.arange(22)
    np.testing.assert_allclose(lrs, 0.05 * 0.9**steps * np.where(steps < 20, 0.1, 1.0), rtol=1e-14)


def test_torch_closed_forms_at_known_points():
    assert torch_closed_form_lrs("CosineAnnealingLR", {"T_max": 10, "eta_min": 0.2}, 11)[5] == pytest.approx(0.6)
    assert torch_closed_form_lrs("StepLR", {"step_size": 3, "gamma": 0.5}, 7)[6] == 0.25
    assert torch_closed_form_lrs("MultiStepLR", {"milestones": [4, 2, 4], "gamma": 0.5}, 5)[4] == 0.125
    assert torch_closed_form_lrs("PolynomialLR", {"total_iters": 4, "power": 2.0}, 6)[2] == 0.25


def test_torch_constant_lr_with_no_iterations_keeps_its_factor_only_when_stepped():
    # Degenerate but accepted: the recursive form scales at step 0 and never undoes it; the closed form does.
    params = {"factor": 0.5, "total_iters": 0}
    np.testing.assert_array_equal(torch_lrs("ConstantLR", params, 4), [0.5] * 4)
    np.testing.assert_array_equal(torch_closed_form_lrs("ConstantLR", params, 4), [1.0] * 4)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(TORCH_CLOSED_FORM).flatmap(torch_configs))
def test_torch_recursive_form_follows_its_closed_form_over_the_schedule(config: HomeConfig):
    # Recursion rounding within the schedule's length (formulas.md: CosineAnnealingLR drifts further past T_max).
    stepped = torch_lrs(config.name, config.params, config.length + 1, config.base_lr)
    closed = torch_closed_form_lrs(config.name, config.params, config.length + 1, config.base_lr)
    np.testing.assert_allclose(stepped, closed, rtol=1e-13, atol=1e-13 * config.base_lr)


# ---------------------------------------------------------------------------------------------------------- timm
def test_timm_imports_its_schedulers_without_torchvision():
    module = timm_scheduler_module()
    assert module.CosineLRScheduler.__module__ == "timm.scheduler.cosine_lr"
    assert "torchvision" not in sys.modules


@pytest.mark.parametrize("t_in_epochs", [True, False])
def test_timm_cosine_warmup_then_decay_by_epoch_or_update(t_in_epochs: bool):
    params = {"t_initial": 10, "warmup_t": 2, "warmup_lr_init": 0.1, "t_in_epochs": t_in_epochs}
    lrs = timm_lrs("CosineLRScheduler", params, 12)
    assert lrs[:2] == pytest.approx([0.1, 0.55])  # warmup_lr_init + t * (base - warmup_lr_init) / warmup_t
    assert lrs[2] == pytest.approx(cosine(1.0, 0.0, 2 / 10))  # no prefix: the warmup is part of the cycle
    np.testing.assert_array_equal(lrs[10:], 0.0)  # cycle_limit 1: lr_min after the cycle
    prefixed = timm_lrs("CosineLRScheduler", params | {"warmup_prefix": True}, 12)
    assert prefixed[2] == 1.0 and prefixed[7] == pytest.approx(0.5)


def test_timm_only_the_matching_call_moves_the_lr():
    for t_in_epochs, other_call in ((True, "step_update"), (False, "step")):
        optimizer = _optimizer(1.0)
        scheduler = timm_scheduler("CosineLRScheduler", {"t_initial": 10, "t_in_epochs": t_in_epochs}, optimizer)
        getattr(scheduler, other_call)(5)
        assert optimizer.param_groups[0]["lr"] == 1.0


def test_timm_step_zero_is_the_constructor_lr_not_get_lr_of_zero():
    params = {"t_initial": 5}
    assert timm_lrs("TanhLRScheduler", params, 1)[0] == 1.0
    assert timm_get_lr("TanhLRScheduler", params, 1)[0] == pytest.approx((1 - math.tanh(-7.0)) / 2)


def test_timm_cycle_found_by_floor_of_log_can_miss_a_restart():
    # cycle_mul 3: cycle 5 starts at t = (3**5 - 1) / 2 = 121, but floor(log(243) / log(3)) == 4, so timm stays
    # at the end of cycle 4 (lr_min) at t = 121 and restarts at 122. At t = 40 (3**4 = 81) the log is exact.
    params = {"t_initial": 1, "cycle_mul": 3.0, "cycle_limit": 10}
    lrs = timm_get_lr("CosineLRScheduler", params, 123)
    assert lrs[40] == 1.0
    assert lrs[121] == 0.0
    assert lrs[122] == pytest.approx(cosine(1.0, 0.0, 1 / 243))


def test_timm_step_multistep_and_poly():
    assert timm_get_lr("StepLRScheduler", {"decay_t": 30, "decay_rate": 0.1}, 31)[[29, 30]] == pytest.approx([1.0, 0.1])
    # timm's MultiStepLRScheduler applies milestone m at t = m - 1 (its documented convention).
    assert timm_get_lr("MultiStepLRScheduler", {"decay_t": [10], "decay_rate": 0.5}, 10)[[8, 9]] == pytest.approx(
        [1.0, 0.5]
    )
    assert timm_get_lr("PolyLRScheduler", {"t_initial": 100}, 76)[75] == pytest.approx(0.5)  # (1 - 0.75) ** 0.5


# --------------------------------------------------------------------------------------------------------- optax
def test_optax_cosine_decay_at_zero_middle_and_end():
    values = optax_values("cosine_decay_schedule", {"init_value": 1.0, "decay_steps": 100, "alpha": 0.1}, 120)
    assert values[0] == 1.0
    assert values[50] == pytest.approx(0.55, rel=1e-15)
    np.testing.assert_allclose(values[100:], 0.1, rtol=1e-15)


def test_optax_warmup_cosine_decay():
    params = {"init_value": 0.0, "peak_value": 1.0, "warmup_steps": 10, "decay_steps": 110, "end_value": 0.1}
    values = optax_values("warmup_cosine_decay_schedule", params, 111)
    assert values[[0, 5, 10]] == pytest.approx([0.0, 0.5, 1.0], **APPROX)
    assert values[110] == pytest.approx(0.1, rel=1e-15)


def test_optax_docs_examples():
    polynomial = {"init_value": 1.0, "end_value": 0.01, "transition_steps": 100, "transition_begin": 5, "power": 2}
    values = optax_values("polynomial_schedule", polynomial, 111)
    assert values[[0, 5, 6, 104, 105, 110]] == pytest.approx([1.0, 1.0, 0.9803, 0.0101, 0.01, 0.01], abs=5e-5)
    interpolate = {"interpolate_type": "linear", "init_value": 1.0, "boundaries_and_scales": {4: 0.1, 8: 0.01}}
    values = optax_values("piecewise_interpolate_schedule", interpolate, 11)
    assert values[::2] == pytest.approx([1.0, 0.55, 0.1, 0.0505, 0.001, 0.001], **APPROX)
    constant = {"init_value": 1.0, "boundaries_and_scales": {100: 0.1, 200: 0.01}}
    values = optax_values("piecewise_constant_schedule", constant, 251)
    assert values[[50, 99, 100, 150, 250]] == pytest.approx([1.0, 1.0, 0.1, 0.1, 0.001], **APPROX)


def test_optax_one_cycles():
    linear = optax_values("linear_onecycle_schedule", {"transition_steps": 100, "peak_value": 1.0}, 101)
    assert linear[[0, 30, 85, 100]] == pytest.approx([0.04, 1.0, 0.04, 4e-6], **APPROX)
    cosine_values = optax_values("cosine_onecycle_schedule", {"transition_steps": 100, "peak_value": 1.0}, 101)
    assert cosine_values[[0, 30, 100]] == pytest.approx([0.04, 1.0, 4e-6], **APPROX)


def test_optax_join_and_sgdr_restart_the_count_at_each_boundary():
    children = [
        ("constant_schedule", {"value": 0.5}),
        ("linear_schedule", {"init_value": 1.0, "end_value": 0.0, "transition_steps": 4}),
    ]
    values = optax_values("join_schedules", {"schedules": children, "boundaries": [2]}, 7)
    assert values == pytest.approx([0.5, 0.5, 1.0, 0.75, 0.5, 0.25, 0.0], abs=1e-15)
    cycle = {"init_value": 1.0, "peak_value": 1.0, "warmup_steps": 0, "decay_steps": 10}
    values = optax_values("sgdr_schedule", {"cosine_kwargs": [cycle, cycle]}, 21)
    assert values[[0, 9, 10, 20]] == pytest.approx([1.0, cosine(1.0, 0.0, 0.9), 1.0, 0.0], abs=1e-15)


def test_optax_exponential_decay_begin_staircase_and_floor():
    params = {"init_value": 1.0, "transition_steps": 10, "decay_rate": 0.5, "transition_begin": 5}
    values = optax_values("exponential_decay", params | {"staircase": True, "end_value": 0.3}, 40)
    assert values[[0, 5, 14, 15, 25, 39]] == pytest.approx([1.0, 1.0, 1.0, 0.5, 0.3, 0.3], **APPROX)
    smooth = optax_values("exponential_decay", params, 11)
    assert smooth[10] == pytest.approx(0.5**0.5, rel=1e-15)


def test_optax_precisions_and_the_x64_switch_stays_local():
    before = jax.config.jax_enable_x64
    params = {"init_value": 1.0, "end_value": 0.0, "transition_steps": 3}
    single = optax_values("linear_schedule", params, 3, x64=False)
    assert single[1] == float(np.float32(1.0) - np.float32(1 / 3))  # float32 arithmetic, widened exactly
    assert optax_values("linear_schedule", params, 3)[1] == pytest.approx(2 / 3, rel=1e-15)
    # optax's own int32 counter makes jax divide int32 / int in float32 even under x64.
    counted = optax_values("linear_schedule", params, 3, count_dtype="int32")
    np.testing.assert_array_equal(counted, counted.astype(np.float32))
    assert jax.config.jax_enable_x64 == before


def test_optax_jit_may_differ_from_eager_by_an_ulp():
    # XLA turns x / constant into x * (1 / constant), fused into a multiply-add: 1 - 3 * fl(1/3) = 2**-54.
    params = {"init_value": 1.0, "end_value": 0.0, "transition_steps": 3}
    assert optax_values("linear_schedule", params, 4, jit=True)[3] == 2.0**-54
    assert optax_values("linear_schedule", params, 4, jit=False)[3] == 0.0


# ---------------------------------------------------------------------------------------------- DeepSpeed, Megatron
def test_deepspeed_warmups():
    pytest.importorskip("deepspeed")
    linear = home_lrs("deepspeed", "WarmupLR", {"warmup_num_steps": 4, "warmup_type": "linear"}, 7, 1.0)
    np.testing.assert_allclose(linear, [0.0, 0.0, 0.25, 0.5, 0.75, 1.0, 1.0], **EXACT)  # step k: iteration k-1
    log = home_lrs("deepspeed", "WarmupLR", {"warmup_num_steps": 10}, 12, 1.0)
    np.testing.assert_allclose(log[1:11], [math.log(k) / math.log(10) for k in range(1, 11)], **EXACT)
    # WarmupDecayLR's warmup_max_lr defaults to 0.001 whatever the group's lr.
    decay = home_lrs(
        "deepspeed", "WarmupDecayLR", {"total_num_steps": 6, "warmup_num_steps": 2, "warmup_type": "linear"}, 9, 5.0
    )
    np.testing.assert_allclose(decay, [0, 0, 0.0005, 0.001, 0.00075, 0.0005, 0.00025, 0, 0], **EXACT)


def test_deepspeed_warmup_cosine_starts_at_zero_and_one_cycle_one_batch_ahead():
    pytest.importorskip("deepspeed")
    params = {"total_num_steps": 6, "warmup_num_steps": 2, "warmup_type": "linear", "warmup_min_ratio": 0.5}
    lrs = home_lrs("deepspeed", "WarmupCosineLR", params, 9, 2.0)
    assert lrs[0] == 0.0  # before the first step() DeepSpeed returns 0.0, whatever warmup_min_ratio
    assert lrs[1:4] == pytest.approx([1.0, 1.5, 2.0 * (1e-4 + (1 - 1e-4) * (1 + math.cos(math.pi / 4)) / 2)])
    assert lrs[8] == pytest.approx(2.0 * 1e-4)
    one_cycle = home_lrs(
        "deepspeed", "OneCycle", {"cycle_min_lr": 0.0, "cycle_max_lr": 1.0, "cycle_first_step_size": 4}, 10
    )
    np.testing.assert_allclose(one_cycle, [0, 0.25, 0.5, 0.75, 1, 0.75, 0.5, 0.25, 0, 0], **EXACT)


@pytest.mark.parametrize(("style", "extra", "expected"), MEGATRON_HAND_CHECKED)
def test_megatron_decay_styles(style: str, extra: dict, expected: dict[int, float]):
    pytest.importorskip("megatron.core")
    lrs = home_lrs("megatron", "OptimizerParamScheduler", MEGATRON_BASE | {"lr_decay_style": style} | extra, 12)
    assert lrs[[0, 1, 2]] == pytest.approx([0.0, 0.5, 1.0], **APPROX)  # linear warmup, num_steps <= warmup
    for step, value in expected.items():
        assert lrs[step] == pytest.approx(value, rel=1e-14), step


def test_megatron_inverse_square_root():
    pytest.importorskip("megatron.core")
    params = {
        "init_lr": 0.0,
        "max_lr": 1.0,
        "min_lr": 0.1,
        "lr_warmup_steps": 4,
        "lr_decay_steps": 100,
        "lr_decay_style": "inverse-square-root",
    }
    lrs = home_lrs("megatron", "OptimizerParamScheduler", params, 102)
    assert lrs[[16, 64, 100, 101]] == pytest.approx([0.5, 0.25, 0.2, 0.1], **APPROX)  # sqrt(4/n), min_lr after


# -------------------------------------------------------------------------------------------------------- harness
def test_unknown_names_are_refused_by_name():
    with pytest.raises(ValueError, match="`name` must be one of torch's"):
        torch_lrs("LambdaLR", {}, 3)
    with pytest.raises(ValueError, match="`library` must be one of"):
        home_lrs("keras", "CosineDecay", {}, 3)


@pytest.mark.parametrize("library", list(LIBRARIES))
def test_every_strategy_draws_configs_the_library_computes_to_three_times_their_length(library: str):
    if library in ("deepspeed", "megatron"):
        pytest.importorskip({"deepspeed": "deepspeed", "megatron": "megatron.core"}[library])

    @settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(LIBRARY_CONFIGS[library]())
    def computes(config: HomeConfig):
        values = home_lrs(*config.call(3 * config.length))
        assert values.shape == (3 * config.length,) and values.dtype == np.float64
        if config.name == "OneCycleLR":
            values = values[: config.params.get("total_steps", config.length) + 1]  # torch raises past that
        if _fractional_polynomial(config.name, config.params):
            return  # jitted optax can give NaN where the polynomial ends (formulas.md, polynomial_schedule)
        assert not np.isnan(values).any()

    computes()


def _fractional_polynomial(name: str, params: dict) -> bool:
    if name == "join_schedules":
        return any(_fractional_polynomial(child, child_params) for child, child_params in params["schedules"])
    return name == "polynomial_schedule" and not float(params["power"]).is_integer()
