"""The GPU side: CUDA kernels (in numba's simulator here), the device-side scheduler (its logic on CPU tensors
here), and the real-GPU behaviour (marked `gpu`, skipped without a CUDA device).

What runs without a GPU:
- every case of tests/cuda_simulator_cases.py, in a subprocess with NUMBA_ENABLE_CUDASIM=1 (the variable must be
  set before numba.cuda is imported, and this process has imported numba already);
- the CUDA kernels typed and lowered to LLVM IR for a real CUDA target (what the simulator never does);
- CudaScheduler on CPU tensors against transformers' schedulers: the same torch ops it runs on the GPU.
"""

from __future__ import annotations

import ast
import io
import json
import os
import pickle
import subprocess
import sys
import xml.etree.ElementTree as ElementTree
from pathlib import Path

import numpy as np
import pytest
import torch
import transformers.optimization as transformers_optimization
from examples import SCHEDULE_NAMES
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from reference import float32_ulp, transformers_multipliers
from strategies import configs, schedule_length

import fastsched
from fastsched import gpu

REPO = Path(__file__).resolve().parents[1]
SIMULATOR_CASES = Path(__file__).with_name("cuda_simulator_cases.py")

HAS_CUDA = torch.cuda.is_available()

UNBOUNDED = {"cosine", "cosine_with_min_lr", "cosine_warmup_with_min_lr", "inverse_sqrt"}
scheduler_settings = settings(max_examples=6, deadline=None, suppress_health_check=[HealthCheck.too_slow])


# ---------------------------------------------------------------------------------------------------------------
# CUDA kernels in the simulator, and lowered for a real CUDA target
# ---------------------------------------------------------------------------------------------------------------


def simulator_case_names() -> list[str]:
    """The test functions of the simulator file, read without importing it (importing would load numba.cuda)."""
    tree = ast.parse(SIMULATOR_CASES.read_text())
    return [node.name for node in tree.body if isinstance(node, ast.FunctionDef) and node.name.startswith("test_")]


@pytest.fixture(scope="module")
def simulator_report(tmp_path_factory) -> dict:
    """Run the simulator file once in a subprocess; {function name: [(case id, outcome, message)]}."""
    report = tmp_path_factory.mktemp("cudasim") / "report.xml"
    env = {**os.environ, "NUMBA_ENABLE_CUDASIM": "1"}
    command = [sys.executable, "-m", "pytest", str(SIMULATOR_CASES), "-q", "-p", "no:cacheprovider"]
    run = subprocess.run(
        [*command, f"--junitxml={report}"], env=env, cwd=REPO, capture_output=True, text=True, timeout=600
    )
    output = run.stdout[-6000:] + run.stderr[-4000:]
    assert report.exists(), f"the simulator run wrote no report (exit {run.returncode}):\n{output}"
    cases: dict[str, list[tuple[str, str, str]]] = {}
    for case in ElementTree.parse(report).iter("testcase"):
        outcome, message = "passed", ""
        for kind in ("failure", "error", "skipped"):
            element = case.find(kind)
            if element is not None:
                outcome, message = kind, (element.get("message") or "") + "\n" + (element.text or "")
        cases.setdefault(case.get("name").split("[")[0], []).append((case.get("name"), outcome, message))
    return {"cases": cases, "output": output}


@pytest.mark.parametrize("case", simulator_case_names())
def test_cuda_kernels_in_the_simulator(simulator_report, case):
    results = simulator_report["cases"].get(case)
    assert results, f"{case} did not run in the simulator:\n{simulator_report['output']}"
    failed = [f"{name}: {outcome}\n{message}" for name, outcome, message in results if outcome != "passed"]
    assert not failed, "\n".join(failed)


