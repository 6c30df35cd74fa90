"""ec2_metadata_defaults against botocore's Stubber (moto has no Get/ModifyInstanceMetadataDefaults)."""

from __future__ import annotations

import json

import botocore.session
import pytest
from botocore.awsrequest import AWSResponse
from botocore.stub import Stubber

from ansible_collections.keyless.aws.plugins.module_utils.aws import connection
from ansible_collections.keyless.aws.plugins.modules import ec2_metadata_defaults
from tests.support.module_runner import run_module


def _client(region):
    return botocore.session.get_session().create_client(
        "ec2", region_name=region, aws_access_key_id="AKIAKEYLESSTESTFAKE1", aws_secret_access_key="x" * 40)


@pytest.fixture
def stubs(monkeypatch):
    """One stubbed EC2 client per region; the module's AwsContext hands them out."""
    clients = {}

    def client(self, service, region=None):
        assert service == "ec2"
        region = region or self.region
        if region not in clients:
            c = _client(region)
            clients[region] = (c, Stubber(c))
            clients[region][1].activate()
        return clients[region][0]

    monkeypatch.setattr(connection.AwsContext, "client", client)

    class Stubs:
        def __getitem__(self, region):
            client(type("Ctx", (), {"region": region})(), "ec2", region)
            return clients[region][1]

        def assert_done(self):
            for _client_, stub in clients.values():
                stub.assert_no_pending_responses()
    return Stubs()


def _get(level):
    return {"AccountLevel": level}


def test_changes_only_the_given_field(stubs):
    stubs["us-east-1"].add_response("get_instance_metadata_defaults", _get({"HttpPutResponseHopLimit": 2}), {})
    stubs["us-east-1"].add_response("modify_instance_metadata_defaults", {"Return": True}, {"HttpTokens": "required"})
    result = run_module(ec2_metadata_defaults.main, {"http_tokens": "required"}, diff=True)
    stubs.assert_done()
    assert result.changed and not result.failed
    assert result["defaults"]["us-east-1"]["http_tokens"] == "required"
    assert result["defaults"]["us-east-1"]["http_put_response_hop_limit"] == 2
    assert result["diff"]["before"]["us-east-1"]["http_tokens"] == "no-preference"
    assert result["diff"]["after"]["us-east-1"]["http_tokens"] == "required"
    assert result["regions"][0]["changed_fields"] == ["http_tokens"]


def test_no_change_makes_no_modify_call(stubs):
    stubs["us-east-1"].add_response("get_instance_metadata_defaults",
                                    _get({"HttpTokens": "required", "HttpPutResponseHopLimit": 2}), {})
    result = run_module(ec2_metadata_defaults.main, {"http_tokens": "required", "http_put_response_hop_limit": 2})
    stubs.assert_done()  # a modify call would have hit an unexpected-call error
    assert not result.changed and not result.failed


def test_check_mode_predicts_without_modifying(stubs):
    stubs["us-east-1"].add_response("get_instance_metadata_defaults", _get({}), {})
    result = run_module(ec2_metadata_defaults.main, {"http_tokens": "required", "http_tokens_enforced": "enabled"},
                        check_mode=True)
    stubs.assert_done()
    assert result.changed
    assert result["defaults"]["us-east-1"]["http_tokens_enforced"] == "enabled"


def test_two_regions_in_one_task(stubs):
    stubs["us-east-1"].add_response("get_instance_metadata_defaults", _get({"HttpTokens": "required"}), {})
    stubs["eu-west-1"].add_response("get_instance_metadata_defaults", _get({"HttpTokens": "optional"}), {})
    stubs["eu-west-1"].add_response("modify_instance_metadata_defaults", {"Return": True},
                                    {"HttpTokens": "required", "HttpPutResponseHopLimit": 2})
    stubs["us-east-1"].add_response("modify_instance_metadata_defaults", {"Return": True},
                                    {"HttpPutResponseHopLimit": 2})
    result = run_module(ec2_metadata_defaults.main, {"regions": ["us-east-1", "eu-west-1"], "http_tokens": "required",
                                                     "http_put_response_hop_limit": 2})
    stubs.assert_done()
    assert result.changed
    assert [r["region"] for r in result["regions"]] == ["us-east-1", "eu-west-1"]
    assert result["regions"][0]["changed_fields"] == ["http_put_response_hop_limit"]
    assert result["regions"][1]["changed_fields"] == ["http_put_response_hop_limit", "http_tokens"]
    assert set(result["defaults"]) == {"us-east-1", "eu-west-1"}


