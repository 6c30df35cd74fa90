"""The pure plan of ec2_metadata_defaults: only the given fields, no-preference mapping, declarative policy."""

from __future__ import annotations

import pytest

from ansible_collections.keyless.aws.plugins.module_utils.ec2account import metadata_defaults as md

EMPTY = md.from_api({"AccountLevel": {}})


def test_absent_fields_read_as_no_preference():
    assert md.settings(EMPTY) == {
        "http_tokens": "no-preference", "http_put_response_hop_limit": -1, "http_endpoint": "no-preference",
        "instance_metadata_tags": "no-preference", "http_tokens_enforced": "no-preference"}
    assert EMPTY["managed_by"] == "account"
    assert md.from_api({})["http_tokens"] == "no-preference"


def test_from_api_maps_every_field():
    got = md.from_api({"AccountLevel": {"HttpTokens": "required", "HttpPutResponseHopLimit": 2,
                                        "HttpEndpoint": "enabled", "InstanceMetadataTags": "disabled",
                                        "HttpTokensEnforced": "enabled", "ManagedBy": "account"}})
    assert md.settings(got) == {"http_tokens": "required", "http_put_response_hop_limit": 2, "http_endpoint": "enabled",
                                "instance_metadata_tags": "disabled", "http_tokens_enforced": "enabled"}


@pytest.mark.parametrize("params, fragment", [
    ({"http_put_response_hop_limit": 0}, "http_put_response_hop_limit=0 is out of range: use 1 to 64, or -1"),
    ({"http_put_response_hop_limit": 65}, "http_put_response_hop_limit=65"),
    ({"http_put_response_hop_limit": -2}, "http_put_response_hop_limit=-2"),
    ({"http_tokens": "sometimes"}, "http_tokens='sometimes' is not allowed: use one of optional, required, no-preference"),
    ({"regions": []}, "regions=[] is empty"),
    ({"regions": ["us-east-1", "us-east-1"]}, "'us-east-1' is listed twice"),
    ({"regions": ["useast1"]}, "'useast1' is not a region name"),
])
def test_validate_names_option_value_and_allowed(params, fragment):
    errors = md.validate(params)
    assert any(fragment in e for e in errors), errors


@pytest.mark.parametrize("params", [{}, {"http_put_response_hop_limit": -1}, {"http_put_response_hop_limit": 1},
                                    {"http_put_response_hop_limit": 64}, {"regions": ["us-east-1", "eu-west-2"]},
                                    {"regions": ["us-gov-west-1", "cn-north-1", "ap-southeast-3"]}])
def test_validate_accepts_good_input(params):
    assert md.validate(params) == []


def test_target_regions():
    assert md.target_regions({"regions": ["eu-west-1", "us-east-1"], "region": "us-west-2"}) == ["eu-west-1", "us-east-1"]
    assert md.target_regions({"regions": None, "region": "us-west-2"}) == ["us-west-2"]
    assert md.target_regions({"regions": None, "region": None}) == []


def test_desired_keeps_only_given_fields():
    assert md.desired({"http_tokens": "required", "http_endpoint": None, "http_put_response_hop_limit": 2,
                       "regions": ["x"]}) == {"http_tokens": "required", "http_put_response_hop_limit": 2}


def test_plan_sends_only_differing_given_fields():
    observed = md.from_api({"AccountLevel": {"HttpTokens": "optional", "HttpPutResponseHopLimit": 2}})
    p = md.plan_region("us-east-1", observed, {"http_tokens": "required", "http_put_response_hop_limit": 2})
    assert p.changed
    assert p.request == {"HttpTokens": "required"}
    assert p.changed_fields() == ["http_tokens"]
    assert p.before["http_tokens"] == "optional" and p.after["http_tokens"] == "required"
    # the hop limit the user repeated and the endpoint the user left out both keep their value
    assert p.after["http_put_response_hop_limit"] == 2 and p.after["http_endpoint"] == "no-preference"


def test_plan_no_change_when_equal():
    observed = md.from_api({"AccountLevel": {"HttpTokens": "required"}})
    p = md.plan_region("us-east-1", observed, {"http_tokens": "required"})
    assert not p.changed and p.request == {} and p.before == p.after and p.error is None


def test_plan_clearing_with_no_preference():
    observed = md.from_api({"AccountLevel": {"HttpPutResponseHopLimit": 3, "HttpEndpoint": "disabled"}})
    p = md.plan_region("us-east-1", observed, {"http_put_response_hop_limit": -1, "http_endpoint": "no-preference"})
    assert p.request == {"HttpPutResponseHopLimit": -1, "HttpEndpoint": "no-preference"}


def test_plan_with_nothing_wanted_is_a_read():
    p = md.plan_region("us-east-1", EMPTY, {})
    assert not p.changed and p.after == p.before


def test_declarative_policy_blocks_a_change_with_its_message():
    observed = md.from_api({"AccountLevel": {"HttpTokens": "optional", "ManagedBy": "declarative-policy",
                                             "ManagedExceptionMessage": "Ask the platform team"}})
    p = md.plan_region("eu-west-1", observed, {"http_tokens": "required"})
    assert not p.changed and p.request == {}
    assert "declarative policy" in p.error and "Ask the platform team" in p.error and "http_tokens" in p.error
    # no change needed -> no error even when managed by a policy
    assert md.plan_region("eu-west-1", observed, {"http_tokens": "optional"}).error is None


def test_enforced_without_required_warns():
    p = md.plan_region("us-east-1", EMPTY, {"http_tokens_enforced": "enabled"})
    assert p.warnings and "http_tokens_enforced is enabled" in p.warnings[0]
    assert not md.plan_region("us-east-1", EMPTY, {"http_tokens_enforced": "enabled", "http_tokens": "required"}).warnings


def test_plan_keeps_region_order():
    plans = md.plan({"us-west-2": EMPTY, "eu-west-1": EMPTY}, {"http_tokens": "required"})
    assert [p.region for p in plans] == ["us-west-2", "eu-west-1"]
