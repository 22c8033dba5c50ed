"""What a drop-in scheduler costs: fastsched's TableScheduler next to transformers' LambdaLR, in one run.

    pytest bench/test_bench_scheduler.py --benchmark-enable

- group ``scheduler-step``: one ``step()`` with two param groups (Trainer's decay / no-decay split).
  Limit: fastsched at most 1/8 of transformers' LambdaLR.
- group ``scheduler-build``: building a scheduler for 1,000,000 training steps (cosine, libm cosine: the
  exact path), numba cache warm. Limit: 20 ms. ``extra_info`` holds the memory: bytes per scheduled step
  (limit 8) and the state_dict's size (limit 2 KB).
"""

from __future__ import annotations

import pickle
import tracemalloc
import warnings

import pytest
import torch
import transformers

import fastsched

NUM_TRAINING_STEPS = 1_000_000
NUM_WARMUP_STEPS = 1_000
STEP_ROUNDS, STEP_ITERATIONS = 100, 2_000  # 200,000 steps: all inside the 1,000,000-step table


def two_group_optimizer() -> torch.optim.Optimizer:
    decay, no_decay = torch.zeros(4, 4, requires_grad=True), torch.zeros(4, requires_grad=True)
    return torch.optim.AdamW([{"params": [decay]}, {"params": [no_decay], "weight_decay": 0.0}], lr=1e-3)


def ready_to_step(make_scheduler):
    """A scheduler past its first step (where torch checks the optimizer.step() order), as in a training loop."""
    optimizer = two_group_optimizer()
    scheduler = make_scheduler(optimizer, NUM_WARMUP_STEPS, NUM_TRAINING_STEPS)
    optimizer.step()
    scheduler.step()
    return scheduler


@pytest.mark.benchmark(group="scheduler-step")
def test_step_fastsched(benchmark):
    scheduler = ready_to_step(fastsched.get_cosine_schedule_with_warmup)
    benchmark.extra_info.update(
        {
            "what": "TableScheduler.step(), cosine, 2 param groups",
            "limit": "at most 1/8 of test_step_transformers_lambdalr",
            "reference": "test_step_transformers_lambdalr",
            "max_ratio_to_reference": 0.125,
        }
    )
    benchmark.pedantic(scheduler.step, rounds=STEP_ROUNDS, iterations=STEP_ITERATIONS, warmup_rounds=2)


@pytest.mark.benchmark(group="scheduler-step")
def test_step_transformers_lambdalr(benchmark):
    scheduler = ready_to_step(transformers.get_cosine_schedule_with_warmup)
    benchmark.extra_info.update(
        {"what": "transformers' LambdaLR.step(), cosine, 2 param groups", "transformers": transformers.__version__}
    )
    benchmark.pedantic(scheduler.step, rounds=STEP_ROUNDS, iterations=STEP_ITERATIONS, warmup_rounds=2)


def bytes_retained(make_scheduler) -> int:
    """What building a scheduler for NUM_TRAINING_STEPS leaves allocated (tracemalloc: Python and numpy memory)."""
    optimizer = two_group_optimizer()
    tracemalloc.start()
    try:
        scheduler = make_scheduler(optimizer, NUM_WARMUP_STEPS, NUM_TRAINING_STEPS)
        retained, _ = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    del scheduler
    return retained


@pytest.mark.benchmark(group="scheduler-build")
def test_build_1m_steps_fastsched(benchmark):
    optimizer = two_group_optimizer()
    fastsched.get_cosine_schedule_with_warmup(optimizer, NUM_WARMUP_STEPS, NUM_TRAINING_STEPS)  # numba cache warm
    scheduler = benchmark.pedantic(
        fastsched.get_cosine_schedule_with_warmup,
        args=(optimizer, NUM_WARMUP_STEPS, NUM_TRAINING_STEPS),
        rounds=10,
        warmup_rounds=1,
    )
    retained = bytes_retained(fastsched.get_cosine_schedule_with_warmup)
    benchmark.extra_info.update(
        {
            "what": "get_cosine_schedule_with_warmup for 1,000,000 steps (table computed with libm cosine)",
            "num_training_steps": NUM_TRAINING_STEPS,
            "limit_seconds": 0.020,
            "bytes_retained": retained,
            "bytes_per_step": retained / NUM_TRAINING_STEPS,  # the table's 8, and a few KB whatever the length
            "table_bytes_per_step": scheduler._table.itemsize,
            "limit_bytes_per_step": 8,
            "state_dict_bytes": len(pickle.dumps(scheduler.state_dict())),
            "limit_state_dict_bytes": 2048,
        }
    )


@pytest.mark.benchmark(group="scheduler-build")
def test_build_1m_steps_transformers_lambdalr(benchmark):
    optimizer = two_group_optimizer()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        scheduler = benchmark.pedantic(
            transformers.get_cosine_schedule_with_warmup,
            args=(optimizer, NUM_WARMUP_STEPS, NUM_TRAINING_STEPS),
            rounds=10,
            warmup_rounds=1,
        )
    benchmark.extra_info.update(
        {
            "what": "transformers' get_cosine_schedule_with_warmup (computes nothing ahead: no table)",
            "bytes_retained": bytes_retained(transformers.get_cosine_schedule_with_warmup),
            "state_dict_bytes": len(pickle.dumps(scheduler.state_dict())),
        }
    )
