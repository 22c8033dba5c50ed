"""Bad input to the bulk API: a clear error naming the parameter, raised before anything is written."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tracemalloc

import numpy as np
import pytest

import fastsched

COSINE = {"num_warmup_steps": 10, "num_training_steps": 100}


def test_unknown_name_lists_the_valid_ones():
    with pytest.raises(ValueError, match=r"'cosin' is not a valid SchedulerType.*'cosine'.*'warmup_stable_decay'"):
        fastsched.trajectory("cosin", 10, **COSINE)
    with pytest.raises(TypeError, match="`name` must be a str"):
        fastsched.trajectory(3, 10, **COSINE)


def test_metric_driven_schedules_point_to_get_scheduler():
    with pytest.raises(ValueError, match=r"reduce_lr_on_plateau.*get_scheduler"):
        fastsched.trajectory("reduce_lr_on_plateau", 10)


@pytest.mark.parametrize(
    ("name", "params", "missing"),
    [
        ("linear", {"num_training_steps": 10}, "num_warmup_steps"),
        ("cosine", {"num_warmup_steps": 1}, "num_training_steps"),
        ("polynomial", {}, "num_warmup_steps"),
        ("warmup_stable_decay", {"num_warmup_steps": 1, "num_stable_steps": 3}, "num_decay_steps"),
    ],
)
def test_missing_required_parameter_uses_transformers_wording(name, params, missing):
    with pytest.raises(ValueError, match=f"^{name} requires `{missing}`, please provide that argument.$"):
        fastsched.trajectory(name, 10, **params)


def test_schedule_specific_requirements():
    with pytest.raises(ValueError, match="Either num_training_steps or num_stable_steps must be specified"):
        fastsched.trajectory("warmup_stable_decay", 10, num_warmup_steps=1, num_decay_steps=2)
    with pytest.raises(ValueError, match="One of min_lr or min_lr_rate"):
        fastsched.trajectory("cosine_with_min_lr", 10, **COSINE)
    with pytest.raises(ValueError, match="Only one of min_lr or min_lr_rate"):
        fastsched.trajectory("cosine_with_min_lr", 10, min_lr=0.1, min_lr_rate=0.1, **COSINE)
    with pytest.raises(ValueError, match=r"lr_end \(0.5\) must be smaller than initial lr \(0.5\)"):
        fastsched.trajectory("polynomial", 10, base_lr=0.5, lr_end=0.5, **COSINE)
    with pytest.raises(ValueError, match="`warmup_type` must be one of 'linear', 'cosine', '1-sqrt'"):
        fastsched.trajectory(
            "warmup_stable_decay", 10, num_warmup_steps=1, num_decay_steps=2, num_stable_steps=1, warmup_type="exp"
        )
    with pytest.warns(UserWarning, match="num_stable_steps will be used"):
        fastsched.trajectory(
            "warmup_stable_decay", 10, num_warmup_steps=1, num_decay_steps=2, num_stable_steps=1, num_training_steps=9
        )


def test_parameter_the_schedule_does_not_take_is_a_type_error():
    with pytest.raises(TypeError, match="linear got an unexpected keyword argument `num_cycles`"):
        fastsched.trajectory("linear", 10, num_cycles=2, num_warmup_steps=1, num_training_steps=5)
    with pytest.raises(TypeError, match="constant got an unexpected keyword argument `num_warmup_steps`"):
        fastsched.trajectory("constant", 10, num_warmup_steps=1)


@pytest.mark.parametrize(
    ("params", "parameter", "error"),
    [
        ({"num_warmup_steps": float("nan")}, "num_warmup_steps", ValueError),
        ({"num_warmup_steps": float("-inf")}, "num_warmup_steps", ValueError),
        ({"num_warmup_steps": 2**60}, "num_warmup_steps", ValueError),
        ({"num_training_steps": "100"}, "num_training_steps", TypeError),
        ({"num_training_steps": True}, "num_training_steps", TypeError),
        ({"num_cycles": float("inf")}, "num_cycles", ValueError),
        ({"num_cycles": -0.5}, "num_cycles", ValueError),
        ({"num_cycles": [0.5, 1.0]}, "num_cycles", ValueError),  # arrays are for sweep
    ],
)
def test_bad_values_name_the_parameter(params, parameter, error):
    with pytest.raises(error, match=f"`{parameter}`"):
        fastsched.trajectory("cosine", 10, **(COSINE | params))


@pytest.mark.parametrize("base_lr", [-1e-3, float("nan"), float("inf")])
def test_bad_base_lr(base_lr):
    with pytest.raises(ValueError, match="`base_lr` must be finite and non-negative"):
        fastsched.trajectory("cosine", 10, base_lr=base_lr, **COSINE)


@pytest.mark.parametrize(
    ("kwargs", "parameter", "error"),
    [
        ({"num_steps": -1}, "num_steps", ValueError),
        ({"num_steps": 10.0}, "num_steps", TypeError),
        ({"start": -3}, "start", ValueError),
        ({"start": 2**53}, "start", ValueError),
        ({"dtype": np.int32}, "dtype", TypeError),
        ({"dtype": "float16"}, "dtype", TypeError),
        ({"dtype": "not-a-dtype"}, "dtype", TypeError),
    ],
)
def test_bad_step_range_or_dtype(kwargs, parameter, error):
    call = {"num_steps": 10} | kwargs
    with pytest.raises(error, match=f"`{parameter}`"):
        fastsched.trajectory("cosine", call.pop("num_steps"), **call, **COSINE)


@pytest.mark.parametrize(
    ("steps", "error"),
    [(-1, ValueError), ([0, -5], ValueError), ([0.5], TypeError), ([[1, 2]], ValueError), (2.0, TypeError)],
)
def test_bad_steps_for_multipliers(steps, error):
    with pytest.raises(error, match="`steps`"):
        fastsched.multipliers("cosine", steps, **COSINE)


def test_ragged_and_two_dimensional_sweep_arrays():
    with pytest.raises(ValueError, match=r"`num_warmup_steps` must be a scalar or a 1-D array.*ragged"):
        fastsched.sweep("cosine", 10, num_warmup_steps=[[1, 2], [3]], num_training_steps=100)
    with pytest.raises(ValueError, match=r"`num_warmup_steps` must be a scalar or a 1-D array, got .*\(2, 2\)"):
        fastsched.sweep("cosine", 10, num_warmup_steps=[[1, 2], [3, 4]], num_training_steps=100)
    with pytest.raises(ValueError, match="one common length; `base_lr` has 3, `num_warmup_steps` has 2"):
        fastsched.sweep("cosine", 10, base_lr=[1, 2, 3], num_warmup_steps=[1, 2], num_training_steps=100)
    with pytest.raises(ValueError, match="`decay_type` must be one of 'linear', 'cosine', '1-sqrt', got 'cosinus'"):
        fastsched.sweep(
            "warmup_stable_decay",
            10,
            num_warmup_steps=1,
            num_decay_steps=2,
            num_stable_steps=1,
            decay_type=["linear", "cosinus"],
        )
    with pytest.raises(TypeError, match="`decay_type` must be a str"):
        fastsched.sweep("warmup_stable_decay", 10, num_warmup_steps=1, num_decay_steps=2, num_stable_steps=1,
                        decay_type=[1, 2])  # fmt: skip


def test_choices_may_differ_per_config():
    """warmup_type / decay_type as lists: one per config, in one sweep (each row as its own trajectory)."""
    wsd = {"num_warmup_steps": 4, "num_decay_steps": 10, "num_stable_steps": 5, "min_lr_ratio": 0.1}
    types = ["linear", "cosine", "1-sqrt"]
    table = fastsched.sweep("warmup_stable_decay", 30, warmup_type=types, decay_type=types[::-1], **wsd)
    for row, warmup_type, decay_type in zip(table, types, types[::-1], strict=True):
        one = fastsched.trajectory("warmup_stable_decay", 30, warmup_type=warmup_type, decay_type=decay_type, **wsd)
        np.testing.assert_array_equal(row, one)


@pytest.mark.parametrize(
    ("out", "message", "error"),
    [
        (np.zeros(11), r"`out` must have shape \(10,\)", ValueError),
        (np.zeros((1, 10)), r"`out` must have shape \(10,\)", ValueError),
        (np.zeros(10, dtype=np.int64), "`out` must have dtype float32 or float64", TypeError),
        (np.zeros(20)[::2], "`out` must be a C-contiguous", ValueError),
        (np.zeros(10, dtype=">f8"), "`out` must be in native byte order", ValueError),
        ([0.0] * 10, "`out` must be a numpy array", TypeError),
    ],
)
def test_bad_out(out, message, error):
    with pytest.raises(error, match=message):
        fastsched.trajectory("cosine", 10, out=out, **COSINE)


def test_out_dtype_conflicting_with_dtype():
    with pytest.raises(TypeError, match="`out` has dtype float32 but `dtype` is float64"):
        fastsched.trajectory("cosine", 10, out=np.zeros(10, np.float32), dtype=np.float64, **COSINE)


def test_read_only_out_is_refused():
    out = np.zeros(10)
    out.flags.writeable = False
    with pytest.raises(ValueError, match="writeable"):
        fastsched.trajectory("cosine", 10, out=out, **COSINE)


@pytest.mark.parametrize(
    "bad",
    [
        {"num_warmup_steps": [1, float("nan"), 3]},
        {"base_lr": [1.0, 2.0, float("nan")]},
        {"num_training_steps": [10, 20]},
        {"num_cycles": [0.5, 0.5, 0.5], "extra": 1},
        {"start": -1},
    ],
)
def test_refused_call_writes_nothing_into_out(bad):
    out = np.full((3, 50), 7.0)
    params = {"base_lr": [1.0, 2.0, 3.0], "num_warmup_steps": [1, 2, 3], "num_training_steps": 40} | bad
    with pytest.raises((ValueError, TypeError)):
        fastsched.sweep("cosine", 50, out=out, **params)
    assert (out == 7.0).all()


def test_output_too_large_for_memory_is_refused_before_allocating():
    fastsched.sweep("cosine", 10, num_warmup_steps=np.arange(3), num_training_steps=100)  # kernels compiled
    tracemalloc.start()  # numpy reports its array allocations here
    try:
        with pytest.raises(MemoryError, match=r"shape \(1000, 1000000000000\).*GiB.*`out=`"):
            fastsched.sweep("cosine", 10**12, num_warmup_steps=np.arange(1000), num_training_steps=100)
        with pytest.raises(MemoryError, match="`num_steps`"):
            fastsched.trajectory("linear", 2**52, num_warmup_steps=1, num_training_steps=10)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 2**20  # refused up front: nothing near the output's size was ever allocated


def test_import_fastsched_imports_neither_torch_nor_numba():
    code = "import sys, fastsched; fastsched.__version__; print('torch' in sys.modules, 'numba' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.split() == ["False", "False"]


def test_a_bool_in_a_parameter_list_is_refused_like_a_bool():
    with pytest.raises(TypeError, match="`num_warmup_steps` must hold numbers, got a bool"):
        fastsched.sweep("cosine", 10, num_warmup_steps=[1, True], num_training_steps=100)
    with pytest.raises(TypeError, match="`base_lr` must hold numbers, got a bool"):
        fastsched.sweep("cosine", 10, base_lr=(1e-3, False), num_warmup_steps=1, num_training_steps=100)
    with pytest.raises(TypeError, match="`num_cycles` must hold numbers"):
        fastsched.sweep("cosine", 10, num_cycles=np.array([True, False]), num_warmup_steps=1, num_training_steps=100)


@pytest.mark.parametrize("base_lr", [1e39, [1e-3, 1e39]])
def test_a_float32_output_that_would_overflow_is_refused_before_writing(base_lr):
    out = np.full((np.size(base_lr), 20), 7.0, dtype=np.float32)
    with pytest.raises(OverflowError, match="overflow float32"):
        fastsched.sweep("cosine", 20, base_lr=base_lr, out=out, **COSINE)
    assert (out == 7.0).all()
    float64 = fastsched.sweep("cosine", 20, base_lr=base_lr, **COSINE)  # float64 holds them
    assert np.isfinite(float64).all()


@pytest.mark.parametrize("device", ["meta", "cpu", "CUDA", "Cuda:0", "tpu", -1, True])
def test_a_device_that_is_not_cuda_is_refused(device):
    error = TypeError if isinstance(device, bool) else ValueError
    with pytest.raises(error, match="`device`"):
        fastsched.trajectory("cosine", 10, device=device, **COSINE)


def test_cuda_without_a_usable_gpu_is_a_runtime_error_saying_so():
    torch = pytest.importorskip("torch")
    if torch.cuda.is_available():
        pytest.skip("a GPU is here: tests/test_cuda.py covers CUDA results")
    for call in (
        lambda: fastsched.trajectory("cosine", 10, device="cuda", **COSINE),
        lambda: fastsched.sweep("cosine", 10, device="cuda:0", **COSINE),
        lambda: fastsched.multipliers("cosine", [1, 2], device=torch.device("cuda"), **COSINE),
    ):
        with pytest.raises(RuntimeError, match="no usable CUDA GPU"):
            call()


def test_the_memory_guard_counts_what_a_sweep_of_many_configs_packs():
    """10**7 configs of one step: the output is 80 MB; the segment tables are packed a chunk of configs at a time,
    so memory grows by about the output, not by the ~3 GB a whole table would take."""
    code = (
        "import resource, numpy as np, fastsched\n"
        "fastsched.sweep('cosine', 1, base_lr=np.full(10, 1e-3), num_warmup_steps=1, num_training_steps=9)\n"
        "lrs = np.full(10**7, 1e-3)\n"
        "before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss\n"
        "out = fastsched.sweep('cosine', 1, base_lr=lrs, num_warmup_steps=1, num_training_steps=9)\n"
        "after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss\n"
        "assert out.shape == (10**7, 1) and (out == 0).all()\n"
        "print((after - before) / 1024)\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    grown_mib = float(result.stdout.strip().splitlines()[-1])
    assert grown_mib < 250, grown_mib  # the 76 MiB output, the validated lrs (76 MiB) and chunk-sized tables


def test_without_numbas_jit_every_function_works():
    """NUMBA_DISABLE_JIT=1 runs the kernels as Python: the same values (within rounding), nothing half-written."""
    code = (
        "import json, numpy as np, fastsched\n"
        "p = dict(num_warmup_steps=3, num_training_steps=10)\n"
        "print(json.dumps([\n"
        "    fastsched.trajectory('cosine', 12, base_lr=1e-3, **p).tolist(),\n"
        "    fastsched.sweep('linear', 6, base_lr=[1.0, 2.0], **p).tolist(),\n"
        "    fastsched.multipliers('cosine_with_restarts', [0, 5, 9, 30], **p).tolist(),\n"
        "    fastsched.trajectory(fastsched.cycles({'schedule': 'cosine', **p}, 7, period_mul=2.0), 40).tolist(),\n"
        "]))\n"
    )
    env = {**os.environ, "NUMBA_DISABLE_JIT": "1"}
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300, env=env)
    assert result.returncode == 0, result.stderr
    got = json.loads(result.stdout.strip().splitlines()[-1])
    p = dict(num_warmup_steps=3, num_training_steps=10)
    expected = [
        fastsched.trajectory("cosine", 12, base_lr=1e-3, **p),
        fastsched.sweep("linear", 6, base_lr=[1.0, 2.0], **p),
        fastsched.multipliers("cosine_with_restarts", [0, 5, 9, 30], **p),
        fastsched.trajectory(fastsched.cycles({"schedule": "cosine", **p}, 7, period_mul=2.0), 40),
    ]
    for got_values, expected_values in zip(got, expected, strict=True):
        np.testing.assert_allclose(np.asarray(got_values), expected_values, rtol=0, atol=1e-15)
