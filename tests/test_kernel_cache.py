"""Compiled kernels are cached in fastsched's per-user cache directory, keyed by version and kernel sources, never
in the install location; with nowhere writable they compile in memory with one warning; a small request in a fresh
process never starts the parallel runtime.

Each case runs fastsched in a fresh interpreter (the cache is decided once per process), from a copy of the package
laid out as pip installs it. "Read-only" is made two ways at once: the write bits are cleared (what stops a normal
user) and a plain file sits where a directory would be created (what stops root too, who ignores the bits).
"""

from __future__ import annotations

import compileall
import hashlib
import json
import os
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from fastsched.kernels import compiler

import fastsched

REPO = Path(__file__).resolve().parents[1]
# The one place that reads the bulk layer's internals (its parallel thresholds): the CPU backend.
from fastsched import cpu_backend as bulk  # noqa: E402  (the CPU backend: its parallel thresholds)

# Enough elements for bulk's parallel kernels in a fresh process.
LARGE_STEPS = bulk.PARALLEL_THRESHOLD // 4 + 1
COSINE = dict(base_lr=1e-3, num_warmup_steps=100, num_training_steps=2000)
LINEAR_SWEEP = dict(num_warmup_steps=[0, 100, 1000, 5000], num_training_steps=LARGE_STEPS)

# Runs in a fresh interpreter: a small trajectory and multipliers (two serial kernels), with "large" a sweep too
# (a parallel kernel); reports the values' digests, what numba did and the warnings raised.
PROBE = """
import hashlib, json, sys, warnings
with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always")
    import numba.np.ufunc.parallel as parallel_runtime
    import fastsched
    from fastsched.kernels import compiler
    arrays = [fastsched.trajectory("cosine", 3000, **COSINE)]
    # after the first kernel
    arrays.append(fastsched.multipliers("cosine", [0, 50, 100, 1999], **COSINE))
    if "large" in sys.argv:
        arrays.append(fastsched.sweep("linear", LARGE_STEPS, **LINEAR_SWEEP))
dispatchers = compiler.dispatchers()
print(json.dumps({
    "digests": [hashlib.sha256(a.tobytes()).hexdigest() for a in arrays],
    "kernels_file": compiler.__file__,
    "cache_dir": str(compiler.cache_dir()),
    "hits": sum(sum(k.stats.cache_hits.values()) for k in dispatchers),
    "misses": sum(sum(k.stats.cache_misses.values()) for k in dispatchers),
    "parallel_runtime_started": bool(parallel_runtime._is_initialized),
    "warnings": [f"{w.category.__name__}: {w.message}" for w in caught],
}))
"""
for _name, _value in {"COSINE": COSINE, "LARGE_STEPS": LARGE_STEPS, "LINEAR_SWEEP": LINEAR_SWEEP}.items():
    PROBE = PROBE.replace(_name, repr(_value))
# Only decides the cache directory: no kernel compiles.
WHERE_PROBE = "from fastsched.kernels import compiler; print(compiler.cache_dir())"


def expected_digests(large: bool) -> list[str]:
    arrays = [fastsched.trajectory("cosine", 3000, **COSINE)]
    arrays.append(fastsched.multipliers("cosine", [0, 50, 100, 1999], **COSINE))
    if large:
        arrays.append(fastsched.sweep("linear", LARGE_STEPS, **LINEAR_SWEEP))
    return [hashlib.sha256(a.tobytes()).hexdigest() for a in arrays]


def clean_env(**overrides: str) -> dict[str, str]:
    """This environment without numba's or the cache's settings, plus `overrides`."""
    drop = ("NUMBA_", "XDG_CACHE_HOME", "PYTHONPATH")
    env = {k: v for k, v in os.environ.items() if not k.startswith(drop)}
    return env | overrides