def test_one_region_fails_the_other_still_applies(stubs):
    stubs["us-east-1"].add_client_error("get_instance_metadata_defaults", "UnauthorizedOperation",
                                        "You are not authorized", 403)
    stubs["eu-west-1"].add_response("get_instance_metadata_defaults", _get({}), {})
    stubs["eu-west-1"].add_response("modify_instance_metadata_defaults", {"Return": True}, {"HttpTokens": "required"})
    result = run_module(ec2_metadata_defaults.main, {"regions": ["us-east-1", "eu-west-1"], "http_tokens": "required"})
    stubs.assert_done()
    assert result.failed and result.changed
    assert "1 of 2 regions failed" in result["msg"]
    assert "GetInstanceMetadataDefaults failed for region us-east-1; UnauthorizedOperation" in result["msg"]
    assert result["defaults"]["eu-west-1"]["http_tokens"] == "required"


def test_declarative_policy_region_fails_clearly(stubs):
    stubs["us-east-1"].add_response("get_instance_metadata_defaults", _get(
        {"HttpTokens": "optional", "ManagedBy": "declarative-policy", "ManagedExceptionMessage": "Org says no"}), {})
    result = run_module(ec2_metadata_defaults.main, {"http_tokens": "required"})
    stubs.assert_done()
    assert result.failed and not result.changed
    assert "declarative policy" in result["msg"] and "Org says no" in result["msg"]


def test_modify_error_is_reported(stubs):
    stubs["us-east-1"].add_response("get_instance_metadata_defaults", _get({}), {})
    stubs["us-east-1"].add_client_error("modify_instance_metadata_defaults", "InvalidParameterValue", "bad hop", 400)
    result = run_module(ec2_metadata_defaults.main, {"http_put_response_hop_limit": 3})
    assert result.failed and not result.changed
    assert "ModifyInstanceMetadataDefaults failed for region us-east-1; InvalidParameterValue: bad hop" in result["msg"]


