"""The drop-in torch schedulers against the installed transformers, side by side, step by step.

Every comparison is with transformers' own scheduler (never a re-derived formula): every param group's lr,
every schedule type, well past num_training_steps, counts as transformers takes them (floats, negative values);
the lr_lambdas (partials with transformers' keywords); checkpoints (state_dict, torch.save / weights_only load,
pickle, deepcopy, LambdaLR interchange); LambdaLR's semantics; warnings at the caller's line; errors and their types
and messages; the table object (scheduler_table.ScheduleTable).
"""

from __future__ import annotations

import copy
import enum
import functools
import inspect
import io
import math
import pickle
import sys
import types
import warnings

import numpy as np
import pytest
import torch
import transformers
import transformers.optimization as tf_optimization
from examples import EXAMPLES, SCHEDULE_NAMES
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from strategies import configs, schedule_length
from torch.optim.lr_scheduler import LambdaLR, ReduceLROnPlateau

import fastsched
from fastsched import scheduler_table, torch_schedulers

RELATIVE_TOLERANCE = 1e-15
SECOND_GROUP_SCALE = 0.37  # the second param group's lr relative to the optimizer's default lr

FIXED_CONFIGS = EXAMPLES  # one config per schedule (tests/examples.py)

parity_settings = settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def make_optimizer(base_lr: float = 1e-3, optimizer_class=torch.optim.SGD, **kwargs) -> torch.optim.Optimizer:
    """Two param groups with different lrs: the default one and SECOND_GROUP_SCALE times it."""
    first, second = torch.zeros(3, requires_grad=True), torch.zeros(2, requires_grad=True)
    groups = [{"params": [first]}, {"params": [second], "lr": base_lr * SECOND_GROUP_SCALE}]
    return optimizer_class(groups, lr=base_lr, **kwargs)


def split_params(params: dict) -> tuple[dict, dict]:
    """get_scheduler's top-level arguments and its scheduler_specific_kwargs."""
    top = {key: params[key] for key in ("num_warmup_steps", "num_training_steps") if key in params}
    specific = {key: value for key, value in params.items() if key not in top}
    return top, specific


def build(module, name: str, optimizer, params: dict, last_epoch: int | None = None):
    """module.get_scheduler(name, ...), or with last_epoch, the schedule's own get_* function."""
    top, specific = split_params(params)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # warmup_stable_decay with both T and S warns (both do)
        if last_epoch is None:
            return module.get_scheduler(name, optimizer, scheduler_specific_kwargs=specific, **top)
        function_name = tf_optimization.TYPE_TO_SCHEDULER_FUNCTION[transformers.SchedulerType(name)].__name__
        return getattr(module, function_name)(optimizer, last_epoch=last_epoch, **params)


def group_lrs(optimizer) -> list[float]:
    return [float(group["lr"]) for group in optimizer.param_groups]


def assert_lrs_close(got: list, expected: list, context: object = "") -> None:
    assert len(got) == len(expected), context
    for got_lr, expected_lr in zip(got, expected, strict=True):
        assert math.isclose(float(got_lr), float(expected_lr), rel_tol=RELATIVE_TOLERANCE, abs_tol=0.0), (
            context,
            got,
            expected,
        )


def step_side_by_side(ours, theirs, num_steps: int, context: object = "") -> None:
    """Step both schedulers (after their optimizers) and compare every group's lr and get_last_lr() each step."""
    for step in range(num_steps):
        assert_lrs_close(group_lrs(ours.optimizer), group_lrs(theirs.optimizer), (context, ours.last_epoch))
        assert_lrs_close(ours.get_last_lr(), theirs.get_last_lr(), (context, step))
        assert ours.last_epoch == theirs.last_epoch
        ours.optimizer.step()
        theirs.optimizer.step()
        ours.step()
        theirs.step()


def fresh_pair(name: str, params: dict, base_lr: float = 1e-3):
    ours = build(fastsched, name, make_optimizer(base_lr), params)
    theirs = build(transformers, name, make_optimizer(base_lr), params)
    return ours, theirs


# -- values ------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", SCHEDULE_NAMES)
@parity_settings
@given(data=st.data())
def test_every_group_lr_equals_transformers_every_step_to_3x_the_schedule(name, data):
    _, base_lr, params = data.draw(configs(name))
    if name == "polynomial":  # transformers divides by zero at step T when W == T (fastsched: the end value)
        assume(params["num_warmup_steps"] != params["num_training_steps"])
    ours, theirs = fresh_pair(name, params, base_lr)
    assert isinstance(ours, fastsched.TableScheduler)
    step_side_by_side(ours, theirs, 3 * schedule_length(params) + 5, (name, params))


@pytest.mark.parametrize("name", SCHEDULE_NAMES)
def test_table_growth_and_end_values_match_transformers(monkeypatch, name):
    """A table computed eagerly for only 16 steps and grown 16 at a time still gives transformers' values."""
    monkeypatch.setattr(scheduler_table, "EAGER_TABLE_STEPS", 16)
    monkeypatch.setattr(scheduler_table, "MIN_GROWTH_STEPS", 16)
    ours, theirs = fresh_pair(name, FIXED_CONFIGS[name])
    assert len(ours._table) <= 16
    step_side_by_side(ours, theirs, 300, name)


def test_a_jump_far_past_the_table_evaluates_there_without_filling_up_to_it():
    ours, theirs = fresh_pair("cosine", FIXED_CONFIGS["cosine"])
    far = 3 * scheduler_table.EAGER_TABLE_STEPS
    ours.optimizer.step()
    theirs.optimizer.step()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # step(epoch) is deprecated
        ours.step(far)
        theirs.step(far)
    step_side_by_side(ours, theirs, 20)
    assert len(ours._table) < 100