def run_probe(env: dict[str, str], cwd: Path, large: bool = False) -> dict:
    args = [sys.executable, "-c", PROBE, *(["large"] if large else [])]
    result = subprocess.run(args, env=env, cwd=cwd, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


def make_install(root: Path) -> Path:
    """fastsched laid out as pip installs it (kernels/ inside the package, byte-compiled); returns site-packages."""
    site = root / "site"
    ignore = shutil.ignore_patterns("__pycache__", "*.nbi", "*.nbc")
    shutil.copytree(REPO / "fastsched", site / "fastsched", ignore=ignore)
    shutil.copytree(REPO / "kernels", site / "fastsched" / "kernels", ignore=ignore)
    compileall.compile_dir(site, quiet=1)
    return site


def make_read_only(path: Path, blocked: str | None = None) -> None:
    """Clear the write bits under `path`; for root too, a file named `blocked` where a directory would go."""
    path.mkdir(parents=True, exist_ok=True)
    if blocked is not None:
        (path / blocked).write_text("not a directory")
    for item in [path, *path.rglob("*")]:
        item.chmod(item.stat().st_mode & ~(stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH))


def make_writable(path: Path) -> None:
    for item in [path, *path.rglob("*")]:
        item.chmod(item.stat().st_mode | stat.S_IWUSR)


def snapshot(root: Path) -> dict[str, tuple[int, int]]:
    return {str(p.relative_to(root)): (p.stat().st_size, p.stat().st_mtime_ns) for p in sorted(root.rglob("*"))}


def run_where_probe(env: dict[str, str], cwd: Path) -> Path:
    result = subprocess.run([sys.executable, "-c", WHERE_PROBE], env=env, cwd=cwd, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    return Path(result.stdout.strip())


@pytest.fixture
def site(tmp_path):
    return make_install(tmp_path)


@pytest.fixture
def read_only_site(tmp_path):
    site = make_install(tmp_path)
    # not blocked for root: the test checks that nothing under it changes (numba's default would write .nbi there)
    make_read_only(site)
    yield site
    make_writable(site)


@pytest.fixture(scope="module")
def two_runs(tmp_path_factory):
    """Two fresh processes with an empty user cache (HOME in a temporary directory, XDG_CACHE_HOME unset), each
    using the serial and the parallel kernels, with the install snapshotted before and after."""
    root = tmp_path_factory.mktemp("two-runs")
    site, home = make_install(root), root / "home"
    home.mkdir()
    env = clean_env(HOME=str(home), PYTHONPATH=str(site))
    before = snapshot(site)
    first = run_probe(env, cwd=root, large=True)
    second = run_probe(env, cwd=root, large=True)
    return {"site": site, "home": home, "first": first, "second": second, "before": before, "after": snapshot(site)}


def test_kernels_cache_in_the_user_cache_dir_and_a_second_process_hits_it(two_runs):
    first, second = two_runs["first"], two_runs["second"]
    assert Path(first["kernels_file"]).is_relative_to(two_runs["site"])
    assert first["digests"] == expected_digests(large=True)
    assert first["misses"] >= 3 and first["hits"] == 0
    assert first["warnings"] == []
    # ~/.cache/fastsched/<version>-<sources hash>
    cache = Path(first["cache_dir"])
    assert cache.parent == two_runs["home"] / ".cache" / "fastsched"
    assert cache.name == compiler.cache_key() and cache.name.startswith(f"{fastsched.__version__}-")
    assert list(cache.glob("*.nbi")) and list(cache.glob("*.nbc"))

    assert second["hits"] >= 3 and second["misses"] == 0
    assert second["digests"] == first["digests"]


def test_nothing_is_written_under_the_install_dir(two_runs):
    assert two_runs["first"]["misses"] >= 3  # kernels were compiled and saved: written, but elsewhere
    assert two_runs["after"] == two_runs["before"]


def test_xdg_cache_home_then_numba_cache_dir_take_precedence(site, tmp_path):
    env = clean_env(HOME=str(tmp_path / "home"), PYTHONPATH=str(site), XDG_CACHE_HOME=str(tmp_path / "xdg"))
    assert run_where_probe(env, tmp_path).parent == tmp_path / "xdg" / "fastsched"
    env["NUMBA_CACHE_DIR"] = str(tmp_path / "numba")
    assert run_where_probe(env, tmp_path).parent == tmp_path / "numba" / "fastsched"
    # a NUMBA_CACHE_DIR that can't be written falls back to the user cache directory, silently
    env["NUMBA_CACHE_DIR"] = str(tmp_path / "read-only")
    make_read_only(tmp_path / "read-only", blocked="fastsched")
    try:
        assert run_where_probe(env, tmp_path).parent == tmp_path / "xdg" / "fastsched"
    finally:
        make_writable(tmp_path / "read-only")


def test_nothing_writable_compiles_in_memory_with_one_warning(read_only_site, tmp_path):
    home, numba_cache = tmp_path / "home", tmp_path / "numba-cache"
    make_read_only(home, blocked=".cache")
    make_read_only(numba_cache, blocked="fastsched")
    env = clean_env(HOME=str(home), NUMBA_CACHE_DIR=str(numba_cache), PYTHONPATH=str(read_only_site))
    before = snapshot(read_only_site)
    try:
        report = run_probe(env, cwd=tmp_path)
    finally:
        make_writable(home)
        make_writable(numba_cache)

    assert report["digests"] == expected_digests(large=False)
    assert report["cache_dir"] == "None" and report["hits"] == 0
    assert snapshot(read_only_site) == before
    assert len(report["warnings"]) == 1, report["warnings"]  # one for the process, not one per kernel
    warning = report["warnings"][0]
    assert warning.startswith("KernelCacheWarning: ")
    assert str(numba_cache / "fastsched") in warning and str(home / ".cache" / "fastsched") in warning
    assert "NUMBA_CACHE_DIR" in warning  # how to fix it


def test_versions_and_kernel_sources_get_their_own_cache_dirs(tmp_path):
    installs = {name: make_install(tmp_path / name) for name in ("original", "same", "version", "formula")}
    init = installs["version"] / "fastsched" / "__init__.py"
    init.write_text(init.read_text().replace(f'__version__ = "{fastsched.__version__}"', '__version__ = "99.0"'))
    with (installs["formula"] / "fastsched" / "kernels" / "shapes.py").open("a") as source:
        source.write("\n# an edited formula source\n")

    dirs = {}
    for name, site in installs.items():
        env = clean_env(HOME=str(tmp_path / "home"), NUMBA_CACHE_DIR=str(tmp_path / "cache"), PYTHONPATH=str(site))
        dirs[name] = run_where_probe(env, tmp_path)
    assert dirs["same"] == dirs["original"]  # the key is the content, not the install's path
    assert dirs["version"].name.startswith("99.0-")
    assert len({dirs["original"], dirs["version"], dirs["formula"]}) == 3
    assert all(d.parent == tmp_path / "cache" / "fastsched" for d in dirs.values())


def test_a_damaged_cache_is_recompiled_and_rewritten(site, tmp_path):
    env = clean_env(HOME=str(tmp_path / "home"), PYTHONPATH=str(site))
    first = run_probe(env, cwd=tmp_path)
    cached = list(Path(first["cache_dir"]).iterdir())
    for path in cached:  # as a crash or a full disk mid-write might leave them
        path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])

    damaged = run_probe(env, cwd=tmp_path)
    assert damaged["digests"] == first["digests"]
    assert damaged["misses"] >= 1 and damaged["warnings"] == []
    healed = run_probe(env, cwd=tmp_path)
    assert healed["hits"] >= 1 and healed["misses"] == 0


