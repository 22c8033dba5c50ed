"""fastsched's DeepSpeed and Megatron-core presets against the installed packages (the harness,
tests/home_libraries.py), at every step to 3x each schedule's length, over hypothesis' valid configs
(tests/home_strategies.py).

Tolerance: |fastsched - home| <= 1e-12 x the largest |lr| the library gives over the steps compared (the schedule's
scale; measured worst over 2000 configs per class or decay style: 5.6e-16 DeepSpeed, 5.4e-16 Megatron). Both
libraries' lrs are absolute where the group's lr isn't theirs: fastsched gives them as fractions of base_lr, and
trajectory(base_lr=X) is the library's lr on a group whose lr was X.
"""

from __future__ import annotations

import inspect
import math
from typing import Any

import numpy as np
import pytest
import torch
from cli_run import assert_success, run
from examples import MEGATRON_BASE, MEGATRON_HAND_CHECKED
from home_libraries import (
    DEEPSPEED_SCHEDULERS,
    MEGATRON_LR_DECAY_STYLES,
    assert_close,
    deepspeed_lr_schedules,
    deepspeed_lrs,
    megatron_lrs,
    megatron_scheduler_class,
)
from home_strategies import HomeConfig, deepspeed_configs, megatron_configs
from hypothesis import HealthCheck, given, settings

import fastsched
from fastsched import registry

# Importing either package takes seconds: once, for the whole module.
deepspeed_schedules = pytest.importorskip("deepspeed.runtime.lr_schedules") and deepspeed_lr_schedules()
pytest.importorskip("megatron.core")
OptimizerParamScheduler = megatron_scheduler_class()

TOLERANCE = 1e-12
hypothesis_settings = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def trajectory(library: str, name: str, params: dict[str, Any], steps: int, base_lr: float = 1.0) -> np.ndarray:
    return fastsched.trajectory(f"{library}.{name}", steps, base_lr=base_lr, **params)


def compare(config: HomeConfig) -> None:
    steps = 3 * config.length
    home = (deepspeed_lrs if config.library == "deepspeed" else megatron_lrs)(
        config.name, config.params, steps, config.base_lr
    )
    assert_close(trajectory(config.library, config.name, config.params, steps, config.base_lr), home)


# -------------------------------------------------------------------------------------------------- every preset
@pytest.mark.parametrize("name", DEEPSPEED_SCHEDULERS)
def test_each_deepspeed_preset_follows_deepspeed_at_every_step_to_three_times_its_length(name: str):
    hypothesis_settings(given(deepspeed_configs(name))(compare))()


@pytest.mark.parametrize("style", MEGATRON_LR_DECAY_STYLES)
def test_each_megatron_decay_style_follows_megatron_at_every_step_to_three_times_its_length(style: str):
    hypothesis_settings(given(megatron_configs(style))(compare))()


# ------------------------------------------------------------------------------------------- hand-checked values
def test_deepspeed_warmups_count_from_the_constructors_step():
    # step 0 is the constructor's lr (warmup_min_lr), step k the lr after k step() calls (iteration k - 1)
    linear = trajectory("deepspeed", "WarmupLR", {"warmup_num_steps": 4, "warmup_type": "linear"}, 7)
    np.testing.assert_allclose(linear, [0.0, 0.0, 0.25, 0.5, 0.75, 1.0, 1.0], rtol=1e-15, atol=0)
    log = trajectory("deepspeed", "WarmupLR", {"warmup_num_steps": 10}, 12, 0.5)
    np.testing.assert_allclose(log[1:11], [0.5 * math.log(k) / math.log(10) for k in range(1, 11)], rtol=1e-15)
    assert log[11] == 0.5  # warmup_max_lr=None: the group's lr
    one_step = trajectory("deepspeed", "WarmupLR", {"warmup_num_steps": 1, "warmup_type": "linear"}, 4)
    np.testing.assert_allclose(one_step, [0.0, 0.0, 0.5, 1.0], rtol=1e-15)  # DeepSpeed warms up >= 2 steps