# Types and lowers the kernels for compute capability 8.0 without a GPU: numba-cuda asks the current device for
# its compute capability when it compiles a register_jitable function for CUDA, so that one call is stubbed.
LOWER_FOR_CUDA = """
import json, re, types as pytypes
from numba import types
try:
    import numba.cuda.dispatcher as dispatcher
    from numba.cuda.compiler import compile_cuda
    dispatcher.get_current_device
except (ImportError, AttributeError) as exc:
    print(json.dumps({"skip": f"numba-cuda internals moved: {exc}"}))
    raise SystemExit
dispatcher.get_current_device = lambda: pytypes.SimpleNamespace(compute_capability=(8, 0))
from fastsched.kernels import cuda as cuda_kernels
irs = {}
table = (types.int64[:, ::1], types.float64[:, :, ::1], types.int64[::1], types.float64[::1])
for dtype in (types.float32, types.float64):
    signature = (*table, types.int64, dtype[:, ::1])
    result = compile_cuda(cuda_kernels.fill_table_kernel.py_func, types.void, signature, cc=(8, 0))
    irs[f"fill_table_{dtype}"] = result.library.get_llvm_str()
signature = (types.int64[::1], types.float64[:, ::1], types.int64, types.int64[::1], types.float64[::1])
result = compile_cuda(cuda_kernels.values_at_kernel.py_func, types.void, signature, cc=(8, 0))
irs["values_at"] = result.library.get_llvm_str()
# LLVM intrinsics NVVM refuses (llvm.rint: "Unsupported intrinsic" on an H100, CUDA 13), or may: libdevice's instead
refused = re.compile(r"@.?llvm[.](rint|nearbyint|floor|ceil|fma)[.]")  # names may be quoted
print(json.dumps({name: {"libdevice_cos": "__nv_cos" in ir, "refused_intrinsics": sorted(set(refused.findall(ir))),
                         "size": len(ir)} for name, ir in irs.items()}))
"""


def test_cuda_kernels_compile_for_a_real_cuda_target():
    """The shapes and the segment walk (cycles included) type and lower as CUDA device code (libdevice's cos, and no
    LLVM intrinsic NVVM refuses), which the simulator never checks."""
    env = {k: v for k, v in os.environ.items() if k != "NUMBA_ENABLE_CUDASIM"}
    run = subprocess.run(
        [sys.executable, "-c", LOWER_FOR_CUDA], env=env, cwd=REPO, capture_output=True, text=True, timeout=300
    )
    assert run.returncode == 0, run.stderr[-4000:]
    result = json.loads(run.stdout.strip().splitlines()[-1])
    if "skip" in result:
        pytest.skip(result["skip"])
    assert set(result) == {"fill_table_float32", "fill_table_float64", "values_at"}
    assert all(kernel["libdevice_cos"] for kernel in result.values()), result
    assert not any(kernel["refused_intrinsics"] for kernel in result.values()), result


# ---------------------------------------------------------------------------------------------------------------
# CudaScheduler's logic on CPU tensors, against transformers
# ---------------------------------------------------------------------------------------------------------------


def two_group_optimizer(base_lr: float, lr_type=float, cls=torch.optim.SGD, device="cpu", **kwargs):
    """Two param groups with different lrs (the second at 3 x base_lr); defaults["lr"] is base_lr."""
    torch.manual_seed(0)
    model = torch.nn.Linear(4, 3).to(device)
    groups = [{"params": [model.weight]}, {"params": [model.bias], "lr": lr_type(3 * base_lr)}]
    return cls(groups, lr=lr_type(base_lr), **kwargs), model


def transformers_scheduler(name, optimizer, params):
    """transformers' own scheduler for `name` with fastsched's flat parameters (the reference)."""
    top = {k: params[k] for k in ("num_warmup_steps", "num_training_steps") if k in params}
    specific = {k: v for k, v in params.items() if k not in top}
    return transformers_optimization.get_scheduler(name, optimizer, scheduler_specific_kwargs=specific or None, **top)


