"""Checks shared by every entry point (bulk API, schedule objects, schedulers, command line).

Each check raises at once with a message that names the parameter and shows the value as a plain number.
Parameters arrive as Python or numpy scalars, or 1-D array-likes (a sweep's per-config values).
"""

from __future__ import annotations

import os
import sys
from typing import Any

import numpy as np

from .registry import MAX_STEP, Parameter
from .segments import plain

# Python and numpy scalar types read as they are (bool is an int but not a number here)
_INT_TYPES = (int, np.integer)
_FLOAT_TYPES = (float, np.floating)


def as_numeric(name: str, value: Any) -> np.ndarray:
    """A scalar or 1-D array of numbers as an array (not yet range-checked)."""
    if type(value) is np.ndarray and value.dtype.kind in "iuf" and value.ndim <= 1:  # a sweep's arrays: at once
        return value
    if isinstance(value, (str, bytes)):
        raise TypeError(f"`{name}` must be a number, got the string {value!r}")
    if isinstance(value, (bool, np.bool_)):
        raise TypeError(f"`{name}` must be a number, got the bool {value!r}")
    if isinstance(value, (list, tuple)) and any(isinstance(v, (bool, np.bool_)) for v in value):
        raise TypeError(f"`{name}` must hold numbers, got a bool in {value!r:.80}")
    try:
        arr = np.asarray(value)
    except (ValueError, TypeError) as exc:  # ragged nested sequences
        raise ValueError(f"`{name}` must be a scalar or a 1-D array; got a ragged sequence ({exc})") from None
    if arr.dtype == object:
        if arr.ndim == 1 and any(isinstance(v, (bool, np.bool_)) for v in arr.tolist()):
            raise TypeError(f"`{name}` must hold numbers, got a bool in {value!r:.80}")
        raise ValueError(f"`{name}` must be a scalar or a 1-D array of numbers; got {value!r:.80}")
    if arr.dtype.kind == "b":
        raise TypeError(f"`{name}` must hold numbers, got booleans")
    if arr.dtype.kind not in "iuf":
        raise TypeError(f"`{name}` must be a number or an array of numbers, got dtype {arr.dtype}")
    if arr.ndim > 1:
        raise ValueError(f"`{name}` must be a scalar or a 1-D array, got an array of shape {arr.shape}")
    return arr


def first_bad(arr: np.ndarray, bad: np.ndarray) -> Any:
    return plain(arr.reshape(-1)[int(np.argmax(bad.reshape(-1)))])


def valid_count(value: float, positive: bool = False) -> bool:
    """A count's rule, as transformers accepts counts: finite, within +-(2**53 - 1), > 0 when positive (NaN fails)."""
    return (value > 0.0 if positive else value >= -MAX_STEP) and value <= MAX_STEP


def check_count(name: str, arr: np.ndarray, positive: bool = False) -> np.ndarray:
    """Counts (steps), returned as float64: any finite number within +-(2**53 - 1), > 0 when positive."""
    values = arr.astype(np.float64)
    lowest, highest = values.min(initial=np.inf), values.max(initial=-np.inf)  # (NaN where any value is)
    if not ((lowest > 0 if positive else lowest >= -MAX_STEP) and highest <= MAX_STEP):
        low_ok = values > 0 if positive else values >= -MAX_STEP
        bad = ~(low_ok & (values <= MAX_STEP))
        what = "a positive number of steps" if positive else "a finite number of steps"
        raise ValueError(f"`{name}` must be {what} (at most 2**53 - 1 in size), got {first_bad(arr, bad)}")
    return values


def check_float(name: str, arr: np.ndarray, signed: bool = False) -> np.ndarray:
    values = arr.astype(np.float64)
    lowest, highest = values.min(initial=np.inf), values.max(initial=-np.inf)  # (NaN where any value is)
    if not ((lowest > -np.inf if signed else lowest >= 0) and highest < np.inf):
        bad = ~np.isfinite(values) if signed else ~np.isfinite(values) | (values < 0)
        what = "finite" if signed else "finite and non-negative"
        raise ValueError(f"`{name}` must be {what}, got {first_bad(arr, bad)}")
    return values


def check_parameter(parameter: Parameter, arr: np.ndarray) -> np.ndarray:
    if parameter.kind == "count":
        return check_count(parameter.name, arr, parameter.positive)
    return check_float(parameter.name, arr, parameter.signed)


