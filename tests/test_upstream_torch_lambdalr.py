"""torch's LambdaLR tests, run on fastsched's TableScheduler (a LambdaLR whose lr_lambdas read a table).

Ported from pytorch/pytorch, ``test/optim/test_lrscheduler.py`` (BSD-3-Clause), ``TestLRScheduler``: the tests of
LambdaLR (``test_lambda_lr``, ``test_lambda_lr_state_dict_fn``, ``test_lambda_lr_state_dict_obj``, and LambdaLR's
cases of ``test_lr_scheduler_state_dict_load``, ``test_constant_initial_lr`` and ``test_lr_scheduler_checkpoint``)
and the tests of LRScheduler's behaviour that build a StepLR or a LambdaLR, with fastsched's scheduler in its place:
``test_no_cyclic_references``, ``test_no_cyclic_references_in_step``, the ``test_old_pattern_warning*`` and
``test_new_pattern_no_warning*`` tests, ``_test_lr_is_constant_for_constant_epoch``, ``_check_scheduler_state_dict``
and the KeyError of a resume without ``initial_lr``; with their helpers (``setUp``, ``LambdaLRTestObject``,
``_check_warning_is_epoch_deprecation_warning``, ``_test``).

Adapted only where the port needs it: ``unittest.TestCase`` for torch's internal TestCase (which needs expecttest),
with ``assertEqual`` comparing tensors, numbers and containers of them by value as torch's does; a fastsched
scheduler where the test built LambdaLR or StepLR (``lr_lambdas`` replaced where the test gives its own lambdas,
which LambdaLR semantics then call); a schedule's expected lrs are transformers' LambdaLR's for the same schedule,
stepped alongside on an identical optimizer; state dicts hold a partial's ``__dict__`` (``{}``, as transformers'
LambdaLR saves for its partials) where a plain function gave None.
"""

from __future__ import annotations

import copy
import gc
import tempfile
import types
import unittest
import warnings
import weakref
from functools import partial

import pytest
import torch
import torch.nn.functional as F
import transformers
from torch.nn import Parameter
from torch.optim import SGD
from torch.optim.lr_scheduler import EPOCH_DEPRECATION_WARNING, LRScheduler

import fastsched

COSINE = {"num_warmup_steps": 2, "num_training_steps": 10}


def same(expected, actual) -> bool:
    """torch's TestCase.assertEqual for these tests: tensors, numbers and containers of them compared by value."""
    if isinstance(expected, dict) or isinstance(actual, dict):
        return (
            isinstance(expected, dict)
            and isinstance(actual, dict)
            and expected.keys() == actual.keys()
            and all(same(expected[key], actual[key]) for key in expected)
        )
    if isinstance(expected, (list, tuple)) or isinstance(actual, (list, tuple)):
        return (
            isinstance(expected, (list, tuple))
            and isinstance(actual, (list, tuple))
            and len(expected) == len(actual)
            and all(same(a, b) for a, b in zip(expected, actual, strict=True))
        )
    if isinstance(expected, torch.Tensor) or isinstance(actual, torch.Tensor):
        dtype = (expected if isinstance(expected, torch.Tensor) else actual).dtype
        try:  # torch's tolerances for the tensor's dtype
            torch.testing.assert_close(torch.as_tensor(actual, dtype=dtype), torch.as_tensor(expected, dtype=dtype))
        except AssertionError:
            return False
        return True
    return expected == actual


