"""The public names of each package are deliberate: adding or removing one must be a visible change."""

from __future__ import annotations

import importlib

import pytest

import datatracing.errors
import datatracing.model
import datatracing.wire


@pytest.mark.parametrize("module", [datatracing.model, datatracing.wire, datatracing.errors])
def test_public_all_importable(module: object) -> None:
    # Order is ruff's job (RUF022); here: every advertised name exists.
    names = module.__all__  # type: ignore[attr-defined]
    for name in names:
        assert getattr(module, name) is not None


@pytest.mark.parametrize(
    "name",
    [
        "datatracing.pipeline.store",
        "datatracing.pipeline.query",
        "datatracing.pipeline.sink",
        "datatracing.pipeline.broker",
        "datatracing.pipeline.sampler",
        "datatracing.sdk",
    ],
)
def test_package_all_importable(name: str) -> None:
    module = importlib.import_module(name)
    assert all(hasattr(module, n) for n in module.__all__)


def test_error_tree_sub_roots_share_one_root() -> None:
    from datatracing.errors import DataTracingError, InvalidDataError, TransientError, UsageError
    from datatracing.pipeline import errors

    for cls in (InvalidDataError, TransientError, UsageError):
        assert issubclass(cls, DataTracingError)
    for name in errors.__all__:
        assert issubclass(getattr(errors, name), DataTracingError)
