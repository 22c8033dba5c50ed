"""fastsched's torch presets against the installed torch (the harness, tests/home_libraries.py), at every step to 3x
each schedule's length, over hypothesis' valid configs (tests/home_strategies.py).

Tolerances are |fastsched - torch| <= tolerance x the largest |lr| torch gives over the steps compared (the
schedule's scale: an lr near 0 is compared at the scale of the schedule, as the kernels' cosine methods are):

- against torch's closed forms (`_get_closed_form_lr`): CLOSED_FORM_TOLERANCE, 1e-12;
- against torch's stepped (recursive) values, STEPPED_TOLERANCE per class: the recursion's drift from the closed
  form, measured (formulas.md 6; the worst this file's configs reach is below each), with a margin. The drift of
  CosineAnnealingLR grows with T_max**2 past T_max (a ratio of two O((pi / T_max)**2) numbers): its tolerance is
  2e-15 + 5e-17 x T_max**2 (measured: 3.1e-12 at T_max = 373 is 2.2e-17 x T_max**2; formulas.md: 2.4e-11 at 1000);
- OneCycleLR, CyclicLR and CosineAnnealingWarmRestarts are closed forms when stepped: 1e-12.
"""

from __future__ import annotations

import inspect
import math
import pickle
from typing import Any

import numpy as np
import pytest
import torch
from cli_run import assert_success, run
from home_libraries import TORCH_CLOSED_FORM, assert_close, torch_closed_form_lrs, torch_lrs
from home_strategies import HomeConfig, torch_configs
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

import fastsched
from fastsched import registry
from fastsched.presets import torch as torch_presets

CLOSED_FORM_TOLERANCE = 1e-12  # measured: 0 (bit for bit) but CosineAnnealingLR, 1.4e-15 (the fast cosine methods)
# Against torch's stepped values; the measured worst over 150 derandomized configs per class (to 3x the length) in
# the comments: the recursion's drift (the absolute classes' stepped values are closed forms)
STEPPED_TOLERANCE = {
    "ConstantLR": 1e-15,  # measured 1.8e-16
    "LinearLR": 2e-14,  # 8.4e-15
    "StepLR": 1e-14,  # 7.1e-16 (gamma up to 1.2)
    "MultiStepLR": 1e-15,  # 1.4e-16
    "PolynomialLR": 2e-14,  # 2.0e-15
    "CosineAnnealingWarmRestarts": 1e-12,  # 4.2e-16
    "OneCycleLR": 1e-12,  # 9.9e-16
    "CyclicLR": 1e-12,  # 3.7e-16
}
hypothesis_settings = settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def stepped_tolerance(name: str, params: dict[str, Any], steps: int) -> float:
    """The tolerance against torch's stepped values over `steps` steps."""
    if name == "CosineAnnealingLR":
        return 2e-15 + 1e-16 * params["T_max"] ** 2
    if name == "ExponentialLR":  # a rounding per step: (1 + 2**-53) ** steps - 1, with pow's own error
        return 1.2e-16 * (steps + 2)
    if name in ("SequentialLR", "ChainedScheduler"):  # each child's drift, the chain's accumulating
        return sum(stepped_tolerance(child, child_params, steps) for child, child_params in params["schedulers"])
    return STEPPED_TOLERANCE[name]


def spec(name: str, params: dict[str, Any]) -> dict[str, Any]:
    """The harness's torch parameters as a fastsched spec: a composition's (name, params) children become specs."""
    params = dict(params)
    if name in ("SequentialLR", "ChainedScheduler"):
        params["schedulers"] = [spec(child, child_params) for child, child_params in params["schedulers"]]
    return {"schedule": f"torch.{name}", **params}


def trajectory(name: str, params: dict[str, Any], steps: int, base_lr: float) -> np.ndarray:
    """fastsched's lrs (a schedule object: CyclicLR's own `base_lr` would clash with trajectory's)."""
    return fastsched.trajectory(fastsched.schedule(spec(name, params)), steps, base_lr=base_lr)


