"""fastsched in the life of a real process: forked children and concurrent threads, under each threading layer.

Every case runs in a fresh interpreter in its own session, bounded by a timeout: a child killed by GNU OpenMP
("fork() called from a process already using GNU OpenMP"), a workqueue abort (exit 134) or a hang is observed
and reported, not suffered. Sizes are above bulk.PARALLEL_THRESHOLD, so the parent runs the parallel kernels.
"""

from __future__ import annotations

import importlib
import importlib.metadata
import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from fastsched.kernels import compiler

# The one place that reads the bulk layer's internals (its parallel threshold): the module behind fastsched.sweep.
from fastsched import cpu_backend as bulk

TIMEOUT_S = 120

# What every child script shares: schedules big enough for the parallel kernels, and how to compare results.
COMMON = f"""
import json, os, sys
import numpy as np
import numba
import fastsched
from fastsched.kernels import compiler

STEPS = {bulk.PARALLEL_THRESHOLD // 4 + 1}
WARMUPS = [0, 100, 1000, 5000]

def sweep():
    return fastsched.sweep("cosine", STEPS, base_lr=1e-3, num_warmup_steps=WARMUPS, num_training_steps=STEPS)

def trajectory(i):
    return fastsched.trajectory("linear", STEPS * 4, base_lr=3e-4, num_warmup_steps=WARMUPS[i],
                                num_training_steps=STEPS * 4)

def multipliers():
    return fastsched.multipliers("polynomial", np.arange(0, STEPS, 997), num_warmup_steps=10,
                                 num_training_steps=STEPS, power=2.0)

def compute():
    return [sweep(), trajectory(1), multipliers()]

def same(a, b):
    return len(a) == len(b) and all(np.array_equal(x, y) for x, y in zip(a, b))
"""

OS_FORK = """
def child(expected):
    try:
        got = compute()
        report = {"equal": expected is None or same(got, expected), "parallel_allowed": compiler.parallel_allowed()}
        os.write(w, json.dumps(report).encode())
        os._exit(0)
    finally:
        os._exit(1)

def fork_and_wait(expected):
    global w
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(r)
        child(expected)
    os.close(w)
    with os.fdopen(r) as pipe:
        message = pipe.read()
    _, status = os.waitpid(pid, 0)
    return {"exit": os.waitstatus_to_exitcode(status), **(json.loads(message) if message else {})}

before = fork_and_wait(None)  # nothing parallel has run yet: the child may start any layer itself
expected = compute()
after = fork_and_wait(expected)
print(json.dumps({"layer": numba.threading_layer(), "before": before, "after": after}))
"""

POOL = """
import multiprocessing

if __name__ == "__main__":
    expected = [trajectory(i) for i in range(4)]
    with multiprocessing.get_context("fork").Pool(2) as pool:
        rows = pool.map_async(trajectory, range(4)).get(timeout=60)
        allowed = pool.apply_async(compiler.parallel_allowed).get(timeout=60)
    print(json.dumps({"layer": numba.threading_layer(), "equal": same(rows, expected), "allowed": allowed}))
"""

DATALOADER = """
import torch
from torch.utils.data import DataLoader, Dataset

def scheduler_lrs():
    optimizer = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=0.1)
    scheduler = fastsched.get_scheduler("cosine", optimizer, 10, 100)
    lrs = []
    for _ in range(100):
        optimizer.step()
        scheduler.step()
        lrs.append(scheduler.get_last_lr()[0])
    return np.array(lrs)

class Schedules(Dataset):
    def __len__(self):
        return 4

    def __getitem__(self, i):
        return [torch.from_numpy(trajectory(i)), torch.from_numpy(sweep()), torch.from_numpy(scheduler_lrs())]

expected = [[trajectory(i), sweep(), scheduler_lrs()] for i in range(4)]
loader = DataLoader(Schedules(), batch_size=None, num_workers=2, multiprocessing_context="fork", timeout=60)
got = [[t.numpy() for t in item] for item in loader]
print(json.dumps({"layer": numba.threading_layer(), "equal": all(same(g, e) for g, e in zip(got, expected)),
                  "items": len(got)}))
"""

THREADS = """
import threading

expected_sweep, expected_trajectory = sweep(), trajectory(2)
layer = numba.threading_layer()
barrier = threading.Barrier(4)
results = []

def work(k):
    barrier.wait(timeout=60)
    for n in range(6):
        if (k + n) % 2:
            results.append(np.array_equal(sweep(), expected_sweep))
        else:
            results.append(np.array_equal(trajectory(2), expected_trajectory))

threads = [threading.Thread(target=work, args=(k,)) for k in range(4)]
for thread in threads:
    thread.start()
for thread in threads:
    thread.join(timeout=90)
print(json.dumps({"layer": layer, "calls": len(results), "all_equal": all(results),
                  "alive": sum(t.is_alive() for t in threads)}))
"""