def group_lrs(optimizer) -> list[float]:
    return [float(group["lr"]) for group in optimizer.param_groups]


@pytest.mark.parametrize("name", SCHEDULE_NAMES)
@scheduler_settings
@given(data=st.data())
def test_gpu_scheduler_logic_equals_transformers_on_cpu_tensors(name, data):
    """Every step, past num_training_steps too: lr tensors equal transformers' lrs (float64 lrs: within 1e-15)."""
    _, base_lr, params = data.draw(configs(name))
    num_steps = 2 * schedule_length(params) + 10
    # transformers' multiplier x each group's initial lr, as LambdaLR computes it (without its ZeroDivisionError
    # in polynomial at W == T, where fastsched gives the end value)
    multipliers = transformers_multipliers(name, range(num_steps), base_lr, **params)
    optimizer, _ = two_group_optimizer(base_lr)
    scheduler = fastsched.CudaScheduler(optimizer, name, lr_dtype=torch.float64, **params)
    assert all(isinstance(group["lr"], torch.Tensor) and group["lr"].dim() == 0 for group in optimizer.param_groups)
    for step in range(num_steps):
        expected = [base_lr * multipliers[step], 3 * base_lr * multipliers[step]]
        np.testing.assert_allclose(group_lrs(optimizer), expected, rtol=1e-15, atol=0)
        scheduler.step()
    assert scheduler.last_epoch == num_steps


def test_gpu_scheduler_holds_the_horizon_value_of_a_schedule_that_keeps_changing():
    params = {"num_warmup_steps": 5, "num_training_steps": 40, "num_cycles": 0.5}
    optimizer, _ = two_group_optimizer(1.0)
    scheduler = fastsched.CudaScheduler(optimizer, "cosine", horizon=60, lr_dtype=torch.float64, **params)
    expected = transformers_multipliers("cosine", range(100), **params)
    for step in range(100):
        # cosine rises again after num_training_steps: followed exactly up to the horizon, then held
        assert group_lrs(optimizer)[0] == expected[min(step, 60)]
        scheduler.step()


def test_gpu_scheduler_default_horizon_covers_twice_the_schedule():
    optimizer, _ = two_group_optimizer(1.0)
    scheduler = gpu.get_cuda_scheduler("cosine", optimizer, 10, 2_000_000)
    assert scheduler._table.shape[0] == 4_000_001
    optimizer, _ = two_group_optimizer(1.0)
    scheduler = gpu.get_cuda_scheduler("inverse_sqrt", optimizer, 10, 3_000_000)
    assert scheduler._table.shape[0] == 6_000_001  # inverse_sqrt takes num_training_steps only as the horizon
    optimizer, _ = two_group_optimizer(1.0)
    scheduler = gpu.get_cuda_scheduler("linear", optimizer, 10, 3_000_000)
    assert scheduler._table.shape[0] == 3_000_001  # exact forever: the table ends where linear reaches 0


def test_gpu_scheduler_keeps_an_existing_lr_tensor_and_updates_it_in_place():
    lr = torch.tensor(0.5, dtype=torch.float64)
    model = torch.nn.Linear(2, 2)
    optimizer = torch.optim.SGD(model.parameters(), lr=lr)
    scheduler = fastsched.CudaScheduler(optimizer, "linear", num_warmup_steps=2, num_training_steps=4)
    assert optimizer.param_groups[0]["lr"] is lr
    assert float(lr) == 0.0
    scheduler.step()
    assert optimizer.param_groups[0]["lr"] is lr
    assert float(lr) == 0.25
    assert [float(v) for v in scheduler.get_last_lr()] == [0.25]
    assert [float(v) for v in scheduler.get_lr()] == [0.25]
    assert scheduler.base_lrs == [0.5]


