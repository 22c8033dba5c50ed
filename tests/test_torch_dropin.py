"""fastsched.torch's drop-in classes stepped side by side with torch's own: the same lrs (within torch's recursion
drift, the tolerances of test_presets_torch), momentums, state_dict keys and values, errors and warnings; isinstance
of torch's class; step() a table lookup (torch's get_lr not called) wherever that gives torch's values."""

from __future__ import annotations

import copy
import inspect
import math
import pickle
import warnings
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
import torch
from home_libraries import TORCH_SCHEDULERS
from home_strategies import HomeConfig, torch_configs
from hypothesis import HealthCheck, given, settings
from test_presets_torch import CLOSED_FORM_TOLERANCE, computable_chains, stepped_tolerance

import fastsched
import fastsched.torch as drop_in

torch_schedulers = torch.optim.lr_scheduler
BASE_CLASSES = TORCH_SCHEDULERS[:-2]  # all but the compositions, SequentialLR and ChainedScheduler
hypothesis_settings = settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def optimizer(lrs: tuple[float, ...] = (1.0, 0.25), kind: str = "sgd") -> torch.optim.Optimizer:
    groups = [{"params": [torch.zeros(1, requires_grad=True)], "lr": lr} for lr in lrs]
    if kind == "adam":
        return torch.optim.Adam(groups, lr=lrs[0])
    return torch.optim.SGD(groups, lr=lrs[0], momentum=0.9)


def pair(name: str, params: dict[str, Any], lrs: tuple[float, ...] = (1.0, 0.25), kind: str = "sgd") -> tuple:
    """torch's scheduler and fastsched's, each on its own optimizer of the same groups."""
    theirs_optimizer, ours_optimizer = optimizer(lrs, kind), optimizer(lrs, kind)
    theirs = getattr(torch_schedulers, name)(theirs_optimizer, **params)
    ours = getattr(drop_in, name)(ours_optimizer, **params)
    return theirs, ours


def step_both(theirs: Any, ours: Any, steps: int, tolerance: float) -> None:
    """optimizer.step(); scheduler.step() on both, comparing every group's lr (and momentum) after each."""
    for _ in range(steps):
        for scheduler in (theirs, ours):
            scheduler.optimizer.step()
            scheduler.step()
        assert_same_groups(theirs.optimizer, ours.optimizer, tolerance, eta_min(theirs))


def eta_min(scheduler: Any) -> float:
    """The largest |eta_min| of the scheduler and its children (a scale of their lrs)."""
    children = getattr(scheduler, "_schedulers", [])
    return max([abs(getattr(scheduler, "eta_min", 0.0)), *(eta_min(child) for child in children)])


def assert_same_groups(
    theirs: torch.optim.Optimizer, ours: torch.optim.Optimizer, tolerance: float, eta_min: float = 0.0
) -> None:
    """Every group's lr within `tolerance` x its schedule's scale (its initial lr, or eta_min where larger)."""
    for their_group, our_group in zip(theirs.param_groups, ours.param_groups, strict=True):
        initial_lr = float(their_group.get("initial_lr", their_group["lr"]))
        scale = max(abs(initial_lr), abs(float(their_group["lr"])), abs(eta_min), 1e-300)
        assert abs(float(our_group["lr"]) - float(their_group["lr"])) <= tolerance * scale
        assert our_group.get("momentum") == their_group.get("momentum")  # cycled momentums: torch's floats
        assert our_group.get("betas") == their_group.get("betas")


def assert_same_state(theirs: dict[str, Any], ours: dict[str, Any], tolerance: float) -> None:
    """The same keys and values; the lrs (`_last_lr`) within `tolerance` of the schedule's scale."""
    assert ours.keys() == theirs.keys()
    scale = max(
        map(
            abs,
            [
                *theirs.get("base_lrs", [1.0]),
                theirs.get("eta_min", 0.0),
                *theirs.get("max_lrs", []),
                *theirs.get("_last_lr", []),
            ],
        )
    )
    for key, value in theirs.items():
        if key == "_last_lr":
            np.testing.assert_allclose(ours[key], value, rtol=0, atol=tolerance * scale)
        elif key == "_schedulers":
            for their_child, our_child in zip(value, ours[key], strict=True):
                assert_same_state(their_child, our_child, tolerance)
        else:
            assert ours[key] == value, key


