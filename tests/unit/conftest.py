"""Fixtures shared by the unit tests."""

import pytest

from tests.support import fake_clock
from tests.support.moto_server import fix_moto

# In-process mock_aws gets the same fixes of moto's AWS infidelities as the moto server.
fix_moto()


@pytest.fixture
def fake_time(monkeypatch):
    """retries.py's clock and sleep replaced: waits and retries take no time; `.slept` lists the pauses."""
    return fake_clock.install(monkeypatch)
