"""Fixtures: one moto server for the integration session, reset between tests."""

import boto3
import pytest

from tests.support.aws_env import FAKE_ACCESS_KEY, FAKE_SECRET_KEY
from tests.support.moto_server import MotoServer, calls, reset_moto


@pytest.fixture(scope="session")
def moto_server():
    with MotoServer() as server:
        yield server


@pytest.fixture
def moto(moto_server):
    """A clean moto server for this test: its URL, call counts and boto3 clients."""
    reset_moto(moto_server.url)
    yield MotoHandle(moto_server.url)


class MotoHandle:
    def __init__(self, url):
        self.url = url

    def client(self, service, region="us-east-1"):
        return boto3.client(service, region_name=region, endpoint_url=self.url,
                            aws_access_key_id=FAKE_ACCESS_KEY, aws_secret_access_key=FAKE_SECRET_KEY)

    def calls(self, reset=False):
        return calls(self.url, reset=reset)

    def reset_calls(self):
        return calls(self.url, reset=True)
