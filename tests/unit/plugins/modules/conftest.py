"""Fixtures shared by the module tests: one botocore loader for every module run, and the AWS operations a
test's module made."""

import botocore.loaders
import botocore.session
import pytest

from tests.support.fixtures import record_api_calls

_LOADER = botocore.loaders.create_loader()


@pytest.fixture
def shared_botocore_loader(monkeypatch):
    """Every module run builds a new boto3 Session; share one loader so the JSON service models are parsed once
    per test session instead of once per run (about 1 s for EC2 each time; a file that runs its module a hundred
    times asks for it with pytestmark = pytest.mark.usefixtures("shared_botocore_loader"))."""
    monkeypatch.setattr(botocore.session, "create_loader", lambda *a, **k: _LOADER)


@pytest.fixture
def api_calls(monkeypatch):
    """Every AWS operation any botocore client makes in-process, in order."""
    return record_api_calls(monkeypatch)