def test_gpu_scheduler_creates_float32_lr_tensors_by_default():
    optimizer, _ = two_group_optimizer(1e-3)
    fastsched.CudaScheduler(optimizer, "constant")
    for group, expected in zip(optimizer.param_groups, [1e-3, 3e-3], strict=True):
        assert group["lr"].dtype == torch.float32
        assert group["lr"].item() == np.float32(expected)


def test_gpu_scheduler_state_dict_is_small_plain_and_continues_exactly():
    params = {"num_warmup_steps": 10, "num_training_steps": 50, "num_cycles": 2.5, "min_lr_rate": 0.1}
    optimizer, _ = two_group_optimizer(2e-3)
    scheduler = fastsched.CudaScheduler(optimizer, "cosine_with_min_lr", horizon=200, **params)
    for _ in range(23):
        scheduler.step()
    buffer = io.BytesIO()
    torch.save(scheduler.state_dict(), buffer)
    assert buffer.tell() < 2048
    loaded = torch.load(io.BytesIO(buffer.getvalue()), weights_only=True)
    assert loaded["last_epoch"] == 23 and type(loaded["last_epoch"]) is int
    assert loaded["schedule"] == {"name": "cosine_with_min_lr", **params}
    pickle.dumps(loaded)

    fresh_optimizer, _ = two_group_optimizer(2e-3)
    fresh = fastsched.CudaScheduler(fresh_optimizer, "cosine_with_min_lr", horizon=200, **params)
    fresh.load_state_dict(loaded)
    assert fresh.last_epoch == 23
    assert group_lrs(fresh_optimizer) == group_lrs(optimizer)
    for _ in range(300):  # past the horizon too
        scheduler.step()
        fresh.step()
        assert group_lrs(fresh_optimizer) == group_lrs(optimizer)


@pytest.mark.parametrize("source", ["transformers", "TableScheduler"])
def test_gpu_scheduler_loads_cpu_scheduler_checkpoints(source):
    """Checkpoints of transformers' LambdaLR and of fastsched's CPU scheduler resume on the device scheduler."""
    params = {"num_warmup_steps": 5, "num_training_steps": 30}
    theirs, _ = two_group_optimizer(0.1)
    if source == "transformers":
        reference = transformers_scheduler("linear", theirs, params)
    else:
        reference = fastsched.get_scheduler("linear", theirs, **params)
    for _ in range(11):
        theirs.step()
        reference.step()
    ours, _ = two_group_optimizer(0.1)
    scheduler = fastsched.CudaScheduler(ours, "linear", lr_dtype=torch.float64, **params)
    scheduler.load_state_dict(reference.state_dict())
    for _ in range(30):
        np.testing.assert_allclose(group_lrs(ours), group_lrs(theirs), rtol=1e-15, atol=0)
        reference.step()
        scheduler.step()


def test_gpu_scheduler_rebinds_lr_tensors_replaced_by_optimizer_load_state_dict():
    optimizer, _ = two_group_optimizer(1.0)
    scheduler = fastsched.CudaScheduler(optimizer, "linear", num_warmup_steps=0, num_training_steps=10)
    saved = optimizer.state_dict()
    optimizer.load_state_dict(saved)  # torch replaces each group's lr with the saved value
    scheduler.step()
    assert group_lrs(optimizer) == pytest.approx([0.9, 2.7])
    assert optimizer.param_groups[0]["lr"] is scheduler._lr_tensors[0]


def test_gpu_scheduler_resumes_from_last_epoch_as_lambda_lr_does():
    params = {"num_warmup_steps": 4, "num_training_steps": 30}
    theirs, _ = two_group_optimizer(0.1)
    transformers_optimization.get_linear_schedule_with_warmup(theirs, 4, 30, last_epoch=-1)
    transformers_optimization.get_linear_schedule_with_warmup(theirs, 4, 30, last_epoch=12)
    ours, _ = two_group_optimizer(0.1)
    fastsched.CudaScheduler(ours, "linear", lr_dtype=torch.float64, **params)
    scheduler = fastsched.CudaScheduler(ours, "linear", last_epoch=12, lr_dtype=torch.float64, **params)
    assert scheduler.last_epoch == 13
    np.testing.assert_allclose(group_lrs(ours), group_lrs(theirs), rtol=1e-15)

    fresh, _ = two_group_optimizer(0.1)
    with pytest.raises(KeyError, match="initial_lr"):
        fastsched.CudaScheduler(fresh, "linear", last_epoch=3, **params)


