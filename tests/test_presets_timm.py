"""fastsched's timm presets against the installed timm (the harness, tests/home_libraries.py), at every step to 3x
each schedule's length, over hypothesis' valid configs (tests/home_strategies.py), per update and per epoch.

Tolerance: |fastsched - timm| <= 1e-12 x the largest |lr| timm gives over the steps compared (the schedule's scale).
Measured worst over 2000 configs per class: 1.3e-15 (a cycle item started at warmup_t rounds warmup_t + the cycle's
offset where timm subtracts them one at a time; fastsched's multipliers of base_lr re-associate timm's lr_min +
(lr_max - lr_min) * f), and 6.2e-15 where every lr is subnormal (warmup_lr_init 6.7e-317). The cycle index is
timm's own floor(log(...)), rounding included: where it misses a restart, so does fastsched.
"""

from __future__ import annotations

import inspect
import math
from typing import Any

import numpy as np
import pytest
from cli_run import assert_success, run
from home_libraries import TIMM_SCHEDULERS, assert_close, timm_get_lr, timm_lrs, timm_scheduler, timm_scheduler_module
from home_strategies import HomeConfig, timm_configs
from hypothesis import HealthCheck, given, settings

import fastsched
from fastsched import registry
from fastsched.presets import timm as timm_presets

TOLERANCE = 1e-12
hypothesis_settings = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def trajectory(name: str, params: dict[str, Any], steps: int, base_lr: float = 1.0) -> np.ndarray:
    return fastsched.trajectory(f"timm.{name}", steps, base_lr=base_lr, **params)


def cosine(start: float, end: float, fraction: float) -> float:
    return end + (start - end) * (1 + math.cos(math.pi * fraction)) / 2


# -------------------------------------------------------------------------------------------------- every preset
@pytest.mark.parametrize("name", TIMM_SCHEDULERS)
def test_each_preset_follows_timm_at_every_step_to_three_times_its_length(name: str):
    @hypothesis_settings
    @given(timm_configs(name))
    def follows(config: HomeConfig):
        steps = 3 * config.length
        home = timm_lrs(config.name, config.params, steps, config.base_lr)
        assert_close(trajectory(config.name, config.params, steps, config.base_lr), home)

    follows()


# ------------------------------------------------------------------------------------------------ the cycle index
@pytest.mark.parametrize(
    ("warmup", "t_zero"),
    [
        ({}, 0),  # the cycles as one cycle item from t = 0
        ({"warmup_t": 5, "warmup_prefix": True}, 5),  # one cycle item from warmup_t, where timm's t is 0
        ({"warmup_t": 5}, 0),  # the warmup covers steps timm's cycles count: each cycle laid out as a segment
    ],
)
def test_the_cycle_index_is_timms_floor_of_log_even_where_it_misses_a_restart(warmup: dict, t_zero: int):
    # cycle_mul 3: cycle 5 starts at t = (3**5 - 1) / 2 = 121, but floor(log(243) / log(3)) == 4: timm stays at the
    # end of cycle 4 (lr_min) at t = 121 and restarts at 122. At t = 40 (3**4 = 81) the log is exact.
    params = {"t_initial": 1, "cycle_mul": 3.0, "cycle_limit": 10, "lr_min": 0.1, **warmup}
    lrs = trajectory("CosineLRScheduler", params, 400 + t_zero)
    assert lrs[40 + t_zero] == 1.0
    assert lrs[121 + t_zero] == pytest.approx(0.1, rel=1e-15)
    assert lrs[122 + t_zero] == pytest.approx(cosine(1.0, 0.1, 1 / 243), rel=1e-15)
    assert_close(lrs, timm_lrs("CosineLRScheduler", params, 400 + t_zero))
    at = fastsched.multipliers("timm.CosineLRScheduler", [121 + t_zero, 122 + t_zero], **params)  # one step at a time
    np.testing.assert_array_equal(at, lrs[[121 + t_zero, 122 + t_zero]])


def test_cycles_with_a_limit_timm_never_reaches_cost_nothing():
    params = {"t_initial": 3, "cycle_mul": 2.0, "cycle_limit": 10**12, "cycle_decay": 0.9}
    assert_close(trajectory("CosineLRScheduler", params, 500), timm_lrs("CosineLRScheduler", params, 500))
    late = fastsched.trajectory("timm.CosineLRScheduler", 3, start=2**52, **params)
    assert np.isfinite(late).all()


