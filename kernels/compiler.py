"""How fastsched compiles its kernels: where their machine code is cached, and when a parallel kernel may run.

Cache. ``jit`` returns numba dispatchers whose on-disk cache lives in fastsched's own per-user directory, never
next to the source (numba's default, ``__pycache__`` beside the kernels, writes into site-packages: the folder
outlives ``pip uninstall`` and shadows a later ``pip install -e .``). The directory is the first writable of

- ``$NUMBA_CACHE_DIR/fastsched/<key>`` when NUMBA_CACHE_DIR is set,
- the platform's user cache directory, as platformdirs lays it out: ``$XDG_CACHE_HOME/fastsched/<key>`` or
  ``~/.cache/fastsched/<key>`` on Linux, ``~/Library/Caches/fastsched/<key>`` on macOS,
  ``%LOCALAPPDATA%\\fastsched\\Cache\\<key>`` on Windows (platformdirs with appauthor=False, as numba uses it),

where ``<key>`` is fastsched's version and a hash of every ``kernels/*.py`` source, so two versions or two formula
sources never load each other's machine code (numba's own key, the kernel file's content, would miss a change to
an inlined formula in another file). When neither is writable, kernels compile in memory: one KernelCacheWarning
per process says where fastsched tried and how to fix it. A damaged cache file is a miss (the kernel is recompiled
and the file rewritten); a write that fails (disk full) turns the cache off for the rest of the process, with one
warning. A call never fails because of the cache.
(NUMBA_CACHE_LOCATOR_CLASSES, numba's explicit override of where caches go, still wins when set.)

Parallel kernels. GNU OpenMP (numba's ``omp`` threading layer on Linux) kills a forked child that enters a
parallel region after its parent used one, and ``workqueue`` aborts the process when two threads enter parallel
regions at once. ``parallel_region`` says whether the caller may run a parallel kernel now: not in a child forked
after its parent started a threading layer that is not fork-safe, and under an exclusive layer only for one thread
at a time (the others run their serial kernels meanwhile, rather than wait). Serial and parallel kernels compute
the same values, so the fallback changes only the time a call takes.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib
import os
import sys
import tempfile
import threading
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, ClassVar, TypeVar

import numba
from numba.core import config
from numba.core.caching import (
    CompileResultCacheImpl,
    FunctionCache,
    IndexDataCacheFile,
    _CacheLocator,
    _SourceFileBackedLocatorMixin,
)
from numba.core.dispatcher import Dispatcher

F = TypeVar("F", bound=Callable[..., Any])

KERNELS_DIR = Path(__file__).resolve().parent
# Threading layers after whose start a forked child may still enter parallel regions (numba's "forksafe" set; a
# GNU OpenMP build of omp is not, and an Intel or LLVM one is treated the same: the child only loses speed).
FORK_SAFE_LAYERS = frozenset({"tbb", "workqueue"})
# Threading layers that allow one parallel region at a time in a process.
EXCLUSIVE_LAYERS = frozenset({"workqueue"})


class KernelCacheWarning(UserWarning):
    """fastsched's kernels can't be cached on disk: they compile in memory, in every process."""


def _fastsched_version() -> str:
    try:
        from .. import __version__  # kernels/ is installed as fastsched.kernels

        return __version__
    except ImportError:  # imported as a top-level package (a checkout on sys.path): no version to read
        return "unknown"


def _sources_hash() -> str:
    """A hash of every kernel source (names and contents): any formula edit gives a new cache directory."""
    digest = hashlib.sha256()
    for path in sorted(KERNELS_DIR.glob("*.py")):
        digest.update(path.name.encode() + b"\0")
        try:
            digest.update(path.read_bytes())
        except OSError:  # unreadable: numba can't cache a kernel from it either
            digest.update(b"unreadable")
        digest.update(b"\0")
    return digest.hexdigest()[:16]


def cache_key() -> str:
    """The name of this fastsched's cache directory: its version and the hash of its kernel sources."""
    return f"{_fastsched_version()}-{_sources_hash()}"


