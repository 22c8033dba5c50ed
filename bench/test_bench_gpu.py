"""GPU benchmarks: the CUDA bulk API and the graph-captured scheduler (skipped without a CUDA GPU).

No GPU figure has been recorded yet: none of fastsched's development machines had a GPU so far.

Groups (pytest-benchmark; each timed call ends with a synchronize, and each test also stores the device time
from CUDA events in ``extra_info["device_ms"]``):
- ``gpu-trajectory-float32``: trajectory('cosine', 2**28, float32, out=) next to ``Tensor.fill_`` of the same
  tensor (the memory-write limit) and the same schedule as eager torch ops (the reference users write today).
- ``gpu-sweep-float32``: sweep('cosine', 2**20 steps x 256 configs, float32, out=), same two references.
- ``gpu-scheduler``: CudaScheduler.step() replayed from a CUDA graph (device time per step) and called eagerly.

Figures for bench/results/<gpu>.json (goals from issue 6): ``trajectory_fill_ratio`` and ``sweep_fill_ratio``
(fill_ time / fastsched time, goal >= 0.8), ``eager_torch_vs_trajectory`` and ``eager_torch_vs_sweep`` (eager
time / fastsched time, goal >= 5), ``graph_scheduler_step_us`` (device time of one captured step). Write them
with ``python bench/test_bench_gpu.py`` (device name and versions included), or run the groups with
``pytest bench/test_bench_gpu.py --benchmark-enable``.
"""

from __future__ import annotations

import importlib.metadata
import json
import math
import platform
import re
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
import torch

import fastsched

HAS_CUDA = torch.cuda.is_available()
pytestmark = [pytest.mark.gpu, pytest.mark.skipif(not HAS_CUDA, reason="needs a real CUDA GPU")]