def test_deepspeed_decays():
    # WarmupDecayLR's warmup_max_lr defaults to 0.001 whatever the group's lr
    params = {"total_num_steps": 6, "warmup_num_steps": 2, "warmup_type": "linear"}
    decay = trajectory("deepspeed", "WarmupDecayLR", params, 9, 5.0)
    np.testing.assert_allclose(decay, [0, 0, 0.0005, 0.001, 0.00075, 0.0005, 0.00025, 0, 0], rtol=1e-15, atol=0)
    # WarmupCosineLR: 0.0 at step 0 whatever warmup_min_ratio; its cosine starts one step in (the "+ 1")
    params = {"total_num_steps": 6, "warmup_num_steps": 2, "warmup_type": "linear", "warmup_min_ratio": 0.5}
    cosine = trajectory("deepspeed", "WarmupCosineLR", params, 9, 2.0)
    assert cosine[0] == 0.0
    assert cosine[1:4] == pytest.approx([1.0, 1.5, 2.0 * (1e-4 + (1 - 1e-4) * (1 + math.cos(math.pi / 4)) / 2)])
    np.testing.assert_allclose(cosine[6:], 2.0 * 1e-4, rtol=1e-15)


def test_deepspeed_one_cycle_ramps_stairs_and_decay():
    ramps = trajectory(
        "deepspeed", "OneCycle", {"cycle_min_lr": 0.0, "cycle_max_lr": 1.0, "cycle_first_step_size": 4}, 10
    )
    np.testing.assert_allclose(ramps, [0, 0.25, 0.5, 0.75, 1, 0.75, 0.5, 0.25, 0, 0], rtol=1e-15, atol=0)
    # stairs from the integer batch offset: floor(15 * 22 / 22) / 22 = 15 / 22 at step 15 ((15 / 22) * 22 < 15)
    params = {
        "cycle_min_lr": 0.1,
        "cycle_max_lr": 1.0,
        "cycle_first_step_size": 22,
        "cycle_second_step_size": 4,
        "cycle_first_stair_count": 22,
        "cycle_second_stair_count": 2,
        "decay_step_size": 5,
        "decay_lr_rate": 0.5,
    }
    lrs = trajectory("deepspeed", "OneCycle", params, 40)
    assert lrs[15] == pytest.approx(0.1 + 0.9 * 15 / 22, rel=1e-15)
    assert lrs[[22, 23, 24, 25, 26]] == pytest.approx([1.0, 0.55, 0.55, 0.1, 0.1], rel=1e-15)  # 2 stairs down
    assert lrs[36] == pytest.approx(0.1 / (1 + 0.5 * 10 / 5), rel=1e-15)  # min / (1 + rate * (k - total) / size)
    assert_close(lrs, deepspeed_lrs("OneCycle", params, 40))


def test_deepspeed_one_cycle_peak_takes_the_half_deepspeeds_floats_pick():
    # At k = cycle_first_step_size, 1 + 235 / 241 - 1 > 235 / 241: DeepSpeed takes the second half's stairs (1.0)
    params = {"cycle_min_lr": 0.0, "cycle_max_lr": 1.0, "cycle_first_step_size": 235, "cycle_second_step_size": 6,
              "cycle_second_stair_count": 6}  # fmt: skip
    lrs = trajectory("deepspeed", "OneCycle", params, 250)
    assert lrs[235] == 1.0
    np.testing.assert_array_equal(lrs, deepspeed_lrs("OneCycle", params, 250))


@pytest.mark.parametrize(("style", "extra", "expected"), MEGATRON_HAND_CHECKED)
def test_megatron_decay_styles(style: str, extra: dict, expected: dict[int, float]):
    lrs = trajectory("megatron", "OptimizerParamScheduler", MEGATRON_BASE | {"lr_decay_style": style} | extra, 12)
    assert lrs[[0, 1, 2]] == pytest.approx([0.0, 0.5, 1.0], rel=1e-15)  # linear warmup, step lr_warmup_steps included
    for step, value in expected.items():
        assert lrs[step] == pytest.approx(value, rel=1e-14), step