def user_cache_root() -> Path | None:
    """fastsched's directory in the platform's user cache directory (platformdirs' user_cache_dir layout), or None
    where the platform names none (no home directory)."""
    try:
        if sys.platform == "win32":
            local = os.environ.get("LOCALAPPDATA", "").strip()
            base = Path(local) if local else Path.home() / "AppData" / "Local"
            return base / "fastsched" / "Cache"
        if sys.platform == "darwin":
            return Path.home() / "Library" / "Caches" / "fastsched"
        xdg = os.environ.get("XDG_CACHE_HOME", "").strip()
        # the XDG spec: a relative path is invalid and ignored
        return (Path(xdg) if os.path.isabs(xdg) else Path.home() / ".cache") / "fastsched"
    except (RuntimeError, KeyError):  # Path.home() without HOME and without a passwd entry
        return None


def cache_candidates() -> list[Path]:
    """The directories that may hold the kernel cache, in the order they are tried."""
    key = cache_key()
    candidates = []
    if config.CACHE_DIR:  # NUMBA_CACHE_DIR, as numba read it (environment or .numba_config.yaml)
        candidates.append(Path(config.CACHE_DIR) / "fastsched" / key)
    user_root = user_cache_root()
    if user_root is not None:
        candidates.append(user_root / key)
    return candidates


_cache_lock = threading.Lock()
_cache_decided = False
_cache_dir: Path | None = None


def cache_dir() -> Path | None:
    """The kernel cache directory of this process (created and checked writable), or None: compile in memory.

    Decided once per process, on first use; when nothing is writable, warns once (KernelCacheWarning)."""
    global _cache_decided, _cache_dir
    with _cache_lock:
        if _cache_decided:
            return _cache_dir
        _cache_dir, failures = _first_writable(cache_candidates())
        _cache_decided = True
        chosen = _cache_dir
    if chosen is None:  # outside the lock: a warnings filter may turn this into an exception
        tried = "; ".join(failures) or "nowhere: NUMBA_CACHE_DIR is unset and there is no home directory"
        _warn(
            f"fastsched can't cache its compiled kernels: no writable cache directory (tried {tried}). Kernels "
            "compile in memory, in every process (about a second at first use). To cache them, set NUMBA_CACHE_DIR "
            "(or XDG_CACHE_HOME) to a writable directory."
        )
    return chosen


def _first_writable(candidates: list[Path]) -> tuple[Path | None, list[str]]:
    """The first candidate that can be created and written to, and why each one before it could not."""
    failures = []
    for candidate in candidates:
        try:
            candidate.mkdir(parents=True, exist_ok=True)
            tempfile.TemporaryFile(dir=candidate).close()
            return candidate, failures
        except OSError as error:
            failures.append(f"{candidate} ({error.strerror or error})")
    return None, failures


def _warn(message: str) -> None:
    """Warn at the first caller outside fastsched, numba and importlib (the user's line that needed a kernel)."""
    internal = (str(KERNELS_DIR), str(Path(numba.__file__).parent), str(Path(importlib.__file__).parent), "<frozen ")
    if __package__ and "." in __package__:  # installed as fastsched.kernels: the package's other modules too
        internal += (str(Path(sys.modules[__package__.rpartition(".")[0]].__file__).parent),)
    frame = sys._getframe(1)
    while frame.f_back is not None and frame.f_code.co_filename.startswith(internal):
        frame = frame.f_back
    warnings.warn_explicit(
        message,
        KernelCacheWarning,
        frame.f_code.co_filename,
        frame.f_lineno,
        module=frame.f_globals.get("__name__"),
        registry=frame.f_globals.setdefault("__warningregistry__", {}),
    )


