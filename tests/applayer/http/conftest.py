"""Fixtures for the HTTP parser tests."""

from __future__ import annotations

import pytest

from .flows import Flow


@pytest.fixture
def flow() -> Flow:
    return Flow()