def test_megatron_inverse_square_root_and_absolute_lrs():
    params = MEGATRON_BASE | {"lr_warmup_steps": 4, "lr_decay_steps": 100, "lr_decay_style": "inverse-square-root"}
    lrs = trajectory("megatron", "OptimizerParamScheduler", params, 102)
    assert lrs[[16, 64, 100, 101]] == pytest.approx([0.5, 0.25, 0.2, 0.1], rel=1e-15)  # sqrt(4 / k), min_lr after
    no_warmup = trajectory("megatron", "OptimizerParamScheduler", params | {"lr_warmup_steps": 0}, 5)
    assert no_warmup[[0, 1, 4]] == pytest.approx([1.0, 1.0, 0.5], rel=1e-15)  # max(k, 1)
    # Megatron's lrs ignore the group's: any base_lr gives the same lrs
    assert_close(trajectory("megatron", "OptimizerParamScheduler", params, 102, 7.0), lrs)


# -------------------------------------------------------------------------------------------------------- sweeps
def test_deepspeed_sweeps_take_per_config_arrays():
    params = {
        "total_num_steps": [50, 80, 30],
        "warmup_num_steps": [10, 1, 40],
        "warmup_type": ["log", "linear", "linear"],
        "warmup_min_ratio": [0.0, 0.2, 0.5],
        "cos_min_ratio": [1e-4, 0.1, 0.0],
    }
    table = fastsched.sweep("deepspeed.WarmupCosineLR", 150, base_lr=[1.0, 0.1, 3e-4], **params)
    for i, base_lr in enumerate([1.0, 0.1, 3e-4]):
        config = {key: values[i] for key, values in params.items()}
        assert_close(table[i], deepspeed_lrs("WarmupCosineLR", config, 150, base_lr))
    cycles = {
        "cycle_min_lr": [0.01, 0.0, 0.1],
        "cycle_max_lr": [1.0, 0.5, 0.2],
        "cycle_first_step_size": [10, 22, 7],
        "cycle_second_step_size": [5, 0, 7],
        "cycle_first_stair_count": [0, 22, 3],
        "cycle_second_stair_count": [4, 0, 0],
        "decay_step_size": [0, 3, 5],
        "decay_lr_rate": [0.5, 0.5, 0.0],
    }
    table = fastsched.sweep("deepspeed.OneCycle", 60, **cycles)
    for i in range(3):
        assert_close(table[i], deepspeed_lrs("OneCycle", {key: values[i] for key, values in cycles.items()}, 60))


def test_megatron_sweep_takes_per_config_arrays_and_anneal_styles():
    params = {
        "init_lr": [0.0, 0.1, 0.2],
        "max_lr": [1.0, 0.5, 0.3],
        "min_lr": [0.1, 0.0, 0.05],
        "lr_warmup_steps": [2, 0, 10],
        "lr_decay_steps": [20, 30, 40],
        "lr_decay_style": "WSD",
        "wsd_decay_steps": [5, 30, 0],
        "lr_wsd_decay_style": ["exponential", "minus_sqrt", "cosine"],
    }
    table = fastsched.sweep("megatron.OptimizerParamScheduler", 120, **params)
    for i in range(3):
        config = {key: values if isinstance(values, str) else values[i] for key, values in params.items()}
        assert_close(table[i], megatron_lrs("OptimizerParamScheduler", config, 120))