def tbb_library_dir() -> Path | None:
    """Where pip put libtbb (outside site-packages: numba finds it only on the loader's path), or None."""
    try:
        files = importlib.metadata.files("tbb") or []
    except importlib.metadata.PackageNotFoundError:
        return None
    for file in files:
        if file.name.startswith(("libtbb.so.12", "libtbb.12.dylib", "tbb12.dll")):
            return Path(file.locate()).resolve().parent
    return None


LAYERS = [
    "omp",
    "workqueue",
    pytest.param(
        "tbb", marks=pytest.mark.skipif(tbb_library_dir() is None, reason="tbb is not installed (pip install tbb)")
    ),
]


@pytest.fixture(scope="module")
def kernel_cache(tmp_path_factory):
    """One cache for the module's children: the kernels compile once, in the first."""
    return tmp_path_factory.mktemp("kernel-cache")


def run_child(script: str, layer: str, kernel_cache: Path, cwd: Path) -> dict:
    """Run COMMON + script under threading layer `layer`; its last stdout line, as JSON. Fails on a non-zero exit
    (a kill or an abort) and on a hang: the whole session (pool workers, forked children) is killed then."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("NUMBA_")}
    env |= {"NUMBA_THREADING_LAYER": layer, "NUMBA_CACHE_DIR": str(kernel_cache)}
    if layer == "tbb":
        env["LD_LIBRARY_PATH"] = os.pathsep.join(filter(None, [str(tbb_library_dir()), env.get("LD_LIBRARY_PATH")]))
    child = subprocess.Popen(
        [sys.executable, "-c", COMMON + script],
        env=env,
        cwd=cwd,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        stdout, stderr = child.communicate(timeout=TIMEOUT_S)
    except subprocess.TimeoutExpired:
        os.killpg(child.pid, signal.SIGKILL)
        stdout, stderr = child.communicate()
        pytest.fail(f"hung for {TIMEOUT_S} s under {layer}:\n{stderr[-3000:]}")
    assert child.returncode == 0, f"exit {child.returncode} under {layer}:\n{stderr[-3000:]}"
    report = json.loads(stdout.strip().splitlines()[-1])
    assert report["layer"] == layer
    return report


@pytest.mark.parametrize("layer", LAYERS)
def test_os_fork_after_parallel_use_gives_the_parents_values(layer, kernel_cache, tmp_path):
    report = run_child(OS_FORK, layer, kernel_cache, tmp_path)
    assert report["before"] == {"exit": 0, "equal": True, "parallel_allowed": True}
    # after omp, the child runs the serial kernels; after a fork-safe layer, the parallel ones
    fork_safe = layer in compiler.FORK_SAFE_LAYERS
    assert report["after"] == {"exit": 0, "equal": True, "parallel_allowed": fork_safe}


def test_multiprocessing_pool_with_fork_after_parallel_use(kernel_cache, tmp_path):
    report = run_child(POOL, "omp", kernel_cache, tmp_path)
    assert report == {"layer": "omp", "equal": True, "allowed": False}


def test_torch_dataloader_fork_workers_after_parallel_use(kernel_cache, tmp_path):
    report = run_child(DATALOADER, "omp", kernel_cache, tmp_path)
    assert report == {"layer": "omp", "equal": True, "items": 4}


@pytest.mark.parametrize("layer", LAYERS)
def test_concurrent_threads_compute_correct_values_and_exit_cleanly(layer, kernel_cache, tmp_path):
    report = run_child(THREADS, layer, kernel_cache, tmp_path)
    assert report == {"layer": layer, "calls": 24, "all_equal": True, "alive": 0}


def test_parallel_region_is_exclusive_only_under_workqueue(kernel_cache, tmp_path):
    """The mechanism behind the workqueue case: a second thread gets False (serial) while one holds the region."""
    script = """
import threading
held, release = threading.Event(), threading.Event()
answers = {}

def holder():
    with compiler.parallel_region() as parallel:
        answers["holder"] = parallel
        held.set()
        release.wait(timeout=60)

thread = threading.Thread(target=holder)
thread.start()
held.wait(timeout=60)
with compiler.parallel_region() as parallel:
    answers["other"] = parallel
with compiler.parallel_region(wanted=False) as parallel:
    answers["unwanted"] = parallel
release.set()
thread.join(timeout=60)
with compiler.parallel_region() as parallel:
    answers["after"] = parallel
print(json.dumps({"layer": numba.threading_layer(), **answers}))
"""
    exclusive = run_child(script, "workqueue", kernel_cache, tmp_path)
    assert exclusive == {"layer": "workqueue", "holder": True, "other": False, "unwanted": False, "after": True}
    shared = run_child(script, "omp", kernel_cache, tmp_path)
    assert shared == {"layer": "omp", "holder": True, "other": True, "unwanted": False, "after": True}