def test_gpu_scheduler_bad_arguments_raise_like_get_scheduler():
    optimizer, _ = two_group_optimizer(1.0)
    with pytest.raises(ValueError, match=r"linear requires `num_warmup_steps`, please provide that argument\."):
        gpu.get_cuda_scheduler("linear", optimizer)
    with pytest.raises(ValueError, match=r"linear requires `num_training_steps`, please provide that argument\."):
        gpu.get_cuda_scheduler("linear", optimizer, num_warmup_steps=3)
    with pytest.raises(ValueError, match="select one of"):
        gpu.get_cuda_scheduler("cosine_annealing", optimizer, 1, 2)
    with pytest.raises(ValueError, match="get_scheduler"):
        gpu.get_cuda_scheduler("reduce_lr_on_plateau", optimizer)
    with pytest.raises(TypeError, match="power"):
        gpu.get_cuda_scheduler("cosine", optimizer, 1, 10, {"power": 2.0})
    with pytest.raises(TypeError, match="Optimizer"):
        fastsched.CudaScheduler(object(), "constant")
    with pytest.raises(ValueError, match="horizon"):
        fastsched.CudaScheduler(optimizer, "cosine", num_warmup_steps=1, num_training_steps=5, horizon=-1)
    with pytest.raises(ValueError, match="num_training_steps"):
        fastsched.CudaScheduler(optimizer, "linear", num_warmup_steps=1, num_training_steps=2**40)
    # constant takes no counts and ignores them, as transformers' get_scheduler does
    assert gpu.get_cuda_scheduler("constant", optimizer, 5, 10).schedule_params == {}


def test_gpu_scheduler_is_an_lr_scheduler_and_steps_a_cpu_training_loop_like_transformers():
    """A tensor-lr Adam on CPU tensors follows the same parameters as transformers' scheduler driving a float lr."""
    params = {"num_warmup_steps": 3, "num_training_steps": 12}
    theirs, their_model = two_group_optimizer(1e-2, cls=torch.optim.Adam, foreach=False)
    ours, our_model = two_group_optimizer(1e-2, cls=torch.optim.Adam, foreach=False)
    reference = transformers_scheduler("cosine", theirs, params)
    scheduler = fastsched.CudaScheduler(ours, "cosine", lr_dtype=torch.float64, **params)
    assert isinstance(scheduler, torch.optim.lr_scheduler.LRScheduler)
    inputs, targets = torch.randn(8, 4), torch.randn(8, 3)
    for _ in range(15):
        for model, optimizer, sched in ((their_model, theirs, reference), (our_model, ours, scheduler)):
            optimizer.zero_grad()
            torch.nn.functional.mse_loss(model(inputs), targets).backward()
            optimizer.step()
            sched.step()
    for theirs_p, ours_p in zip(their_model.parameters(), our_model.parameters(), strict=True):
        torch.testing.assert_close(ours_p, theirs_p, rtol=1e-12, atol=1e-12)