def test_polynomial_where_transformers_divides_by_zero_gives_the_end_value():
    params = {"num_warmup_steps": 5, "num_training_steps": 5, "lr_end": 1e-5}
    ours = build(fastsched, "polynomial", make_optimizer(1e-3), params)
    theirs = build(transformers, "polynomial", make_optimizer(1e-3), params)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ours.step(5)
        theirs.step(6)  # transformers' value from T + 1 on: lr_end (at T itself it divides by zero)
    assert_lrs_close(ours.get_last_lr(), theirs.get_last_lr())


@pytest.mark.parametrize("enum_kind", ["str", "fastsched", "transformers"])
def test_name_as_str_or_either_schedulertype(enum_kind):
    name = {
        "str": "cosine",
        "fastsched": fastsched.SchedulerType.COSINE,
        "transformers": transformers.SchedulerType.COSINE,
    }
    ours = fastsched.get_scheduler(name[enum_kind], make_optimizer(), 3, 20)
    assert ours.schedule_name == "cosine"


@pytest.mark.parametrize("function_name", [name for name in torch_schedulers.__all__ if name.startswith("get_")])
def test_functions_have_transformers_parameters_names_order_and_defaults(function_name):
    ours = inspect.signature(getattr(fastsched, function_name))
    theirs = inspect.signature(getattr(tf_optimization, function_name))
    assert [(p.name, p.kind, p.default) for p in ours.parameters.values()] == [
        (p.name, p.kind, p.default) for p in theirs.parameters.values()
    ]


def test_functions_called_positionally_match_transformers():
    calls = {
        "get_constant_schedule": (),
        "get_constant_schedule_with_warmup": (4,),
        "get_linear_schedule_with_warmup": (4, 30),
        "get_cosine_schedule_with_warmup": (4, 30, 0.8),
        "get_cosine_with_hard_restarts_schedule_with_warmup": (4, 30, 2),
        "get_polynomial_decay_schedule_with_warmup": (4, 30, 1e-5, 0.5),
        "get_inverse_sqrt_schedule": (4, None),
        "get_cosine_with_min_lr_schedule_with_warmup": (4, 30, 0.5, -1, 1e-4),
        "get_cosine_with_min_lr_schedule_with_warmup_lr_rate": (4, 30, 0.5, -1, None, 0.1, 0.2),
        "get_wsd_schedule": (4, 10, 30, None, "cosine", "1-sqrt", 0.1, 0.5),
    }
    for function_name, args in calls.items():
        ours = getattr(fastsched, function_name)(make_optimizer(), *args)
        theirs = getattr(tf_optimization, function_name)(make_optimizer(), *args)
        step_side_by_side(ours, theirs, 70, function_name)


# -- LambdaLR's semantics -----------------------------------------------------------------------------------------


def test_initial_lr_setdefault_and_base_lrs_per_group():
    ours_optimizer, their_optimizer = make_optimizer(), make_optimizer()
    for optimizer in (ours_optimizer, their_optimizer):
        optimizer.param_groups[1]["initial_lr"] = 5e-4  # kept: setdefault
    ours = fastsched.get_linear_schedule_with_warmup(ours_optimizer, 3, 20)
    theirs = transformers.get_linear_schedule_with_warmup(their_optimizer, 3, 20)
    assert ours.base_lrs == theirs.base_lrs == [1e-3, 5e-4]
    assert [g["initial_lr"] for g in ours_optimizer.param_groups] == [1e-3, 5e-4]
    step_side_by_side(ours, theirs, 30)


def test_get_lr_outside_step_warns_and_returns_lambdalr_values():
    ours, theirs = fresh_pair("cosine", FIXED_CONFIGS["cosine"])
    step_side_by_side(ours, theirs, 12)
    with pytest.warns(UserWarning, match="please use `get_last_lr\\(\\)`"):
        got = ours.get_lr()
    with pytest.warns(UserWarning, match="please use `get_last_lr\\(\\)`"):
        expected = theirs.get_lr()
    assert_lrs_close(got, expected)


@pytest.mark.parametrize("name", ["linear", "cosine", "inverse_sqrt", "warmup_stable_decay"])
def test_resume_with_last_epoch_matches_lambdalr(name):
    ours_optimizer, their_optimizer = make_optimizer(), make_optimizer()
    for optimizer in (ours_optimizer, their_optimizer):
        for group in optimizer.param_groups:
            group["initial_lr"] = group["lr"]
    ours = build(fastsched, name, ours_optimizer, FIXED_CONFIGS[name], last_epoch=25)
    theirs = build(transformers, name, their_optimizer, FIXED_CONFIGS[name], last_epoch=25)
    assert ours.last_epoch == theirs.last_epoch == 26
    step_side_by_side(ours, theirs, 40, name)


def test_resume_without_initial_lr_raises_torchs_key_error():
    with pytest.raises(KeyError, match="initial_lr"):
        fastsched.get_linear_schedule_with_warmup(make_optimizer(), 3, 20, last_epoch=5)


def test_deprecated_step_with_epoch_warns_and_jumps_like_lambdalr():
    ours, theirs = fresh_pair("cosine", FIXED_CONFIGS["cosine"])
    ours.optimizer.step()
    theirs.optimizer.step()
    with pytest.warns(UserWarning, match="epoch parameter in `scheduler.step\\(\\)` was not necessary"):
        ours.step(30)
    with pytest.warns(UserWarning):
        theirs.step(30)
    assert ours.last_epoch == theirs.last_epoch == 30
    step_side_by_side(ours, theirs, 20)