def scalar_number(value: Any) -> float | None:
    """`value` as a float when it is a plain int or float scalar (not bool), else None (the array path decides)."""
    if isinstance(value, float):
        return value
    if isinstance(value, (bool, np.bool_)):
        return None
    if isinstance(value, _INT_TYPES):
        return float(value) if -(2**63) <= value < 2**63 else None
    if isinstance(value, _FLOAT_TYPES) and not isinstance(value, np.longdouble):
        return float(value)
    return None


def check_dtype(dtype: Any) -> np.dtype:
    try:
        resolved = np.dtype(dtype)
    except TypeError:
        raise TypeError(f"`dtype` must be float32 or float64, got {dtype!r}") from None
    if resolved not in (np.dtype(np.float32), np.dtype(np.float64)):
        raise TypeError(f"`dtype` must be float32 or float64, got {resolved}")
    return resolved


def check_step(name: str, value: Any) -> int:
    """A non-negative int step or count (what kernels carry exactly as float64), or an error naming `name`."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, _INT_TYPES):
        raise TypeError(f"`{name}` must be an int, got {type(value).__name__} {plain(value)!r}")
    if not 0 <= value <= MAX_STEP:
        raise ValueError(f"`{name}` must be a non-negative integer (at most 2**53 - 1), got {plain(value)}")
    return int(value)


def check_steps(steps: Any) -> tuple[np.ndarray, bool]:
    """`steps` (an int, or a 1-D array-like of ints) as a contiguous int64 array, and whether it was an int."""
    if isinstance(steps, _INT_TYPES) and not isinstance(steps, (bool, np.bool_)):
        return np.asarray([check_step("steps", steps)], dtype=np.int64), True
    try:
        arr = np.asarray(steps)
    except ValueError:
        raise ValueError("`steps` must be an int or a 1-D array of ints; got a ragged sequence") from None
    if arr.size and arr.dtype.kind not in "iu":
        raise TypeError(f"`steps` must be integers, got dtype {arr.dtype}")
    if arr.ndim != 1:
        raise ValueError(f"`steps` must be an int or a 1-D array of ints, got shape {arr.shape}")
    if arr.size and (arr.min() < 0 or arr.max() > MAX_STEP):
        bad = arr[(arr < 0) | (arr > MAX_STEP)][0]
        raise ValueError(f"`steps` must be non-negative integers (at most 2**53 - 1), got {plain(bad)}")
    return np.ascontiguousarray(arr, dtype=np.int64), False


# -- outputs ---------------------------------------------------------------------------------------------------------


def available_memory() -> int:
    """Bytes of memory this process can take: MemAvailable, else the physical memory (else no limit known)."""
    try:
        with open("/proc/meminfo") as meminfo:
            for line in meminfo:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError):
        return sys.maxsize


def _free_memory() -> int:
    """Bytes of memory free right now (no page cache counted): a lower bound of available_memory, ~30x cheaper."""
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_AVPHYS_PAGES")
    except (ValueError, OSError):
        return 0


def check_memory(nbytes: int, what: str) -> None:
    if 2 * nbytes <= _free_memory():  # far inside what is free: no need to read /proc/meminfo
        return
    available = available_memory()
    if nbytes > available:
        raise MemoryError(
            f"{what} needs {nbytes / 2**30:.1f} GiB, more than the {available / 2**30:.1f} GiB available; "
            "reduce `num_steps` or the number of configs, or pass `out=` (an np.memmap, say)"
        )


def check_out(
    shape: tuple[int, ...],
    dtype: Any,
    out_dtype: Any,
    out_shape: tuple[int, ...],
    *,
    contiguous: bool,
    writeable: bool = True,
) -> None:
    """The checks every backend makes of a given `out` (a numpy array here, a torch CUDA tensor in fastsched.gpu)."""
    if out_dtype not in (np.dtype(np.float32), np.dtype(np.float64)):
        raise TypeError(f"`out` must have dtype float32 or float64, got {out_dtype}")
    if dtype is not None and check_dtype(dtype) != out_dtype:
        raise TypeError(f"`out` has dtype {out_dtype} but `dtype` is {np.dtype(dtype)}")
    if out_shape != shape:
        raise ValueError(f"`out` must have shape {shape}, got {out_shape}")
    if not (contiguous and writeable):
        raise ValueError("`out` must be a C-contiguous, aligned, writeable array")


def check_range(start: int, num_steps: int) -> None:
    last_step = start + num_steps - 1
    if num_steps and last_step > MAX_STEP:
        raise ValueError(f"`start` + `num_steps` must stay below 2**53, got last step {last_step}")
