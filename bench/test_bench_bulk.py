"""The bulk API against its references, side by side in one run (pytest-benchmark).

Groups (each holds the reference it is judged against, so ratios come from one run on one machine):
- ``trajectory-float64`` / ``trajectory-float32``: trajectory(name, 10**7, out=preallocated) for the schedules
  of issue 4, next to ``ndarray.fill`` of the same array (the memory-write limit), the cosine as a numpy
  formula (float64) and, where jax is installed, as a JAX-jitted formula in the same dtype (x64 mode on).
- ``sweep-cosine``: sweep('cosine', 20 000 steps, 64 configs) next to building and stepping transformers'
  schedulers for the same grid (values checked equal first).
- ``scale-float64``: cosine trajectories of 1e5 .. 1e8 elements next to fills of the same sizes (ns per element).

Run through ``python bench/record.py`` (which writes bench/results/<machine>.json), or directly:
``pytest bench/test_bench_bulk.py --benchmark-enable``.
"""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest

import fastsched

NUM_STEPS = 10_000_000
WARMUP = NUM_STEPS // 100
BASE_LR = 3e-4

# issue 4's schedules, each over the whole trajectory (warmup, decay and, where there is one, the tail)
TRAJECTORIES = {
    "cosine": dict(num_warmup_steps=WARMUP, num_training_steps=NUM_STEPS),
    "cosine_with_restarts": dict(num_warmup_steps=WARMUP, num_training_steps=NUM_STEPS, num_cycles=4),
    "cosine_with_min_lr": dict(num_warmup_steps=WARMUP, num_training_steps=NUM_STEPS, min_lr_rate=0.1),
    # num_training_steps rather than num_stable_steps: schedules.max_cosine_angle reads only the former (see issue)
    "warmup_stable_decay": dict(num_warmup_steps=WARMUP, num_decay_steps=NUM_STEPS // 2, num_training_steps=NUM_STEPS),
    "linear": dict(num_warmup_steps=WARMUP, num_training_steps=NUM_STEPS),
    "constant": dict(),
    "polynomial": dict(num_warmup_steps=WARMUP, num_training_steps=NUM_STEPS, power=1.0),
}

# 1 element measures the fixed cost of a call (validation, packing, dispatch): record.py reports the time per
# element with and without it.
SCALE_SIZES = [1, 10**5, 10**6, 10**7, 10**8]


def touched(num_steps: int, dtype) -> np.ndarray:
    """A preallocated output whose pages are already mapped: neither side of a ratio pays the page faults."""
    out = np.empty(num_steps, dtype=dtype)
    out.fill(0.0)
    return out


def numpy_cosine(num_steps: int, base_lr: float, num_warmup_steps: int, num_training_steps: int, num_cycles=0.5):
    """The cosine-with-warmup schedule as a user writes it in numpy (what fastsched replaces)."""
    steps = np.arange(num_steps, dtype=np.float64)
    warmup = steps / max(1, num_warmup_steps)
    progress = (steps - num_warmup_steps) / max(1, num_training_steps - num_warmup_steps)
    decay = np.maximum(0.0, 0.5 * (1.0 + np.cos(math.pi * num_cycles * 2.0 * progress)))
    return base_lr * np.where(steps < num_warmup_steps, warmup, decay)


@pytest.fixture(scope="module")
def out64():
    return touched(NUM_STEPS, np.float64)


@pytest.fixture(scope="module")
def out32():
    return touched(NUM_STEPS, np.float32)


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_fill(benchmark, dtype, out64, out32):
    out = out64 if dtype == "float64" else out32
    benchmark.group = f"trajectory-{dtype}"
    benchmark.extra_info.update(kind="fill", num_elements=out.size, dtype=dtype)
    benchmark(out.fill, BASE_LR)


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("name", list(TRAJECTORIES))
def test_trajectory(benchmark, name, dtype, out64, out32):
    out = out64 if dtype == "float64" else out32
    params = TRAJECTORIES[name]
    benchmark.group = f"trajectory-{dtype}"
    benchmark.extra_info.update(kind="fastsched", schedule=name, num_elements=out.size, dtype=dtype)
    result = benchmark(fastsched.trajectory, name, NUM_STEPS, base_lr=BASE_LR, out=out, **params)
    assert result is out
    assert np.isfinite(out).all()


def test_numpy_formula(benchmark, out64):
    params = TRAJECTORIES["cosine"]
    expected = fastsched.trajectory("cosine", NUM_STEPS, base_lr=BASE_LR, out=out64, **params).copy()
    benchmark.group = "trajectory-float64"
    benchmark.extra_info.update(kind="numpy", schedule="cosine", num_elements=NUM_STEPS, dtype="float64")
    got = benchmark.pedantic(numpy_cosine, args=(NUM_STEPS, BASE_LR), kwargs=params, rounds=5, warmup_rounds=1)
    np.testing.assert_allclose(got, expected, rtol=0, atol=1e-12 * BASE_LR)


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_jax_formula(benchmark, dtype, out64, out32):
    jax = pytest.importorskip("jax")
    # float64 needs x64 mode (JAX computes in float32 otherwise); the float32 run still builds float32 arrays
    jax.config.update("jax_enable_x64", True)
    jnp = jax.numpy
    jax_dtype = jnp.dtype(dtype)
    out = out64 if dtype == "float64" else out32
    params = TRAJECTORIES["cosine"]

    @jax.jit
    def jax_cosine(base_lr):
        # the numpy formula above, every array and scalar in `dtype` (a JAX user's default is float32)
        steps = jnp.arange(NUM_STEPS, dtype=jax_dtype)
        warmup = steps / max(1, WARMUP)
        progress = (steps - WARMUP) / max(1, NUM_STEPS - WARMUP)
        decay = jnp.maximum(0.0, 0.5 * (1.0 + jnp.cos(math.pi * 0.5 * 2.0 * progress)))
        return base_lr.astype(jax_dtype) * jnp.where(steps < WARMUP, warmup, decay)

    def run():
        return jax_cosine(jnp.asarray(BASE_LR, dtype=jax_dtype)).block_until_ready()

    expected = fastsched.trajectory("cosine", NUM_STEPS, base_lr=BASE_LR, out=out, **params)
    got = np.asarray(run())
    assert got.dtype == np.dtype(dtype)
    np.testing.assert_allclose(got, expected, rtol=0, atol=(1e-5 if dtype == "float32" else 1e-12) * BASE_LR)
    benchmark.group = f"trajectory-{dtype}"
    benchmark.extra_info.update(kind="jax", schedule="cosine", num_elements=NUM_STEPS, dtype=dtype)
    benchmark(run)


# --- sweep vs transformers -------------------------------------------------------------------------------------

SWEEP_STEPS = 20_000
SWEEP_CONFIGS = 64


@pytest.fixture(scope="module")
def sweep_grid():
    """64 configs, each with its own warmup, length, number of cycles and base lr."""
    rng = np.random.default_rng(4)
    return dict(
        base_lr=10.0 ** rng.uniform(-5, -2, SWEEP_CONFIGS),
        num_warmup_steps=rng.integers(0, 2_000, SWEEP_CONFIGS),
        num_training_steps=rng.integers(5_000, 25_000, SWEEP_CONFIGS),
        num_cycles=np.concatenate([[0.5, 1.0, 100.0], rng.uniform(0.25, 4.0, SWEEP_CONFIGS - 3)]),
    )


def transformers_sweep(grid) -> np.ndarray:
    """What a sweep author does today: build a transformers scheduler per config and step it."""
    import torch
    from transformers import get_cosine_schedule_with_warmup

    table = np.empty((SWEEP_CONFIGS, SWEEP_STEPS))
    param = torch.zeros(1, requires_grad=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # scheduler.step() before optimizer.step()
        for i in range(SWEEP_CONFIGS):
            optimizer = torch.optim.SGD([param], lr=float(grid["base_lr"][i]))
            scheduler = get_cosine_schedule_with_warmup(
                optimizer,
                int(grid["num_warmup_steps"][i]),
                int(grid["num_training_steps"][i]),
                float(grid["num_cycles"][i]),
            )
            row = table[i]
            for j in range(SWEEP_STEPS):
                row[j] = scheduler.get_last_lr()[0]
                scheduler.step()
    return table


def test_sweep_fastsched(benchmark, sweep_grid):
    out = touched(SWEEP_CONFIGS * SWEEP_STEPS, np.float64).reshape(SWEEP_CONFIGS, SWEEP_STEPS)
    benchmark.group = "sweep-cosine"
    benchmark.extra_info.update(kind="fastsched", configs=SWEEP_CONFIGS, num_steps=SWEEP_STEPS)
    benchmark(fastsched.sweep, "cosine", SWEEP_STEPS, out=out, **sweep_grid)


def test_sweep_transformers(benchmark, sweep_grid):
    benchmark.group = "sweep-cosine"
    benchmark.extra_info.update(kind="transformers", configs=SWEEP_CONFIGS, num_steps=SWEEP_STEPS)
    # one round: 1.3 million scheduler steps take seconds
    table = benchmark.pedantic(transformers_sweep, args=(sweep_grid,), rounds=1, iterations=1)
    ours = fastsched.sweep("cosine", SWEEP_STEPS, **sweep_grid)
    atol = 1e-12 * sweep_grid["base_lr"][:, None]
    assert (np.abs(ours - table) <= atol).all(), "fastsched's sweep must equal transformers' values"


# --- scale -------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("num_elements", SCALE_SIZES, ids=lambda n: f"1e{round(math.log10(n))}")
@pytest.mark.parametrize("kind", ["fastsched", "fill"])
def test_scale(benchmark, kind, num_elements):
    out = touched(num_elements, np.float64)
    params = dict(num_warmup_steps=num_elements // 100, num_training_steps=num_elements)
    benchmark.group = "scale-float64"
    benchmark.extra_info.update(kind=kind, schedule="cosine", num_elements=num_elements, dtype="float64")
    if kind == "fill":
        benchmark(out.fill, BASE_LR)
    else:
        benchmark(fastsched.trajectory, "cosine", num_elements, base_lr=BASE_LR, out=out, **params)
