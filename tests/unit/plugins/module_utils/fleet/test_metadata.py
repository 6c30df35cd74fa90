"""module_utils/fleet/metadata.py: only the fields given are compared; the request carries the rest."""

from __future__ import annotations

import pytest

from ansible_collections.keyless.aws.plugins.module_utils.fleet import metadata as md

CURRENT = {"State": "applied", "HttpTokens": "optional", "HttpPutResponseHopLimit": 2, "HttpEndpoint": "enabled",
           "HttpProtocolIpv6": "disabled", "InstanceMetadataTags": "enabled"}


def test_field_map_is_complete_and_stable():
    assert md.FIELDS == (
        ("http_tokens", "HttpTokens"), ("http_endpoint", "HttpEndpoint"),
        ("http_put_response_hop_limit", "HttpPutResponseHopLimit"), ("http_protocol_ipv6", "HttpProtocolIpv6"),
        ("instance_metadata_tags", "InstanceMetadataTags"))
    assert set(md.metadata_argument_spec()) == set(md.OPTION_TO_API)
    assert all("default" not in v for v in md.metadata_argument_spec().values())


def test_desired_fields_only_given():
    assert md.desired_fields({"http_tokens": "required", "http_endpoint": None, "other": 1}) == {"HttpTokens": "required"}
    assert md.desired_fields({}) == {}


def test_tokens_required_keeps_hop_limit_2():
    desired = md.desired_fields({"http_tokens": "required"})
    assert md.metadata_changes(CURRENT, desired) == {"HttpTokens": {"before": "optional", "after": "required"}}
    request = md.full_request(CURRENT, desired)
    assert request == {"HttpTokens": "required", "HttpPutResponseHopLimit": 2, "HttpEndpoint": "enabled",
                       "HttpProtocolIpv6": "disabled", "InstanceMetadataTags": "enabled"}
    assert "State" not in request


def test_converged_has_no_changes():
    assert md.metadata_changes(CURRENT, {"HttpTokens": "optional", "HttpPutResponseHopLimit": 2}) == {}


def test_hop_limit_compared_as_int():
    assert md.metadata_changes({"HttpPutResponseHopLimit": "2"}, {"HttpPutResponseHopLimit": 2}) == {}
    assert md.metadata_changes({}, {"HttpPutResponseHopLimit": 1}) == {"HttpPutResponseHopLimit": {"before": None, "after": 1}}


def test_disabled_endpoint_stays_disabled_when_tightening_tokens():
    current = dict(CURRENT, HttpEndpoint="disabled")
    request = md.full_request(current, md.desired_fields({"http_tokens": "required"}))
    assert request["HttpEndpoint"] == "disabled" and request["HttpTokens"] == "required"
    request = md.full_request(current, md.desired_fields({"http_tokens": "required", "http_endpoint": "enabled"}))
    assert request["HttpEndpoint"] == "enabled"


def test_full_request_leaves_out_unreported_fields():
    request = md.full_request({"HttpTokens": "optional", "HttpPutResponseHopLimit": 1}, {"HttpEndpoint": "enabled"})
    assert request == {"HttpTokens": "optional", "HttpPutResponseHopLimit": 1, "HttpEndpoint": "enabled"}
    assert md.full_request(None, {"HttpTokens": "required"}) == {"HttpTokens": "required"}


def test_options_view():
    assert md.options_view(CURRENT) == {"http_tokens": "optional", "http_put_response_hop_limit": 2,
                                        "http_endpoint": "enabled", "http_protocol_ipv6": "disabled",
                                        "instance_metadata_tags": "enabled"}


@pytest.mark.parametrize("params, fragment", [
    ({"http_put_response_hop_limit": 0}, "1 to 64"),
    ({"http_put_response_hop_limit": 65}, "1 to 64"),
    ({"http_put_response_hop_limit": True}, "1 to 64"),
    ({"http_tokens": "sometimes"}, "optional or required"),
    ({"instance_metadata_tags": "on"}, "enabled or disabled"),
])
def test_validate_metadata_errors(params, fragment):
    errs = md.validate_metadata(params)
    assert len(errs) == 1 and fragment in errs[0] and list(params)[0] in errs[0]


def test_validate_metadata_ok():
    assert md.validate_metadata({"http_tokens": "required", "http_put_response_hop_limit": 64}) == []