# ------------------------------------------------------------------------------------------- hand-checked values
@pytest.mark.parametrize("t_in_epochs", [True, False])
def test_cosine_warmup_with_and_without_prefix(t_in_epochs: bool):
    params = {"t_initial": 10, "warmup_t": 2, "warmup_lr_init": 0.1, "t_in_epochs": t_in_epochs}
    lrs = trajectory("CosineLRScheduler", params, 12)
    assert lrs[:2] == pytest.approx([0.1, 0.55], rel=1e-15)  # warmup_lr_init + t * (base - warmup_lr_init) / 2
    assert lrs[2] == pytest.approx(cosine(1.0, 0.0, 2 / 10), rel=1e-15)  # no prefix: the warmup eats the cycle
    np.testing.assert_array_equal(lrs[10:], 0.0)  # cycle_limit 1: lr_min after the cycle
    prefixed = trajectory("CosineLRScheduler", params | {"warmup_prefix": True}, 13)
    assert prefixed[2] == 1.0 and prefixed[7] == pytest.approx(0.5, rel=1e-15) and prefixed[12] == 0.0


def test_per_epoch_and_per_update_give_the_same_value_per_step():
    # t_in_epochs only says which of timm's calls moves the lr (step(epoch) or step_update(num_updates)).
    params = {"t_initial": 7, "warmup_t": 3, "cycle_limit": 3, "cycle_decay": 0.5, "lr_min": 0.01}
    by_epoch = trajectory("CosineLRScheduler", params | {"t_in_epochs": True}, 30, 0.3)
    by_update = trajectory("CosineLRScheduler", params | {"t_in_epochs": False}, 30, 0.3)
    np.testing.assert_array_equal(by_epoch, by_update)
    assert_close(by_epoch, timm_lrs("CosineLRScheduler", params | {"t_in_epochs": True}, 30, 0.3))
    assert_close(by_update, timm_lrs("CosineLRScheduler", params | {"t_in_epochs": False}, 30, 0.3))


def test_step_zero_is_the_constructors_lr():
    # timm's _get_lr(0) is not what the group holds before the first step(): TanhLRScheduler never starts at its
    # top, MultiStepLRScheduler applies a milestone <= 1 at t = 0.
    tanh = trajectory("TanhLRScheduler", {"t_initial": 5}, 2)
    assert tanh[0] == 1.0 and timm_get_lr("TanhLRScheduler", {"t_initial": 5}, 1)[0] < 1.0
    assert tanh[1] == pytest.approx((1 - math.tanh(-7.0 * 0.8 + 3.0 * 0.2)) / 2, rel=1e-15)
    multistep = trajectory("MultiStepLRScheduler", {"decay_t": [1, 4], "decay_rate": 0.5}, 5)
    np.testing.assert_allclose(multistep, [1.0, 0.5, 0.5, 0.25, 0.25], rtol=1e-15)
    warm = trajectory("TanhLRScheduler", {"t_initial": 5, "warmup_t": 2, "warmup_lr_init": 0.2}, 3)
    assert warm[0] == pytest.approx(0.2, rel=1e-15)


def test_tanh_warmup_without_prefix_ramps_to_the_schedules_value_at_warmup_t():
    params = {"t_initial": 10, "warmup_t": 4, "warmup_lr_init": 0.0, "cycle_mul": 2.0, "cycle_limit": 2}
    lrs = trajectory("TanhLRScheduler", params, 40)
    at_warmup_t = (1 - math.tanh(-7.0 * 0.6 + 3.0 * 0.4)) / 2
    assert lrs[4] == pytest.approx(at_warmup_t, rel=1e-15)
    assert lrs[2] == pytest.approx(at_warmup_t / 2, rel=1e-15)  # continuous, unlike the cosine's warmup
    assert_close(lrs, timm_lrs("TanhLRScheduler", params, 40))


def test_step_multistep_and_poly():
    step = trajectory("StepLRScheduler", {"decay_t": 30, "decay_rate": 0.1}, 61)
    assert step[[29, 30, 59, 60]] == pytest.approx([1.0, 0.1, 0.1, 0.01], rel=1e-15)
    # a float decay_t is floor-divided as Python does: 3 // 0.1 == 29 (floor(3 / 0.1) == 30)
    floats = trajectory("StepLRScheduler", {"decay_t": 0.1, "decay_rate": 0.9}, 4)
    assert floats[3] == 0.9**29
    assert_close(floats, timm_lrs("StepLRScheduler", {"decay_t": 0.1, "decay_rate": 0.9}, 4))
    # milestone m applies from t = m - 1 (timm's documented convention); warmup_prefix defaults to True here
    multistep = trajectory("MultiStepLRScheduler", {"decay_t": [10], "decay_rate": 0.5, "warmup_t": 5}, 15)
    assert multistep[[13, 14]] == pytest.approx([1.0, 0.5], rel=1e-15)
    assert trajectory("PolyLRScheduler", {"t_initial": 100}, 76)[75] == pytest.approx(0.5, rel=1e-15)
    k_decay = trajectory("PolyLRScheduler", {"t_initial": 100, "k_decay": 2.0, "power": 1.0}, 51)
    assert k_decay[50] == pytest.approx(0.75, rel=1e-15)  # 1 - 50**2 / 100**2


