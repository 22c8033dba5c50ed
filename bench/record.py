"""Run every benchmark in bench/ and write the figures to bench/results/<machine>.json.

The JSON holds the machine (name, CPU model, cores), the versions of python / numpy / numba / torch /
transformers (jax when present), the date and command, each benchmark's statistics, the ratios issue 4
judges (each against its reference in the same run: fill, numpy, JAX in float32 and in float64, transformers),
and measurements that need fresh processes: start-up with a warm and an empty kernel cache, and the peak RSS
of a sweep written into an np.memmap.

    python bench/record.py                      # bench/results/<machine>.json
    python bench/record.py --label before       # bench/results/<machine>-before.json
    python bench/record.py -k trajectory --skip-memmap --skip-startup
"""

from __future__ import annotations

import argparse
import datetime as dt
import importlib.metadata
import json
import os
import platform
import shlex
import socket
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

from tqdm import tqdm

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent

# The issues' goals: figure name -> (bound, "max" if it must stay at or below the bound, "min" if at or above)
GOALS = {
    # issue 3: the drop-in scheduler's cost
    "scheduler_step_fastsched_over_transformers": (0.125, "max"),
    "scheduler_build_1m_steps_s": (0.020, "max"),
    "scheduler_table_bytes_per_step": (8, "max"),
    "scheduler_state_dict_bytes": (2048, "max"),
    # issue 4: bulk kernels at the memory-write limit
    **{f"{name}_float64_vs_fill": (2.0, "max") for name in ("cosine", "cosine_with_restarts", "cosine_with_min_lr")},
    **{f"{name}_float32_vs_fill": (3.0, "max") for name in ("cosine", "cosine_with_restarts", "cosine_with_min_lr")},
    "warmup_stable_decay_float64_vs_fill": (2.0, "max"),
    "warmup_stable_decay_float32_vs_fill": (3.0, "max"),
    **{
        f"{name}_{dtype}_vs_fill": (1.3, "max")
        for name in ("linear", "constant", "polynomial")
        for dtype in ("float64", "float32")
    },
    "numpy_vs_cosine_float64": (20.0, "min"),
    "jax_float32_over_fastsched_float32": (10.0, "min"),
    "jax_float64_over_fastsched_float64": (10.0, "min"),
    "transformers_vs_sweep_cosine": (1000.0, "min"),
    "startup_warm_over_numba_import_s": (0.3, "max"),
    "startup_cold_first_sweep_s": (3.0, "max"),
    "startup_installed_warm_over_numba_import_s": (0.3, "max"),
    "startup_installed_cold_first_sweep_s": (3.0, "max"),
}

# numba's first kernel load imports scipy.linalg (a BLAS check) when scipy is installed: worth recording.
SCIPY_INSTALLED = "import importlib.util; print(importlib.util.find_spec('scipy') is not None)"
# A fresh interpreter's start-up: seconds spent importing numba alone, or fastsched plus a first trajectory.
STARTUP_NUMBA = "import time; t = time.perf_counter(); import numba; print(time.perf_counter() - t)"
STARTUP_FASTSCHED = """
import time
t = time.perf_counter()
import fastsched
fastsched.trajectory("cosine", 1000, base_lr=1e-3, num_warmup_steps=10, num_training_steps=1000)
print(time.perf_counter() - t)
"""
# With an empty cache: what compiling the kernels of a first sweep (64 x 20 000, the parallel kernel) costs.
FIRST_SWEEP = """
import time
import numpy as np
import fastsched
grid = dict(base_lr=np.full(64, 1e-3), num_warmup_steps=np.arange(64) * 10, num_training_steps=np.full(64, 20_000))
t = time.perf_counter()
fastsched.sweep("cosine", 20_000, **grid)
first = time.perf_counter() - t
t = time.perf_counter()
fastsched.sweep("cosine", 20_000, **grid)
print(first, time.perf_counter() - t)
"""
# A float32 sweep of `n` elements (n // 10**7 configs of 10**7 steps) written into an np.memmap: peak RSS.
MEMMAP_SWEEP = """
import json, resource, sys, time
import numpy as np
import fastsched
path, num_elements = sys.argv[1], int(sys.argv[2])
num_steps = 10_000_000
configs = num_elements // num_steps
fastsched.sweep("cosine", 1000, base_lr=np.ones(2), num_warmup_steps=10, num_training_steps=1000)  # load kernels
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
out = np.memmap(path, dtype=np.float32, mode="w+", shape=(configs, num_steps))
t = time.perf_counter()
fastsched.sweep("cosine", num_steps, base_lr=np.linspace(1e-4, 1e-3, configs), num_warmup_steps=1000,
                num_training_steps=num_steps, out=out)
seconds = time.perf_counter() - t
check = float(out[-1, num_steps // 2])
del out
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
print(json.dumps({"seconds": seconds, "peak_rss_bytes": peak, "rss_before_sweep_bytes": before, "value": check}))
"""


