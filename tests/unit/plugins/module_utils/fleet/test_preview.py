"""fleet/preview.py's pure parts: when a previewed fleet is converged, and each entry's input checked apart."""

from __future__ import annotations

import pytest

from ansible_collections.keyless.aws.plugins.module_utils.aws.errors import InputError
from ansible_collections.keyless.aws.plugins.module_utils.fleet import preview

QUIET = {"changed": False, "failed_instances": [], "held": [], "rolled_back": [], "stopped": None}
BASE = {"region": "us-east-1", "profile": None, "endpoint_url": None, "validate_certs": True, "retry_mode": "standard",
        "max_attempts": 10, "assume_role_arn": None, "assume_role_session_name": "keyless-aws",
        "assume_role_external_id": None, "assume_role_duration": None, "access_key": None, "secret_key": None,
        "session_token": None, "aws_ca_bundle": None}


@pytest.mark.parametrize("extra, expected", [
    ({}, True),
    ({"changed": True}, False),
    ({"failed_instances": [{"instance_id": "i-1", "step": "metadata", "reason": "x"}]}, False),
    ({"held": [{"instance_id": "i-1", "reason": "IMDSv1 calls"}]}, False),
    ({"rolled_back": [{"instance_id": "i-1"}]}, False),
    ({"stopped": "max_fail_percentage exceeded"}, False),
    ({"held": [], "waves": [{"wave": 1}]}, True),
    # an owner's instance left to it (EKS, Beanstalk ...): held by the profile step, counted in the summary only
    ({"summary": {"total": 3, "unchanged": 2, "held": 1, "changed": 0}}, False),
    ({"summary": {"total": 3, "unchanged": 2, "skipped": 1, "held": 0, "failed": 0}}, True),
])
def test_converged_is_nothing_to_change_fail_hold_or_roll_back(extra, expected):
    assert preview.converged(dict(QUIET, **extra)) is expected


def entry(name, **options):
    return {"name": name, "connection": {}, "options": dict({"tags": {"App": "shop"}, "http_tokens": "required"},
                                                            **options)}


def test_prepare_checks_every_entry_before_any_call_or_keeps_each_entrys_problems_with_it():
    west = {"name": "west", "connection": {"region": "eu-west-1"},
            "options": {"tags": {"App": "shop"}, "instance_profile": "App"}}
    entries = [entry("good"), entry("bad", http_tokens="sometimes"), entry("nothing", http_tokens=None), west]
    with pytest.raises(InputError) as raised:
        preview.prepare(entries, BASE)
    text = str(raised.value)
    assert "target bad: options: value of http_tokens must be one of" in text
    assert "target nothing: nothing to converge" in text
    assert "target good" not in text and "target west" not in text

    prepared = preview.prepare(entries, BASE, isolate=True)
    assert [p.name for p in prepared] == ["good", "bad", "nothing", "west"]
    good, bad, nothing, west = prepared
    assert good.errors == [] and good.call.check_mode is True and good.call.params["region"] == "us-east-1"
    assert good.call.params["http_tokens"] == "required" and good.call.params["batch_size"] == 0  # the module's defaults
    assert west.call.params["region"] == "eu-west-1" and west.call.params["instance_profile"] == "App"
    assert bad.call is None and bad.errors and nothing.call is None and nothing.errors


def test_a_name_missing_or_twice_always_fails():
    with pytest.raises(InputError) as raised:
        preview.prepare([entry("a"), entry("a"), {"options": {}}], BASE, isolate=True)
    assert "target a is listed twice" in str(raised.value) and "targets[2]: name is required" in str(raised.value)