@pytest.mark.slow
@pytest.mark.filterwarnings("ignore:`torch.jit.script_method` is deprecated:DeprecationWarning")  # torch's own
def test_gpu_scheduler_lr_changes_do_not_recompile_a_compiled_optimizer_step_on_cpu_tensors():
    """Dynamo guards on the lr tensor's identity and metadata, which step() never changes (backend="eager")."""
    import torch._dynamo

    torch.manual_seed(0)
    model = torch.nn.Linear(4, 3)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2, foreach=False)
    scheduler = fastsched.CudaScheduler(optimizer, "cosine", num_warmup_steps=3, num_training_steps=12)

    @torch.compile(backend="eager")
    def compiled_step():
        optimizer.step()

    inputs, targets = torch.randn(8, 4), torch.randn(8, 3)
    torch._dynamo.reset()
    with torch._dynamo.config.patch(error_on_recompile=True):
        for _ in range(8):  # warmup and decay: the lr changes every step
            optimizer.zero_grad()
            torch.nn.functional.mse_loss(model(inputs), targets).backward()
            compiled_step()
            scheduler.step()
    assert scheduler.last_epoch == 8


# ---------------------------------------------------------------------------------------------------------------
# Real GPU: the bulk API into CUDA tensors
# ---------------------------------------------------------------------------------------------------------------

gpu_settings = settings(max_examples=4, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@pytest.mark.gpu
@pytest.mark.skipif(not HAS_CUDA, reason="needs a real CUDA GPU")
@pytest.mark.parametrize("name", SCHEDULE_NAMES)
@gpu_settings
@given(data=st.data())
def test_gpu_bulk_api_equals_transformers_within_1e12(name, data):
    _, base_lr, params = data.draw(configs(name))
    num_steps = 3 * schedule_length(params) + 5
    expected = transformers_multipliers(name, range(num_steps), base_lr, **params)
    got = fastsched.trajectory(name, num_steps, base_lr=base_lr, device="cuda", **params)
    assert got.is_cuda and got.dtype == torch.float64 and got.shape == (num_steps,)
    np.testing.assert_allclose(got.cpu().numpy() / base_lr, expected, rtol=0, atol=1e-12)
    got32 = fastsched.trajectory(name, num_steps, base_lr=base_lr, dtype=np.float32, device="cuda", **params)
    reference32 = base_lr * expected
    assert np.all(np.abs(got32.cpu().numpy() - reference32) <= float32_ulp(reference32) + 1e-12)
    steps = np.array([num_steps - 1, 0, 2**40, 5])
    got_at = fastsched.multipliers(name, steps, base_lr=base_lr, device=torch.device("cuda"), **params)
    want_at = fastsched.multipliers(name, steps, base_lr=base_lr, **params)
    np.testing.assert_allclose(got_at.cpu().numpy(), want_at, rtol=0, atol=1e-12)


@pytest.mark.gpu
@pytest.mark.skipif(not HAS_CUDA, reason="needs a real CUDA GPU")
def test_gpu_sweep_into_a_given_tensor_matches_the_cpu_sweep():
    params = {"num_warmup_steps": [0, 10, 100], "num_training_steps": [1000, 500, 257], "num_cycles": [0.5, 3, 100]}
    base_lr = [1e-3, 1.0, 0.5]
    expected = fastsched.sweep("cosine", 1000, base_lr=base_lr, start=5, **params)
    out = torch.full((3, 1000), float("nan"), dtype=torch.float32, device="cuda")
    pointer = out.data_ptr()
    got = fastsched.sweep("cosine", 1000, base_lr=base_lr, start=5, out=out, **params)
    assert got is out and out.data_ptr() == pointer
    np.testing.assert_allclose(out.cpu().numpy(), expected.astype(np.float32), rtol=2e-7, atol=1e-12)
    one = fastsched.sweep("linear", 1, base_lr=[1.0], num_warmup_steps=0, num_training_steps=1, device="cuda")
    assert one.shape == (1, 1) and float(one) == 1.0


@pytest.mark.gpu
@pytest.mark.skipif(not HAS_CUDA, reason="needs a real CUDA GPU")
def test_gpu_bulk_api_is_queued_on_torchs_current_stream_without_waiting():
    """The call returns while the stream is still busy (no sync), and runs after the stream's earlier work."""
    out = torch.empty(1 << 20, dtype=torch.float32, device="cuda")
    params = {"num_warmup_steps": 10, "num_training_steps": 10**6}
    fastsched.trajectory("cosine", out.numel(), base_lr=1e-3, out=out, **params)  # compiles the float32 kernel
    torch.cuda.synchronize()
    side = torch.cuda.Stream()
    with torch.cuda.stream(side):
        torch.cuda._sleep(1_000_000_000)  # ~0.5 s of GPU time queued ahead of the kernel
        out.fill_(float("nan"))
        fastsched.trajectory(
            "cosine", out.numel(), base_lr=1e-3, out=out, num_warmup_steps=10, num_training_steps=10**6
        )
        assert not side.query(), "the call waited for the GPU"
    side.synchronize()
    expected = fastsched.trajectory("cosine", out.numel(), base_lr=1e-3, **params)
    np.testing.assert_allclose(out.cpu().numpy(), expected.astype(np.float32), rtol=2e-7, atol=1e-12)


@pytest.mark.gpu
@pytest.mark.skipif(not HAS_CUDA, reason="needs a real CUDA GPU")
def test_gpu_bulk_api_rejects_bad_outputs_before_writing():
    with pytest.raises(ValueError, match="shape"):
        fastsched.trajectory("constant", 5, out=torch.zeros(4, device="cuda"))
    with pytest.raises(TypeError, match="dtype"):
        fastsched.trajectory("constant", 5, out=torch.zeros(5, dtype=torch.float16, device="cuda"))
    with pytest.raises(ValueError, match="contiguous"):
        fastsched.trajectory("constant", 5, out=torch.zeros(10, device="cuda")[::2])
    with pytest.raises(TypeError, match="dtype"):
        fastsched.trajectory("constant", 5, dtype=np.float32, out=torch.zeros(5, dtype=torch.float64, device="cuda"))


# ---------------------------------------------------------------------------------------------------------------
# Real GPU: CudaScheduler on the device
# ---------------------------------------------------------------------------------------------------------------


def cuda_training_setup(scheduler_kind: str, fused: bool = False):
    """A tiny model, fixed data and a capturable (or fused) Adam on the GPU, driven by either scheduler."""
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(16, 32), torch.nn.ReLU(), torch.nn.Linear(32, 4)).cuda()
    inputs = torch.randn(64, 16, device="cuda")
    targets = torch.randn(64, 4, device="cuda")
    options = {"fused": True} if fused else {"capturable": True, "foreach": True}
    params = {"num_warmup_steps": 5, "num_training_steps": 40}
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-2, **options)
    if scheduler_kind == "transformers":
        scheduler = transformers_scheduler("cosine", optimizer, params)
    else:  # turns the float lr into a float32 CUDA tensor that it writes in place
        scheduler = fastsched.CudaScheduler(optimizer, "cosine", **params)
    return model, inputs, targets, optimizer, scheduler


