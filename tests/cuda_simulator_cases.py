"""The CUDA kernels under numba's CUDA simulator, against the CPU kernels.

Not collected by the main test run (its name doesn't match test_*.py): NUMBA_ENABLE_CUDASIM must be set before
numba.cuda is first imported, and other test files import numba first. tests/test_cuda.py runs this file in a
subprocess with the variable set and reports each case. Run it alone with:

    NUMBA_ENABLE_CUDASIM=1 python -m pytest tests/cuda_simulator_cases.py

The simulator runs every thread as Python, so sizes stay at a few hundred elements; small blocks and grid caps
make the grid-stride loops take several turns anyway.
"""

from __future__ import annotations

import os

import numpy as np
import pytest

if os.environ.get("NUMBA_ENABLE_CUDASIM") != "1":
    pytest.skip("needs NUMBA_ENABLE_CUDASIM=1 before numba.cuda is imported", allow_module_level=True)

from examples import EDGE_CASES, EXAMPLES, stacked
from fastsched.kernels import cpu, numerics
from fastsched.kernels import cuda as cuda_kernels
from numba import cuda

import fastsched
from fastsched import table as tables

FLOAT64_TOLERANCE = 1e-12

# Every example (tests/examples.py) and the demanding edge cases: many cycles, W == T, every WSD shape.
CONFIGS = {**EXAMPLES, **{f"{name}-{i}": (name, params) for i, (name, params) in enumerate(EDGE_CASES[3:10])}}
BASE_LR = 1e-3
# Compositions: cycles (closed-form cycle index, stretched and decayed), joins, warmups, floors, cooldowns.
COMPOSED = {
    "cycles": {"cycles": {"schedule": "cosine", "num_warmup_steps": 3, "num_training_steps": 17}, "period": 17,
               "period_mul": 1.5, "peak_decay": 0.7, "limit": 4, "final_value": 0.01},
    "join": {"join": [{"schedule": "linear", "num_warmup_steps": 5, "num_training_steps": 60},
                      {"schedule": "inverse_sqrt", "num_warmup_steps": 7}], "boundaries": [33]},
    "cooldown": {"warmup": {"cooldown": {"floor": {"schedule": "cosine_with_restarts", "num_warmup_steps": 0,
                                                   "num_training_steps": 50, "num_cycles": 3}, "min_ratio": 0.1},
                            "at_step": 70, "num_steps": 40, "shape": "1-sqrt"}, "num_steps": 9, "shape": "cosine"},
}  # fmt: skip


def packed(name: str, base_lr=BASE_LR) -> tables.SegmentTable:
    if name in COMPOSED:
        return tables.pack(fastsched.schedule(COMPOSED[name]), base_lr)
    preset, params = config(name)
    return tables.pack(fastsched.schedule(preset, **params), base_lr)


def config(name: str) -> tuple[str, dict]:
    """(preset, params) of CONFIGS[name] (an example is keyed by its preset's name)."""
    value = CONFIGS[name]
    return value if isinstance(value, tuple) else (name, value)


def cpu_table(table: tables.SegmentTable, start: int, num_steps: int) -> np.ndarray:
    """The CPU serial kernel's float64 values with libm's cosine (transformers' values)."""
    out = np.empty((table.num_configs, num_steps))
    cpu.fill_table(table.codes, table.cols, table.counts, table.base_lrs, start, out, numerics.LIBM)
    return out


def cuda_table(table: tables.SegmentTable, start: int, num_steps: int, dtype=np.float64, **launch) -> np.ndarray:
    """The CUDA kernel's values: inputs and output as device arrays, as fastsched.gpu passes them."""
    out = cuda.device_array((table.num_configs, num_steps), dtype=dtype)
    stream = cuda.stream()
    cuda_kernels.fill_table(
        cuda.to_device(table.codes),
        cuda.to_device(table.cols),
        cuda.to_device(table.counts),
        cuda.to_device(table.base_lrs),
        start,
        out,
        stream,
        **launch,
    )
    stream.synchronize()
    return out.copy_to_host()


