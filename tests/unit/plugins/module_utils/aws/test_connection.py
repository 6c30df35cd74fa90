"""Pure validation of the shared connection options."""

from __future__ import annotations

import pytest

from ansible_collections.keyless.aws.plugins.module_utils.aws.connection import validate_connection


@pytest.mark.parametrize("params", [
    {},
    {"region": "us-east-1", "max_attempts": 10},
    {"region": "us-gov-west-1", "endpoint_url": "https://ec2.us-gov-west-1.amazonaws.com"},
    {"access_key": "AKIAEXAMPLE", "secret_key": "s", "session_token": "t"},
    {"assume_role_arn": "arn:aws-cn:iam::123456789012:role/path/Deploy"},
])
def test_valid_connection_options(params):
    assert validate_connection(params) == []


@pytest.mark.parametrize("params, words", [
    ({"region": "moon-base-1!"}, ["region", "'moon-base-1!'", "us-east-1"]),
    ({"max_attempts": 0}, ["max_attempts", "0", "1 to 50"]),
    ({"access_key": "AKIAEXAMPLE"}, ["secret_key"]),
    ({"secret_key": "s"}, ["access_key"]),
    ({"session_token": "t"}, ["session_token", "access_key"]),
    ({"endpoint_url": "127.0.0.1:5000"}, ["endpoint_url", "http://"]),
    ({"assume_role_arn": "arn:aws:iam::123:user/bob"}, ["assume_role_arn", "role/"]),
])
def test_invalid_connection_options_name_option_value_and_rule(params, words):
    errors = validate_connection(params)
    assert len(errors) == 1
    for word in words:
        assert word in errors[0]


def test_secret_values_are_never_echoed():
    errors = validate_connection({"secret_key": "SuperSecretValue"})
    assert errors and all("SuperSecretValue" not in e for e in errors)