def test_scheduler_step_before_optimizer_step_warns_as_torch_does():
    ours = fastsched.get_linear_schedule_with_warmup(make_optimizer(), 3, 20)
    with pytest.warns(UserWarning, match="Detected call of `lr_scheduler.step\\(\\)` before `optimizer.step\\(\\)`"):
        ours.step()


def test_param_group_added_after_construction_raises_like_lambdalr():
    ours, theirs = fresh_pair("linear", FIXED_CONFIGS["linear"])
    step_side_by_side(ours, theirs, 3)
    for scheduler in (ours, theirs):
        scheduler.optimizer.add_param_group({"params": [torch.zeros(1, requires_grad=True)]})
    with pytest.raises(ValueError, match="zip\\(\\)"):
        theirs.step()
    with pytest.raises(ValueError, match="zip\\(\\)"):
        ours.step()


def test_tensor_lrs_are_updated_in_place_with_lambdalr_values():
    def tensor_lr_optimizer():
        return torch.optim.Adam([torch.zeros(2, requires_grad=True)], lr=torch.tensor(0.01))

    ours = fastsched.get_cosine_schedule_with_warmup(tensor_lr_optimizer(), 3, 20)
    theirs = transformers.get_cosine_schedule_with_warmup(tensor_lr_optimizer(), 3, 20)
    lr_tensor = ours.optimizer.param_groups[0]["lr"]
    for _ in range(40):
        assert ours.optimizer.param_groups[0]["lr"] is lr_tensor
        assert isinstance(ours.get_last_lr()[0], torch.Tensor)
        assert ours.get_last_lr()[0] is not lr_tensor  # a copy, as torch's
        assert torch.equal(lr_tensor, theirs.optimizer.param_groups[0]["lr"])
        assert torch.equal(ours.get_last_lr()[0], theirs.get_last_lr()[0])
        ours.optimizer.step()
        theirs.optimizer.step()
        ours.step()
        theirs.step()


def test_memory_is_8_bytes_per_scheduled_step_and_bounded_for_huge_counts():
    scheduler = fastsched.get_linear_schedule_with_warmup(make_optimizer(), 10, 100_000)
    assert scheduler._table.itemsize * len(scheduler._table) <= 8 * (100_000 + 1)
    huge = fastsched.get_cosine_schedule_with_warmup(make_optimizer(), 10, 10**12)
    assert len(huge._table) == scheduler_table.EAGER_TABLE_STEPS  # the rest is computed as steps reach it
    constant = fastsched.get_constant_schedule(make_optimizer())
    assert len(constant._table) == 1


# -- checkpoints ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", SCHEDULE_NAMES)
def test_checkpoint_round_trip_continues_like_uninterrupted_transformers(name):
    params = FIXED_CONFIGS[name]
    ours, theirs = fresh_pair(name, params)
    step_side_by_side(ours, theirs, 23, name)
    state = ours.state_dict()
    assert len(pickle.dumps(state)) <= 2048
    buffer = io.BytesIO()
    torch.save({"scheduler": state, "optimizer": ours.optimizer.state_dict()}, buffer)
    buffer.seek(0)
    checkpoint = torch.load(buffer, weights_only=True)

    resumed_optimizer = make_optimizer()
    resumed = build(fastsched, name, resumed_optimizer, params)
    resumed_optimizer.load_state_dict(checkpoint["optimizer"])
    resumed.load_state_dict(checkpoint["scheduler"])
    assert resumed.last_epoch == theirs.last_epoch
    step_side_by_side(resumed, theirs, 100, name)


def test_state_dict_holds_only_plain_types_and_no_table():
    scheduler = fastsched.get_cosine_schedule_with_warmup(make_optimizer(), 10, 1_000_000)

    def plain(value):
        if isinstance(value, dict):
            return all(isinstance(k, str) and plain(v) for k, v in value.items())
        if isinstance(value, list):
            return all(plain(v) for v in value)
        return value is None or type(value) in (int, float, str, bool)

    assert plain(scheduler.state_dict())
    assert len(pickle.dumps(scheduler.state_dict())) <= 2048


def test_checkpoints_move_both_ways_between_lambdalr_and_fastsched():
    params = FIXED_CONFIGS["cosine"]
    ours, theirs = fresh_pair("cosine", params)
    step_side_by_side(ours, theirs, 17)

    from_transformers = build(fastsched, "cosine", make_optimizer(), params)
    from_transformers.optimizer.load_state_dict(theirs.optimizer.state_dict())
    from_transformers.load_state_dict(theirs.state_dict())
    to_transformers = build(transformers, "cosine", make_optimizer(), params)
    to_transformers.optimizer.load_state_dict(ours.optimizer.state_dict())
    to_transformers.load_state_dict(ours.state_dict())
    assert isinstance(to_transformers, LambdaLR)

    step_side_by_side(from_transformers, theirs, 60)
    step_side_by_side(ours, to_transformers, 60)


@pytest.mark.parametrize("clone", [copy.deepcopy, lambda scheduler: pickle.loads(pickle.dumps(scheduler))])
def test_pickle_and_deepcopy_continue_exactly_and_independently(clone):
    ours, theirs = fresh_pair("inverse_sqrt", FIXED_CONFIGS["inverse_sqrt"])
    step_side_by_side(ours, theirs, 9)
    cloned = clone(ours)
    assert cloned.optimizer is not ours.optimizer
    assert len(pickle.dumps(ours)) < 10_000  # the table isn't pickled: it is rebuilt
    lrs_before = group_lrs(ours.optimizer)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # torch: the unpickled optimizer's step isn't wrapped any more
        step_side_by_side(cloned, theirs, 50)
    assert group_lrs(ours.optimizer) == lrs_before


