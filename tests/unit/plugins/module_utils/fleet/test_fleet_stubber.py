"""Stubber tests of the fleet calls: IAM propagation retry, throttling retry, Replace-not-active fallback."""

from __future__ import annotations

import boto3
import pytest
from botocore.exceptions import ClientError
from botocore.stub import Stubber

from ansible_collections.keyless.aws.plugins.module_utils.fleet import associations as assoc
from ansible_collections.keyless.aws.plugins.module_utils.fleet.executor import call_with_throttle_retry

IID = "i-0123456789abcdef0"
ARN = "arn:aws:iam::123456789012:instance-profile/App"
OLD = "arn:aws:iam::123456789012:instance-profile/Legacy"
PROPAGATION = ("Value (App) for parameter iamInstanceProfile.name is invalid. Invalid IAM Instance Profile name")


class Clock:
    def __init__(self):
        self.t = 0.0
        self.sleeps = []

    def __call__(self):
        return self.t

    def sleep(self, s):
        self.sleeps.append(s)
        self.t += s


def ec2_client():
    return boto3.client("ec2", region_name="us-east-1", aws_access_key_id="a", aws_secret_access_key="b")


def assoc_response(aid="iip-assoc-0000000000000001", arn=ARN, state="associating"):
    return {"IamInstanceProfileAssociation": {"AssociationId": aid, "InstanceId": IID, "State": state,
                                              "IamInstanceProfile": {"Arn": arn, "Id": "AIPAEXAMPLE"}}}


CURRENT = {"association_id": "iip-assoc-00000000000000old", "state": "associated", "profile_arn": OLD}


def test_propagation_error_is_retried_with_backoff():
    ec2, clock = ec2_client(), Clock()
    with Stubber(ec2) as stub:
        stub.add_client_error("associate_iam_instance_profile", "InvalidParameterValue", PROPAGATION, 400)
        stub.add_client_error("associate_iam_instance_profile", "InvalidParameterValue", PROPAGATION, 400)
        stub.add_response("associate_iam_instance_profile", assoc_response(),
                          {"InstanceId": IID, "IamInstanceProfile": {"Arn": ARN}})
        out = assoc.apply_association(ec2, "associate", IID, None, ARN, deadline=120, clock=clock, sleep=clock.sleep)
        stub.assert_no_pending_responses()
    assert out == {"association_id": "iip-assoc-0000000000000001", "state": "associating", "action": "associate"}
    assert clock.sleeps == [1.0, 2.0]


def test_propagation_retry_gives_up_at_the_deadline():
    ec2, clock = ec2_client(), Clock()
    with Stubber(ec2) as stub:
        for dummy in range(10):
            stub.add_client_error("associate_iam_instance_profile", "InvalidParameterValue", PROPAGATION, 400)
        with pytest.raises(ClientError, match="Invalid IAM Instance Profile"):
            assoc.apply_association(ec2, "associate", IID, None, ARN, deadline=10, clock=clock, sleep=clock.sleep)
    assert clock.t <= 10 and len(clock.sleeps) >= 2


def test_other_invalid_parameter_is_not_retried():
    ec2, clock = ec2_client(), Clock()
    with Stubber(ec2) as stub:
        stub.add_client_error("associate_iam_instance_profile", "InvalidParameterValue", "something else", 400)
        with pytest.raises(ClientError):
            assoc.apply_association(ec2, "associate", IID, None, ARN, deadline=120, clock=clock, sleep=clock.sleep)
    assert clock.sleeps == []


def test_replace_propagation_retry():
    ec2, clock = ec2_client(), Clock()
    with Stubber(ec2) as stub:
        stub.add_client_error("replace_iam_instance_profile_association", "InvalidParameterValue", PROPAGATION, 400)
        stub.add_response("replace_iam_instance_profile_association", assoc_response("iip-assoc-0000000000000002"),
                          {"AssociationId": CURRENT["association_id"], "IamInstanceProfile": {"Arn": ARN}})
        out = assoc.apply_association(ec2, "replace", IID, CURRENT, ARN, deadline=120, clock=clock, sleep=clock.sleep)
    assert out["action"] == "replace" and out["association_id"] == "iip-assoc-0000000000000002"