def train_step(model, inputs, targets, optimizer, scheduler):
    optimizer.zero_grad(set_to_none=False)
    torch.nn.functional.mse_loss(model(inputs), targets).backward()
    optimizer.step()
    scheduler.step()


@pytest.mark.gpu
@pytest.mark.skipif(not HAS_CUDA, reason="needs a real CUDA GPU")
@pytest.mark.parametrize("fused", [False, True])
def test_gpu_scheduler_steps_without_host_sync(fused):
    model, inputs, targets, optimizer, scheduler = cuda_training_setup("fastsched", fused)
    train_step(model, inputs, targets, optimizer, scheduler)  # first step: lazy optimizer state, kernel warmup
    torch.cuda.synchronize()
    torch.cuda.set_sync_debug_mode("error")
    try:
        for _ in range(50):  # past the end of training too
            scheduler.step()
        for _ in range(3):
            train_step(model, inputs, targets, optimizer, scheduler)
    finally:
        torch.cuda.set_sync_debug_mode("default")
    assert scheduler.last_epoch == 54


@pytest.mark.gpu
@pytest.mark.skipif(not HAS_CUDA, reason="needs a real CUDA GPU")
def test_gpu_scheduler_lrs_equal_transformers_on_cuda():
    params = {"num_warmup_steps": 7, "num_training_steps": 50, "num_cycles": 1.5, "min_lr_rate": 0.05}
    theirs, _ = two_group_optimizer(1e-3)
    ours, _ = two_group_optimizer(1e-3, device="cuda")
    reference = transformers_scheduler("cosine_with_min_lr", theirs, params)
    scheduler = fastsched.CudaScheduler(ours, "cosine_with_min_lr", lr_dtype=torch.float64, **params)
    assert scheduler.device.type == "cuda" and ours.param_groups[0]["lr"].is_cuda
    for _ in range(120):
        np.testing.assert_allclose(group_lrs(ours), group_lrs(theirs), rtol=1e-15, atol=0)
        reference.step()
        scheduler.step()