def run_python(
    code: str, *args: str, env: dict[str, str] | None = None, python: str = sys.executable, cwd: Path = REPO
) -> str:
    result = subprocess.run([python, "-c", code, *args], capture_output=True, text=True, env=env, cwd=cwd, check=False)
    if result.returncode != 0:
        raise RuntimeError(f"subprocess failed:\n{result.stderr}")
    return result.stdout.strip().splitlines()[-1]


def measure_startup(repeats: int, python: str = sys.executable) -> dict:
    """Warm cache: fastsched import + first trajectory minus numba's import (medians, alternating runs).
    Empty cache (NUMBA_CACHE_DIR set to a fresh directory): the first sweep's time, compilation included.

    "Warm" covers Python's bytecode cache as well as numba's: pip byte-compiles an installed package, but an
    editable checkout under PYTHONDONTWRITEBYTECODE=1 (set on some machines) would recompile fastsched's
    modules in every process, ~11 ms that no installed copy pays. Both commands run with the same environment,
    with `python` (another environment's interpreter, e.g. a clean install), outside the checkout.
    """
    warm_env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    outside = Path(tempfile.gettempdir())  # not the checkout: `import fastsched` must find the installed copy
    run_python(STARTUP_FASTSCHED, env=warm_env, python=python, cwd=outside)  # make sure both caches are warm
    numba_import, fastsched_first = [], []
    for _ in tqdm(range(repeats), desc=f"start-up, warm cache ({python})"):
        numba_import.append(float(run_python(STARTUP_NUMBA, env=warm_env, python=python, cwd=outside)))
        fastsched_first.append(float(run_python(STARTUP_FASTSCHED, env=warm_env, python=python, cwd=outside)))
    cold_first, cold_second = [], []
    for _ in tqdm(range(max(1, repeats // 2)), desc="start-up, empty cache"):
        with tempfile.TemporaryDirectory() as cache:
            env = {**os.environ, "NUMBA_CACHE_DIR": cache}
            first, second = map(float, run_python(FIRST_SWEEP, env=env, python=python, cwd=outside).split())
            cold_first.append(first)
            cold_second.append(second)
    return {
        "numba_import_s": statistics.median(numba_import),
        "fastsched_import_and_first_trajectory_s": statistics.median(fastsched_first),
        "warm_over_numba_import_s": statistics.median(fastsched_first) - statistics.median(numba_import),
        "cold_first_sweep_s": statistics.median(cold_first),
        "cold_second_sweep_s": statistics.median(cold_second),
        "repeats": repeats,
        "python": python,
        "scipy_installed": run_python(SCIPY_INSTALLED, python=python, cwd=outside) == "True",
        "python_bytecode_cache": "warm (PYTHONDONTWRITEBYTECODE unset for these runs)",
        "commands": {"numba": STARTUP_NUMBA, "fastsched": STARTUP_FASTSCHED, "cold": FIRST_SWEEP},
    }


def measure_memmap(num_elements: int, directory: str | None) -> dict:
    """Peak RSS of a subprocess writing a float32 sweep of `num_elements` into an np.memmap (file removed after)."""
    with tempfile.TemporaryDirectory(dir=directory) as tmp:
        path = Path(tmp) / "sweep.f32"
        report = json.loads(run_python(MEMMAP_SWEEP, str(path), str(num_elements)))
        report["file_bytes"] = path.stat().st_size
    report["num_elements"] = num_elements
    report["ns_per_element"] = report["seconds"] / num_elements * 1e9
    return report


def run_benchmarks(keyword: str | None, extra: list[str]) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        json_path = Path(tmp) / "benchmarks.json"
        command = [
            sys.executable, "-m", "pytest", str(BENCH), "-q", "-p", "no:cacheprovider",
            "--benchmark-enable", "--benchmark-only", "--benchmark-warmup=on", "--benchmark-warmup-iterations=3",
            f"--benchmark-json={json_path}", "--benchmark-sort=name", *(["-k", keyword] if keyword else []), *extra,
        ]  # fmt: skip
        print("+", shlex.join(command), flush=True)
        subprocess.run(command, cwd=REPO, check=False)
        if not json_path.exists():
            raise SystemExit("pytest-benchmark wrote no results")
        return json.loads(json_path.read_text())


def summarize(raw: dict) -> list[dict]:
    keep = ("min", "max", "mean", "median", "stddev", "iqr", "rounds", "iterations")
    return [
        {
            "name": b["name"],
            "group": b["group"],
            "extra_info": b["extra_info"],
            **{k: b["stats"][k] for k in keep},
        }
        for b in raw["benchmarks"]
    ]


def derive_ratios(benchmarks: list[dict], stat: str) -> dict[str, float]:
    """Each fastsched figure over its reference (or the reference over fastsched, for speed-ups)."""
    by_key = {}
    for b in benchmarks:
        info = b["extra_info"]
        by_key[(b["group"], info.get("kind"), info.get("schedule"), info.get("num_elements"))] = b[stat]
    ratios: dict[str, float] = {}
    for dtype in ("float64", "float32"):
        group = f"trajectory-{dtype}"
        fill = next((v for (g, kind, *_), v in by_key.items() if g == group and kind == "fill"), None)
        for (g, kind, schedule, _), value in by_key.items():
            if g == group and kind == "fastsched" and fill:
                ratios[f"{schedule}_{dtype}_vs_fill"] = value / fill
        ours = next(
            (v for (g, k, s, _), v in by_key.items() if g == group and k == "fastsched" and s == "cosine"), None
        )
        for reference, name in (("numpy", f"numpy_vs_cosine_{dtype}"), ("jax", f"jax_{dtype}_over_fastsched_{dtype}")):
            theirs = next((v for (g, k, *_), v in by_key.items() if g == group and k == reference), None)
            if theirs and ours:
                ratios[name] = theirs / ours
    step = {b["name"]: b[stat] for b in benchmarks if b["group"] == "scheduler-step"}
    if {"test_step_fastsched", "test_step_transformers_lambdalr"} <= step.keys():
        ratios["scheduler_step_fastsched_us"] = step["test_step_fastsched"] * 1e6
        ratios["scheduler_step_transformers_us"] = step["test_step_transformers_lambdalr"] * 1e6
        ratios["scheduler_step_fastsched_over_transformers"] = (
            step["test_step_fastsched"] / step["test_step_transformers_lambdalr"]
        )
    build = next((b for b in benchmarks if b["name"] == "test_build_1m_steps_fastsched"), None)
    if build:
        ratios["scheduler_build_1m_steps_s"] = build[stat]
        ratios["scheduler_table_bytes_per_step"] = build["extra_info"]["table_bytes_per_step"]
        ratios["scheduler_bytes_retained_per_step"] = build["extra_info"]["bytes_per_step"]
        ratios["scheduler_state_dict_bytes"] = build["extra_info"]["state_dict_bytes"]
    for dtype in ("float64", "float32"):
        group = [b for b in benchmarks if b["group"] == f"methods-{dtype}"]
        fill = next((b[stat] for b in group if b["extra_info"].get("kind") == "fill"), None)
        for b in group:
            info = b["extra_info"]
            if info.get("kind") == "method" and fill:
                ratios[f"method_{info['case']}_{info['method']}_{dtype}_vs_fill"] = b[stat] / fill
    sweep = {k: v for (g, k, *_), v in by_key.items() if g == "sweep-cosine"}
    if "fastsched" in sweep and "transformers" in sweep:
        ratios["transformers_vs_sweep_cosine"] = sweep["transformers"] / sweep["fastsched"]
    per_element = {
        (kind, n): v / n * 1e9 for (g, kind, _, n), v in by_key.items() if g == "scale-float64" and n is not None
    }
    for (kind, n), ns in sorted(per_element.items()):
        ratios[f"scale_{kind}_ns_per_element_{n:.0e}"] = ns
    call_cost = {kind: v for (g, kind, _, n), v in by_key.items() if g == "scale-float64" and n == 1}
    for kind, seconds in call_cost.items():
        ratios[f"scale_{kind}_call_overhead_us"] = seconds * 1e6
    ours = {n: ns for (kind, n), ns in per_element.items() if kind == "fastsched" and n > 1}
    if ours:
        ratios["scale_fastsched_ns_per_element_max_over_min"] = max(ours.values()) / min(ours.values())
    if ours and "fastsched" in call_cost:
        # the kernels' own time per element: what is left after the fixed cost of a call
        net = {n: ns - call_cost["fastsched"] / n * 1e9 for n, ns in ours.items()}
        for n, ns in sorted(net.items()):
            ratios[f"scale_fastsched_net_ns_per_element_{n:.0e}"] = ns
        ratios["scale_fastsched_net_ns_per_element_max_over_min"] = max(net.values()) / min(net.values())
    return ratios


def check_goals(figures: dict[str, float]) -> dict[str, dict]:
    verdicts = {}
    for name, (bound, kind) in GOALS.items():
        if name in figures:
            value = figures[name]
            met = value <= bound if kind == "max" else value >= bound
            verdicts[name] = {"value": value, "goal": f"{'<=' if kind == 'max' else '>='} {bound}", "met": met}
    return verdicts


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def versions() -> dict[str, str | None]:
    found = {"python": platform.python_version()}
    for package in ("numpy", "numba", "llvmlite", "torch", "transformers", "jax", "pytest-benchmark", "fastsched"):
        try:
            found[package] = importlib.metadata.version(package)
        except importlib.metadata.PackageNotFoundError:
            found[package] = None
    return found


# The README's performance section: rows of (label, figure names shown joined by " / ", format), in this order.
def _each(pattern: str, *values: str) -> tuple[str, ...]:
    return tuple(pattern.format(value) for value in values)


_THREE = ("cosine_with_restarts", "cosine_with_min_lr", "warmup_stable_decay")
_PLAIN = ("linear", "constant", "polynomial")
README_ROWS = [
    ("cosine trajectory, float64 / float32, over `ndarray.fill` of the same array",
     ("cosine_float64_vs_fill", "cosine_float32_vs_fill"), "{:.2f}×"),
    ("cosine_with_restarts / cosine_with_min_lr / warmup_stable_decay, float64, over fill",
     _each("{}_float64_vs_fill", *_THREE), "{:.2f}×"),
    ("cosine_with_restarts / cosine_with_min_lr / warmup_stable_decay, float32, over fill",
     _each("{}_float32_vs_fill", *_THREE), "{:.2f}×"),
    ("linear / constant / polynomial (power 1), float64, over fill", _each("{}_float64_vs_fill", *_PLAIN), "{:.2f}×"),
    ("linear / constant / polynomial (power 1), float32, over fill", _each("{}_float32_vs_fill", *_PLAIN), "{:.2f}×"),
    ("numpy formula over fastsched, float64", ("numpy_vs_cosine_float64",), "{:.0f}×"),
    ("JAX-jitted formula over fastsched, float32 / float64",
     ("jax_float32_over_fastsched_float32", "jax_float64_over_fastsched_float64"), "{:.1f}×"),
    ("transformers' schedulers built and stepped over `sweep`, 64 configs × 20 000 steps",
     ("transformers_vs_sweep_cosine",), "{:,.0f}×"),
    ("ns per element, cosine float64, 10⁵ / 10⁶ / 10⁷ / 10⁸ elements",
     _each("scale_fastsched_ns_per_element_{}", "1e+05", "1e+06", "1e+07", "1e+08"), "{:.2f}"),
    ("a call's fixed cost (1 element), µs", ("scale_fastsched_call_overhead_us",), "{:.1f}"),
    ("start-up, warm cache: import + first trajectory over `import numba`, s (dev env / clean install)",
     ("startup_warm_over_numba_import_s", "startup_installed_warm_over_numba_import_s"), "{:.2f}"),
    ("start-up, empty cache: compiling and running a first 64 × 20 000 sweep, s (dev env / clean install)",
     ("startup_cold_first_sweep_s", "startup_installed_cold_first_sweep_s"), "{:.2f}"),
    ("peak RSS of a 10⁹-element float32 sweep into an `np.memmap`, MiB", ("memmap_sweep_peak_rss_mib",), "{:.0f}"),
    ("`step()`, two param groups: fastsched / LambdaLR, µs",
     ("scheduler_step_fastsched_us", "scheduler_step_transformers_us"), "{:.3f}"),
    ("`step()`: fastsched over LambdaLR", ("scheduler_step_fastsched_over_transformers",), "{:.3f}"),
    ("building a scheduler for 1,000,000 steps (cosine, warm cache), s", ("scheduler_build_1m_steps_s",), "{:.4f}"),
    ("table bytes per scheduled step / `state_dict()` bytes",
     ("scheduler_table_bytes_per_step", "scheduler_state_dict_bytes"), "{:.0f}"),
]  # fmt: skip


def readme_section(results: dict) -> str:
    """The README's performance section, every figure quoted from `results` (a bench/results/<machine>.json)."""
    ratios, goals = results["ratios"], results["goals"]
    versions = ", ".join(f"{name} {version}" for name, version in results["versions"].items() if version)
    lines = [
        f"Measured on {results['cpu']} ({results['cores']} cores), {versions}; numba threading layer "
        f"{results.get('numba_threading_layer', 'default')}; {results['date'][:10]}.",
        f"Command: `{results['command']}` → [`bench/results/{results['machine']}.json`]"
        f"(bench/results/{results['machine']}.json). Each ratio compares {results['ratio_statistic']} times taken side "
        "by side in one pytest-benchmark run; start-up and memory are measured in fresh subprocesses. This VM's speed "
        "drifts from day to day: compare only figures from one run.",
        "",
        "| figure | goal | measured |",
        "| --- | --- | --- |",
    ]
    for label, names, style in README_ROWS:
        if not all(name in ratios for name in names):
            continue
        measured = " / ".join(style.format(ratios[name]) for name in names)
        goal = " / ".join(goals[name]["goal"] for name in names if name in goals) or "—"
        met = [goals[name]["met"] for name in names if name in goals]
        mark = "" if not met else (" ✓" if all(met) else " ✗")
        lines.append(f"| {label} | {goal} | {measured}{mark} |")
    methods = sorted(name for name in ratios if name.startswith("method_"))
    if methods:
        lines += [
            "",
            "The numerical machinery against its simpler alternative (`bench/test_bench_methods.py`, same run; "
            "time over fill of the same array): cosine at LIBM (libm's cos per value), REDUCED (range reduction and a "
            "polynomial) and TURNS (the fraction of a turn); linear at LIBM (a division per value) and REDUCED (a "
            "two-part reciprocal, a multiply and an fma); polynomial with power 1 (its own loop) and any other power "
            "(pow).",
            "",
            "| case | float64 | float32 |",
            "| --- | --- | --- |",
        ]
        cases = sorted({name.removeprefix("method_").rsplit("_", 3)[0] for name in methods})
        for case in cases:
            cells = [f"{ratios[f'method_{case}_{dtype}_vs_fill']:.2f}×" if f"method_{case}_{dtype}_vs_fill" in ratios
                     else "—" for dtype in ("float64", "float32")]  # fmt: skip
            lines.append(f"| {case.replace('_', ' ')} | {cells[0]} | {cells[1]} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--machine", default=socket.gethostname() or platform.node(), help="name of the result file")
    parser.add_argument("--label", help="suffix of the result file, e.g. 'before'")
    parser.add_argument("--output", type=Path, help="result file (default bench/results/<machine>[-<label>].json)")
    parser.add_argument("-k", dest="keyword", help="pytest -k expression selecting benchmarks")
    parser.add_argument("--stat", default="min", choices=["min", "median", "mean"], help="statistic of the ratios")
    parser.add_argument("--skip-startup", action="store_true", help="skip the fresh-process start-up figures")
    parser.add_argument("--startup-repeats", type=int, default=5)
    parser.add_argument(
        "--startup-python",
        help="also measure start-up with this interpreter: a clean environment where fastsched is pip-installed",
    )
    parser.add_argument("--skip-memmap", action="store_true", help="skip the np.memmap peak-RSS sweep")
    parser.add_argument("--memmap-elements", type=int, default=10**9, help="float32 elements of the memmap sweep")
    parser.add_argument("--memmap-dir", help="where the memmap file goes (default: the temp dir)")
    parser.add_argument(
        "--threading-layer",
        default="omp",
        help="numba's threading layer for every measurement (default omp: with tbb installed, numba would pick tbb, "
        "and figures from different layers don't compare)",
    )
    parser.add_argument(
        "--readme",
        type=Path,
        metavar="RESULTS",
        help="only print the README's performance section from a results file (no measuring)",
    )
    parser.add_argument("pytest_args", nargs="*", help="more arguments for pytest (after --)")
    args = parser.parse_args()
    if args.readme:
        print(readme_section(json.loads(args.readme.read_text())))
        return
    os.environ["NUMBA_THREADING_LAYER"] = args.threading_layer  # inherited by every measuring subprocess

    started = dt.datetime.now(dt.timezone.utc)
    raw = run_benchmarks(args.keyword, args.pytest_args)
    benchmarks = summarize(raw)
    figures = derive_ratios(benchmarks, args.stat)
    result = {
        "machine": args.machine,
        "cpu": cpu_model(),
        "cores": os.cpu_count(),
        "platform": platform.platform(),
        "versions": versions(),
        "date": started.isoformat(timespec="seconds"),
        "command": shlex.join([Path(sys.executable).name, *sys.argv]),
        "numba_threading_layer": args.threading_layer,
        "ratio_statistic": args.stat,
        "benchmarks": benchmarks,
    }
    if not args.skip_startup:
        startup = measure_startup(args.startup_repeats)
        result["startup"] = startup
        figures["startup_warm_over_numba_import_s"] = startup["warm_over_numba_import_s"]
        figures["startup_cold_first_sweep_s"] = startup["cold_first_sweep_s"]
    if args.startup_python:
        installed = measure_startup(args.startup_repeats, python=args.startup_python)
        result["startup_installed"] = installed
        figures["startup_installed_warm_over_numba_import_s"] = installed["warm_over_numba_import_s"]
        figures["startup_installed_cold_first_sweep_s"] = installed["cold_first_sweep_s"]
    if not args.skip_memmap:
        result["memmap_sweep"] = measure_memmap(args.memmap_elements, args.memmap_dir)
        figures["memmap_sweep_peak_rss_mib"] = result["memmap_sweep"]["peak_rss_bytes"] / 2**20
    result["ratios"] = figures
    result["goals"] = check_goals(figures)

    output = args.output or BENCH / "results" / f"{args.machine}{'-' + args.label if args.label else ''}.json"
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(json.dumps(result, indent=2) + "\n")
    width = max(map(len, figures), default=0)
    for name, value in figures.items():
        verdict = result["goals"].get(name)
        mark = "" if verdict is None else ("  ok" if verdict["met"] else f"  MISSED (goal {verdict['goal']})")
        print(f"{name:<{width}}  {value:12.4g}{mark}")
    print(f"wrote {output}")


if __name__ == "__main__":
    main()