class _Locator(_SourceFileBackedLocatorMixin, _CacheLocator):
    """numba's cache locator for fastsched's kernels: the directory cache_dir() chose.

    Kernels from kernels/*.py share it (the directory's key already covers their sources); functions compiled with
    jit() from elsewhere get a subdirectory per source folder, as numba's own locators do."""

    def __init__(self, py_func: Callable, py_file: str) -> None:
        self._py_file = py_file
        self._lineno = py_func.__code__.co_firstlineno
        root = cache_dir()
        if root is None:
            raise OSError("no writable kernel cache directory")
        inside = Path(py_file).resolve().parent == KERNELS_DIR
        self._cache_path = str(root if inside else root / self.get_suitable_cache_subpath(py_file))

    def get_cache_path(self) -> str:
        return self._cache_path

    @classmethod
    def from_function(cls, py_func: Callable, py_file: str) -> _Locator | None:
        if not os.path.exists(py_file):  # no source (a frozen app, a REPL): numba can't key the cache
            return None
        try:
            locator = cls(py_func, py_file)
            locator.ensure_cache_path()
        except OSError:
            return None
        return locator


class _CacheImpl(CompileResultCacheImpl):
    _locator_classes: ClassVar[list[type]] = [_Locator]


class _KeyedCacheFile(IndexDataCacheFile):
    """numba's index and data files, each data file named by a hash of its entry's key.

    numba numbers a function's data files by the first number its index doesn't hold yet: two processes adding
    entries at once (kernels of different shapes share a function, differing only in what they capture) can both
    take number 1, and the index then points one entry's key at the other's machine code -- a kernel silently
    computing another schedule. Named by their key, two entries never share a file; a lost index update costs a
    recompilation, never a wrong kernel."""

    def save(self, key: Any, data: Any) -> None:
        base = self._index_name.removesuffix(".nbi")
        data_name = f"{base}.{hashlib.sha256(self._dump(key)).hexdigest()[:24]}.nbc"
        overloads = self._load_index()
        if overloads.get(key) != data_name:
            self._save_data(data_name, data)  # the data first: the index never names a file not yet written
            overloads[key] = data_name
            self._save_index(overloads)
        else:
            self._save_data(data_name, data)


class _KernelCache(FunctionCache):
    """numba's per-function disk cache in fastsched's directory, which never fails a call: an entry that can't be
    read is a miss (then recompiled and rewritten), and a failed write turns the cache off for the process. Data
    files are named by their entry's key (_KeyedCacheFile), so processes compiling at once never mix entries up."""

    _impl_class = _CacheImpl

    def __init__(self, py_func: Callable) -> None:
        super().__init__(py_func)
        base = self._cache_file
        self._cache_file = _KeyedCacheFile(base._cache_path, base._index_name.removesuffix(".nbi"), base._source_stamp)

    def load_overload(self, sig: Any, target_context: Any) -> Any:
        try:
            return super().load_overload(sig, target_context)
        except Exception:  # a truncated or foreign file: compile instead, and overwrite it on save
            return None

    def save_overload(self, sig: Any, data: Any) -> None:
        try:
            try:
                super().save_overload(sig, data)
            except OSError:
                raise
            except Exception:  # the index file is damaged: start it afresh
                self.flush()
                super().save_overload(sig, data)
        except Exception as error:
            reason = error.strerror if isinstance(error, OSError) and error.strerror else repr(error)
            _drop_disk_cache(f"{self.cache_path} ({reason})")


_caches_dropped = False


def _drop_disk_cache(where: str) -> None:
    """A write failed (disk full, directory removed): cache nothing more in this process, and say so once."""
    global _caches_dropped, _cache_dir
    with _cache_lock:
        _cache_dir = None  # kernels built from now on compile in memory
        if _caches_dropped:
            return
        _caches_dropped = True
    for dispatcher in _dispatchers:
        dispatcher._cache.disable()  # a NullCache for those compiled in memory: nothing to turn off
    _warn(
        f"fastsched stopped caching its compiled kernels: writing to {where} failed. Kernels compile in memory "
        "for the rest of this process. Free space there, or set NUMBA_CACHE_DIR to a writable directory."
    )