def compare(config: HomeConfig) -> None:
    steps = 3 * config.length
    ours = trajectory(config.name, config.params, steps, config.base_lr)
    home = torch_lrs(config.name, config.params, steps, config.base_lr)
    if config.name == "OneCycleLR":  # torch raises past total_steps (fastsched holds its min lr: see below)
        ours, home = ours[: config.length + 1], home[: config.length + 1]
    # a composition's children drift relative to the base lr (a ConstantLR's 1 / factor scales another's drift up)
    least_scale = config.base_lr if config.name in ("SequentialLR", "ChainedScheduler") else 0.0
    assert_close(ours, home, stepped_tolerance(config.name, config.params, steps), least_scale)
    if config.name in TORCH_CLOSED_FORM:
        closed = torch_closed_form_lrs(config.name, config.params, steps, config.base_lr)
        assert_close(ours, closed, CLOSED_FORM_TOLERANCE)


# -------------------------------------------------------------------------------------------------- every preset
@pytest.mark.parametrize("name", [n for n in torch_presets.RELATIVE + torch_presets.ABSOLUTE] + ["SequentialLR"])
def test_each_preset_follows_torch_at_every_step_to_three_times_its_length(name: str):
    @hypothesis_settings
    @given(torch_configs(name))
    def follows(config: HomeConfig):
        compare(config)

    follows()


@st.composite
def computable_chains(draw) -> HomeConfig:
    """ChainedSchedulers whose product is a segment: one child that keeps changing, the others piecewise constant."""
    changing = draw(st.sampled_from(["LinearLR", "ExponentialLR", "PolynomialLR", "StepLR"]))
    holding = draw(st.lists(st.sampled_from(["ConstantLR", "MultiStepLR"]), min_size=1, max_size=2))
    order = draw(st.permutations([changing, *holding]))
    children = [draw(torch_configs(child)) for child in order]
    params = {"schedulers": [(child.name, child.params) for child in children]}
    return HomeConfig(
        "torch", "ChainedScheduler", params, draw(st.sampled_from([1.0, 3e-4])), max(child.length for child in children)
    )


@hypothesis_settings
@given(computable_chains())
def test_chained_scheduler_is_the_product_of_its_children(config: HomeConfig):
    compare(config)


@hypothesis_settings
@given(torch_configs("ChainedScheduler"))
def test_chained_scheduler_is_computed_or_refused_naming_the_children_that_change_together(config: HomeConfig):
    try:
        compare(config)
    except ValueError as error:
        message = str(error)
        assert message.startswith("torch.ChainedScheduler: ") and " both change from step " in message, message
        names = [child for child, _ in config.params["schedulers"]]
        assert sum(1 for child in set(names) if child in message) >= 1
        assume(False)


def test_warmup_then_step_decay_chained():
    # LinearLR's warmup ends before StepLR's first decay: the product is the warmup, then StepLR's staircase.
    params = {
        "schedulers": [
            ("LinearLR", {"start_factor": 0.01, "total_iters": 10}),
            ("StepLR", {"step_size": 10, "gamma": 0.5}),
        ]
    }
    compare(HomeConfig("torch", "ChainedScheduler", params, 0.1, 40))


# ------------------------------------------------------------------------------------------- hand-checked values
def test_one_cycle_first_peak_last_and_past_the_end():
    lrs = trajectory("OneCycleLR", {"max_lr": 1.0, "total_steps": 100}, 300, 1.0)
    assert lrs[0] == pytest.approx(1.0 / 25, rel=1e-15)  # max_lr / div_factor
    assert lrs[29] == pytest.approx(1.0, rel=1e-15)  # the peak, at pct_start * total_steps - 1
    assert lrs[99] == pytest.approx(1.0 / 25 / 1e4, rel=1e-12)  # max_lr / div_factor / final_div_factor
    home = torch_lrs("OneCycleLR", {"max_lr": 1.0, "total_steps": 100}, 101)
    assert lrs[100] == pytest.approx(home[100], rel=1e-12) and lrs[100] > lrs[99]  # torch's extrapolated step
    np.testing.assert_array_equal(lrs[101:], 1.0 / 25 / 1e4)  # past it torch raises; fastsched holds the min lr