def test_cycle_limit_decay_and_lr_min_after_the_cycles():
    params = {"t_initial": 4, "cycle_limit": 3, "cycle_decay": 0.5, "lr_min": 0.1}
    lrs = trajectory("CosineLRScheduler", params, 16, 2.0)
    assert lrs[[0, 4, 8]] == pytest.approx([2.0, 1.0, 0.5], rel=1e-15)  # each cycle's peak: base * decay ** i
    np.testing.assert_array_equal(lrs[12:], 0.1)  # lr_min (absolute) after cycle_limit cycles
    assert_close(lrs, timm_lrs("CosineLRScheduler", params, 16, 2.0))


# -------------------------------------------------------------------------------------------------------- sweeps
def test_sweep_takes_per_config_arrays_and_mixes_every_cycle_layout():
    # per config: cycle_mul 1 with a warmup without prefix (cycles from the first boundary after it), cycle_mul != 1
    # with one (cycles laid out one by one), with a prefix and without a warmup (one cycle item)
    per_config = {
        "t_initial": [5, 3, 4, 6],
        "cycle_mul": [1.0, 3.0, 2.0, 1.5],
        "cycle_limit": [4, 5, 3, 2],
        "cycle_decay": [0.5, 0.9, 1.0, 0.7],
        "warmup_t": [7, 6, 2, 0],
        "warmup_prefix": [False, False, True, False],
        "warmup_lr_init": [0.0, 0.01, 0.02, 0.0],
        "lr_min": [0.0, 0.001, 0.01, 0.005],
    }
    base_lrs = [0.1, 0.2, 0.3, 0.05]
    for name, extra in (("CosineLRScheduler", {"k_decay": [1.0, 2.0, 1.0, 0.5]}), ("TanhLRScheduler", {})):
        params = per_config | extra
        table = fastsched.sweep(f"timm.{name}", 300, base_lr=base_lrs, **params)
        for i, base_lr in enumerate(base_lrs):
            config = {key: values[i] for key, values in params.items()}
            assert_close(table[i], timm_lrs(name, config, 300, base_lr))


def test_sweep_of_step_schedules():
    params = {"decay_t": [2.5, 10, 7], "decay_rate": [0.5, 0.9, 0.1], "warmup_t": [0, 4, 3]}
    table = fastsched.sweep("timm.StepLRScheduler", 60, base_lr=[1.0, 0.1, 2.0], **params)
    for i, base_lr in enumerate([1.0, 0.1, 2.0]):
        assert_close(table[i], timm_lrs("StepLRScheduler", {key: v[i] for key, v in params.items()}, 60, base_lr))


# ------------------------------------------------------------------------------------------------------ refusals
def test_timms_random_noise_is_refused_naming_it():
    with pytest.raises(ValueError, match="`noise_range_t` turns on timm's random lr noise"):
        trajectory("CosineLRScheduler", {"t_initial": 10, "noise_range_t": [2, 8]}, 10)
    # the other noise parameters do nothing without noise_range_t, in timm as here
    quiet = {"noise_pct": 0.1, "noise_std": 2.0, "noise_seed": 3}
    np.testing.assert_array_equal(
        trajectory("CosineLRScheduler", {"t_initial": 10} | quiet, 12),
        trajectory("CosineLRScheduler", {"t_initial": 10}, 12),
    )


def test_what_timm_asserts_is_refused_as_an_assertion_and_a_value_error():
    for params in ({"t_initial": 10, "lb": 1.0, "ub": 1.0}, {"t_initial": 10, "cycle_limit": -1}):
        with pytest.raises(AssertionError):
            timm_scheduler("TanhLRScheduler", params, torch_optimizer())
        with pytest.raises(AssertionError, match="timm asserts"):
            trajectory("TanhLRScheduler", params, 10)
        with pytest.raises(ValueError, match="timm asserts"):
            trajectory("TanhLRScheduler", params, 10)
    with pytest.raises(ValueError, match="`t_initial` must be a positive number of steps"):
        trajectory("CosineLRScheduler", {"t_initial": 0}, 10)
    with pytest.raises(ValueError, match="`lr_min` must be finite and non-negative"):
        trajectory("PolyLRScheduler", {"t_initial": 10, "lr_min": -0.1}, 10)