def test_a_cache_that_fails_mid_process_costs_one_warning_not_a_call(site, tmp_path):
    # the first kernel is cached; then the directory turns into a file, so saving the next kernel fails
    script = PROBE.replace(
        "    # after the first kernel\n",
        "    import shutil; shutil.rmtree(compiler.cache_dir()); compiler.cache_dir().write_text('')\n",
    )
    env = clean_env(HOME=str(tmp_path / "home"), PYTHONPATH=str(site))
    result = subprocess.run(
        [sys.executable, "-c", script], env=env, cwd=tmp_path, capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert report["digests"] == expected_digests(large=False)
    assert report["misses"] >= 2  # both kernels compiled: the second's save is the one that failed
    assert len(report["warnings"]) == 1 and "stopped caching" in report["warnings"][0], report["warnings"]


def test_small_request_in_a_fresh_process_stays_serial(two_runs):
    # two_runs' warm cache: only whether the parallel runtime starts matters here
    env = clean_env(HOME=str(two_runs["home"]))
    report = run_probe(env, cwd=REPO)
    assert report["parallel_runtime_started"] is False


def test_jit_caches_a_function_from_outside_the_kernels_in_a_folder_of_its_own(tmp_path):
    module = tmp_path / "user_module.py"
    module.write_text(
        "from fastsched.kernels import compiler\n\n@compiler.jit(nogil=True)\ndef twice(x):\n    return 2 * x\n"
    )
    probe = (
        "import json, user_module\n"
        "value = user_module.twice(21)\n"
        "stats = user_module.twice.stats\n"
        "print(json.dumps([value, sum(stats.cache_hits.values()), sum(stats.cache_misses.values()), "
        "stats.cache_path]))\n"
    )
    env = clean_env(NUMBA_CACHE_DIR=str(tmp_path / "cache"), PYTHONPATH=str(tmp_path))
    reports = []
    for _ in range(2):
        result = subprocess.run(
            [sys.executable, "-c", probe], env=env, cwd=tmp_path, capture_output=True, text=True, timeout=120
        )
        assert result.returncode == 0, result.stderr
        reports.append(json.loads(result.stdout))
    assert reports[0][:3] == [42, 0, 1] and reports[1][:3] == [42, 1, 0]
    cache_path = Path(reports[0][3])
    assert cache_path.parent.parent == tmp_path / "cache" / "fastsched"  # <key>/<folder of user_module.py>
    assert not (tmp_path / "__pycache__").exists() or not list((tmp_path / "__pycache__").glob("*.nb?"))


def test_bulk_values_equal_the_parallel_and_serial_kernels():
    """What makes the serial fallback (forked children, a second thread under workqueue) invisible to callers."""
    expected = fastsched.sweep("linear", LARGE_STEPS, **LINEAR_SWEEP)
    original = bulk.PARALLEL_THRESHOLD, bulk.PARALLEL_THRESHOLD_WHEN_STARTED
    bulk.PARALLEL_THRESHOLD = bulk.PARALLEL_THRESHOLD_WHEN_STARTED = np.iinfo(np.int64).max
    try:
        serial = fastsched.sweep("linear", LARGE_STEPS, **LINEAR_SWEEP)
    finally:
        bulk.PARALLEL_THRESHOLD, bulk.PARALLEL_THRESHOLD_WHEN_STARTED = original
    np.testing.assert_array_equal(serial, expected)


# Kernels of different shapes share a function and differ only in what they capture; a process that loads some from
# the cache and compiles others must run each one's own code (numba names compiled code after the function's name and
# a per-process counter: generated functions are named after their contents), and processes compiling at once must
# never swap cached entries (data files are named after their keys).
MIXED = [
    ("constant", {}),
    ("constant_with_warmup", {"num_warmup_steps": 3}),
    ("linear", {"num_warmup_steps": 2, "num_training_steps": 9}),
    ("cosine", {"num_warmup_steps": 2, "num_training_steps": 9}),
    ("cosine_with_restarts", {"num_warmup_steps": 2, "num_training_steps": 9, "num_cycles": 2}),
    ("polynomial", {"num_warmup_steps": 0, "num_training_steps": 1, "lr_end": 0.0, "power": 1.0}),
    ("inverse_sqrt", {"num_warmup_steps": 4}),
    (
        "warmup_stable_decay",
        {"num_warmup_steps": 2, "num_stable_steps": 3, "num_decay_steps": 4, "decay_type": "1-sqrt"},
    ),
]
MIXED_PROBE = """
import json, sys
import numpy as np
import fastsched
from fastsched import cpu_backend, table
cases = json.loads(sys.argv[1])
out = {}
for index in json.loads(sys.argv[2]):
    name, params = cases[index]
    packed = table.pack(fastsched.schedule(name, **params), 1.0)
    for method in (0, 1, 2):
        for dtype in ("float64", "float32"):
            values = np.empty((1, 16), dtype=dtype)
            cpu_backend.fill(packed, 0, values, method)
            out[f"{index}-{method}-{dtype}"] = values[0].astype(float).tolist()
print(json.dumps(out))
"""


def test_kernels_from_the_cache_and_kernels_compiled_now_never_stand_in_for_each_other(tmp_path):
    from reference import transformers_multipliers

    env = clean_env(NUMBA_CACHE_DIR=str(tmp_path / "cache"))
    cases = json.dumps(MIXED)

    def run(*orders: list[int]) -> list[dict]:
        children = [
            subprocess.Popen(
                [sys.executable, "-c", MIXED_PROBE, cases, json.dumps(order)],
                env=env,
                cwd=tmp_path,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
            for order in orders
        ]
        results = []
        for child in children:
            stdout, stderr = child.communicate(timeout=600)
            assert child.returncode == 0, stderr[-3000:]
            results.append(json.loads(stdout.strip().splitlines()[-1]))
        return results

    evens, odds = list(range(0, len(MIXED), 2)), list(range(1, len(MIXED), 2))
    reports = run(evens, odds)  # two processes compiling different kernels into one cache at once
    reports += run(list(reversed(range(len(MIXED)))))  # then one that loads those and compiles in its own order
    for report in reports:
        for key, values in report.items():
            index, _, dtype = key.split("-")
            name, params = MIXED[int(index)]
            expected = transformers_multipliers(name, range(16), **params).astype(dtype)
            np.testing.assert_allclose(np.asarray(values), expected, rtol=0, atol=1e-12 if dtype == "float64" else 1e-7)
