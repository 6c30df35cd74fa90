"""Fixtures: one moto server for the integration session, reset between tests.

The server serves through the strict-AWS layer (tests/support/strict/), every behaviour on. The product
runs in ansible-playbook subprocesses here, so the test process's own boto3 clients (setup and assertions) retry
the layer's HTML 5xx pages as the 503s they are (strict.harness_retries_html_5xx): a test fails for what the
product does, not for a page its own setup met.
"""

import boto3
import pytest

from tests.support.aws_env import FAKE_ACCESS_KEY, FAKE_SECRET_KEY
from tests.support.moto_server import MotoServer, calls, reset_moto
from tests.support.strict import harness_retries_html_5xx, retry_html_5xx, strict_restore, strict_stats

harness_retries_html_5xx()
# the docs examples' harness checks with assert: pytest's rewritten assertions, as when it lived in the test file
pytest.register_assert_rewrite("tests.support.docs_examples")


@pytest.fixture(scope="session")
def moto_server():
    with MotoServer() as server:
        server.strict_defaults = strict_stats(server.url)
        yield server


@pytest.fixture
def moto(moto_server):
    """A clean moto server for this test: its URL, call counts and boto3 clients; the strict layer as the session
    started it (a test may switch behaviours off with strict.strict_config: it is undone here)."""
    reset_moto(moto_server.url)
    strict_restore(moto_server.url, moto_server.strict_defaults)
    yield MotoHandle(moto_server.url)


class MotoHandle:
    def __init__(self, url):
        self.url = url

    def client(self, service, region="us-east-1"):
        return retry_html_5xx(boto3.client(service, region_name=region, endpoint_url=self.url,
                                           aws_access_key_id=FAKE_ACCESS_KEY, aws_secret_access_key=FAKE_SECRET_KEY))

    def calls(self, reset=False):
        return calls(self.url, reset=reset)

    def reset_calls(self):
        return calls(self.url, reset=True)