@pytest.mark.parametrize(
    ("name", "params", "error", "message"),
    [
        ("CosineLRScheduler", {"t_initial": 10, "cycle_mul": 0.5}, ValueError, "`cycle_mul` must be >= 1"),
        ("CosineLRScheduler", {"t_initial": 10, "k_decay": 0.0}, ValueError, "`k_decay` must be positive"),
        ("CosineLRScheduler", {"t_initial": 10.5}, ValueError, "`t_initial` must be a whole number"),
        ("PolyLRScheduler", {"t_initial": 10, "warmup_t": 2.5}, ValueError, "`warmup_t` must be a whole number"),
        ("StepLRScheduler", {"decay_t": 0}, ValueError, "`decay_t` must be a positive number of steps"),
        ("MultiStepLRScheduler", {"decay_t": [5, 2]}, ValueError, "`decay_t` must be sorted"),
        ("CosineLRScheduler", {"t_initial": 10, "warmup_t": -1}, ValueError, "`warmup_t` must be non-negative"),
        (
            "CosineLRScheduler",
            {"t_initial": 1, "cycle_mul": 1.1, "cycle_limit": 1000, "warmup_t": 5},
            NotImplementedError,
            "lays out each cycle, at most 100",
        ),
    ],
)
def test_refusals_name_the_parameter(name: str, params: dict, error: type, message: str):
    with pytest.raises(error, match=message):
        trajectory(name, params, 10)


def test_absolute_lrs_need_a_positive_base_lr():
    with pytest.raises(ValueError, match="`base_lr` must be positive: `lr_min` is an absolute lr"):
        trajectory("CosineLRScheduler", {"t_initial": 10, "lr_min": 0.1}, 10, 0.0)
    with pytest.raises(ValueError, match="`base_lr` must be positive: `warmup_lr_init` is an absolute lr"):
        trajectory("StepLRScheduler", {"decay_t": 3, "warmup_t": 2, "warmup_lr_init": 0.1}, 10, 0.0)
    np.testing.assert_array_equal(trajectory("CosineLRScheduler", {"t_initial": 10}, 10, 0.0), 0.0)


# ------------------------------------------------------------------------------------------------------ registry
def test_presets_have_timms_parameter_names_and_defaults():
    module = timm_scheduler_module()
    for name in TIMM_SCHEDULERS:
        preset = registry.get_preset(f"timm.{name}")
        signature = inspect.signature(getattr(module, name))
        expected = {
            key: (registry.REQUIRED if p.default is inspect.Parameter.empty else p.default)
            for key, p in signature.parameters.items()
            if key not in ("optimizer", "initialize")  # initialize: whether the groups get initial_lr (no lr)
        }
        assert {p.name: p.default for p in preset.parameters} == expected, name
    assert {f"timm.{name}" for name in TIMM_SCHEDULERS} == set(registry.preset_names("timm"))
    assert all(preset.tolerance.startswith("1e-12") for preset in timm_presets.PRESETS)


def test_a_torch_scheduler_of_a_timm_preset_steps_as_timm_does():
    params = {"t_initial": 5, "cycle_mul": 2.0, "cycle_limit": 3, "warmup_t": 3, "lr_min": 0.01, "t_in_epochs": False}
    optimizer = torch_optimizer(0.1)
    scheduler = fastsched.TableScheduler(optimizer, "timm.CosineLRScheduler", **params)
    lrs = []
    for _ in range(60):
        lrs.append(optimizer.param_groups[0]["lr"])
        optimizer.step()
        scheduler.step()
    assert_close(np.array(lrs), timm_lrs("CosineLRScheduler", params, 60, 0.1))


def test_command_line_lists_and_plots_timm_presets(capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    listing = run(capsys, "list", "timm")
    assert_success(listing)
    assert "== timm: 5 schedules ==" in listing.out and "timm.CosineLRScheduler: " in listing.out
    assert_success(run(capsys, "plot", "timm.CosineLRScheduler", "--t-initial", "100", "--warmup-t", "10"))


def torch_optimizer(lr: float = 1.0) -> Any:
    import torch

    return torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=lr)
