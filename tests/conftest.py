"""Test-wide settings: hypothesis runs derandomized in CI so that a red build can be replayed exactly."""

from __future__ import annotations

import os

from hypothesis import settings

settings.register_profile("ci", derandomize=True, print_blob=True)
if os.environ.get("CI"):
    settings.load_profile("ci")