NUM_ELEMENTS = 1 << 28
SWEEP_CONFIGS = 256
SWEEP_STEPS = NUM_ELEMENTS // SWEEP_CONFIGS
BASE_LR = 3e-4
TRAJECTORY = {"num_warmup_steps": NUM_ELEMENTS // 100, "num_training_steps": NUM_ELEMENTS, "num_cycles": 0.5}
GOALS = {
    "trajectory_fill_ratio": (0.8, "min"),
    "sweep_fill_ratio": (0.8, "min"),
    "eager_torch_vs_trajectory": (5.0, "min"),
    "eager_torch_vs_sweep": (5.0, "min"),
}


def sweep_parameters() -> dict:
    """A 256-config grid: 4 warmups x 4 lengths x 4 cycle counts x 4 base lrs."""
    index = torch.arange(SWEEP_CONFIGS, dtype=torch.float64)
    return {
        "base_lr": (1e-4 * 2.0 ** (index % 4)).tolist(),
        "num_warmup_steps": (SWEEP_STEPS // 100 * (1 + index // 4 % 4)).long().tolist(),
        "num_training_steps": (SWEEP_STEPS // 4 * (1 + index // 16 % 4)).long().tolist(),
        "num_cycles": (0.5 + (index // 64 % 4)).tolist(),
    }


# --- REFERENCE, not part of fastsched -------------------------------------------------------------------------
# transformers' cosine-with-warmup schedule written as eager torch ops: what a user computes on the GPU today and
# what the CUDA kernel is measured against. It restates the formula on purpose (like bench/'s numpy reference);
# fastsched's own formulas live only in kernels/shapes.py.
def eager_torch_cosine(out: torch.Tensor, base_lr, num_warmup_steps, num_training_steps, num_cycles) -> None:
    """out (configs, steps) or (steps,) = base_lr x cosine multiplier; parameters are scalars or (configs, 1)."""
    steps = torch.arange(out.shape[-1], dtype=torch.float64, device=out.device)
    warmup = steps / torch.clamp(torch.as_tensor(num_warmup_steps, dtype=torch.float64), min=1.0)
    span = torch.clamp(torch.as_tensor(num_training_steps - num_warmup_steps, dtype=torch.float64), min=1.0)
    progress = (steps - num_warmup_steps) / span
    decay = torch.clamp(0.5 * (1.0 + torch.cos(math.pi * num_cycles * 2.0 * progress)), min=0.0)
    out.copy_(base_lr * torch.where(steps < num_warmup_steps, warmup, decay))


# ---------------------------------------------------------------------------------------------------------------


def device_ms(fn: Callable[[], object], repeats: int = 10) -> float:
    """The fastest of `repeats` runs of fn, in milliseconds of device time (CUDA events), after one warm-up."""
    fn()
    torch.cuda.synchronize()
    best = math.inf
    for _ in range(repeats):
        start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        start.record()
        fn()
        end.record()
        end.synchronize()
        best = min(best, start.elapsed_time(end))
    return best


def synchronized(fn: Callable[[], object]) -> Callable[[], None]:
    def run() -> None:
        fn()
        torch.cuda.synchronize()

    return run


def trajectory_cases(out: torch.Tensor) -> dict[str, Callable[[], object]]:
    return {
        "fill": lambda: out.fill_(BASE_LR),
        "fastsched": lambda: fastsched.trajectory("cosine", out.numel(), base_lr=BASE_LR, out=out, **TRAJECTORY),
        "eager_torch": lambda: eager_torch_cosine(out, BASE_LR, **TRAJECTORY),
    }


def sweep_cases(out: torch.Tensor) -> dict[str, Callable[[], object]]:
    params = sweep_parameters()
    columns = {k: torch.tensor(v, dtype=torch.float64, device=out.device)[:, None] for k, v in params.items()}
    return {
        "fill": lambda: out.fill_(BASE_LR),
        "fastsched": lambda: fastsched.sweep("cosine", SWEEP_STEPS, out=out, **params),
        "eager_torch": lambda: eager_torch_cosine(out, **columns),
    }


def captured_scheduler(steps_per_graph: int = 1) -> tuple[torch.cuda.CUDAGraph, fastsched.CudaScheduler]:
    """A CudaScheduler over two param groups whose step() is captured in a CUDA graph."""
    model = torch.nn.Linear(8, 8).cuda()
    groups = [{"params": [model.weight]}, {"params": [model.bias], "lr": 1e-3}]
    optimizer = torch.optim.AdamW(groups, lr=torch.tensor(3e-4, device="cuda"), capturable=True)
    scheduler = fastsched.CudaScheduler(optimizer, "cosine", num_warmup_steps=1000, num_training_steps=100_000)
    side = torch.cuda.Stream()
    side.wait_stream(torch.cuda.current_stream())
    with torch.cuda.stream(side):
        scheduler.step()
    torch.cuda.current_stream().wait_stream(side)
    graph = torch.cuda.CUDAGraph()
    with torch.cuda.graph(graph):
        for _ in range(steps_per_graph):
            scheduler.step()
    return graph, scheduler


@pytest.fixture(scope="module")
def trajectory_out() -> torch.Tensor:
    return torch.zeros(NUM_ELEMENTS, dtype=torch.float32, device="cuda")


@pytest.fixture(scope="module")
def sweep_out() -> torch.Tensor:
    return torch.zeros((SWEEP_CONFIGS, SWEEP_STEPS), dtype=torch.float32, device="cuda")


@pytest.mark.benchmark(group="gpu-trajectory-float32")
@pytest.mark.parametrize("kind", ["fill", "fastsched", "eager_torch"])
def test_bench_gpu_trajectory(benchmark, trajectory_out, kind):
    fn = trajectory_cases(trajectory_out)[kind]
    benchmark.extra_info.update(kind=kind, num_elements=NUM_ELEMENTS, device_ms=device_ms(fn))
    benchmark(synchronized(fn))


@pytest.mark.benchmark(group="gpu-sweep-float32")
@pytest.mark.parametrize("kind", ["fill", "fastsched", "eager_torch"])
def test_bench_gpu_sweep(benchmark, sweep_out, kind):
    fn = sweep_cases(sweep_out)[kind]
    benchmark.extra_info.update(kind=kind, num_elements=NUM_ELEMENTS, device_ms=device_ms(fn))
    benchmark(synchronized(fn))


@pytest.mark.benchmark(group="gpu-scheduler")
def test_bench_gpu_graph_captured_scheduler_step(benchmark):
    graph, scheduler = captured_scheduler(steps_per_graph=100)  # the scheduler owns the tensors the graph uses
    benchmark.extra_info["device_us_per_step"] = device_ms(graph.replay) * 1000 / 100
    benchmark(synchronized(graph.replay))
    assert scheduler.last_epoch > 100


@pytest.mark.benchmark(group="gpu-scheduler")
def test_bench_gpu_eager_scheduler_step(benchmark):
    _, scheduler = captured_scheduler()
    benchmark(scheduler.step)  # host time of queuing one step; no sync inside
    torch.cuda.synchronize()


def gpu_figures() -> dict[str, float]:
    """Device-time figures for bench/results/<gpu>.json (CUDA events, fastest of 10)."""
    trajectory = {k: device_ms(fn) for k, fn in trajectory_cases(torch.zeros(NUM_ELEMENTS, device="cuda")).items()}
    sweep_out = torch.zeros((SWEEP_CONFIGS, SWEEP_STEPS), device="cuda")
    sweep = {k: device_ms(fn) for k, fn in sweep_cases(sweep_out).items()}
    graph, scheduler = captured_scheduler(steps_per_graph=100)  # kept alive: the graph uses its tensors
    figures = {f"trajectory_{k}_ms": v for k, v in trajectory.items()} | {f"sweep_{k}_ms": v for k, v in sweep.items()}
    figures |= {
        "trajectory_fill_ratio": trajectory["fill"] / trajectory["fastsched"],
        "sweep_fill_ratio": sweep["fill"] / sweep["fastsched"],
        "eager_torch_vs_trajectory": trajectory["eager_torch"] / trajectory["fastsched"],
        "eager_torch_vs_sweep": sweep["eager_torch"] / sweep["fastsched"],
        "graph_scheduler_step_us": device_ms(graph.replay) * 1000 / 100,
    }
    assert scheduler.last_epoch > 100
    return figures


def main() -> None:
    if not HAS_CUDA:
        sys.exit("no CUDA GPU here: nothing measured, nothing written")
    figures = gpu_figures()
    device = torch.cuda.get_device_name()
    packages = ("torch", "numba", "numba-cuda", "numpy", "fastsched")
    result = {
        "device": device,
        "cuda": torch.version.cuda,
        "python": platform.python_version(),
        "versions": {name: importlib.metadata.version(name) for name in packages},
        "num_elements": NUM_ELEMENTS,
        "dtype": "float32",
        "figures": figures,
        "goals": {name: {"goal": f">= {bound}", "met": figures[name] >= bound} for name, (bound, _) in GOALS.items()},
    }
    path = Path(__file__).parent / "results" / (re.sub(r"[^A-Za-z0-9]+", "-", device).strip("-").lower() + ".json")
    path.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))
    print(f"written to {path}")


if __name__ == "__main__":
    main()