# -- metric-driven names -----------------------------------------------------------------------------------------


def test_reduce_lr_on_plateau_is_torchs():
    scheduler = fastsched.get_scheduler("reduce_lr_on_plateau", make_optimizer(), 5, 10, {"patience": 3})
    assert type(scheduler) is ReduceLROnPlateau
    assert scheduler.patience == 3


def test_greedy_is_transformers_greedylr():
    scheduler = fastsched.get_scheduler("greedy", make_optimizer(), scheduler_specific_kwargs={"patience": 2})
    assert type(scheduler) is tf_optimization.GreedyLR
    assert scheduler.patience == 2


def test_greedy_without_transformers_names_the_alternative(monkeypatch):
    monkeypatch.setitem(sys.modules, "transformers.optimization", None)  # makes the import fail
    with pytest.raises(NotImplementedError, match="reduce_lr_on_plateau"):
        fastsched.get_greedy_schedule(make_optimizer())


def test_layerwise_dummy_optimizer_gets_a_scheduler_per_parameter_as_in_transformers():
    """transformers' GaLore-style LayerWiseDummyOptimizer: one scheduler per parameter, stepped by grad hooks."""
    from transformers.trainer_pt_utils import LayerWiseDummyOptimizer, LayerWiseDummyScheduler

    lrs = []
    for module in (transformers, fastsched):
        # One parameter: with more, transformers' own LayerWiseDummyScheduler fails on torch 2.13's strict zip.
        params = [torch.zeros(2, requires_grad=True)]
        optimizer_dict = {param: torch.optim.SGD([param], lr=1e-3) for param in params}
        dummy = LayerWiseDummyOptimizer(optimizer_dict=optimizer_dict, lr=1e-3)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # the hooks step schedulers before their optimizers' step
            scheduler = module.get_scheduler("linear", dummy, 2, 10)
            for _ in range(4):
                sum(param.sum() for param in params).backward()
        assert isinstance(scheduler, LayerWiseDummyScheduler)
        lrs.append([optimizer.param_groups[0]["lr"] for optimizer in optimizer_dict.values()])
    assert lrs[0] == lrs[1]


# -- errors --------------------------------------------------------------------------------------------------------

# get_scheduler arguments on which transformers raises: ours must raise the same type with the same message.
TRANSFORMERS_ERRORS = {
    "unknown name": ("cosin", 1, 10, None),
    "missing warmup": ("linear", None, None, None),
    "missing training steps": ("cosine", 3, None, None),
    "unexpected kwarg": ("cosine", 1, 10, {"foo": 1}),
    "unexpected kwarg, inverse_sqrt": ("inverse_sqrt", 1, None, {"num_cycles": 2}),
    "wsd without decay steps": ("warmup_stable_decay", 3, 10, None),
    "wsd without T or S": ("warmup_stable_decay", 3, None, {"num_decay_steps": 4}),
    "wsd warmup type": ("warmup_stable_decay", 3, 20, {"num_decay_steps": 4, "warmup_type": "exp"}),
    "wsd decay type": ("warmup_stable_decay", 3, 20, {"num_decay_steps": 4, "decay_type": "step"}),
    "polynomial lr_end": ("polynomial", 1, 10, {"lr_end": 0.2}),
    "polynomial lr_end equal": ("polynomial", 1, 10, {"lr_end": 0.1}),
    "min lr missing": ("cosine_with_min_lr", 1, 10, None),
    "min lr both": ("cosine_warmup_with_min_lr", 1, 10, {"min_lr": 1e-3, "min_lr_rate": 0.1}),
    "plateau kwarg": ("reduce_lr_on_plateau", None, None, {"foo": 1}),
}


@pytest.mark.parametrize("case", list(TRANSFORMERS_ERRORS))
def test_errors_have_transformers_type_and_message(case):
    name, warmup, training, specific = TRANSFORMERS_ERRORS[case]
    caught = []
    for module in (transformers, fastsched):
        optimizer = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=0.1)
        with pytest.raises(Exception) as info:
            module.get_scheduler(name, optimizer, warmup, training, specific)
        caught.append(info.value)
    theirs, ours = caught
    assert type(ours) is type(theirs)
    assert str(ours).startswith(str(theirs))  # ours may go on to name the parameter


def test_not_an_optimizer_is_a_type_error():
    with pytest.raises(TypeError, match="NoneType is not an Optimizer"):
        fastsched.get_scheduler("linear", None, 1, 10)
    with pytest.raises(TypeError, match="dict is not an Optimizer"):
        fastsched.get_polynomial_decay_schedule_with_warmup({"lr": 1.0}, 1, 10)


# Where transformers computes NaN, divides by zero or takes a square root of a negative number (at some step), or
# gets counts past what float64 holds exactly: refused at construction, naming the parameter. (Float and negative
# counts are no longer here: transformers takes them, and so does the drop-in; see the tests below.)
@pytest.mark.parametrize(
    ("name", "warmup", "training", "specific", "parameter"),
    [
        ("linear", float("nan"), 10, None, "num_warmup_steps"),
        ("linear", 1, float("inf"), None, "num_training_steps"),
        ("cosine", -(2**60), 10, None, "num_warmup_steps"),
        ("cosine", 1, 10, {"num_cycles": float("nan")}, "num_cycles"),
        ("inverse_sqrt", 1, None, {"timescale": 0}, "timescale"),
        ("inverse_sqrt", 1, None, {"timescale": -3.5}, "timescale"),
        ("inverse_sqrt", -4, None, None, "num_warmup_steps"),
        ("polynomial", 1, 10, {"power": float("inf")}, "power"),
        ("warmup_stable_decay", 1, 10, {"num_decay_steps": float("nan")}, "num_decay_steps"),
    ],
)
def test_bad_values_beyond_transformers_checks_name_the_parameter(name, warmup, training, specific, parameter):
    with pytest.raises(ValueError, match=f"`{parameter}`"):
        fastsched.get_scheduler(name, make_optimizer(), warmup, training, specific)