def never_called(name: str) -> Callable[..., Any]:
    def fail(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError(f"{name} was called: the step was not a table lookup")

    return fail


# ------------------------------------------------------------------------------------------ side by side with torch
@pytest.mark.parametrize("name", BASE_CLASSES)
def test_each_class_steps_as_torch_steps(name: str):
    @hypothesis_settings
    @given(torch_configs(name))
    def same(config: HomeConfig):
        params = config.params
        theirs, ours = pair(name, params, (config.base_lr, config.base_lr / 4))
        assert isinstance(ours, getattr(torch_schedulers, name))
        tolerance = max(stepped_tolerance(name, params, 3 * config.length), CLOSED_FORM_TOLERANCE)
        assert_same_groups(theirs.optimizer, ours.optimizer, tolerance)  # the constructor's step
        steps = config.length if name == "OneCycleLR" else 3 * config.length
        step_both(theirs, ours, steps, tolerance)
        assert_same_state(theirs.state_dict(), ours.state_dict(), tolerance)

    same()


@pytest.mark.parametrize("name", BASE_CLASSES)
def test_step_is_a_table_lookup(name: str, monkeypatch: pytest.MonkeyPatch):
    params = {
        "ConstantLR": {},
        "LinearLR": {},
        "StepLR": {"step_size": 3},
        "MultiStepLR": {"milestones": [2, 4]},
        "ExponentialLR": {"gamma": 0.9},
        "PolynomialLR": {},
        "CosineAnnealingLR": {"T_max": 5, "eta_min": 0.01},
        "CosineAnnealingWarmRestarts": {"T_0": 3, "T_mult": 2},
        "OneCycleLR": {"max_lr": 1.0, "total_steps": 20},
        "CyclicLR": {"base_lr": 0.1, "max_lr": 1.0, "step_size_up": 3},
    }[name]
    theirs, ours = pair(name, params)
    monkeypatch.setattr(type(ours), "get_lr", never_called("get_lr"))
    monkeypatch.setattr(type(ours), "_update_lr", never_called("_update_lr"))
    step_both(theirs, ours, 19, stepped_tolerance(name, params, 19) if name in ("CosineAnnealingLR",) else 1e-12)


def test_momentum_and_betas_are_cycled_as_torch_cycles_them():
    for kind in ("sgd", "adam"):
        theirs, ours = pair("OneCycleLR", {"max_lr": [1.0, 2.0], "total_steps": 30, "three_phase": True}, kind=kind)
        step_both(theirs, ours, 30, 0.0)  # torch's floats bit for bit
        params = {
            "base_lr": [0.1, 0.2],
            "max_lr": 1.0,
            "step_size_up": 4,
            "mode": "exp_range",
            "gamma": 0.99,
            "base_momentum": [0.7, 0.75],
        }
        theirs, ours = pair("CyclicLR", params, kind=kind)
        step_both(theirs, ours, 40, 0.0)


def test_per_group_lists_of_lrs():
    theirs, ours = pair("OneCycleLR", {"max_lr": [1.0, 3.0, 0.5], "total_steps": 25}, lrs=(1.0, 1.0, 1.0))
    step_both(theirs, ours, 25, 0.0)
    theirs, ours = pair("CyclicLR", {"base_lr": [0.1, 0.2, 0.3], "max_lr": [1.0, 2.0, 3.0]}, lrs=(1.0, 1.0, 1.0))
    step_both(theirs, ours, 50, 0.0)
    with pytest.raises(ValueError, match=r"max_lr must have the same length as optimizer\.param_groups"):
        drop_in.OneCycleLR(optimizer(), max_lr=[1.0, 2.0, 3.0], total_steps=10)


def test_one_cycle_raises_past_total_steps_as_torch_does():
    theirs, ours = pair("OneCycleLR", {"max_lr": 1.0, "total_steps": 10})
    step_both(theirs, ours, 10, 0.0)  # step 10, total_steps, is torch's extrapolation
    for scheduler in (theirs, ours):
        with pytest.raises(ValueError, match=r"Tried to step 11 times\. The specified number of total steps is 10"):
            scheduler.step()
    assert_same_state(theirs.state_dict(), ours.state_dict(), 0.0)  # torch's half-updated state, both


def test_a_custom_scale_fn_is_called_as_torch_calls_it():
    def halving(cycle: float) -> float:
        return 0.5 ** (cycle - 1)

    params = {"base_lr": 0.1, "max_lr": 1.0, "step_size_up": 3, "scale_fn": halving, "scale_mode": "cycle"}
    theirs, ours = pair("CyclicLR", params)
    calls = []
    params["scale_fn"] = lambda cycle: calls.append(cycle) or halving(cycle)
    counted = drop_in.CyclicLR(optimizer(), **params)
    step_both(theirs, ours, 20, 0.0)
    counted.optimizer.step()
    counted.step()
    assert calls  # torch's get_lr, calling the user's function


def test_signatures_and_docs_are_torchs():
    for name in (*BASE_CLASSES, "SequentialLR", "ChainedScheduler"):
        ours, theirs = getattr(drop_in, name), getattr(torch_schedulers, name)
        assert inspect.signature(ours) == inspect.signature(theirs)
        assert issubclass(ours, theirs) and theirs.__doc__ in ours.__doc__


# ---------------------------------------------------------------------------------------------------- state dicts
@pytest.mark.parametrize(
    ("name", "params"),
    [
        ("StepLR", {"step_size": 4, "gamma": 0.5}),
        ("CosineAnnealingLR", {"T_max": 12, "eta_min": 0.01}),
        ("CosineAnnealingWarmRestarts", {"T_0": 3, "T_mult": 2}),
        ("OneCycleLR", {"max_lr": 1.0, "total_steps": 40}),
        ("CyclicLR", {"base_lr": 0.1, "max_lr": 1.0, "step_size_up": 5}),
    ],
)
def test_state_dicts_load_both_ways(name: str, params: dict[str, Any]):
    tolerance = 1e-12
    theirs, ours = pair(name, params)
    step_both(theirs, ours, 7, tolerance)
    # torch's state into fastsched's scheduler (and its optimizer's), and the other way, then both continue
    fresh_theirs, fresh_ours = pair(name, params)
    fresh_ours.optimizer.load_state_dict(theirs.optimizer.state_dict())
    fresh_ours.load_state_dict(theirs.state_dict())
    fresh_theirs.optimizer.load_state_dict(ours.optimizer.state_dict())
    fresh_theirs.load_state_dict(ours.state_dict())
    assert_same_state(fresh_theirs.state_dict(), fresh_ours.state_dict(), tolerance)
    step_both(theirs, fresh_ours, 20, tolerance)  # torch's, and fastsched's continuing from torch's state
    step_both(fresh_theirs, ours, 20, tolerance)  # torch's continuing from fastsched's state, and fastsched's
    loaded = torch.load(_saved(ours.state_dict()), weights_only=True)
    assert loaded.keys() == theirs.state_dict().keys()


def _saved(state: dict[str, Any]) -> Any:
    import io

    buffer = io.BytesIO()
    torch.save(state, buffer)
    buffer.seek(0)
    return buffer


def test_resume_with_last_epoch_follows_torch():
    for name, params in (
        ("ExponentialLR", {"gamma": 0.9}),
        ("OneCycleLR", {"max_lr": 1.0, "total_steps": 30}),
        ("CosineAnnealingWarmRestarts", {"T_0": 4, "T_mult": 2}),
    ):
        theirs, ours = pair(name, params)
        step_both(theirs, ours, 5, 1e-12)
        resumed = []
        for module, scheduler in ((torch_schedulers, theirs), (drop_in, ours)):
            resumed_optimizer = optimizer()
            resumed_optimizer.load_state_dict(scheduler.optimizer.state_dict())  # initial_lr, lr, max_lr, ...
            resumed.append(getattr(module, name)(resumed_optimizer, **params, last_epoch=scheduler.last_epoch))
        assert_same_state(resumed[0].state_dict(), resumed[1].state_dict(), 1e-12)
        step_both(*resumed, 10, 1e-12)


def test_a_lr_set_by_hand_is_stepped_from_as_torch_does():
    theirs, ours = pair("ExponentialLR", {"gamma": 0.5})
    step_both(theirs, ours, 3, 1e-15)
    for scheduler in (theirs, ours):
        scheduler.optimizer.param_groups[0]["lr"] = 10.0  # torch's recursion continues from it
    step_both(theirs, ours, 3, 1e-15)
    assert ours.optimizer.param_groups[0]["lr"] == pytest.approx(10.0 * 0.5**3, rel=1e-15)


def test_tensor_lrs_are_filled_in_place():
    # float32: torch's recursion rounds to float32 at every step, fastsched's closed form once
    for name, params, dtype, tolerance in (
        ("ExponentialLR", {"gamma": 0.9}, torch.float64, 1e-14),
        ("ExponentialLR", {"gamma": 0.9}, torch.float32, 5e-6),
        ("OneCycleLR", {"max_lr": 1.0, "total_steps": 20}, torch.float32, 0.0),
    ):
        schedulers, tensors = [], []
        for module in (torch_schedulers, drop_in):
            lr = torch.tensor(0.5, dtype=dtype)
            opt = torch.optim.SGD([{"params": [torch.zeros(1, requires_grad=True)], "lr": lr}], momentum=0.9)
            schedulers.append(getattr(module, name)(opt, **params))
            tensors.append(lr)
        ours = schedulers[1]
        for _ in range(20):
            for scheduler in schedulers:
                scheduler.optimizer.step()
                scheduler.step()
            assert ours.optimizer.param_groups[0]["lr"] is tensors[1]  # the same tensor, filled
            assert tensors[1].item() == pytest.approx(tensors[0].item(), rel=tolerance, abs=1e-300)
            assert isinstance(ours.get_last_lr()[0], torch.Tensor) and ours.get_last_lr()[0] is not tensors[1]


def test_a_tensor_lr_the_lookup_wrote_is_not_read_back_and_one_changed_by_hand_is(monkeypatch):
    """Reading a GPU tensor's value is a device sync: the lookup knows its own writes by the tensor's version."""
    theirs, ours = pair("ExponentialLR", {"gamma": 0.5}, lrs=(1.0,))
    for scheduler in (theirs, ours):
        scheduler.optimizer.param_groups[0]["lr"] = torch.tensor(1.0, dtype=torch.float64)
    step_both(theirs, ours, 2, 1e-15)  # the first lookup reads the tensor torch's steps left

    def no_read_back(*args: Any) -> Any:
        raise AssertionError("the lookup read a tensor lr back")

    with monkeypatch.context() as patched:
        patched.setattr(torch.Tensor, "item", no_read_back)
        for _ in range(3):
            ours.optimizer.step()
            ours.step()
    assert ours.optimizer.param_groups[0]["lr"].item() == 0.5**5

    theirs, ours = pair("ExponentialLR", {"gamma": 0.5}, lrs=(1.0,))
    for scheduler in (theirs, ours):
        scheduler.optimizer.param_groups[0]["lr"] = torch.tensor(1.0, dtype=torch.float64)
    step_both(theirs, ours, 2, 1e-15)
    for scheduler in (theirs, ours):
        scheduler.optimizer.param_groups[0]["lr"].mul_(10.0)  # in place: the same tensor, another value
    step_both(theirs, ours, 2, 1e-15)  # torch's recursion continues from it, and so does ours
    assert ours.optimizer.param_groups[0]["lr"].item() == pytest.approx(10.0 * 0.5**4, rel=1e-15)


# ------------------------------------------------------------------------------------------ errors and warnings
@pytest.mark.parametrize(
    ("name", "params"),
    [
        ("ConstantLR", {"factor": 1.5}),
        ("LinearLR", {"start_factor": 0.0}),
        ("LinearLR", {"end_factor": -0.5}),
        ("CosineAnnealingWarmRestarts", {"T_0": 0}),
        ("CosineAnnealingWarmRestarts", {"T_0": 2.0}),
        ("CosineAnnealingWarmRestarts", {"T_0": 2, "T_mult": 1.5}),
        ("CosineAnnealingWarmRestarts", {"T_0": 2, "eta_min": "0"}),
        ("OneCycleLR", {"max_lr": 1.0}),
        ("OneCycleLR", {"max_lr": 1.0, "total_steps": 10.0}),
        ("OneCycleLR", {"max_lr": 1.0, "epochs": 0, "steps_per_epoch": 3}),
        ("OneCycleLR", {"max_lr": 1.0, "total_steps": 10, "pct_start": 1}),
        ("OneCycleLR", {"max_lr": 1.0, "total_steps": 10, "anneal_strategy": "exp"}),
        ("OneCycleLR", {"max_lr": 1.0, "total_steps": 10, "pct_start": 0.1}),  # 0 / 0 at construction
        ("CyclicLR", {"base_lr": 0.1, "max_lr": 1.0, "mode": "sine"}),
        ("CyclicLR", {"base_lr": 0.1, "max_lr": 1.0, "step_size_up": 0, "step_size_down": 0}),
    ],
)
def test_constructor_errors_are_torch_errors(name: str, params: dict[str, Any]):
    errors = []
    for module in (torch_schedulers, drop_in):
        with pytest.raises(Exception) as raised:  # any: compared below
            getattr(module, name)(optimizer(), **params)
        errors.append(raised.value)
    assert type(errors[1]) is type(errors[0]) and str(errors[1]) == str(errors[0])


def test_momentum_cycling_needs_an_optimizer_with_momentum_as_in_torch():
    for module in (torch_schedulers, drop_in):
        without_momentum = torch.optim.Adagrad([torch.zeros(1, requires_grad=True)], lr=1.0)
        with pytest.raises(ValueError, match="optimizer must support momentum or beta1 with `cycle_momentum`"):
            module.OneCycleLR(without_momentum, max_lr=1.0, total_steps=5)
        module.OneCycleLR(without_momentum, max_lr=1.0, total_steps=5, cycle_momentum=False)


def test_errors_part_way_are_torch_errors():
    # a step torch divides by zero at: fastsched's segments refuse the config, so torch's steps run and raise there
    for name, params, steps in (
        ("ConstantLR", {"factor": 0.0, "total_iters": 3}, 3),
        ("StepLR", {"step_size": 0}, 1),
        ("OneCycleLR", {"max_lr": 1.0, "total_steps": 10, "pct_start": 1.0}, 10),
    ):
        raised = []
        for scheduler in pair(name, params):
            with warnings.catch_warnings(), pytest.raises(ZeroDivisionError) as error:
                warnings.simplefilter("ignore")  # (no optimizer.step(): torch's advice about the call order)
                for _ in range(steps):
                    scheduler.step()
            raised.append((str(error.value), scheduler.last_epoch, scheduler._step_count))
        assert raised[0] == raised[1]


def test_warnings_point_at_the_callers_line():
    _, ours = pair("StepLR", {"step_size": 2})
    with pytest.warns(UserWarning, match="Detected call of `lr_scheduler.step\\(\\)` before") as caught:
        ours.step()
    assert caught[0].filename == __file__
    ours.optimizer.step()
    with pytest.warns(UserWarning, match="The epoch parameter in `scheduler.step\\(\\)`") as caught:
        ours.step(5)  # the deprecated step(epoch): torch's closed form at 5
    assert caught[0].filename == __file__ and caught[0].lineno == _line_of("ours.step(5)")
    assert ours.last_epoch == 5 and ours.optimizer.param_groups[0]["lr"] == pytest.approx(0.01)
    ours.step()  # and on from there: torch's recursion from its closed form, then lookups
    assert ours.optimizer.param_groups[0]["lr"] == pytest.approx(0.001)
    with pytest.warns(UserWarning, match="please use `get_last_lr\\(\\)`"):
        ours.get_lr()


def _line_of(text: str) -> int:
    import inspect

    lines, first = inspect.getsourcelines(test_warnings_point_at_the_callers_line)
    return first + next(i for i, line in enumerate(lines) if text in line)


# ------------------------------------------------------------------------------------------------ compositions
def composition(module: Any, config: HomeConfig, lrs: tuple[float, ...]) -> Any:
    """module's SequentialLR or ChainedScheduler of config's children, each of module's classes."""
    opt = optimizer(lrs)
    children = [getattr(module, child)(opt, **params) for child, params in config.params["schedulers"]]
    if config.name == "SequentialLR":
        return module.SequentialLR(opt, children, milestones=config.params["milestones"])
    return module.ChainedScheduler(children, optimizer=opt)


@pytest.mark.parametrize(
    "strategy", [torch_configs("SequentialLR"), torch_configs("ChainedScheduler"), computable_chains()]
)
def test_compositions_of_fastsched_children_step_as_torchs(strategy: Any):
    @hypothesis_settings
    @given(strategy)
    def same(config: HomeConfig):
        lrs = (config.base_lr, config.base_lr / 4)
        theirs, ours = composition(torch_schedulers, config, lrs), composition(drop_in, config, lrs)
        assert isinstance(ours, getattr(torch_schedulers, config.name))
        tolerance = max(stepped_tolerance(config.name, config.params, 3 * config.length), CLOSED_FORM_TOLERANCE)
        assert_same_groups(theirs.optimizer, ours.optimizer, tolerance, eta_min(theirs))
        step_both(theirs, ours, 3 * config.length, tolerance)
        assert_same_state(theirs.state_dict(), ours.state_dict(), tolerance)

    same()


def test_sequential_lr_of_fastsched_children_steps_as_torch():
    schedulers = []
    for module in (torch_schedulers, drop_in):
        opt = optimizer()
        children = [module.LinearLR(opt, start_factor=0.1, total_iters=5), module.ExponentialLR(opt, gamma=0.9)]
        schedulers.append(module.SequentialLR(opt, children, milestones=[5]))
    assert isinstance(schedulers[1], torch_schedulers.SequentialLR)
    step_both(*schedulers, 30, 1e-13)
    assert_same_state(schedulers[0].state_dict(), schedulers[1].state_dict(), 1e-13)


def test_chained_scheduler_steps_its_children_in_one_lookup(monkeypatch: pytest.MonkeyPatch):
    schedulers = []
    for module in (torch_schedulers, drop_in):
        opt = optimizer()
        children = [
            module.ConstantLR(opt, factor=0.5, total_iters=4),
            module.ExponentialLR(opt, gamma=0.9),
            module.MultiStepLR(opt, milestones=[6, 9], gamma=0.5),
        ]
        schedulers.append(module.ChainedScheduler(children, optimizer=opt))
    theirs, ours = schedulers
    assert isinstance(ours, torch_schedulers.ChainedScheduler)
    step_both(theirs, ours, 1, 1e-14)  # the children's first steps: torch's (they warn of the call order)
    for child in ours._schedulers:
        monkeypatch.setattr(type(child), "step", never_called(f"{type(child).__name__}.step"))
    step_both(theirs, ours, 30, 1e-14)
    assert_same_state(theirs.state_dict(), ours.state_dict(), 1e-14)


def test_chained_scheduler_whose_product_is_no_segment_is_torchs():
    schedulers = []
    for module in (torch_schedulers, drop_in):
        opt = optimizer()
        children = [module.LinearLR(opt, start_factor=0.1, total_iters=8), module.ExponentialLR(opt, gamma=0.9)]
        schedulers.append(module.ChainedScheduler(children, optimizer=opt))
    step_both(*schedulers, 30, 1e-14)
    assert_same_state(schedulers[0].state_dict(), schedulers[1].state_dict(), 1e-14)


# ----------------------------------------------------------------------------------------- copies, the device
def test_copies_and_pickles_are_schedulers_of_their_own():
    _, ours = pair("CosineAnnealingLR", {"T_max": 10})
    ours.optimizer.step()
    ours.step()
    for copied in (copy.deepcopy(ours), pickle.loads(pickle.dumps(ours))):
        copied.optimizer.step()
        copied.step()
        assert copied.last_epoch == 2 and copied.state_dict().keys() == ours.state_dict().keys()
        assert copied.optimizer.param_groups[0]["lr"] == pytest.approx(0.5 * (1 + math.cos(math.pi * 2 / 10)))


def test_cuda_scheduler_takes_torch_presets_on_cpu_tensors():
    """The CUDA-graph capturable scheduler through the registry (its logic runs on any device: here the CPU). Its
    lrs are initial_lr x the preset's values, which are OneCycleLR's absolute lrs / the optimizer's lr: right for
    groups that share one lr; groups of different lrs are refused, pointing to the drop-in class."""
    opt = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=0.5)
    scheduler = fastsched.CudaScheduler(
        opt, "torch.OneCycleLR", max_lr=1.0, total_steps=50, device="cpu", lr_dtype=torch.float64
    )
    theirs, _ = pair("OneCycleLR", {"max_lr": 1.0, "total_steps": 50, "cycle_momentum": False}, lrs=(0.5,))
    for _ in range(50):
        assert opt.param_groups[0]["lr"].item() == pytest.approx(theirs.get_last_lr()[0], rel=1e-12, abs=1e-300)
        scheduler.step()
        theirs.optimizer.step()
        theirs.step()
    scheduler.step()  # past total_steps, where torch raises: the min lr, held
    assert opt.param_groups[0]["lr"].item() == pytest.approx(1.0 / 25 / 1e4, rel=1e-12)