# every dispatcher jit() made in this process
_dispatchers: list[Dispatcher] = []


def dispatchers() -> list[Dispatcher]:
    """Every numba dispatcher jit() made in this process (their .stats count cache hits and misses)."""
    return list(_dispatchers)


def jit(
    function: F | None = None, /, *, parallel: bool = False, fastmath: Any = False, cache: bool = True, **numba_options
) -> Any:
    """numba.njit with fastsched's disk cache: ``@jit`` or ``@jit(parallel=True, fastmath={"contract"}, nogil=True)``.

    `parallel`, `fastmath` and the other `numba_options` (nogil, error_model, forceinline, locals, ...) are numba's.
    With `cache` (the default) the machine code is stored in cache_dir() and loaded from there by later processes;
    it is never written beside the source, and where no directory is writable the function compiles in memory.
    Returns the numba dispatcher (its .stats count cache hits and misses), or the plain function under
    NUMBA_DISABLE_JIT=1. Call a parallel dispatcher only where ``parallel_region()`` answered True, and keep a
    serial twin for the other case.
    """

    def decorate(py_func: F) -> F:
        dispatcher = numba.njit(parallel=parallel, fastmath=fastmath, **numba_options)(py_func)
        if not isinstance(dispatcher, Dispatcher):  # NUMBA_DISABLE_JIT=1: the plain function
            return dispatcher
        if cache and cache_dir() is not None:
            with contextlib.suppress(RuntimeError, OSError):  # no locator, or the source file vanished
                # what Dispatcher.enable_caching() does, with fastsched's cache class
                dispatcher._cache = _KernelCache(py_func)
        _dispatchers.append(dispatcher)
        return dispatcher

    return decorate if function is None else decorate(function)


# --- parallel kernels: fork and threads ---

_forked_after_unsafe_layer = False
_exclusive_lock = threading.Lock()


def _started_layer() -> str | None:
    """The threading layer this process started, or None before its first parallel region."""
    try:
        return numba.threading_layer()
    except ValueError:  # "Threading layer is not initialized."
        return None


def _after_fork_in_child() -> None:
    global _forked_after_unsafe_layer, _exclusive_lock, _cache_lock
    layer = _started_layer()
    if layer is not None and layer not in FORK_SAFE_LAYERS:
        _forked_after_unsafe_layer = True  # inherited by this child's own children too
    # a parent's thread that held a lock at the fork doesn't exist here to release it
    _exclusive_lock = threading.Lock()
    _cache_lock = threading.Lock()


if hasattr(os, "register_at_fork"):  # not on Windows, where there is no fork
    os.register_at_fork(after_in_child=_after_fork_in_child)


def parallel_allowed() -> bool:
    """False in a process forked after its parent started a threading layer that is not fork-safe (GNU OpenMP
    kills such a child when it enters a parallel region): run the serial kernels there."""
    return not _forked_after_unsafe_layer


_layer_in_use: str | None = None


@contextlib.contextmanager
def parallel_region(wanted: bool = True) -> Iterator[bool]:
    """Whether the caller may run a parallel kernel inside this block: `wanted`, the process can (parallel_allowed),
    and, under an exclusive threading layer (workqueue), no other thread of this process is in a parallel region
    (the caller then runs the serial kernel rather than wait). Starts the threading runtime when it answers True.
    Use it as::

        with parallel_region(out.size >= THRESHOLD) as parallel:
            (parallel_kernel if parallel else serial_kernel)(out)
    """
    global _layer_in_use
    if not (wanted and parallel_allowed()):
        yield False
        return
    if _layer_in_use is None:  # (a started layer stays the process's, forked children's included)
        numba.get_num_threads()  # starts the threading layer, so that it is known
        _layer_in_use = _started_layer()
    if _layer_in_use not in EXCLUSIVE_LAYERS:
        yield True
        return
    lock = _exclusive_lock
    if not lock.acquire(blocking=False):
        yield False
        return
    try:
        yield True
    finally:
        lock.release()
