"""The schedule registry: every named schedule (preset), its parameters, defaults and docs.

Plain Python: importing it loads neither numpy, numba nor torch, so ``import fastsched``, ``fastsched --help``
and ``fastsched list`` stay light. Each library's presets are declared in ``fastsched.presets.<library>``
next to the function that turns their parameters into segments; this module only collects them.
"""

from __future__ import annotations

import enum
import functools
from dataclasses import dataclass, field
from typing import Any

# Counts and steps are carried as float64 in the kernels: integers are exact below 2**53.
MAX_STEP = 2**53 - 1


class _Required:
    def __repr__(self) -> str:
        return "REQUIRED"


REQUIRED: Any = _Required()  # default of a parameter that has none


@dataclass(frozen=True)
class Parameter:
    """One keyword parameter of a preset, named as its home library names it.

    kind: "count" (a step count: a number of steps), "float", "choice" (one of `choices`), "counts" / "floats"
    (a list of them, e.g. milestones), "flag" (a bool), "mapping" ({count: float}, e.g. optax's
    boundaries_and_scales), "schedules" (a list of schedules: objects, preset names or specs) and "kwargs" (a list
    of dicts, each the parameters of the preset named by `choices[0]`). Validation reads `signed` (a float that may
    be negative) and `positive` (a count that must be >= 1).
    """

    name: str
    kind: str
    default: Any = REQUIRED
    help: str = ""
    signed: bool = False
    positive: bool = False
    choices: tuple[str, ...] = ()

    @property
    def required(self) -> bool:
        return self.default is REQUIRED


@dataclass(frozen=True)
class Preset:
    """A named schedule: its parameters and the function (``module:function``) that builds its segments."""

    name: str
    library: str
    parameters: tuple[Parameter, ...]
    summary: str
    builder: str = ""
    reference: str = ""  # what its values are tested against
    tolerance: str = ""  # and how closely
    extra: dict[str, Any] = field(default_factory=dict, compare=False, hash=False)

    @functools.cached_property
    def parameter_names(self) -> tuple[str, ...]:
        return tuple(p.name for p in self.parameters)

    @functools.cached_property
    def _by_name(self) -> dict[str, Parameter]:
        return {p.name: p for p in self.parameters}

    def parameter(self, name: str) -> Parameter:
        return self._by_name[name]


class SchedulerType(str, enum.Enum):
    """transformers' SchedulerType values; all but reduce_lr_on_plateau and greedy are precomputable."""

    LINEAR = "linear"
    COSINE = "cosine"
    COSINE_WITH_RESTARTS = "cosine_with_restarts"
    POLYNOMIAL = "polynomial"
    CONSTANT = "constant"
    CONSTANT_WITH_WARMUP = "constant_with_warmup"
    INVERSE_SQRT = "inverse_sqrt"
    REDUCE_ON_PLATEAU = "reduce_lr_on_plateau"
    COSINE_WITH_MIN_LR = "cosine_with_min_lr"
    COSINE_WARMUP_WITH_MIN_LR = "cosine_warmup_with_min_lr"
    WARMUP_STABLE_DECAY = "warmup_stable_decay"
    GREEDY = "greedy"

    def __str__(self) -> str:
        return self.value


METRIC_DRIVEN = frozenset({SchedulerType.REDUCE_ON_PLATEAU.value, SchedulerType.GREEDY.value})


# The modules that declare presets, one per home library (a new library: a module in fastsched/presets, named here).
PRESET_MODULES = ("transformers", "torch", "timm", "optax", "deepspeed", "megatron")


def _collect() -> dict[str, Preset]:
    import importlib

    presets: dict[str, Preset] = {}
    for module in (importlib.import_module(f".presets.{name}", __package__) for name in PRESET_MODULES):
        for preset in module.PRESETS:
            if preset.name in presets:
                raise RuntimeError(f"preset {preset.name!r} is declared twice")
            presets[preset.name] = preset
    return presets


PRESETS: dict[str, Preset] = _collect()


def preset_names(library: str | None = None) -> list[str]:
    """The precomputable presets' names (all, or one library's)."""
    return [name for name, preset in PRESETS.items() if library is None or preset.library == library]


def canonical_name(name: Any) -> str:
    """A preset's name from a str, fastsched's SchedulerType or transformers' SchedulerType."""
    value = name.value if isinstance(name, enum.Enum) else name
    if not isinstance(value, str):
        raise TypeError(f"`name` must be a str or a SchedulerType, got {type(name).__name__}")
    if value in PRESETS or value in METRIC_DRIVEN:
        return value
    valid = ", ".join(repr(t.value) for t in SchedulerType)
    raise ValueError(f"{value!r} is not a valid SchedulerType, please select one of {valid}")


def get_preset(name: Any) -> Preset:
    """The precomputable preset called `name`; metric-driven ones are refused with a pointer to get_scheduler."""
    value = canonical_name(name)
    if value in METRIC_DRIVEN:
        raise ValueError(
            f"`name` {value!r} follows a metric and has no precomputable values; "
            f"use fastsched.get_scheduler({value!r}, optimizer) instead. "
            f"Precomputable schedules: {', '.join(preset_names('transformers'))}"
        )
    return PRESETS[value]


def presets_markdown() -> str:
    """The README's table of every preset (library, name, parameters with defaults, what its values are tested
    against and how closely), generated from the registry: tests/test_readme.py checks the README holds it."""
    lines = ["| library | name | parameters (default) | tested against | tolerance |", "| --- " * 5 + "|"]
    for preset in PRESETS.values():
        parameters = ", ".join(
            f"`{p.name}`" if p.required else f"`{p.name}` ({'—' if p.default is None else repr(p.default)})"
            for p in preset.parameters
        )
        lines.append(
            f"| {preset.library} | `{preset.name}` | {parameters or '—'} | {preset.reference} | {preset.tolerance} |"
        )
    return "\n".join(lines)