def test_constant_ignores_counts_and_kwargs_as_transformers_does():
    scheduler = fastsched.get_scheduler("constant", make_optimizer(), None, None, {"anything": 1})
    assert scheduler.get_last_lr() == [1e-3, 1e-3 * SECOND_GROUP_SCALE]


# -- a LambdaLR with transformers' lr_lambdas -------------------------------------------------------------------

# Steps at which the lambdas are compared directly: the warmup, its end, the decay, its end and past it.
LAMBDA_STEPS = [0, 1, 6, 7, 8, 20, 39, 40, 41, 200]


@pytest.mark.parametrize("name", SCHEDULE_NAMES)
def test_a_lambdalr_whose_lr_lambdas_are_picklable_partials_with_transformers_keywords(name):
    ours, theirs = fresh_pair(name, FIXED_CONFIGS[name])
    assert isinstance(ours, LambdaLR)
    assert len(ours.lr_lambdas) == len(theirs.lr_lambdas) == 2
    for our_lambda, their_lambda in zip(ours.lr_lambdas, theirs.lr_lambdas, strict=True):
        assert isinstance(our_lambda, functools.partial)
        assert our_lambda.args == ()
        if name == "constant":  # transformers' lambda is a plain function there: no keywords
            assert our_lambda.keywords == {}
        else:
            assert our_lambda.keywords == their_lambda.keywords
        copied = pickle.loads(pickle.dumps(our_lambda))
        assert copied.keywords == our_lambda.keywords
        for step in LAMBDA_STEPS:
            assert our_lambda(step) == copied(step) == float(their_lambda(step)), step


def test_keywords_hold_what_transformers_computes_from_the_optimizers_lr():
    polynomial = fastsched.get_polynomial_decay_schedule_with_warmup(make_optimizer(2e-3), 3, 30, lr_end=1e-4)
    assert polynomial.lr_lambdas[0].keywords["lr_init"] == 2e-3
    min_lr = fastsched.get_cosine_with_min_lr_schedule_with_warmup(make_optimizer(3e-3), 3, 30, min_lr=1e-4)
    assert min_lr.lr_lambdas[0].keywords["min_lr_rate"] == 1e-4 / 3e-3
    assert "min_lr" not in min_lr.lr_lambdas[0].keywords
    inverse_sqrt = fastsched.get_inverse_sqrt_schedule(make_optimizer(), 0)
    assert inverse_sqrt.lr_lambdas[0].keywords == {"num_warmup_steps": 0, "timescale": 10_000}
    wsd = fastsched.get_wsd_schedule(make_optimizer(), 4, 10, num_training_steps=30)
    assert wsd.lr_lambdas[0].keywords["num_stable_steps"] == 16
    assert "num_training_steps" not in wsd.lr_lambdas[0].keywords


def test_a_partial_rebound_with_other_keywords_answers_for_that_schedule():
    ours, theirs = fresh_pair("cosine", FIXED_CONFIGS["cosine"])
    changed = {"num_training_steps": 25, "num_cycles": 2.5}
    our_lambda = functools.partial(ours.lr_lambdas[0].func, **{**ours.lr_lambdas[0].keywords, **changed})
    their_lambda = functools.partial(theirs.lr_lambdas[0].func, **{**theirs.lr_lambdas[0].keywords, **changed})
    assert [our_lambda(step) for step in range(60)] == [their_lambda(step) for step in range(60)]
    assert ours.lr_lambdas[0](30) == theirs.lr_lambdas[0](30)  # the scheduler's own schedule is unchanged


class CallCounter:
    """Wraps an lr_lambda (as transformers' own tests do with LambdaScheduleWrapper) and counts its calls."""

    def __init__(self, fn):
        self.fn = fn
        self.calls = 0

    def __call__(self, step):
        self.calls += 1
        return self.fn(step)


def test_replaced_lr_lambdas_are_called_as_lambdalr_calls_them():
    ours, theirs = fresh_pair("linear", FIXED_CONFIGS["linear"])
    step_side_by_side(ours, theirs, 5)
    originals = ours.lr_lambdas
    for scheduler in (ours, theirs):
        scheduler.lr_lambdas = [CallCounter(fn) for fn in scheduler.lr_lambdas]
    step_side_by_side(ours, theirs, 10)
    assert [wrapper.calls for wrapper in ours.lr_lambdas] == [10, 10]
    for scheduler in (ours, theirs):
        scheduler.lr_lambdas[1] = lambda step: 0.5  # in place, as LambdaLR allows
    step_side_by_side(ours, theirs, 10)
    assert ours.get_last_lr()[1] == 0.5 * 1e-3 * SECOND_GROUP_SCALE
    ours.lr_lambdas = originals
    theirs.lr_lambdas = [wrapper.fn for wrapper in theirs.lr_lambdas[:1]] * 2
    step_side_by_side(ours, theirs, 30)