@pytest.mark.parametrize("name", [*CONFIGS, *COMPOSED])
def test_cuda_trajectory_float64_matches_cpu_kernel(name):
    table = packed(name)
    num_steps = 250  # past every config's end; not a multiple of the block size
    got = cuda_table(table, 0, num_steps, threads_per_block=64)
    np.testing.assert_allclose(got, cpu_table(table, 0, num_steps), rtol=0, atol=FLOAT64_TOLERANCE * BASE_LR)


@pytest.mark.parametrize("name", [*CONFIGS, *COMPOSED])
def test_cuda_trajectory_float32_is_float64_rounded_once(name):
    table = packed(name)
    got = cuda_table(table, 3, 130, dtype=np.float32, threads_per_block=32, max_blocks_per_row=2)
    assert got.dtype == np.float32
    np.testing.assert_array_equal(got, cpu_table(table, 3, 130).astype(np.float32))


@pytest.mark.parametrize("name", [*CONFIGS, *COMPOSED])
def test_cuda_multipliers_match_cpu_kernel_at_unordered_steps(name):
    table = packed(name)
    steps = np.array([250, 0, 7, 2**40, 89, 1, 90, 91, 13, 12, 5, 2**53 - 1, 60, 61, 40, 80], dtype=np.int64)
    expected = np.empty(steps.shape[0])
    cpu.values_at(table.codes[0], table.cols[0], int(table.counts[0]), steps, expected)
    out = cuda.device_array(steps.shape[0])
    cuda_kernels.values_at(
        cuda.to_device(table.codes[0]),
        cuda.to_device(table.cols[0]),
        int(table.counts[0]),
        cuda.to_device(steps),
        out,
        threads_per_block=4,
    )
    np.testing.assert_allclose(out.copy_to_host(), expected, rtol=0, atol=FLOAT64_TOLERANCE)


def test_cuda_sweep_of_one_schedule_matches_cpu_kernel():
    schedule = fastsched.schedule(
        "cosine",
        num_warmup_steps=[0, 5, 10, 50, 1],
        num_training_steps=[40, 60, 10, 55, 1],
        num_cycles=[0.5, 1.5, 100.0, 0.5, 7.25],
    )
    table = tables.pack(schedule, [1e-3, 3e-4, 1.0, 0.5, 2.0])
    got = cuda_table(table, 0, 70, threads_per_block=16, max_blocks_per_row=2, max_blocks_of_configs=2)
    np.testing.assert_allclose(got, cpu_table(table, 0, 70), rtol=0, atol=FLOAT64_TOLERANCE * 2.0)


def test_cuda_mixed_sweep_of_every_schedule_type_matches_cpu_kernel():
    table = stacked(*(packed(name) for name in [*CONFIGS, *COMPOSED]))
    got = cuda_table(table, 17, 40, threads_per_block=32, max_blocks_of_configs=3)
    np.testing.assert_allclose(got, cpu_table(table, 17, 40), rtol=0, atol=FLOAT64_TOLERANCE * BASE_LR)


@pytest.mark.parametrize(
    ("num_configs", "num_steps", "launch"),
    [
        (1, 1, {}),  # one step, one config, default launch (256 threads, one block)
        (1, 77, {"threads_per_block": 32}),  # one config, steps not a multiple of the block
        (6, 1, {"threads_per_block": 32}),  # several configs of one step
        (5, 33, {"threads_per_block": 8, "max_blocks_per_row": 1, "max_blocks_of_configs": 2}),  # both strides
        (3, 300, {}),  # default launch, two blocks of 256 along the steps
    ],
)
def test_cuda_edge_shapes_match_cpu_kernel(num_configs, num_steps, launch):
    schedule = fastsched.schedule("linear", num_warmup_steps=np.arange(num_configs) * 3, num_training_steps=40)
    table = tables.pack(schedule, np.linspace(0.5, 1.5, num_configs))
    got = cuda_table(table, 0, num_steps, **launch)
    assert got.shape == (num_configs, num_steps)
    np.testing.assert_allclose(got, cpu_table(table, 0, num_steps), rtol=0, atol=FLOAT64_TOLERANCE * 1.5)


