"""Shared fixtures."""

import pytest

from netspec.registry import REGISTRY


@pytest.fixture
def clean_registry():
    """Components registered inside the test are forgotten after it."""
    saved = REGISTRY.snapshot()
    yield REGISTRY
    REGISTRY.restore(saved)