def test_one_cycle_three_phase_and_linear():
    params = {"max_lr": 2.0, "total_steps": 100, "three_phase": True, "anneal_strategy": "linear"}
    lrs = trajectory("OneCycleLR", params, 100, 0.5)
    assert lrs[29] == pytest.approx(2.0, rel=1e-15) and lrs[58] == pytest.approx(0.08, rel=1e-15)
    assert lrs[14] == pytest.approx(0.08 + (2.0 - 0.08) * 14 / 29, rel=1e-15)  # linear on the way up
    assert lrs[99] == pytest.approx(0.08 / 1e4, rel=1e-12)
    assert_close(lrs, torch_lrs("OneCycleLR", params, 100, 0.5), CLOSED_FORM_TOLERANCE)


def test_one_cycle_epochs_times_steps_per_epoch():
    by_epochs = trajectory("OneCycleLR", {"max_lr": 1.0, "epochs": 4, "steps_per_epoch": 25}, 101, 1.0)
    by_total = trajectory("OneCycleLR", {"max_lr": 1.0, "total_steps": 100}, 101, 1.0)
    np.testing.assert_array_equal(by_epochs, by_total)


def test_one_cycle_ignores_the_momentum_options_and_the_group_lr():
    params = {"max_lr": 1.0, "total_steps": 50}
    plain = trajectory("OneCycleLR", params, 60, 1.0)
    momentum = {"cycle_momentum": False, "base_momentum": 0.5, "max_momentum": 0.6}
    np.testing.assert_array_equal(trajectory("OneCycleLR", params | momentum, 60, 1.0), plain)
    assert_close(trajectory("OneCycleLR", params, 60, 7.0), plain, CLOSED_FORM_TOLERANCE)  # absolute lrs


def test_cyclic_lr_modes():
    params = {"base_lr": 0.1, "max_lr": 1.0, "step_size_up": 3}
    np.testing.assert_allclose(
        trajectory("CyclicLR", params, 8, 1.0), [0.1, 0.4, 0.7, 1.0, 0.7, 0.4, 0.1, 0.4], rtol=1e-14, atol=0
    )
    halved = trajectory("CyclicLR", params | {"mode": "triangular2"}, 13, 1.0)
    assert halved[3] == pytest.approx(1.0, rel=1e-15) and halved[9] == pytest.approx(0.1 + 0.9 / 2, rel=1e-15)
    exp_range = trajectory("CyclicLR", params | {"mode": "exp_range", "gamma": 0.9}, 4, 1.0)
    assert exp_range[3] == pytest.approx(0.1 + 0.9 * 0.9**3, rel=1e-15)
    uneven = trajectory("CyclicLR", params | {"step_size_down": 1}, 6, 1.0)  # up 3, down 1
    np.testing.assert_allclose(uneven, [0.1, 0.4, 0.7, 1.0, 0.1, 0.4], rtol=1e-14)
    sawtooth = trajectory("CyclicLR", params | {"step_size_down": 0}, 7, 1.0)  # never comes down
    np.testing.assert_allclose(sawtooth, [0.1, 0.4, 0.7, 0.1, 0.4, 0.7, 0.1], rtol=1e-14)


def test_sequential_lr_docs_example():
    # torch's SequentialLR docstring: lr 0.005 for epochs 0..19, then 0.05, 0.045, 0.0405 (base lr 0.05).
    params = {
        "schedulers": [("ConstantLR", {"factor": 0.1, "total_iters": 20}), ("ExponentialLR", {"gamma": 0.9})],
        "milestones": [20],
    }
    lrs = trajectory("SequentialLR", params, 23, 0.05)
    np.testing.assert_allclose(lrs[:20], 0.005, rtol=1e-15)
    np.testing.assert_allclose(lrs[20:], [0.05, 0.045, 0.0405], rtol=1e-15)


def test_chained_scheduler_docs_example():
    params = {"schedulers": [("ConstantLR", {"factor": 0.1, "total_iters": 2}), ("ExponentialLR", {"gamma": 0.9})]}
    lrs = trajectory("ChainedScheduler", params, 5, 1.0)
    np.testing.assert_allclose(lrs, [0.1, 0.09, 0.81, 0.729, 0.6561], rtol=1e-15)