@pytest.mark.parametrize("code", ["IncorrectState", "IncorrectInstanceState", "InvalidAssociationID.NotFound"])
def test_replace_not_active_falls_back_to_disassociate_associate(code):
    ec2, clock = ec2_client(), Clock()
    with Stubber(ec2) as stub:
        stub.add_client_error("replace_iam_instance_profile_association", code,
                              "The association %s is not the active association" % CURRENT["association_id"], 400)
        stub.add_response("disassociate_iam_instance_profile",
                          assoc_response(CURRENT["association_id"], OLD, "disassociating"),
                          {"AssociationId": CURRENT["association_id"]})
        # AWS may still see the old association for a moment after the disassociate
        stub.add_client_error("associate_iam_instance_profile", "IncorrectState",
                              "There is an existing association for instance %s" % IID, 400)
        stub.add_response("describe_iam_instance_profile_associations", {"IamInstanceProfileAssociations": [
            {"AssociationId": CURRENT["association_id"], "InstanceId": IID, "State": "disassociating",
             "IamInstanceProfile": {"Arn": OLD, "Id": "x"}}]},
            {"Filters": [{"Name": "instance-id", "Values": [IID]}]})
        stub.add_response("associate_iam_instance_profile", assoc_response(),
                          {"InstanceId": IID, "IamInstanceProfile": {"Arn": ARN}})
        out = assoc.apply_association(ec2, "replace", IID, CURRENT, ARN, deadline=120, clock=clock, sleep=clock.sleep)
        stub.assert_no_pending_responses()
    assert out["action"] == "disassociate_associate" and out["state"] == "associating"


def test_lost_associate_response_after_disassociate_is_recognised_as_ours():
    """The Associate took effect but its response was lost: the retry's IncorrectState is our own association."""
    ec2, clock = ec2_client(), Clock()
    with Stubber(ec2) as stub:
        stub.add_response("disassociate_iam_instance_profile",
                          assoc_response(CURRENT["association_id"], OLD, "disassociating"),
                          {"AssociationId": CURRENT["association_id"]})
        stub.add_client_error("associate_iam_instance_profile", "IncorrectState",
                              "There is an existing association for instance %s" % IID, 400)
        stub.add_response("describe_iam_instance_profile_associations", {"IamInstanceProfileAssociations": [
            {"AssociationId": "iip-assoc-new", "InstanceId": IID, "State": "associated",
             "IamInstanceProfile": {"Arn": ARN, "Id": "x"}}]},
            {"Filters": [{"Name": "instance-id", "Values": [IID]}]})
        out = assoc.apply_association(ec2, "disassociate_associate", IID, CURRENT, ARN, deadline=120, clock=clock,
                                      sleep=clock.sleep)
        stub.assert_no_pending_responses()
    assert out == {"association_id": "iip-assoc-new", "state": "associated", "action": "disassociate_associate"}
    assert clock.sleeps == []


def test_disassociate_of_a_gone_association_is_fine():
    ec2 = ec2_client()
    with Stubber(ec2) as stub:
        stub.add_client_error("disassociate_iam_instance_profile", "InvalidAssociationID.NotFound", "gone", 400)
        out = assoc.apply_association(ec2, "disassociate", IID, CURRENT, None, deadline=0)
    assert out == {"association_id": None, "state": "disassociated", "action": "disassociate"}


