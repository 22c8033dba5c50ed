"""What the presets of timm, DeepSpeed and Megatron-core share: absolute lrs as fractions of the reference lr,
whole-number checks, and the error of a home library's bare `assert`.

Light like every preset module: numpy is imported only where a value is a per-config array.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from ..registry import Parameter, Preset
from ..segments import floor, is_array, plain, where


def library_preset(
    module: str, library: str, reference: str, tolerance: str
) -> Callable[[str, tuple[Parameter, ...], str, str], Preset]:
    """A maker of `library`'s presets built by functions of `module`: preset(name, parameters, summary, builder),
    named "<library>.<name>", tested against `reference` (formatted with the name) to `tolerance`."""

    def preset(name: str, parameters: tuple[Parameter, ...], summary: str, builder: str) -> Preset:
        return Preset(
            f"{library}.{name}",
            library,
            parameters,
            summary,
            builder=f"{module}:{builder}",
            reference=reference.format(name),
            tolerance=tolerance,
        )

    return preset


class AssertionValueError(AssertionError, ValueError):
    """A config that the home library refuses with a bare `assert` (timm, Megatron-core): an AssertionError, what
    the library raises, and a ValueError, what fastsched raises for a bad value. The message names the parameter."""


def any_true(condition: Any) -> bool:
    return bool(condition.any()) if is_array(condition) else bool(condition)


def first_where(condition: Any, value: Any) -> Any:
    """`value` (a scalar or a per-config array) at the first config where `condition` holds, as a plain number."""
    if is_array(value):
        index = int(condition.argmax()) if is_array(condition) else 0
        return plain(value[index])
    return plain(value)


def relative(value: Any, reference_lr: Any, name: str) -> Any:
    """An absolute lr `value` (the parameter `name`) as a multiplier of the reference lr (base_lr), which must then
    be positive; a zero stays zero whatever the reference lr."""
    unusable = (reference_lr <= 0) & (value != 0)
    if any_true(unusable):
        raise ValueError(
            f"`base_lr` must be positive: `{name}` is an absolute lr, which fastsched gives as a fraction of base_lr "
            f"(got base_lr={first_where(unusable, reference_lr)})"
        )
    return where(value == 0, 0.0, value / where(reference_lr > 0, reference_lr, 1.0))


def check_whole(name: str, value: Any, library: str) -> None:
    """Refuse a count that is not a whole number (the home library takes an int there)."""
    fractional = floor(value) != value
    if any_true(fractional):
        raise ValueError(f"`{name}` must be a whole number of steps ({library} takes an int), got "
                         f"{first_where(fractional, value)}")  # fmt: skip


def log(value: Any) -> Any:
    """math.log of a float, numpy's of a per-config array."""
    if is_array(value):
        import numpy

        return numpy.log(value)
    return math.log(value)


def choice_is(choice: Any, value: str) -> Any:
    """choice == value for a "choice" parameter: a str, or a per-config object array."""
    if isinstance(choice, str):
        return choice == value
    import numpy

    return numpy.asarray(choice) == value


def shape_where(condition: Any, if_true: str, if_false: str) -> Any:
    """A segment's shape name, or a list of names (one per config) where `condition` is a per-config array (a list:
    the packer compares a segment's shape to "cycle", which a numpy array would do element by element)."""
    if not is_array(condition):
        return if_true if condition else if_false
    return [if_true if value else if_false for value in condition.tolist()]