@pytest.mark.parametrize("num_groups", [2, 3])
def test_an_lr_lambda_changed_in_place_in_the_schedulers_own_list_is_called(num_groups):
    """Past the step that arms the table lookup, a change to one item of the scheduler's own lr_lambdas list (the
    list object kept) is honoured at the next step, as LambdaLR honours it; putting the item back restores it."""

    def optimizer() -> torch.optim.Optimizer:
        groups = [{"params": [torch.zeros(1, requires_grad=True)], "lr": 1e-3 * scale} for scale in (1, 0.5, 2)]
        return torch.optim.SGD(groups[:num_groups], lr=1e-3)

    ours = build(fastsched, "linear", optimizer(), FIXED_CONFIGS["linear"])
    theirs = build(transformers, "linear", optimizer(), FIXED_CONFIGS["linear"])
    step_side_by_side(ours, theirs, 5)
    own = ours.lr_lambdas[1]
    for scheduler in (ours, theirs):
        scheduler.lr_lambdas[1] = lambda step: 0.25
    step_side_by_side(ours, theirs, 3)
    assert ours.get_last_lr()[1] == 0.25 * 0.5e-3
    ours.lr_lambdas[1] = own
    theirs.lr_lambdas[1] = theirs.lr_lambdas[0]
    step_side_by_side(ours, theirs, 5)


# -- counts as transformers takes them: floats and negative values ------------------------------------------------

COUNT_PARAMETERS = ("num_warmup_steps", "num_training_steps", "num_decay_steps", "num_stable_steps", "timescale")
FRACTIONS = st.sampled_from([0.5, 0.25, 0.1, 0.9, 1 / 3])


@st.composite
def transformers_counts(draw, name: str):
    """(base_lr, params) of schedule `name` whose counts transformers takes but fastsched's bulk API doesn't: whole
    floats, fractions (`10.5`, `0.1 * 25`) and negative values, each count independently (some stay ints)."""
    _, base_lr, params = draw(configs(name))
    for key in COUNT_PARAMETERS:
        value = params.get(key)
        if value is None:
            continue
        kinds = ["int", "whole float", "fraction", "tenths"] + (["negative"] if key != "timescale" else [])
        kind = draw(st.sampled_from(kinds))
        if kind == "whole float":
            params[key] = float(value)
        elif kind == "fraction":
            params[key] = value + draw(FRACTIONS)
        elif kind == "tenths":
            params[key] = 0.1 * value if key != "timescale" else 0.1 * value + 0.1  # `0.1 * 25`, as users write it
        elif kind == "negative":
            params[key] = -value - draw(st.sampled_from([0, 0.5]))
    if name == "inverse_sqrt" and params["num_warmup_steps"] < 0 and params.get("timescale") is None:
        params["timescale"] = draw(st.floats(0.5, 5000.0))  # transformers' default would divide by zero
    if name == "polynomial":  # transformers divides by zero at step T when W == T (fastsched: the end value)
        assume(params["num_warmup_steps"] != params["num_training_steps"])
    return base_lr, params


def steps_through(params: dict) -> int:
    """Steps to compare: three times past every count (negative ones included), and a few more."""
    total = sum(abs(params.get(key) or 0) for key in COUNT_PARAMETERS if key != "timescale")
    return 3 * math.ceil(max(1.0, total)) + 5


@pytest.mark.parametrize("name", [name for name in SCHEDULE_NAMES if name != "constant"])
@parity_settings
@given(data=st.data())
def test_float_and_negative_counts_give_transformers_values_every_step(name, data):
    base_lr, params = data.draw(transformers_counts(name))
    ours, theirs = fresh_pair(name, params, base_lr)
    assert ours.lr_lambdas[0].keywords == theirs.lr_lambdas[0].keywords
    step_side_by_side(ours, theirs, steps_through(params), (name, params))


# Each schedule with fractional counts, for a table grown 16 steps at a time (the fill that goes step by step).
FRACTIONAL_CONFIGS = {
    "constant_with_warmup": {"num_warmup_steps": 0.1 * 25},
    "linear": {"num_warmup_steps": 2.5, "num_training_steps": 40.5},
    "cosine": {"num_warmup_steps": 7.3, "num_training_steps": 40.5, "num_cycles": 1.3},
    "cosine_with_restarts": {"num_warmup_steps": 7.7, "num_training_steps": 40.1, "num_cycles": 3},
    "polynomial": {"num_warmup_steps": 6.5, "num_training_steps": 40.5, "lr_end": 1e-4, "power": 2.0},
    "inverse_sqrt": {"num_warmup_steps": -3.5, "timescale": 10.25},
    "cosine_with_min_lr": {"num_warmup_steps": -7, "num_training_steps": 40.5, "min_lr": 1e-4},
    "cosine_warmup_with_min_lr": {"num_warmup_steps": 7.5, "num_training_steps": 40, "min_lr_rate": 0.1},
    "warmup_stable_decay": {"num_warmup_steps": 2.5, "num_decay_steps": 20.5, "num_training_steps": 35},
}


@pytest.mark.parametrize("name", list(FRACTIONAL_CONFIGS))
def test_fractional_counts_with_a_growing_table_match_transformers(monkeypatch, name):
    monkeypatch.setattr(scheduler_table, "EAGER_TABLE_STEPS", 16)
    monkeypatch.setattr(scheduler_table, "MIN_GROWTH_STEPS", 16)
    ours, theirs = fresh_pair(name, FRACTIONAL_CONFIGS[name])
    assert len(ours._table) <= 16
    step_side_by_side(ours, theirs, 300, name)