def test_an_absolute_schedule_on_groups_of_different_lrs_points_to_the_drop_in():
    groups = [{"params": [torch.zeros(1, requires_grad=True)]}, {"params": [torch.zeros(1)], "lr": 0.5}]
    one_cycle = {"max_lr": 1.0, "total_steps": 10}
    makers = {
        "TableScheduler": lambda opt: fastsched.TableScheduler(opt, "torch.OneCycleLR", **one_cycle),
        "CudaScheduler in a warmup": lambda opt: fastsched.CudaScheduler(
            opt, fastsched.warmup(fastsched.schedule("torch.CyclicLR", base_lr=0.1, max_lr=1.0), 3), device="cpu"
        ),
    }
    for how, make in makers.items():
        opt = torch.optim.SGD([dict(group) for group in groups], lr=0.1)
        with pytest.raises(ValueError, match=r"different lrs \(0.1, 0.5\): use fastsched.torch.(OneCycle|Cyclic)LR"):
            make(opt)
        assert [(group["lr"], "initial_lr" in group) for group in opt.param_groups] == [(0.1, False), (0.5, False)], how
    same = torch.optim.SGD([{**group, "lr": 0.1} for group in groups], lr=0.1)
    scheduler = fastsched.TableScheduler(same, "torch.OneCycleLR", **one_cycle)  # one lr: torch's values
    assert scheduler.get_last_lr() == pytest.approx([1.0 / 25] * 2, rel=1e-12)