class TestLRScheduler(unittest.TestCase):
    class SchedulerTestNet(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.conv1 = torch.nn.Conv2d(1, 1, 1)
            self.conv2 = torch.nn.Conv2d(1, 1, 1)

        def forward(self, x):
            return self.conv2(F.relu(self.conv1(x)))

    class LambdaLRTestObject:
        def __init__(self, value):
            self.value = value

        def __call__(self, epoch):
            return self.value * epoch

        def __eq__(self, other):
            if isinstance(other, self.__class__):
                return self.__dict__ == other.__dict__
            else:
                return False

    def setUp(self):
        super().setUp()
        self.net = self.SchedulerTestNet()
        self.opt = SGD(
            [
                {"params": self.net.conv1.parameters()},
                {"params": self.net.conv2.parameters(), "lr": torch.tensor(0.5)},
            ],
            lr=0.05,
        )

    def assertEqual(self, expected, actual, msg=None):
        self.assertTrue(same(expected, actual), msg or f"{expected!r} != {actual!r}")

    def _check_warning_is_epoch_deprecation_warning(self, w, *, num_warnings: int = 1):
        """This function swallows the epoch deprecation warning which is produced when we
        call `scheduler.step(epoch)` with some not `None` value of `epoch`.
        this is deprecated, and this function will need to be removed/updated when
        the schedulers no longer accept the parameter at all.
        """
        self.assertEqual(len(w), num_warnings)
        for warning in w:
            self.assertEqual(len(warning.message.args), 1)
            self.assertEqual(warning.message.args[0], EPOCH_DEPRECATION_WARNING)

    def test_no_cyclic_references(self):
        param = Parameter(torch.empty(10))
        optim = SGD([param], lr=0.5)
        scheduler = fastsched.get_constant_schedule(optim)
        del scheduler

        self.assertTrue(
            len(gc.get_referrers(optim)) == 0,
            "Optimizer should contain no cyclic references",
        )

        gc.collect()
        del optim
        self.assertEqual(gc.collect(), 0, msg="Optimizer should be garbage-collected on __del__")

    def test_no_cyclic_references_in_step(self):
        def run():
            param = torch.empty(10, requires_grad=True)
            optim = SGD(params=[param], lr=0.5)
            scheduler = fastsched.get_cosine_schedule_with_warmup(optim, **COSINE)
            param.sum().backward()
            optim.step()
            scheduler.step()

            return weakref.ref(scheduler)

        # To ensure that there are no reference cycles in scheduler,
        # we need to turn off the garbage collector. Since gc will
        # automatically collect unreachable objects.
        gc.disable()
        try:
            ref = run()
            assert ref() is None
        finally:
            gc.enable()  # restore

    def test_old_pattern_warning(self):
        epochs = 35
        with warnings.catch_warnings(record=True) as ws:
            warnings.simplefilter("always")  # allow any warning to be raised
            scheduler = fastsched.get_cosine_schedule_with_warmup(self.opt, **COSINE)
            self.assertTrue(len(ws) == 0, "No warning should be raised")

        def old_pattern():
            for _ in range(epochs):
                scheduler.step()
                self.opt.step()

        self.assertWarnsRegex(UserWarning, r"how-to-adjust-learning-rate", old_pattern)

    def test_old_pattern_warning_resuming(self):
        epochs = 35
        for group in self.opt.param_groups:
            group["initial_lr"] = 0.01

        with warnings.catch_warnings(record=True) as ws:
            warnings.simplefilter("always")  # allow any warning to be raised
            scheduler = fastsched.get_cosine_schedule_with_warmup(self.opt, **COSINE, last_epoch=10)
            self.assertTrue(len(ws) == 0, "No warning should be raised")

        def old_pattern():
            for _ in range(epochs):
                scheduler.step()
                self.opt.step()

        self.assertWarnsRegex(UserWarning, r"how-to-adjust-learning-rate", old_pattern)

    def test_old_pattern_warning_with_overridden_optim_step(self):
        epochs = 35
        for group in self.opt.param_groups:
            group["initial_lr"] = 0.01

        with warnings.catch_warnings(record=True) as ws:
            warnings.simplefilter("always")  # allow any warning to be raised
            scheduler = fastsched.get_cosine_schedule_with_warmup(self.opt, **COSINE, last_epoch=10)
            self.assertTrue(len(ws) == 0, "No warning should be raised")

        # emulate use-case with optimizer.step overridden
        old_step = self.opt.step

        def new_step(o, *args, **kwargs):
            retval = old_step(*args, **kwargs)
            return retval

        self.opt.step = types.MethodType(new_step, self.opt)

        def old_pattern2():
            for _ in range(epochs):
                scheduler.step()
                self.opt.step()

        self.assertWarnsRegex(UserWarning, r"how-to-adjust-learning-rate", old_pattern2)

    def test_new_pattern_no_warning(self):
        epochs = 35
        with warnings.catch_warnings(record=True) as ws:
            warnings.simplefilter("always")  # allow any warning to be raised
            scheduler = fastsched.get_cosine_schedule_with_warmup(self.opt, **COSINE)
            self.assertTrue(len(ws) == 0, "No warning should be raised")

        with warnings.catch_warnings(record=True) as ws:
            warnings.simplefilter("always")  # allow any warning to be raised
            for _ in range(epochs):
                self.opt.step()
                scheduler.step()
            self.assertTrue(len(ws) == 0, "No warning should be raised")

    def test_new_pattern_no_warning_with_overridden_optim_step(self):
        epochs = 35
        with warnings.catch_warnings(record=True) as ws:
            warnings.simplefilter("always")  # allow any warning to be raised
            scheduler = fastsched.get_cosine_schedule_with_warmup(self.opt, **COSINE)
            self.assertTrue(len(ws) == 0, "No warning should be raised")

        # emulate use-case with optimizer.step overridden
        old_step = self.opt.step

        def new_step(o, *args, **kwargs):
            retval = old_step(*args, **kwargs)
            return retval

        self.opt.step = types.MethodType(new_step, self.opt)

        def new_pattern():
            for _ in range(epochs):
                self.opt.step()
                scheduler.step()

        self.assertWarnsRegex(UserWarning, r"`optimizer.step\(\)` has been overridden", new_pattern)

    def _test_lr_is_constant_for_constant_epoch(self, scheduler):
        lr = []

        for _ in range(10):
            scheduler.optimizer.step()
            with warnings.catch_warnings(record=True) as w:
                warnings.simplefilter("always")
                scheduler.step(2)
                self._check_warning_is_epoch_deprecation_warning(w)

            lr.append(self.opt.param_groups[0]["lr"])
        self.assertEqual(min(lr), max(lr))

    def test_table_scheduler_is_constant_for_constant_epoch(self):
        scheduler = fastsched.get_cosine_schedule_with_warmup(self.opt, **COSINE)
        self._test_lr_is_constant_for_constant_epoch(scheduler)

    def test_raise_error_when_last_epoch_is_greater_than_0_and_initial_lr_is_not_specified(self):
        optimizer = SGD([Parameter(torch.randn(2, 2, requires_grad=True))], 0.1)
        with self.assertRaisesRegex(
            KeyError,
            r"param \'initial_lr\' is not specified in param_groups\[0\] when resuming scheduler with last_epoch >= 0",
        ):
            fastsched.get_cosine_schedule_with_warmup(optimizer, **COSINE, last_epoch=1)

    def test_lambda_lr(self):
        epochs = 10
        self.opt.param_groups[0]["lr"] = 0.05
        self.opt.param_groups[1]["lr"] = 0.4
        targets = [
            [0.05 * (0.9**x) for x in range(epochs)],
            [0.4 * (0.8**x) for x in range(epochs)],
        ]
        scheduler = fastsched.get_constant_schedule(self.opt)
        scheduler.lr_lambdas = [lambda x1: 0.9**x1, lambda x2: 0.8**x2]
        self._test(scheduler, targets, epochs)

    def test_table_scheduler_lr_is_lambdalrs(self):
        epochs = 30
        reference_optimizer = copy.deepcopy(self.opt)
        reference = transformers.get_cosine_schedule_with_warmup(reference_optimizer, **COSINE)
        scheduler = fastsched.get_cosine_schedule_with_warmup(self.opt, **COSINE)
        targets = [[], []]
        for _ in range(epochs):
            for target, group in zip(targets, reference_optimizer.param_groups, strict=True):
                target.append(group["lr"].item() if isinstance(group["lr"], torch.Tensor) else group["lr"])
            reference_optimizer.step()
            reference.step()
        self._test(scheduler, targets, epochs)

    def test_lambda_lr_state_dict_fn(self):
        scheduler = fastsched.get_cosine_schedule_with_warmup(self.opt, **COSINE)
        state = scheduler.state_dict()
        reference = transformers.get_cosine_schedule_with_warmup(copy.deepcopy(self.opt), **COSINE)
        self.assertEqual(state["lr_lambdas"][0], reference.state_dict()["lr_lambdas"][0])  # a partial's __dict__

        scheduler_copy = fastsched.get_cosine_schedule_with_warmup(self.opt, num_warmup_steps=5, num_training_steps=7)
        scheduler_copy.load_state_dict(state)
        for key in scheduler.__dict__:
            if key not in {"optimizer", "lr_lambdas"}:
                self.assertEqual(scheduler.__dict__[key], scheduler_copy.__dict__[key])

    def test_lambda_lr_state_dict_obj(self):
        scheduler = fastsched.get_constant_schedule(self.opt)
        scheduler.lr_lambdas = [self.LambdaLRTestObject(10)] * len(self.opt.param_groups)
        state = scheduler.state_dict()
        self.assertIsNotNone(state["lr_lambdas"][0])

        scheduler_copy = fastsched.get_constant_schedule(self.opt)
        scheduler_copy.lr_lambdas = [self.LambdaLRTestObject(-1)] * len(self.opt.param_groups)
        scheduler_copy.load_state_dict(state)
        for key in scheduler.__dict__:
            if key not in {"optimizer"}:
                self.assertEqual(scheduler.__dict__[key], scheduler_copy.__dict__[key])

    def test_table_scheduler_state_dict(self):
        # _check_scheduler_state_dict, keys but LambdaLR's lr_lambdas (the copy has another schedule)
        self._check_scheduler_state_dict(
            lambda: fastsched.get_cosine_schedule_with_warmup(self.opt, **COSINE),
            lambda: fastsched.get_linear_schedule_with_warmup(self.opt, num_warmup_steps=1, num_training_steps=5),
        )

    def _check_scheduler_state_dict(self, constr, constr2, epochs=10):
        scheduler = constr()
        for _ in range(epochs):
            scheduler.optimizer.step()
            scheduler.step()
        scheduler_copy = constr2()
        scheduler_copy.load_state_dict(scheduler.state_dict())
        for key in scheduler.__dict__:
            if key not in {"optimizer", "lr_lambdas"}:
                self.assertEqual(scheduler.__dict__[key], scheduler_copy.__dict__[key])
        self.assertEqual(scheduler.get_last_lr(), scheduler_copy.get_last_lr())

    def _test(self, schedulers, targets, epochs=10):
        if isinstance(schedulers, LRScheduler):
            schedulers = [schedulers]
        for epoch in range(epochs):
            for param_group, target in zip(self.opt.param_groups, targets, strict=True):
                self.assertAlmostEqual(
                    target[epoch],
                    float(param_group["lr"]),
                    msg=f"LR is wrong in epoch {epoch}: expected {target[epoch]}, got {param_group['lr']}",
                    delta=1e-5,
                )
            [scheduler.step() for scheduler in schedulers]


# The parametrized tests' LambdaLR case (LambdaLR(lr_lambda=lambda e: e // 10)), fastsched's schedulers in its place
TABLE_SCHEDULERS = [
    partial(fastsched.get_cosine_schedule_with_warmup, **COSINE),
    partial(fastsched.get_polynomial_decay_schedule_with_warmup, **COSINE, lr_end=1e-4, power=2.0),
]


@pytest.mark.parametrize("LRClass", TABLE_SCHEDULERS)
@pytest.mark.parametrize("weights_only", [True, False])
def test_lr_scheduler_state_dict_load(LRClass, weights_only):
    case = TestLRScheduler()
    case.setUp()
    scheduler = LRClass(case.opt)
    state_dict = scheduler.state_dict()

    with tempfile.TemporaryFile() as f:
        torch.save(state_dict, f)
        f.seek(0)
        state_dict_loaded = torch.load(f, weights_only=weights_only)
        case.assertEqual(state_dict, state_dict_loaded)
        # Make sure state_dict can be loaded
        scheduler2 = LRClass(case.opt)
        scheduler2.load_state_dict(state_dict_loaded)
        case.assertEqual(scheduler2.state_dict(), state_dict)


@pytest.mark.parametrize("LRClass", TABLE_SCHEDULERS)
def test_constant_initial_lr(LRClass):
    case = TestLRScheduler()
    # Test that the initial learning rate is constant and that it does not alias base_lrs
    lr = torch.as_tensor(0.1)
    opt = SGD([torch.nn.Parameter(torch.randn(1))], lr=lr)
    sch = LRClass(opt)

    ori_param_groups = copy.deepcopy(opt.param_groups)

    for i in range(2):
        opt.step()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # step(epoch)'s deprecation
            sch.step(i)
        lr.multiply_(0.1)
        for group, ori_group in zip(opt.param_groups, ori_param_groups, strict=True):
            case.assertEqual(group["initial_lr"], ori_group["initial_lr"])
            case.assertEqual(sch.base_lrs, [0.1])
            case.assertIsNot(sch.base_lrs[0], group["initial_lr"])


@pytest.mark.parametrize("LRClass", TABLE_SCHEDULERS)
def test_lr_scheduler_checkpoint(LRClass):
    case = TestLRScheduler()
    model = torch.nn.Linear(3, 3)
    optim = torch.optim.AdamW(model.parameters())
    sch = LRClass(optim)
    optim.step()
    sch.step()
    optim2 = torch.optim.AdamW(model.parameters())
    optim2.load_state_dict(optim.state_dict())
    sch2 = LRClass(optim2, last_epoch=0)
    case.assertEqual(
        sch2._get_closed_form_lr()[0] if hasattr(case, "_get_closed_form_lr") else sch2.get_last_lr()[0],
        optim.param_groups[0]["lr"],
    )
