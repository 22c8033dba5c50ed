"""Every docstring example in fastsched runs, and shows what it prints (doctest)."""

from __future__ import annotations

import doctest
import importlib
import pkgutil

import numpy as np
import pytest

import fastsched

MODULES = sorted(
    f"fastsched.{info.name}"
    for info in pkgutil.walk_packages(fastsched.__path__)
    if not info.name.startswith("kernels.cuda")  # numba-cuda's module is exercised by tests/test_cuda.py
)


def test_the_public_functions_show_examples():
    for name in ("multipliers", "trajectory", "sweep", "schedule", "join"):
        assert ">>>" in getattr(fastsched, name).__doc__, name


@pytest.mark.parametrize("module_name", MODULES)
def test_docstring_examples(module_name):
    module = importlib.import_module(module_name)
    finder = doctest.DocTestFinder(exclude_empty=True)
    runner = doctest.DocTestRunner(optionflags=doctest.NORMALIZE_WHITESPACE)
    for test in finder.find(module, module_name, globs={"fastsched": fastsched, "np": np}):
        if not _quotes_torch(test.docstring):
            runner.run(test)
    result = runner.summarize(verbose=False)
    assert result.failed == 0, f"{result.failed} of {result.attempted} examples failed in {module_name}"


def _quotes_torch(docstring: str | None) -> bool:
    """fastsched.torch's classes carry torch's own docstrings, whose examples are sketches (an undefined
    `optimizer`, `train(...)`): torch's to run, not ours."""
    import torch.optim.lr_scheduler as torch_schedulers

    torch_docs = [cls.__doc__ for cls in vars(torch_schedulers).values() if isinstance(cls, type) and cls.__doc__]
    return docstring is not None and any(doc.strip() in docstring for doc in torch_docs)