def test_cosine_annealing_continues_past_t_max_and_warm_restarts_restart():
    cosine = trajectory("CosineAnnealingLR", {"T_max": 10, "eta_min": 0.2}, 21, 1.0)
    assert cosine[5] == pytest.approx(0.6, rel=1e-15) and cosine[10] == pytest.approx(0.2, rel=1e-15)
    assert cosine[20] == pytest.approx(1.0, rel=1e-15)  # back up: no clamp at T_max
    restarts = trajectory("CosineAnnealingWarmRestarts", {"T_0": 4, "T_mult": 2, "eta_min": 0.0}, 13, 1.0)
    np.testing.assert_allclose(restarts[[0, 4, 12]], 1.0, rtol=1e-15)  # cycles of 4, 8, 16 steps
    assert restarts[2] == pytest.approx(0.5, rel=1e-15) and restarts[8] == pytest.approx(0.5, rel=1e-15)


def test_degenerate_counts_follow_the_stepped_form_torch_trains_with():
    """Where torch's stepped and closed forms part (formulas.md 1.1-1.4), fastsched gives the stepped values."""
    cases = [
        ("ConstantLR", {"factor": 0.5, "total_iters": 0}),  # never undone
        ("ConstantLR", {"factor": 0.5, "total_iters": 2.5}),  # never equal to a step
        ("LinearLR", {"start_factor": 0.5, "total_iters": 2.5}),  # changes at steps 1, 2 only
        ("LinearLR", {"start_factor": 0.5, "total_iters": 0}),  # closed form: ZeroDivisionError
        ("PolynomialLR", {"total_iters": 3.5, "power": 2.0}),  # stops at 1 - 3 / 3.5
        ("PolynomialLR", {"total_iters": 0}),  # never changes
        ("StepLR", {"step_size": 2.5, "gamma": 0.5}),  # k % 2.5 == 0 at multiples of 5 only
        ("StepLR", {"step_size": -3, "gamma": 0.5}),  # closed form grows; stepped decays every 3
        ("MultiStepLR", {"milestones": [-2, 0, 2.5, 3, 3], "gamma": 0.5}),  # 0 at step 0, 3 twice
    ]
    for name, params in cases:
        steps = 12
        np.testing.assert_allclose(
            trajectory(name, params, steps, 0.5), torch_lrs(name, params, steps, 0.5), rtol=1e-15, err_msg=name
        )


def test_sequential_lr_restarts_each_child_from_its_closed_form_at_its_milestone():
    # torch sets the child to its closed form at step 0 (not its stepped value): ConstantLR with total_iters 0 is
    # then the base lr, MultiStepLR counts a negative milestone, PolynomialLR with total_iters < 0 is 0.
    for child in (
        ("ConstantLR", {"factor": 0.5, "total_iters": 0}),
        ("MultiStepLR", {"milestones": [-4, 2, 3], "gamma": 0.5}),
        ("PolynomialLR", {"total_iters": -3}),
        ("LinearLR", {"start_factor": 0.5, "end_factor": 0.75, "total_iters": -2}),
        ("CosineAnnealingWarmRestarts", {"T_0": 3, "T_mult": 2}),
    ):
        params = {"schedulers": [("StepLR", {"step_size": 2}), child], "milestones": [3]}
        np.testing.assert_allclose(
            trajectory("SequentialLR", params, 20, 2.0), torch_lrs("SequentialLR", params, 20, 2.0), rtol=1e-14
        )


# --------------------------------------------------------------------------------------------------------- sweeps
def test_sweep_takes_per_config_arrays_of_every_numeric_parameter():
    cases = {
        "torch.OneCycleLR": {
            "max_lr": [0.1, 1.0, 2.0],
            "total_steps": [50, 80, 100],
            "pct_start": [0.25, 0.3, 0.5],
            "anneal_strategy": ["cos", "linear", "cos"],
            "div_factor": [10.0, 25.0, 5.0],
        },
        "torch.CyclicLR": {
            "max_lr": [1.0, 2.0, 3.0],
            "step_size_up": [3, 4, 5],
            "mode": ["triangular", "triangular2", "exp_range"],
            "gamma": [1.0, 1.0, 0.99],
        },
        "torch.CosineAnnealingWarmRestarts": {"T_0": [5, 7, 9], "T_mult": [1, 2, 3], "eta_min": [0.0, 0.01, 0.1]},
        "torch.LinearLR": {"start_factor": [0.1, 0.5, 1.0], "total_iters": [3, 10, 0]},
        "torch.StepLR": {"step_size": [2, 3, 4], "gamma": [0.5, 0.9, 1.1]},
        "torch.PolynomialLR": {"total_iters": [5, 10, 20], "power": [0.5, 1.0, 2.0]},
    }
    fixed = {"torch.CyclicLR": {"base_lr": 0.05}}
    base_lrs = np.array([0.5, 1.0, 2.0])
    for name, params in cases.items():
        schedule = fastsched.schedule(name, **fixed.get(name, {}), **params)
        table = fastsched.sweep(schedule, 120, base_lr=base_lrs)
        for i in range(3):
            one = {key: value[i] for key, value in params.items()}
            row = fastsched.trajectory(fastsched.schedule(name, **fixed.get(name, {}), **one), 120, base_lr=base_lrs[i])
            np.testing.assert_allclose(table[i], row, rtol=1e-13, atol=1e-15, err_msg=name)


