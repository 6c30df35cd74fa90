"""Stubber tests of the fleet calls: IAM propagation retry, Replace-not-active fallback, settling after a
disassociate, and that a throttle is left to botocore (no second retry layer)."""

from __future__ import annotations

import boto3
import pytest
from botocore.stub import Stubber

from ansible_collections.keyless.aws.plugins.module_utils.fleet import associations as assoc
from ansible_collections.keyless.aws.plugins.module_utils.aws.errors import AwsCallError
from ansible_collections.keyless.aws.plugins.module_utils.aws.retries import PROFILE_PROPAGATION

IID = "i-0123456789abcdef0"
ARN = "arn:aws:iam::123456789012:instance-profile/App"
OLD = "arn:aws:iam::123456789012:instance-profile/Legacy"
PROPAGATION = ("Value (App) for parameter iamInstanceProfile.name is invalid. Invalid IAM Instance Profile name")


def ec2_client():
    return boto3.client("ec2", region_name="us-east-1", aws_access_key_id="a", aws_secret_access_key="b")


def assoc_response(aid="iip-assoc-0000000000000001", arn=ARN, state="associating"):
    return {"IamInstanceProfileAssociation": {"AssociationId": aid, "InstanceId": IID, "State": state,
                                              "IamInstanceProfile": {"Arn": arn, "Id": "AIPAEXAMPLE"}}}


CURRENT = {"association_id": "iip-assoc-00000000000000old", "state": "associated", "profile_arn": OLD}


def test_propagation_error_is_retried_with_backoff(fake_time):
    ec2, clock = ec2_client(), fake_time
    with Stubber(ec2) as stub:
        stub.add_client_error("associate_iam_instance_profile", "InvalidParameterValue", PROPAGATION, 400)
        stub.add_client_error("associate_iam_instance_profile", "InvalidParameterValue", PROPAGATION, 400)
        stub.add_response("associate_iam_instance_profile", assoc_response(),
                          {"InstanceId": IID, "IamInstanceProfile": {"Arn": ARN}})
        out = assoc.apply_association(ec2, "associate", IID, None, ARN, PROFILE_PROPAGATION.within(120))
        stub.assert_no_pending_responses()
    assert out == {"association_id": "iip-assoc-0000000000000001", "state": "associating", "action": "associate"}
    assert clock.slept == [1.0, 2.0]


def test_propagation_retry_gives_up_at_the_deadline(fake_time):
    ec2, clock = ec2_client(), fake_time
    with Stubber(ec2) as stub:
        for dummy in range(10):
            stub.add_client_error("associate_iam_instance_profile", "InvalidParameterValue", PROPAGATION, 400)
        with pytest.raises(AwsCallError, match="Invalid IAM Instance Profile"):
            assoc.apply_association(ec2, "associate", IID, None, ARN, PROFILE_PROPAGATION.within(10))
    assert clock.now <= 10 and len(clock.slept) >= 2


def test_other_invalid_parameter_is_not_retried(fake_time):
    ec2, clock = ec2_client(), fake_time
    with Stubber(ec2) as stub:
        stub.add_client_error("associate_iam_instance_profile", "InvalidParameterValue", "something else", 400)
        with pytest.raises(AwsCallError):
            assoc.apply_association(ec2, "associate", IID, None, ARN, PROFILE_PROPAGATION.within(120))
    assert clock.slept == []


def test_replace_propagation_retry(fake_time):
    ec2 = ec2_client()
    with Stubber(ec2) as stub:
        stub.add_client_error("replace_iam_instance_profile_association", "InvalidParameterValue", PROPAGATION, 400)
        stub.add_response("replace_iam_instance_profile_association", assoc_response("iip-assoc-0000000000000002"),
                          {"AssociationId": CURRENT["association_id"], "IamInstanceProfile": {"Arn": ARN}})
        out = assoc.apply_association(ec2, "replace", IID, CURRENT, ARN, PROFILE_PROPAGATION.within(120))
    assert out["action"] == "replace" and out["association_id"] == "iip-assoc-0000000000000002"