# ------------------------------------------------------------------------------------------------------ refusals
@pytest.mark.parametrize(
    ("name", "params", "message"),
    [
        ("WarmupLR", {"warmup_num_steps": 0}, "`warmup_num_steps` must be a positive number of steps"),
        ("WarmupCosineLR", {"total_num_steps": 10, "warmup_num_steps": 2.5}, "`warmup_num_steps` must be a whole"),
        ("OneCycle", {"cycle_min_lr": 0.1, "cycle_max_lr": 1.0, "cycle_first_step_size": 0}, "`cycle_first_step_size`"),
        (
            "OneCycle",
            {"cycle_min_lr": 0.1, "cycle_max_lr": 1.0, "cycle_second_step_size": -1},
            "`cycle_second_step_size` must be non-negative",
        ),
    ],
)
def test_what_deepspeed_refuses_is_refused_naming_the_parameter(name: str, params: dict, message: str):
    with pytest.raises(ValueError):
        getattr(deepspeed_schedules, name)(torch_optimizer(), **params)
    with pytest.raises(ValueError, match=message):
        trajectory("deepspeed", name, params, 10)


def test_deepspeed_refusals_of_its_own():
    with pytest.raises(ValueError, match="`warmup_type` must be one of 'log', 'linear'"):  # DeepSpeed warns, uses log
        trajectory("deepspeed", "WarmupLR", {"warmup_type": "exp"}, 10)
    with pytest.raises(ValueError, match="`base_lr` must be positive: `cycle_min_lr` is an absolute lr"):
        trajectory("deepspeed", "OneCycle", {"cycle_min_lr": 0.1, "cycle_max_lr": 1.0}, 10, 0.0)
    np.testing.assert_array_equal(trajectory("deepspeed", "WarmupCosineLR", {"total_num_steps": 9}, 10, 0.0), 0.0)


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"max_lr": 0.05}, "`max_lr` must be >= `min_lr`"),
        ({"init_lr": 2.0}, "`init_lr` must be <= `max_lr`"),
        ({"lr_warmup_steps": 10}, "`lr_warmup_steps` must be < `lr_decay_steps`"),
        ({"lr_decay_style": "WSD"}, "`wsd_decay_steps` must be given"),
    ],
)
def test_what_megatron_asserts_is_refused_as_an_assertion_and_a_value_error(params: dict, message: str):
    config = MEGATRON_BASE | {"lr_decay_style": "linear"} | params
    weight_decay = {"start_wd": 0.0, "end_wd": 0.0, "wd_incr_steps": 1, "wd_incr_style": "constant"}
    with pytest.raises(AssertionError):
        OptimizerParamScheduler(torch_optimizer(), **config, **weight_decay)
    with pytest.raises(AssertionError, match=message):
        trajectory("megatron", "OptimizerParamScheduler", config, 10)
    with pytest.raises(ValueError, match="Megatron asserts it"):
        trajectory("megatron", "OptimizerParamScheduler", config, 10)


def test_megatron_refusals_of_its_own():
    with pytest.raises(ValueError, match="`lr_decay_style` must be one of"):
        trajectory("megatron", "OptimizerParamScheduler", MEGATRON_BASE | {"lr_decay_style": "step"}, 10)
    with pytest.raises(ValueError, match="`lr_wsd_decay_style` must be one of"):  # Megatron fails part way
        trajectory(
            "megatron", "OptimizerParamScheduler", MEGATRON_BASE | {"lr_decay_style": "WSD", "wsd_decay_steps": 3}, 10
        )
    with pytest.raises(ValueError, match="`base_lr` must be positive: `max_lr` is an absolute lr"):
        trajectory("megatron", "OptimizerParamScheduler", MEGATRON_BASE | {"lr_decay_style": "linear"}, 10, 0.0)
    # weight decay never changes the lr; its parameters are checked as Megatron checks them
    weight_decay = {"start_wd": 0.1, "end_wd": 0.2, "wd_incr_steps": 5, "wd_incr_style": "linear"}
    linear = MEGATRON_BASE | {"lr_decay_style": "linear"}
    np.testing.assert_array_equal(
        trajectory("megatron", "OptimizerParamScheduler", linear | weight_decay, 12),
        trajectory("megatron", "OptimizerParamScheduler", linear, 12),
    )
    with pytest.raises(AssertionError, match="`end_wd` must be >= `start_wd`"):
        trajectory("megatron", "OptimizerParamScheduler", linear | {"start_wd": 0.2, "end_wd": 0.1}, 12)