def test_sweep_of_compositions_with_per_config_children():
    sequential = {
        "schedule": "torch.SequentialLR",
        "schedulers": [
            {"schedule": "torch.LinearLR", "start_factor": [0.1, 0.2], "total_iters": 5},
            {"schedule": "torch.ExponentialLR", "gamma": [0.9, 0.95]},
        ],
        "milestones": [5],
    }
    chained = {
        "schedule": "torch.ChainedScheduler",
        "schedulers": [
            {"schedule": "torch.ConstantLR", "factor": [0.1, 0.5], "total_iters": 3},
            {"schedule": "torch.ExponentialLR", "gamma": [0.9, 0.95]},
        ],
    }
    for composition in (sequential, chained):
        table = fastsched.sweep(composition, 30, base_lr=0.1)
        for i in range(2):
            children = [
                (
                    child["schedule"].removeprefix("torch."),
                    {k: v[i] if isinstance(v, list) else v for k, v in child.items() if k != "schedule"},
                )
                for child in composition["schedulers"]
            ]
            params = {"schedulers": children} | ({"milestones": [5]} if "milestones" in composition else {})
            home = torch_lrs(composition["schedule"].removeprefix("torch."), params, 30, 0.1)
            assert_close(table[i], home, 1e-14)


# ------------------------------------------------------------------------------------------------------- refusals
def torch_raises(name: str, params: dict[str, Any], steps: int) -> type[BaseException]:
    """The exception torch raises building or stepping the scheduler within `steps` steps."""
    try:
        torch_lrs(name, params, steps, errors="raise")
    except Exception as error:  # any: the test compares it
        return type(error)
    raise AssertionError(f"torch computed {name} {params}")


@pytest.mark.parametrize(
    ("name", "params", "message"),
    [
        ("ConstantLR", {"factor": 1.5}, "Constant multiplicative factor expected to be between 0 and 1."),
        ("LinearLR", {"start_factor": 0.0}, "Starting multiplicative factor expected to be greater than 0"),
        ("LinearLR", {"end_factor": 1.5}, "Ending multiplicative factor expected to be between 0 and 1."),
        ("CosineAnnealingWarmRestarts", {"T_0": 0}, "Expected positive integer T_0, but got 0"),
        ("CosineAnnealingWarmRestarts", {"T_0": 2.5}, "Expected positive integer T_0, but got 2.5"),
        ("CosineAnnealingWarmRestarts", {"T_0": 5, "T_mult": 0}, "Expected integer T_mult >= 1, but got 0"),
        ("OneCycleLR", {"max_lr": 1.0}, "You must define either total_steps OR (epochs AND steps_per_epoch)"),
        ("OneCycleLR", {"max_lr": 1.0, "total_steps": 0}, "Expected positive integer total_steps, but got 0"),
        (
            "OneCycleLR",
            {"max_lr": 1.0, "epochs": 2.5, "steps_per_epoch": 3},
            "Expected positive integer epochs, but got",
        ),
        ("OneCycleLR", {"max_lr": 1.0, "epochs": 2, "steps_per_epoch": 0}, "Expected positive integer steps_per_epoch"),
        (
            "OneCycleLR",
            {"max_lr": 1.0, "total_steps": 10, "pct_start": 1.5},
            "Expected float between 0 and 1 pct_start",
        ),
    ],
)
def test_torch_refusals_with_torch_messages(name: str, params: dict[str, Any], message: str):
    with pytest.raises(ValueError) as ours:
        fastsched.schedule(f"torch.{name}", **params).build(_context())
    assert message in str(ours.value)
    with pytest.raises(ValueError) as theirs:
        torch_lrs(name, params, 2, errors="raise")
    assert message in str(theirs.value)