@pytest.mark.gpu
@pytest.mark.skipif(not HAS_CUDA, reason="needs a real CUDA GPU")
def test_gpu_graph_captured_training_equals_eager_transformers_steps():
    """forward, backward, optimizer.step() and scheduler.step() in one CUDA graph, replayed: same lrs and params."""
    warmup_steps, replays = 3, 45  # past num_training_steps (40)
    model, inputs, targets, optimizer, scheduler = cuda_training_setup("fastsched")
    ref_model, ref_inputs, ref_targets, ref_optimizer, ref_scheduler = cuda_training_setup("transformers")

    side = torch.cuda.Stream()
    side.wait_stream(torch.cuda.current_stream())
    with torch.cuda.stream(side):  # warm up on a side stream before capture, as torch's recipe does
        for _ in range(warmup_steps):
            train_step(model, inputs, targets, optimizer, scheduler)
    torch.cuda.current_stream().wait_stream(side)
    graph = torch.cuda.CUDAGraph()
    with torch.cuda.graph(graph):
        train_step(model, inputs, targets, optimizer, scheduler)

    for _ in range(warmup_steps):
        train_step(ref_model, ref_inputs, ref_targets, ref_optimizer, ref_scheduler)
    for _ in range(replays):
        graph.replay()
        train_step(ref_model, ref_inputs, ref_targets, ref_optimizer, ref_scheduler)
        torch.cuda.synchronize()
        got = optimizer.param_groups[0]["lr"].item()
        want = ref_optimizer.param_groups[0]["lr"]
        assert abs(got - want) <= float32_ulp(np.float64(want)), (got, want)
    assert scheduler.last_epoch == warmup_steps + replays
    for got, want in zip(model.parameters(), ref_model.parameters(), strict=True):
        # float32 lr tensors vs transformers' float lrs: the same values to 1 ulp, so parameters agree closely
        torch.testing.assert_close(got, want, rtol=1e-4, atol=1e-5)


@pytest.mark.gpu
@pytest.mark.skipif(not HAS_CUDA, reason="needs a real CUDA GPU")
@pytest.mark.filterwarnings("ignore:`torch.jit.script_method` is deprecated:DeprecationWarning")  # torch's own
def test_gpu_compiled_optimizer_step_does_not_recompile_as_the_lr_changes():
    import torch._dynamo

    model, inputs, targets, optimizer, scheduler = cuda_training_setup("fastsched")

    @torch.compile(fullgraph=False)
    def compiled_step():
        optimizer.step()

    torch._dynamo.reset()
    with torch._dynamo.config.patch(error_on_recompile=True):
        for _ in range(12):  # warmup and decay: the lr changes every step
            optimizer.zero_grad(set_to_none=False)
            torch.nn.functional.mse_loss(model(inputs), targets).backward()
            compiled_step()
            scheduler.step()
    assert scheduler.last_epoch == 12