def test_associate_finding_an_association_switches_to_it():
    ec2, clock = ec2_client(), Clock()
    with Stubber(ec2) as stub:
        stub.add_client_error("associate_iam_instance_profile", "IncorrectState",
                              "There is an existing association for instance %s" % IID, 400)
        stub.add_response("describe_iam_instance_profile_associations", {"IamInstanceProfileAssociations": [
            {"AssociationId": "iip-assoc-00000000000000old", "InstanceId": IID, "State": "associated",
             "IamInstanceProfile": {"Arn": OLD, "Id": "x"}}]},
            {"Filters": [{"Name": "instance-id", "Values": [IID]}]})
        stub.add_response("disassociate_iam_instance_profile", assoc_response(CURRENT["association_id"], OLD, "disassociating"))
        stub.add_response("associate_iam_instance_profile", assoc_response())
        out = assoc.apply_association(ec2, "associate", IID, None, ARN, deadline=120, clock=clock, sleep=clock.sleep)
        stub.assert_no_pending_responses()
    assert out["action"] == "disassociate_associate"


def test_associate_finding_the_right_association_is_done():
    ec2 = ec2_client()
    with Stubber(ec2) as stub:
        stub.add_client_error("associate_iam_instance_profile", "IncorrectState", "existing association", 400)
        stub.add_response("describe_iam_instance_profile_associations", {"IamInstanceProfileAssociations": [
            {"AssociationId": "iip-assoc-1", "InstanceId": IID, "State": "associating",
             "IamInstanceProfile": {"Arn": ARN, "Id": "x"}}]})
        out = assoc.apply_association(ec2, "associate", IID, None, ARN, deadline=120)
    assert out == {"association_id": "iip-assoc-1", "state": "associating", "action": "none"}


def test_throttle_that_exhausted_botocore_is_retried():
    ec2 = ec2_client()
    sleeps = []
    with Stubber(ec2) as stub:
        stub.add_client_error("modify_instance_metadata_options", "RequestLimitExceeded", "Request limit exceeded.", 503)
        stub.add_client_error("modify_instance_metadata_options", "RequestLimitExceeded", "Request limit exceeded.", 503)
        stub.add_response("modify_instance_metadata_options",
                          {"InstanceId": IID, "InstanceMetadataOptions": {"State": "pending", "HttpTokens": "required"}},
                          {"InstanceId": IID, "HttpTokens": "required"})
        out = call_with_throttle_retry(lambda: ec2.modify_instance_metadata_options(InstanceId=IID, HttpTokens="required"),
                                       sleep=sleeps.append)
        stub.assert_no_pending_responses()
    assert out["InstanceMetadataOptions"]["State"] == "pending"
    assert sleeps == [2.0, 4.0]


def test_throttle_retry_is_bounded_and_other_errors_pass_through():
    ec2 = ec2_client()
    sleeps = []
    with Stubber(ec2) as stub:
        for dummy in range(3):
            stub.add_client_error("modify_instance_metadata_options", "Throttling", "Rate exceeded", 400)
        with pytest.raises(ClientError, match="Throttling"):
            call_with_throttle_retry(lambda: ec2.modify_instance_metadata_options(InstanceId=IID), retries=2,
                                     sleep=sleeps.append)
    assert sleeps == [2.0, 4.0]
    with Stubber(ec2) as stub:
        stub.add_client_error("modify_instance_metadata_options", "UnauthorizedOperation", "no", 403)
        with pytest.raises(ClientError, match="UnauthorizedOperation"):
            call_with_throttle_retry(lambda: ec2.modify_instance_metadata_options(InstanceId=IID), sleep=sleeps.append)
    assert len(sleeps) == 2


def test_garbled_5xx_body_is_retried_like_a_transient_error():
    from botocore.parsers import ResponseParserError
    answers = [ResponseParserError("invalid XML received"), "ok"]
    sleeps = []

    def call():
        answer = answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer

    assert call_with_throttle_retry(call, sleep=sleeps.append) == "ok"
    assert sleeps == [2.0]

    def always_garbled():
        raise ResponseParserError("x")

    with pytest.raises(ResponseParserError):
        call_with_throttle_retry(always_garbled, retries=1, sleep=sleeps.append)