def test_cuda_large_start_step_matches_cpu_kernel():
    table = tables.pack(fastsched.schedule("cosine", num_warmup_steps=3, num_training_steps=1000), 1.0)
    start = 2**45 + 11
    got = cuda_table(table, start, 20, threads_per_block=8)
    np.testing.assert_allclose(got, cpu_table(table, start, 20), rtol=0, atol=FLOAT64_TOLERANCE)


class _LaunchRecorder:
    """Stands in for a CUDA kernel: records launch configurations instead of launching."""

    def __init__(self):
        self.launches = []

    def __getitem__(self, config):
        self.launches.append(config)
        return lambda *args: None


def test_cuda_empty_outputs_launch_nothing(monkeypatch):
    recorders = {name: _LaunchRecorder() for name in ("fill_table_kernel", "values_at_kernel")}
    for name, recorder in recorders.items():
        monkeypatch.setattr(cuda_kernels, name, recorder)
    table = tables.pack(fastsched.schedule("linear", num_warmup_steps=1, num_training_steps=2), 1.0)
    arrays = (table.codes, table.cols, table.counts, table.base_lrs)
    for empty in (cuda.device_array((1, 0)), cuda.device_array((0, 5))):
        cuda_kernels.fill_table(*arrays, 0, empty)
    cuda_kernels.values_at(table.codes[0], table.cols[0], 3, np.zeros(0, dtype=np.int64), cuda.device_array(0))
    assert all(not recorder.launches for recorder in recorders.values())
    cuda_kernels.fill_table(*arrays, 0, cuda.device_array((1, 3)))
    assert recorders["fill_table_kernel"].launches  # the recorder does see a real launch


def test_cuda_kernels_write_only_inside_the_output():
    """Grid-stride bounds: a row view of a larger buffer, with guard values around it that must survive."""
    table = tables.pack(fastsched.schedule("cosine", num_warmup_steps=2, num_training_steps=30), 1.0)
    buffer = np.full((3, 50), -7.0)
    device_buffer = cuda.to_device(buffer)
    row = device_buffer[1:2, 5:45]
    inputs = tuple(cuda.to_device(a) for a in (table.codes, table.cols, table.counts, table.base_lrs))
    cuda_kernels.fill_table(*inputs, 0, row, threads_per_block=16)
    result = device_buffer.copy_to_host()
    np.testing.assert_allclose(result[1:2, 5:45], cpu_table(table, 0, 40), rtol=0, atol=FLOAT64_TOLERANCE)
    outside = np.ones_like(result, dtype=bool)
    outside[1:2, 5:45] = False
    assert (result[outside] == -7.0).all()


# fastsched.gpu's glue (validation, packing, output checks, the arguments it launches with), in the simulator:
# the two pieces that need a real GPU (CUDA device / stream from torch, __cuda_array_interface__ views) are
# replaced by CPU tensors handed to the simulated kernels as numpy views of the same memory.


@pytest.fixture
def simulated_gpu(monkeypatch):
    import torch

    from fastsched import bulk, gpu  # bulk: the front door resolves the device

    def launch_on_cpu_tensors(launcher, device, *args):
        launcher(*(a.numpy() if isinstance(a, torch.Tensor) else a for a in args), 0)

    def cpu_for_cuda(device, out):
        wanted = device is not None or isinstance(out, torch.Tensor)
        return torch.device("cpu") if wanted else None

    monkeypatch.setattr(bulk, "cuda_device", cpu_for_cuda)
    monkeypatch.setattr(gpu, "_indexed", lambda device: device)
    monkeypatch.setattr(gpu, "_launch", launch_on_cpu_tensors)
    return torch