@pytest.mark.parametrize("args, fragment", [
    ({"http_put_response_hop_limit": 0}, "http_put_response_hop_limit=0 is out of range"),
    ({"regions": ["nowhere"]}, "'nowhere' is not a region name"),
    ({"region": None, "regions": None}, "region is required: set the region option, the AWS_REGION or "
                                        "AWS_DEFAULT_REGION environment variable, or region in profile"),
])
def test_bad_input_fails_before_any_call(stubs, monkeypatch, tmp_path, args, fragment):
    monkeypatch.delenv("AWS_REGION", raising=False)
    monkeypatch.delenv("AWS_DEFAULT_REGION", raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-config"))  # no profile region either
    result = run_module(ec2_metadata_defaults.main, dict({"http_tokens": "required"}, **args))
    stubs.assert_done()
    assert result.failed and fragment in result["msg"], result["msg"]


_THROTTLE = (b'<?xml version="1.0" encoding="UTF-8"?><Response><Errors><Error><Code>RequestLimitExceeded</Code>'
             b'<Message>Request limit exceeded.</Message></Error></Errors><RequestID>r1</RequestID></Response>')
_GET_OK = (b'<?xml version="1.0" encoding="UTF-8"?><GetInstanceMetadataDefaultsResponse '
           b'xmlns="http://ec2.amazonaws.com/doc/2016-11-15/"><requestId>r2</requestId><accountLevel>'
           b'<httpTokens>optional</httpTokens></accountLevel></GetInstanceMetadataDefaultsResponse>')
_MODIFY_OK = (b'<?xml version="1.0" encoding="UTF-8"?><ModifyInstanceMetadataDefaultsResponse '
              b'xmlns="http://ec2.amazonaws.com/doc/2016-11-15/"><requestId>r3</requestId><return>true</return>'
              b'</ModifyInstanceMetadataDefaultsResponse>')


def test_throttling_is_retried_by_botocore(monkeypatch):
    """The real client of the module (standard retry mode) meets two throttles per call, then succeeds.

    Stubber answers before botocore's retry loop, so this fakes the HTTP layer instead (before-send),
    which drives botocore's own retry handler and the module's client configuration.
    """
    from botocore.retries import standard
    monkeypatch.setattr(standard.ExponentialBackoff, "delay_amount", lambda self, context: 0)
    sent = []
    original = connection.AwsContext.client

    def answer(request, **kwargs):
        body = request.body.decode() if isinstance(request.body, bytes) else str(request.body)
        action = "Modify" if "ModifyInstanceMetadataDefaults" in body else "Get"
        sent.append((action, body))
        if sum(1 for a, _b in sent if a == action) <= 2:
            return AWSResponse(request.url, 400, {}, _Raw(_THROTTLE))
        return AWSResponse(request.url, 200, {}, _Raw(_GET_OK if action == "Get" else _MODIFY_OK))

    def client(self, service, region=None):
        c = original(self, service, region)
        c.meta.events.register("before-send.ec2", answer, unique_id="keyless-test-throttle")
        return c

    monkeypatch.setattr(connection.AwsContext, "client", client)
    result = run_module(ec2_metadata_defaults.main, {"http_tokens": "required", "endpoint_url": "http://127.0.0.1:9"})
    assert not result.failed, result
    assert result.changed
    assert [a for a, _b in sent] == ["Get"] * 3 + ["Modify"] * 3
    assert "HttpTokens=required" in sent[-1][1] and "HttpPutResponseHopLimit" not in sent[-1][1]


def test_throttling_beyond_max_attempts_fails_with_hint(monkeypatch):
    from botocore.retries import standard
    monkeypatch.setattr(standard.ExponentialBackoff, "delay_amount", lambda self, context: 0)
    count = []
    original = connection.AwsContext.client

    def client(self, service, region=None):
        c = original(self, service, region)
        c.meta.events.register("before-send.ec2", lambda request, **kw: count.append(1) or AWSResponse(
            request.url, 400, {}, _Raw(_THROTTLE)), unique_id="keyless-test-throttle-all")
        return c

    monkeypatch.setattr(connection.AwsContext, "client", client)
    result = run_module(ec2_metadata_defaults.main, {"http_tokens": "required", "max_attempts": 3,
                                                     "endpoint_url": "http://127.0.0.1:9"})
    assert result.failed
    assert len(count) == 3
    assert "RequestLimitExceeded" in result["msg"] and "throttled" in result["msg"]


class _Raw:
    """The minimal raw-stream interface AWSResponse reads."""

    def __init__(self, data):
        self._data = data

    def stream(self, **kwargs):
        yield self._data

    def read(self, *args):
        return self._data


def test_regions_without_region_option(stubs, monkeypatch):
    monkeypatch.delenv("AWS_REGION", raising=False)
    monkeypatch.delenv("AWS_DEFAULT_REGION", raising=False)
    stubs["ap-southeast-2"].add_response("get_instance_metadata_defaults", _get({"HttpTokens": "required"}), {})
    result = run_module(ec2_metadata_defaults.main, {"region": None, "regions": ["ap-southeast-2"],
                                                     "http_tokens": "required"})
    stubs.assert_done()
    assert not result.failed and not result.changed
    assert list(result["defaults"]) == ["ap-southeast-2"]


def test_read_only_when_no_field_is_given(stubs):
    stubs["us-east-1"].add_response("get_instance_metadata_defaults", _get(
        {"HttpTokens": "required", "HttpPutResponseHopLimit": 2, "HttpTokensEnforced": "enabled"}), {})
    result = run_module(ec2_metadata_defaults.main, {})
    stubs.assert_done()
    assert not result.changed
    assert result["defaults"]["us-east-1"] == {
        "http_tokens": "required", "http_put_response_hop_limit": 2, "http_endpoint": "no-preference",
        "instance_metadata_tags": "no-preference", "http_tokens_enforced": "enabled", "managed_by": "account"}


def test_enforcement_without_required_default_warns(stubs):
    stubs["us-east-1"].add_response("get_instance_metadata_defaults", _get({"HttpTokens": "optional"}), {})
    result = run_module(ec2_metadata_defaults.main, {"http_tokens_enforced": "enabled"}, check_mode=True)
    assert result.changed
    # ansible-core 2.19 returns warnings as structured summaries; the text is inside
    assert "http_tokens_enforced is enabled while the default http_tokens is optional" in json.dumps(
        result.get("warnings")), result
