"""Accelerate's scheduler tests, with fastsched's schedulers in Accelerate's AcceleratedScheduler.

Ported from huggingface/accelerate, ``tests/test_scheduler.py`` (Apache-2.0): ``lambda_test`` and
``accumulation_test`` with ``SchedulerTester``'s cases that run them (single process and two processes, with and
without stepping the scheduler with the optimizer, split batches).

Adapted only where the port needs it: ``lambda_test``'s ``LambdaLR(optimizer, lr_lambda=lambda n: 1 - n / 10)`` is
fastsched's linear schedule without warmup over 10 steps, whose multipliers are the same numbers, ``(10 - n) / 10``;
``accumulation_test``'s ``get_linear_schedule_with_warmup`` is fastsched's (it needs no transformers then); each
test checks that the scheduler inside Accelerate's is fastsched's; ``one_cycle_test`` (torch's OneCycleLR: no
fastsched in it) is left out.
"""

from __future__ import annotations

from functools import partial

import pytest
import torch
from accelerate import Accelerator, debug_launcher
from accelerate.state import AcceleratorState, GradientState
from accelerate.utils import GradientAccumulationPlugin

import fastsched


@pytest.fixture(autouse=True)
def fresh_accelerator_state():
    # the kernels load here, once: the processes debug_launcher forks inherit them
    fastsched.get_linear_schedule_with_warmup(torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=1.0), 0, 10)
    AcceleratorState._reset_state(True)
    yield
    AcceleratorState._reset_state(True)
    GradientState._reset_state()


def lambda_test(num_processes=2, step_scheduler_with_optimizer=True, split_batches=False):
    accelerator = Accelerator(step_scheduler_with_optimizer=step_scheduler_with_optimizer, split_batches=split_batches)
    model = torch.nn.Linear(2, 4)
    optimizer = torch.optim.AdamW(model.parameters(), lr=1.0)
    scheduler = fastsched.get_linear_schedule_with_warmup(optimizer, num_warmup_steps=0, num_training_steps=10)
    model, optimizer, scheduler = accelerator.prepare(model, optimizer, scheduler)
    assert isinstance(scheduler.scheduler, fastsched.TableScheduler)

    # Optimizer has stepped
    optimizer._is_overflow = False
    scheduler.step()
    expected_lr = 1 - (num_processes if (step_scheduler_with_optimizer and not split_batches) else 1) / 10
    assert scheduler.get_last_lr()[0] == expected_lr, (
        f"Wrong lr found at first step, expected {expected_lr}, got {scheduler.get_last_lr()[0]}"
    )

    # Optimizer has not stepped
    optimizer._is_overflow = True
    scheduler.step()
    if not step_scheduler_with_optimizer:
        expected_lr = 1 - 2 / 10
    assert scheduler.get_last_lr()[0] == expected_lr, (
        f"Wrong lr found at second step, expected {expected_lr}, got {scheduler.get_last_lr()[0]}"
    )


def accumulation_test(num_processes: int = 2):
    """
    With this test, an observed batch size of 64 should result in neglible
    differences in the scheduler after going through the correct number of steps.

    Uses single, two, and four steps to test.
    """
    steps = [1, 2, 4]
    for num_steps in steps:
        plugin = GradientAccumulationPlugin(num_steps=num_steps, adjust_scheduler=num_steps > 1)
        accelerator = Accelerator(gradient_accumulation_plugin=plugin)
        model = torch.nn.Linear(2, 4)
        optimizer = torch.optim.AdamW(model.parameters(), lr=10.0)
        scheduler = fastsched.get_linear_schedule_with_warmup(
            optimizer=optimizer, num_warmup_steps=0, num_training_steps=20
        )

        model, optimizer, scheduler = accelerator.prepare(model, optimizer, scheduler)
        assert isinstance(scheduler.scheduler, fastsched.TableScheduler)

        for i in range(10 * num_steps):
            with accelerator.accumulate(model):
                optimizer.step()
                scheduler.step()

            if i == (10 * num_steps - 2):
                assert scheduler.get_last_lr()[0] != 0, (
                    f"Wrong lr found at second-to-last step, expected non-zero, got {scheduler.get_last_lr()[0]}. "
                    f"num_steps: {num_steps}"
                )
        assert scheduler.get_last_lr()[0] == 0, (
            f"Wrong lr found at last step, expected 0, got {scheduler.get_last_lr()[0]}"
        )
        GradientState._reset_state()


def test_lambda_scheduler_steps_with_optimizer_single_process():
    debug_launcher(partial(lambda_test, num_processes=1), num_processes=1)
    debug_launcher(partial(lambda_test, num_processes=1, split_batches=True), num_processes=1)


def test_lambda_scheduler_not_step_with_optimizer_single_process():
    debug_launcher(partial(lambda_test, num_processes=1, step_scheduler_with_optimizer=False), num_processes=1)


def test_lambda_scheduler_steps_with_optimizer_multiprocess():
    debug_launcher(lambda_test)
    debug_launcher(partial(lambda_test, num_processes=1, split_batches=True), num_processes=1)


def test_lambda_scheduler_not_step_with_optimizer_multiprocess():
    debug_launcher(partial(lambda_test, step_scheduler_with_optimizer=False))


def test_accumulation():
    debug_launcher(partial(accumulation_test, num_processes=1))
    debug_launcher(accumulation_test)