@pytest.mark.parametrize(
    ("name", "params", "named"),
    [
        ("ConstantLR", {"factor": 0.0, "total_iters": 3}, "`factor`"),
        ("StepLR", {"step_size": 0}, "`step_size`"),
        ("PolynomialLR", {"total_iters": 3, "power": -1.0}, "`power`"),
        ("CosineAnnealingLR", {"T_max": 0}, "`T_max`"),
        ("OneCycleLR", {"max_lr": 1.0, "total_steps": 10, "pct_start": 0.1}, "`pct_start`"),  # first phase at 0
        ("OneCycleLR", {"max_lr": 1.0, "total_steps": 10, "pct_start": 1.0}, "`pct_start`"),  # last phase of 0
        ("OneCycleLR", {"max_lr": 1.0, "total_steps": 10, "div_factor": 0.0}, "`div_factor`"),
        ("CyclicLR", {"base_lr": 0.1, "max_lr": 1.0, "step_size_up": 0}, "`step_size_up`"),
        (
            "SequentialLR",
            {"schedulers": [("StepLR", {"step_size": 2}), ("LinearLR", {"total_iters": 0})], "milestones": [3]},
            "`total_iters`",
        ),
    ],
)
def test_what_torch_divides_by_zero_at_is_refused_up_front_naming_the_parameter(
    name: str, params: dict[str, Any], named: str
):
    assert torch_raises(name, params, 12) is ZeroDivisionError
    with pytest.raises(ValueError, match=named):
        trajectory(name, params, 12, 1.0)


def test_a_division_by_zero_no_step_reaches_is_computed():
    # In a SequentialLR, ConstantLR's 1 / factor at step total_iters is never reached before the next milestone.
    params = {
        "schedulers": [("ConstantLR", {"factor": 0.0, "total_iters": 5}), ("ExponentialLR", {"gamma": 0.5})],
        "milestones": [5],
    }
    np.testing.assert_array_equal(trajectory("SequentialLR", params, 8, 1.0), torch_lrs("SequentialLR", params, 8))


def test_compositions_fastsched_cannot_compute_are_refused_naming_why():
    refusals = {
        "ChainedScheduler": [
            (
                {"schedulers": [("LinearLR", {}), ("ExponentialLR", {"gamma": 0.9})]},
                "LinearLR and ExponentialLR both change from step 0 to step 4",
            ),
            ({"schedulers": [("StepLR", {"step_size": 3}), ("CosineAnnealingLR", {"T_max": 10})]}, "CosineAnnealingLR"),
            (
                {"schedulers": [("StepLR", {"step_size": 3}), ("OneCycleLR", {"max_lr": 1.0, "total_steps": 9})]},
                "discarding the other schedulers' factors",
            ),
        ],
        "SequentialLR": [
            (
                {"schedulers": [("LinearLR", {}), ("CyclicLR", {"base_lr": 0.1, "max_lr": 1.0})], "milestones": [5]},
                "CyclicLR, which sets the group's lr",
            ),
            (
                {"schedulers": [("LinearLR", {}), ("ExponentialLR", {"gamma": 0.9})], "milestones": [5, 6]},
                "Sequential Schedulers expects number of schedulers provided to be one more",
            ),
            (
                {"schedulers": [("LinearLR", {}), ("ExponentialLR", {"gamma": 0.9})], "milestones": [0]},
                "`milestones` must be whole steps, increasing from above 0",
            ),
        ],
    }
    for name, cases in refusals.items():
        for params, message in cases:
            with pytest.raises(ValueError, match=message):
                trajectory(name, params, 10, 1.0)
    with pytest.raises(ValueError, match="expects at least one scheduler"):
        trajectory("ChainedScheduler", {"schedulers": []}, 10, 1.0)
    with pytest.raises(TypeError, match=r"`schedulers\[0\]` must be a torch schedule"):
        fastsched.trajectory({"schedule": "torch.ChainedScheduler", "schedulers": ["constant"]}, 10)


