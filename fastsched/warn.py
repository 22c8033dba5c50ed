"""Warnings attributed to the user's code: the first frame outside fastsched (and torch's scheduler machinery)."""

from __future__ import annotations

import sys
import warnings
from pathlib import Path

_PACKAGE_DIR = str(Path(__file__).resolve().parent)
_SKIPPED = (_PACKAGE_DIR, str(Path(warnings.__file__).resolve().parent / "warnings.py"))


def caller_stacklevel(skip: tuple[str, ...] = ()) -> int:
    """The stacklevel that points `warnings.warn`, called by the caller of this function, at the first frame whose
    file is not in fastsched (nor under a path in `skip`)."""
    frame = sys._getframe(2)  # the frame that calls warnings.warn
    level = 1
    while frame is not None:
        filename = frame.f_code.co_filename
        if not filename.startswith(_SKIPPED) and not filename.startswith(skip):
            return level
        frame = frame.f_back
        level += 1
    return 1


def warn(message: str, category: type[Warning] = UserWarning, skip: tuple[str, ...] = ()) -> None:
    """warnings.warn(message, category) pointing at the user's line."""
    warnings.warn(message, category, stacklevel=caller_stacklevel(skip) + 1)