# Calls transformers refuses, at construction or at some step: the drop-in refuses them at construction, with
# transformers' exception type (a ValueError naming the parameter where transformers divides by zero).
TRANSFORMERS_REFUSES = {
    "string warmup": ("get_linear_schedule_with_warmup", {"num_warmup_steps": "3", "num_training_steps": 10}),
    "string training steps": ("get_cosine_schedule_with_warmup", {"num_warmup_steps": 0, "num_training_steps": "9"}),
    "None training steps": ("get_linear_schedule_with_warmup", {"num_warmup_steps": 2, "num_training_steps": None}),
    "None warmup": ("get_constant_schedule_with_warmup", {"num_warmup_steps": None}),
    "None warmup, inverse_sqrt": ("get_inverse_sqrt_schedule", {"num_warmup_steps": None}),
    "string decay steps": ("get_wsd_schedule", {"num_warmup_steps": 1, "num_decay_steps": "4", "num_stable_steps": 2}),
    "lr_end above the lr": (
        "get_polynomial_decay_schedule_with_warmup",
        {"num_warmup_steps": 1, "num_training_steps": 9, "lr_end": 0.5},
    ),
    "negative warmup as timescale": ("get_inverse_sqrt_schedule", {"num_warmup_steps": -2}),
    "zero timescale": ("get_inverse_sqrt_schedule", {"num_warmup_steps": 1, "timescale": 0}),
}


def first_error_of_transformers(function_name: str, params: dict, num_steps: int = 60) -> BaseException:
    """The exception transformers' scheduler raises, at construction or stepping through `num_steps` steps."""
    optimizer = make_optimizer()
    try:
        scheduler = getattr(tf_optimization, function_name)(optimizer, **params)
        for _ in range(num_steps):
            optimizer.step()
            scheduler.step()
    except Exception as error:  # the type is what the test compares
        return error
    raise AssertionError(f"transformers took {params}")


@pytest.mark.parametrize("case", list(TRANSFORMERS_REFUSES))
def test_what_transformers_refuses_is_refused_with_its_exception_type(case):
    function_name, params = TRANSFORMERS_REFUSES[case]
    theirs = first_error_of_transformers(function_name, params)
    expected = ValueError if isinstance(theirs, ZeroDivisionError) else type(theirs)
    with pytest.raises(expected) as ours:
        getattr(fastsched, function_name)(make_optimizer(), **params)
    if expected is not type(theirs):
        assert "`num_warmup_steps`" in str(ours.value) or "`timescale`" in str(ours.value)


# -- warnings at the caller's line ----------------------------------------------------------------------------------


def next_line() -> int:
    """The line after the caller's."""
    return inspect.currentframe().f_back.f_lineno + 1


def assert_one_warning_here(caught, line: int, match: str) -> None:
    assert [(w.filename, w.lineno) for w in caught] == [(__file__, line)], [(w.filename, w.lineno) for w in caught]
    assert match in str(caught[0].message)


def test_step_before_optimizer_step_warns_at_the_callers_line():
    scheduler = fastsched.get_linear_schedule_with_warmup(make_optimizer(), 3, 20)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        line = next_line()
        scheduler.step()
    assert_one_warning_here(caught, line, "Detected call of `lr_scheduler.step()` before `optimizer.step()`")


def test_overridden_optimizer_step_warns_at_the_callers_line():
    optimizer = make_optimizer()
    scheduler = fastsched.get_linear_schedule_with_warmup(optimizer, 3, 20)
    optimizer.step = types.MethodType(lambda self: None, optimizer)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        line = next_line()
        scheduler.step()
    assert_one_warning_here(caught, line, "`optimizer.step()` has been overridden")


def test_step_with_epoch_warns_at_the_callers_line():
    scheduler = fastsched.get_linear_schedule_with_warmup(make_optimizer(), 3, 20)
    scheduler.optimizer.step()
    scheduler.step()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        line = next_line()
        scheduler.step(7)
    assert_one_warning_here(caught, line, "The epoch parameter in `scheduler.step()` was not necessary")
    assert scheduler.last_epoch == 7


def test_get_lr_outside_step_warns_at_the_callers_line():
    scheduler = fastsched.get_linear_schedule_with_warmup(make_optimizer(), 3, 20)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        line = next_line()
        scheduler.get_lr()
    assert_one_warning_here(caught, line, "please use `get_last_lr()`")


def test_wsd_with_both_training_and_stable_steps_warns_at_the_callers_line():
    params = {"num_warmup_steps": 2, "num_decay_steps": 4, "num_training_steps": 99, "num_stable_steps": 5}
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        line = next_line()
        scheduler = fastsched.get_wsd_schedule(make_optimizer(), **params)
    assert_one_warning_here(caught, line, "num_stable_steps will be used")
    assert scheduler.lr_lambdas[0].keywords["num_stable_steps"] == 5
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        line = next_line()
        fastsched.TableScheduler(make_optimizer(), "warmup_stable_decay", **params)
    assert_one_warning_here(caught, line, "num_stable_steps will be used")


def test_the_table_step_warns_nothing():
    scheduler = fastsched.get_linear_schedule_with_warmup(make_optimizer(), 3, 20)
    scheduler.optimizer.step()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for _ in range(30):
            scheduler.step()


# -- LambdaLR's state and tensors -----------------------------------------------------------------------------------


def test_a_tensor_lr_set_after_construction_is_filled_in_place_like_lambdalr():
    ours, theirs = fresh_pair("cosine", FIXED_CONFIGS["cosine"])
    step_side_by_side(ours, theirs, 10)  # the table path, with float lrs
    tensors = []
    for scheduler in (ours, theirs):
        tensors.append(torch.tensor(0.05, dtype=torch.float64))
        scheduler.optimizer.param_groups[0]["lr"] = tensors[-1]
    for _ in range(40):
        for scheduler in (ours, theirs):
            scheduler.optimizer.step()
            scheduler.step()
        assert ours.optimizer.param_groups[0]["lr"] is tensors[0]
        assert torch.equal(tensors[0], tensors[1])
        assert ours.optimizer.param_groups[1]["lr"] == theirs.optimizer.param_groups[1]["lr"]
        assert torch.equal(ours.get_last_lr()[0], theirs.get_last_lr()[0])
        assert ours.get_last_lr()[0] is not tensors[0]