@pytest.mark.parametrize("code", ["IncorrectState", "IncorrectInstanceState", "InvalidAssociationID.NotFound"])
def test_replace_not_active_falls_back_to_disassociate_associate(code, fake_time):
    ec2 = ec2_client()
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
        out = assoc.apply_association(ec2, "replace", IID, CURRENT, ARN, PROFILE_PROPAGATION.within(120))
        stub.assert_no_pending_responses()
    assert out["action"] == "disassociate_associate" and out["state"] == "associating"


def test_lost_associate_response_after_disassociate_is_recognised_as_ours(fake_time):
    """The Associate took effect but its response was lost: the retry's IncorrectState is our own association."""
    ec2, clock = ec2_client(), fake_time
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
        out = assoc.apply_association(ec2, "disassociate_associate", IID, CURRENT, ARN, PROFILE_PROPAGATION.within(120))
        stub.assert_no_pending_responses()
    assert out == {"association_id": "iip-assoc-new", "state": "associated", "action": "disassociate_associate"}
    assert clock.slept == []


def test_disassociate_of_a_gone_association_is_fine():
    ec2 = ec2_client()
    with Stubber(ec2) as stub:
        stub.add_client_error("disassociate_iam_instance_profile", "InvalidAssociationID.NotFound", "gone", 400)
        out = assoc.apply_association(ec2, "disassociate", IID, CURRENT, None, PROFILE_PROPAGATION.within(0))
    assert out == {"association_id": None, "state": "disassociated", "action": "disassociate"}


def test_associate_finding_an_association_switches_to_it(fake_time):
    ec2 = ec2_client()
    with Stubber(ec2) as stub:
        stub.add_client_error("associate_iam_instance_profile", "IncorrectState",
                              "There is an existing association for instance %s" % IID, 400)
        stub.add_response("describe_iam_instance_profile_associations", {"IamInstanceProfileAssociations": [
            {"AssociationId": "iip-assoc-00000000000000old", "InstanceId": IID, "State": "associated",
             "IamInstanceProfile": {"Arn": OLD, "Id": "x"}}]},
            {"Filters": [{"Name": "instance-id", "Values": [IID]}]})
        stub.add_response("disassociate_iam_instance_profile", assoc_response(CURRENT["association_id"], OLD, "disassociating"))
        stub.add_response("associate_iam_instance_profile", assoc_response())
        out = assoc.apply_association(ec2, "associate", IID, None, ARN, PROFILE_PROPAGATION.within(120))
        stub.assert_no_pending_responses()
    assert out["action"] == "disassociate_associate"


def test_associate_finding_the_right_association_is_done():
    ec2 = ec2_client()
    with Stubber(ec2) as stub:
        stub.add_client_error("associate_iam_instance_profile", "IncorrectState", "existing association", 400)
        stub.add_response("describe_iam_instance_profile_associations", {"IamInstanceProfileAssociations": [
            {"AssociationId": "iip-assoc-1", "InstanceId": IID, "State": "associating",
             "IamInstanceProfile": {"Arn": ARN, "Id": "x"}}]})
        out = assoc.apply_association(ec2, "associate", IID, None, ARN, PROFILE_PROPAGATION.within(120))
    assert out == {"association_id": "iip-assoc-1", "state": "associating", "action": "none"}


def test_a_throttle_is_not_retried_again_here():
    """botocore's retry mode is the one layer that retries throttling (retries.py): when its attempts are spent,
    the call fails at once with the advice to lower the rate."""
    ec2 = boto3.client("ec2", region_name="us-east-1", aws_access_key_id="a", aws_secret_access_key="b")
    with Stubber(ec2) as stub:
        stub.add_client_error("associate_iam_instance_profile", "RequestLimitExceeded", "Request limit exceeded.", 503)
        with pytest.raises(AwsCallError) as err:
            assoc.apply_association(ec2, "associate", IID, None, ARN, PROFILE_PROPAGATION.within(120))
        stub.assert_no_pending_responses()
    assert err.value.code == "RequestLimitExceeded" and "rate_limits" in err.value.hint