@pytest.mark.parametrize("name", list(CONFIGS))
def test_cuda_bulk_api_glue_trajectory_and_multipliers(simulated_gpu, name):
    torch = simulated_gpu
    import fastsched

    preset, params = config(name)
    got = fastsched.trajectory(preset, 120, base_lr=BASE_LR, start=4, device="cuda", **params)
    assert isinstance(got, torch.Tensor) and got.dtype == torch.float64 and got.shape == (120,)
    np.testing.assert_allclose(
        got.numpy(), cpu_table(packed(name), 4, 120)[0], rtol=0, atol=FLOAT64_TOLERANCE * BASE_LR
    )

    steps = [119, 0, 2**40, 60]
    at = fastsched.multipliers(preset, steps, base_lr=BASE_LR, device="cuda", **params)
    want = fastsched.multipliers(preset, steps, base_lr=BASE_LR, **params)
    np.testing.assert_allclose(at.numpy(), want, rtol=0, atol=FLOAT64_TOLERANCE)
    scalar = fastsched.multipliers(preset, 7, base_lr=BASE_LR, device="cuda", **params)
    expected = float(fastsched.multipliers(preset, 7, base_lr=BASE_LR, **params))
    assert scalar.shape == () and float(scalar) == pytest.approx(expected, abs=FLOAT64_TOLERANCE)


def test_cuda_bulk_api_glue_sweep_into_a_given_tensor(simulated_gpu):
    torch = simulated_gpu
    import fastsched

    params = {"num_warmup_steps": [0, 3, 10], "num_training_steps": [20, 30, 12], "num_cycles": [0.5, 2.0, 7.5]}
    base_lr = [1e-3, 0.5, 2.0]
    out = torch.full((3, 45), float("nan"), dtype=torch.float32)
    got = fastsched.sweep("cosine", 45, base_lr=base_lr, start=2, out=out, device="cuda", **params)
    assert got is out
    expected = fastsched.sweep("cosine", 45, base_lr=base_lr, start=2, **params)
    np.testing.assert_array_equal(out.numpy(), expected.astype(np.float32))
    new = fastsched.sweep("cosine", 45, base_lr=base_lr, start=2, dtype=torch.float32, device="cuda", **params)
    np.testing.assert_array_equal(new.numpy(), out.numpy())


def test_cuda_bulk_api_glue_rejects_bad_outputs_before_writing(simulated_gpu):
    torch = simulated_gpu
    import fastsched

    out = torch.full((5,), -1.0, dtype=torch.float64)
    with pytest.raises(ValueError, match="shape"):
        fastsched.trajectory("constant", 4, out=out, device="cuda")
    with pytest.raises(TypeError, match="dtype"):
        fastsched.trajectory("constant", 5, out=out, dtype=np.float32, device="cuda")
    with pytest.raises(TypeError, match="dtype"):
        fastsched.trajectory("constant", 5, out=out.half(), device="cuda")
    with pytest.raises(ValueError, match="contiguous"):
        fastsched.trajectory("constant", 5, out=torch.zeros(10, dtype=torch.float64)[::2], device="cuda")
    with pytest.raises(ValueError, match="grad"):
        fastsched.trajectory("constant", 5, out=torch.zeros(5, dtype=torch.float64, requires_grad=True), device="cuda")
    with pytest.raises(TypeError, match="dtype"):
        fastsched.trajectory("constant", 5, dtype=np.int32, device="cuda")
    with pytest.raises(ValueError, match="num_steps"):
        fastsched.trajectory("constant", -1, out=out, device="cuda")
    with pytest.raises(ValueError, match="steps"):
        fastsched.multipliers("constant", [-1], device="cuda")
    assert (out == -1.0).all()