# ------------------------------------------------------------------------------------------------------ registry
def test_presets_have_the_libraries_parameter_names_and_defaults():
    for name in DEEPSPEED_SCHEDULERS:
        signature = inspect.signature(getattr(deepspeed_schedules, name))
        # last_batch_iteration: where a resumed scheduler starts (fastsched: trajectory's `start`)
        assert declared(f"deepspeed.{name}") == expected(signature, ("optimizer", "last_batch_iteration")), name
    signature = inspect.signature(OptimizerParamScheduler)
    megatron = expected(signature, ("optimizer", "use_checkpoint_opt_param_scheduler", "override_opt_param_scheduler"))
    # Megatron requires the weight-decay parameters, which never change the lr: fastsched takes them optionally
    megatron |= {name: None for name in ("start_wd", "end_wd", "wd_incr_steps", "wd_incr_style")}
    assert declared("megatron.OptimizerParamScheduler") == megatron
    assert set(registry.preset_names("deepspeed")) == {f"deepspeed.{name}" for name in DEEPSPEED_SCHEDULERS}
    assert registry.preset_names("megatron") == ["megatron.OptimizerParamScheduler"]


@pytest.mark.parametrize(
    ("name", "params"),
    [
        (
            "deepspeed.OneCycle",
            {
                "cycle_min_lr": 1e-4,
                "cycle_max_lr": 1e-3,
                "cycle_first_step_size": 7,
                "decay_step_size": 3,
                "decay_lr_rate": 0.1,
            },
        ),
        ("deepspeed.WarmupCosineLR", {"total_num_steps": 30, "warmup_num_steps": 5}),
        (
            "megatron.OptimizerParamScheduler",
            MEGATRON_BASE | {"max_lr": 1e-3, "min_lr": 1e-4, "lr_decay_style": "cosine"},
        ),
    ],
)
def test_a_torch_scheduler_of_a_preset_steps_as_its_library_does(name: str, params: dict):
    optimizer = torch_optimizer(1e-3)
    scheduler = fastsched.TableScheduler(optimizer, name, **params)
    lrs = []
    for _ in range(40):
        lrs.append(optimizer.param_groups[0]["lr"])
        optimizer.step()
        scheduler.step()
    library, home_name = name.split(".")
    assert_close(
        np.array(lrs), (deepspeed_lrs if library == "deepspeed" else megatron_lrs)(home_name, params, 40, 1e-3)
    )


def test_command_line_lists_and_plots_deepspeed_and_megatron_presets(capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    listing = run(capsys, "list", "deepspeed")
    assert_success(listing)
    assert "== deepspeed: 4 schedules ==" in listing.out and "deepspeed.OneCycle: " in listing.out
    assert_success(run(capsys, "plot", "deepspeed.WarmupCosineLR", "--total-num-steps", "1000"))
    megatron = ["megatron.OptimizerParamScheduler", "--init-lr", "0", "--max-lr", "3e-4", "--min-lr", "3e-5"]
    megatron += ["--lr-warmup-steps", "100", "--lr-decay-steps", "1000", "--lr-decay-style", "cosine"]
    assert_success(run(capsys, "plot", *megatron))


def declared(name: str) -> dict[str, Any]:
    return {p.name: p.default for p in registry.get_preset(name).parameters}


def expected(signature: inspect.Signature, left_out: tuple[str, ...]) -> dict[str, Any]:
    return {
        key: (registry.REQUIRED if p.default is inspect.Parameter.empty else p.default)
        for key, p in signature.parameters.items()
        if key not in left_out
    }


def torch_optimizer(lr: float = 1.0) -> torch.optim.Optimizer:
    return torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=lr)