def test_load_state_dict_takes_missing_optional_keys_and_an_integral_float_last_epoch():
    ours, theirs = fresh_pair("linear", FIXED_CONFIGS["linear"])
    step_side_by_side(ours, theirs, 12)
    state = theirs.state_dict()  # a LambdaLR's
    del state["_step_count"], state["_last_lr"]
    state["last_epoch"] = float(state["last_epoch"])
    resumed = []
    for module in (fastsched, transformers):
        scheduler = build(module, "linear", make_optimizer(), FIXED_CONFIGS["linear"])
        scheduler.optimizer.load_state_dict(theirs.optimizer.state_dict())
        scheduler.load_state_dict(dict(state))
        resumed.append(scheduler)
    assert type(resumed[0].last_epoch) is int and resumed[0].last_epoch == 12
    step_side_by_side(*resumed, 40)


def test_load_state_dict_refuses_a_fractional_last_epoch_and_changes_nothing():
    scheduler = fastsched.get_linear_schedule_with_warmup(make_optimizer(), 3, 20)
    state = {**scheduler.state_dict(), "last_epoch": 4.5, "_step_count": 99}
    before = dict(vars(scheduler))
    with pytest.raises(ValueError, match="`last_epoch`"):
        scheduler.load_state_dict(state)
    assert vars(scheduler) == before


class Shape(str, enum.Enum):
    COSINE = "cosine"
    LINEAR = "linear"


def test_state_dict_loads_with_weights_only_for_enum_and_numpy_parameters():
    params = {
        "num_warmup_steps": np.int64(4),
        "num_decay_steps": np.float64(10.0),
        "num_stable_steps": np.int32(6),
        "warmup_type": Shape.COSINE,
        "decay_type": Shape.LINEAR,
        "min_lr_ratio": np.float64(0.25),
    }
    ours = fastsched.TableScheduler(make_optimizer(), transformers.SchedulerType.WARMUP_STABLE_DECAY, **params)
    theirs = transformers.get_wsd_schedule(make_optimizer(), **params)
    step_side_by_side(ours, theirs, 7)
    buffer = io.BytesIO()
    torch.save(ours.state_dict(), buffer)
    buffer.seek(0)
    loaded = torch.load(buffer, weights_only=True)
    assert loaded["schedule"] == {
        "name": "warmup_stable_decay",
        "num_warmup_steps": 4,
        "num_decay_steps": 10.0,
        "num_stable_steps": 6,
        "warmup_type": "cosine",
        "decay_type": "linear",
        "min_lr_ratio": 0.25,
    }
    resumed = fastsched.TableScheduler(make_optimizer(), "warmup_stable_decay", **params)
    resumed.optimizer.load_state_dict(ours.optimizer.state_dict())
    resumed.load_state_dict(loaded)
    step_side_by_side(resumed, theirs, 30)


@pytest.mark.parametrize("copy_params", [FIXED_CONFIGS["cosine"], {"num_warmup_steps": 1, "num_training_steps": 5}])
def test_a_loaded_schedulers_dict_is_the_saved_ones_whatever_its_table(monkeypatch, copy_params):
    """The table is a cache: whether it grew or was built for another schedule, __dict__ is LambdaLR's state."""
    monkeypatch.setattr(scheduler_table, "EAGER_TABLE_STEPS", 16)
    monkeypatch.setattr(scheduler_table, "MIN_GROWTH_STEPS", 16)
    ours, theirs = fresh_pair("cosine", FIXED_CONFIGS["cosine"])
    step_side_by_side(ours, theirs, 100)  # the table grew past its first 16 steps
    copy = build(fastsched, "cosine", make_optimizer(), copy_params)
    buffer = io.BytesIO()
    torch.save(ours.state_dict(), buffer)
    buffer.seek(0)
    copy.load_state_dict(torch.load(buffer, weights_only=True))
    assert len(copy._table) != len(ours._table)
    excluded = {"optimizer", "lr_lambdas"}  # what LambdaLR's state_dict leaves out
    assert {k: v for k, v in vars(copy).items() if k not in excluded} == {
        k: v for k, v in vars(ours).items() if k not in excluded
    }
    assert set(vars(ours)) == set(vars(theirs))  # the same attributes as transformers' LambdaLR


def test_state_dict_is_lambdalrs_plus_a_record_of_the_schedule():
    ours, theirs = fresh_pair("cosine", FIXED_CONFIGS["cosine"])
    step_side_by_side(ours, theirs, 5)
    state, their_state = ours.state_dict(), theirs.state_dict()
    assert state.pop("schedule") == {"name": "cosine", **FIXED_CONFIGS["cosine"]}
    assert state == their_state


# -- the table object ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("config", [*FIXED_CONFIGS.items(), *FRACTIONAL_CONFIGS.items()], ids=lambda c: str(c))
def test_the_table_from_transformers_keywords_gives_transformers_values(config):
    name, params = config
    their_lambda = build(transformers, name, make_optimizer(), params).lr_lambdas[0]
    keywords = getattr(their_lambda, "keywords", {})  # constant's lambda is a function without keywords
    table = scheduler_table.ScheduleTable.from_keywords(name, keywords)
    expected = [float(their_lambda(step)) for step in range(120)]
    assert table.multipliers(120).tolist() == expected
    copied = pickle.loads(pickle.dumps(table))
    assert len(pickle.dumps(table)) < 1024
    assert [copied.multiplier(step) for step in range(120)] == expected
    if table.constant_from is not None:  # where the table ends, the schedule's value holds
        assert table.end_value == float(their_lambda(table.constant_from)) == float(their_lambda(10**6))
    assert table.nominal_length >= 1