def test_absolute_schedules_need_a_positive_base_lr_and_eta_min_one_where_it_is_given():
    for name, params in (
        ("OneCycleLR", {"max_lr": 1.0, "total_steps": 10}),
        ("CyclicLR", {"base_lr": 0.1, "max_lr": 1.0}),
    ):
        with pytest.raises(ValueError, match=f"`base_lr` must be positive for torch.{name}"):
            trajectory(name, params, 10, 0.0)
    with pytest.raises(ValueError, match="`base_lr` must be positive where `eta_min`"):
        trajectory("CosineAnnealingLR", {"T_max": 10, "eta_min": 0.1}, 10, 0.0)
    np.testing.assert_array_equal(trajectory("CosineAnnealingLR", {"T_max": 10}, 10, 0.0), 0.0)


def test_unsupported_options_are_refused_naming_them():
    with pytest.raises(TypeError, match="unexpected keyword argument `scale_fn`"):
        fastsched.schedule("torch.CyclicLR", base_lr=0.1, max_lr=1.0, scale_fn=lambda x: 1.0)
    with pytest.raises(TypeError, match="unexpected keyword argument `last_epoch`"):
        fastsched.schedule("torch.StepLR", step_size=3, last_epoch=4)


def test_presets_are_schedules_everywhere_a_name_is():
    spec = {
        "schedule": "torch.SequentialLR",
        "schedulers": [
            {"schedule": "torch.LinearLR", "start_factor": 0.1, "total_iters": 5},
            {"schedule": "torch.ExponentialLR", "gamma": 0.9},
        ],
        "milestones": [5],
    }
    sequential = fastsched.schedule(spec)
    assert sequential.to_spec() == spec and pickle.loads(pickle.dumps(sequential)) == sequential
    np.testing.assert_allclose(fastsched.multipliers(sequential, [0, 4, 5, 6]), [0.1, 0.82, 1.0, 0.9], rtol=1e-15)
    # in fastsched's compositions: a warmup up to ExponentialLR's step 0, then ExponentialLR from its own step 0
    warmed = fastsched.warmup(fastsched.schedule("torch.ExponentialLR", gamma=0.9), 4)
    np.testing.assert_allclose(fastsched.multipliers(warmed, [0, 2, 4, 5]), [0.0, 0.5, 1.0, 0.9], rtol=1e-15)
    np.testing.assert_array_equal(fastsched.multipliers("torch.StepLR", [0, 5, 6], step_size=3), [1.0, 0.1, 0.1**2])


# ------------------------------------------------------------------------------------------------------ registry
def test_presets_have_torch_parameter_names_and_defaults():
    for name in (*torch_presets.RELATIVE, *torch_presets.ABSOLUTE, *torch_presets.COMPOSITIONS):
        preset = registry.get_preset(f"torch.{name}")
        assert preset.library == "torch"
        signature = inspect.signature(getattr(torch.optim.lr_scheduler, name))
        expected = {
            key: (registry.REQUIRED if p.default is inspect.Parameter.empty else p.default)
            for key, p in signature.parameters.items()
            if key not in ("optimizer", "last_epoch", "scale_fn")  # scale_fn is a callable: no preset takes one
        }
        declared = {p.name: p.default for p in preset.parameters}
        assert declared == expected, name
    assert {
        f"torch.{name}" for name in torch_presets.RELATIVE + torch_presets.ABSOLUTE + torch_presets.COMPOSITIONS
    } == set(registry.preset_names("torch"))


def test_command_line_lists_plots_and_diffs_torch_presets(capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("COLUMNS", "80")
    listing = run(capsys, "list", "torch")
    assert_success(listing)
    assert "== torch: 12 schedules ==" in listing.out and "torch.OneCycleLR: " in listing.out
    assert_success(run(capsys, "plot", "torch.OneCycleLR", "--max-lr", "1e-3", "--total-steps", "1000"))
    same = run(
        capsys,
        "diff",
        "torch.StepLR",
        "--step-size",
        "10",
        "torch.MultiStepLR",
        "--milestones",
        "10:20",
        "--num-steps",
        "20",
    )
    assert_success(same)
    assert "identical" in same.out


def _context() -> Any:
    from fastsched.schedules import Context

    return Context(1, 1.0, lambda schedule, step: math.nan)
