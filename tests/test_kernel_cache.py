"""Compiled kernels are cached (numba cache=True), also when the install location is read-only,
and a small request in a fresh process never starts the parallel runtime."""

from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import pytest

import fastsched

REPO = Path(__file__).resolve().parents[1]

# Runs in a fresh interpreter: one small trajectory, then reports what numba did.
PROBE = """
import json, numba, numpy as np
import numba.np.ufunc.parallel as parallel_runtime
import fastsched
from fastsched.kernels import cpu
lr = fastsched.trajectory("cosine", 3000, base_lr=1e-3, num_warmup_steps=100, num_training_steps=2000)
dispatchers = cpu.dispatchers()
print(json.dumps({
    "value": float(lr[1000]),
    "kernels_file": cpu.__file__,
    "hits": sum(sum(k.stats.cache_hits.values()) for k in dispatchers),
    "misses": sum(sum(k.stats.cache_misses.values()) for k in dispatchers),
    "parallel_runtime_started": bool(parallel_runtime._is_initialized),
}))
"""


def run_probe(env: dict[str, str], cwd: Path) -> dict:
    result = subprocess.run(
        [sys.executable, "-c", PROBE], env=env, cwd=cwd, capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


def make_read_only_install(root: Path) -> Path:
    """fastsched laid out as pip installs it (kernels/ inside the package), with nowhere to write a cache."""
    site = root / "site"
    ignore = shutil.ignore_patterns("__pycache__", "*.nbi", "*.nbc")
    shutil.copytree(REPO / "fastsched", site / "fastsched", ignore=ignore)
    shutil.copytree(REPO / "kernels", site / "fastsched" / "kernels", ignore=ignore)
    # numba writes next to the source in __pycache__/; a file of that name makes the location unusable even
    # for root (who ignores permission bits), and the permission bits cover everyone else.
    (site / "fastsched" / "kernels" / "__pycache__").write_text("not a directory")
    for path in [site, *site.rglob("*")]:
        mode = path.stat().st_mode
        path.chmod(mode & ~(stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH))
    return site


@pytest.fixture
def read_only_site(tmp_path):
    site = make_read_only_install(tmp_path)
    yield site
    for path in [site, *site.rglob("*")]:
        path.chmod(path.stat().st_mode | stat.S_IWUSR)


def test_kernels_cache_in_the_user_cache_when_the_install_is_read_only(read_only_site, tmp_path):
    home = tmp_path / "home"
    home.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith("NUMBA_")}
    env |= {"HOME": str(home), "XDG_CACHE_HOME": str(home / ".cache"), "PYTHONPATH": str(read_only_site)}

    first = run_probe(env, cwd=tmp_path)
    assert Path(first["kernels_file"]).is_relative_to(read_only_site)
    in_process = fastsched.trajectory("cosine", 3000, base_lr=1e-3, num_warmup_steps=100, num_training_steps=2000)
    assert first["value"] == in_process[1000]
    assert first["misses"] >= 1 and first["hits"] == 0
    cached = list((home / ".cache" / "numba").rglob("*.nbi"))
    assert cached, "numba should have fallen back to the user-wide cache directory"

    second = run_probe(env, cwd=tmp_path)
    assert second["hits"] >= 1 and second["misses"] == 0
    assert second["value"] == first["value"]


def test_small_request_in_a_fresh_process_stays_serial(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("NUMBA_")}
    env["NUMBA_CACHE_DIR"] = str(tmp_path / "cache")
    report = run_probe(env, cwd=REPO)
    assert report["parallel_runtime_started"] is False
