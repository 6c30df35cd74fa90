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


def test_replace_waits_for_an_association_still_associating_then_replaces(fake_time):
    """A running instance is never disassociated to be replaced (that leaves it without credentials): Replace
    of an association still `associating` answers IncorrectState until it is associated, so it is retried."""
    ec2, clock = ec2_client(), fake_time
    with Stubber(ec2) as stub:
        for dummy in range(2):
            stub.add_client_error("replace_iam_instance_profile_association", "IncorrectState",
                                  "There is an existing association for instance %s in state associating" % IID, 400)
        stub.add_response("replace_iam_instance_profile_association", assoc_response("iip-assoc-0000000000000002"),
                          {"AssociationId": CURRENT["association_id"], "IamInstanceProfile": {"Arn": ARN}})
        out = assoc.apply_association(ec2, "replace", IID, CURRENT, ARN, PROFILE_PROPAGATION.within(120))
        stub.assert_no_pending_responses()  # no Disassociate was called
    assert out["action"] == "replace" and out["association_id"] == "iip-assoc-0000000000000002"
    assert clock.slept == [1.0, 2.0]


def test_replace_of_a_gone_association_reads_the_instance_again_and_associates(fake_time):
    ec2 = ec2_client()
    with Stubber(ec2) as stub:
        stub.add_client_error("replace_iam_instance_profile_association", "InvalidAssociationID.NotFound",
                              "The association %s does not exist" % CURRENT["association_id"], 400)
        stub.add_response("describe_iam_instance_profile_associations", {"IamInstanceProfileAssociations": []},
                          {"Filters": [{"Name": "instance-id", "Values": [IID]}]})
        stub.add_response("associate_iam_instance_profile", assoc_response(),
                          {"InstanceId": IID, "IamInstanceProfile": {"Arn": ARN}})
        out = assoc.apply_association(ec2, "replace", IID, CURRENT, ARN, PROFILE_PROPAGATION.within(120))
        stub.assert_no_pending_responses()
    assert out["action"] == "associate" and out["state"] == "associating"


def test_replace_of_an_association_replaced_by_another_replaces_that_one(fake_time):
    ec2 = ec2_client()
    other = "iip-assoc-0000000000000other"
    with Stubber(ec2) as stub:
        stub.add_client_error("replace_iam_instance_profile_association", "InvalidAssociationID.NotFound", "gone", 400)
        stub.add_response("describe_iam_instance_profile_associations", {"IamInstanceProfileAssociations": [
            {"AssociationId": other, "InstanceId": IID, "State": "associated",
             "IamInstanceProfile": {"Arn": OLD, "Id": "x"}}]})
        stub.add_response("replace_iam_instance_profile_association", assoc_response("iip-assoc-0000000000000003"),
                          {"AssociationId": other, "IamInstanceProfile": {"Arn": ARN}})
        out = assoc.apply_association(ec2, "replace", IID, CURRENT, ARN, PROFILE_PROPAGATION.within(120))
        stub.assert_no_pending_responses()
    assert out == {"association_id": "iip-assoc-0000000000000003", "state": "associating", "action": "replace"}


def test_associate_finding_a_disassociating_association_waits_it_out_without_disassociating_it(fake_time):
    """An association already `disassociating` is never disassociated again: the Associate waits for it to go."""
    ec2, clock = ec2_client(), fake_time
    going = {"IamInstanceProfileAssociations": [{"AssociationId": CURRENT["association_id"], "InstanceId": IID,
                                                 "State": "disassociating", "IamInstanceProfile": {"Arn": OLD, "Id": "x"}}]}
    with Stubber(ec2) as stub:
        stub.add_client_error("associate_iam_instance_profile", "IncorrectState",
                              "There is an existing association for instance %s" % IID, 400)
        stub.add_response("describe_iam_instance_profile_associations", going)
        stub.add_client_error("associate_iam_instance_profile", "IncorrectState",
                              "There is an existing association for instance %s" % IID, 400)
        stub.add_response("describe_iam_instance_profile_associations", going)
        stub.add_response("associate_iam_instance_profile", assoc_response(),
                          {"InstanceId": IID, "IamInstanceProfile": {"Arn": ARN}})
        out = assoc.apply_association(ec2, "associate", IID, None, ARN, PROFILE_PROPAGATION.within(120))
        stub.assert_no_pending_responses()
    assert out["action"] == "associate" and clock.slept == [1.0]


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


@pytest.mark.parametrize("instance_state, action", [
    ("running", "replace"),  # never a window without credentials on a running instance
    ("stopped", "disassociate_associate"),  # Replace is for running instances only
])
def test_associate_finding_another_association_acts_on_it_by_instance_state(fake_time, instance_state, action):
    ec2 = ec2_client()
    with Stubber(ec2) as stub:
        stub.add_client_error("associate_iam_instance_profile", "IncorrectState",
                              "There is an existing association for instance %s" % IID, 400)
        stub.add_response("describe_iam_instance_profile_associations", {"IamInstanceProfileAssociations": [
            {"AssociationId": "iip-assoc-00000000000000old", "InstanceId": IID, "State": "associated",
             "IamInstanceProfile": {"Arn": OLD, "Id": "x"}}]},
            {"Filters": [{"Name": "instance-id", "Values": [IID]}]})
        if action == "replace":
            stub.add_response("replace_iam_instance_profile_association", assoc_response("iip-assoc-0000000000000002"),
                              {"AssociationId": CURRENT["association_id"], "IamInstanceProfile": {"Arn": ARN}})
        else:
            stub.add_response("disassociate_iam_instance_profile",
                              assoc_response(CURRENT["association_id"], OLD, "disassociating"))
            stub.add_response("associate_iam_instance_profile", assoc_response())
        out = assoc.apply_association(ec2, "associate", IID, None, ARN, PROFILE_PROPAGATION.within(120), instance_state)
        stub.assert_no_pending_responses()
    assert out["action"] == action


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


# ---- metadata options on a stopped instance apply at its next start --------------------------------------

class _Run:
    def __init__(self, ec2):
        self.ec2 = ec2

    def client(self, service, lane=None):
        return self.ec2


@pytest.mark.parametrize("instance_state, settled, reason", [
    ("running", False, None),  # pending for a moment, then applied: waited for in bulk
    ("stopped", True, "next start"),  # pending until the next start: changed, never waited on or failed
])
def test_a_stopped_instances_metadata_change_is_not_waited_on(instance_state, settled, reason):
    from ansible_collections.keyless.aws.plugins.module_utils.fleet.steps import MetadataStep
    ec2 = ec2_client()
    step = MetadataStep({"http_tokens": "required", "imdsv1_usage_check": False})
    rec = {"instance_id": IID, "state": instance_state, "metadata": {"HttpTokens": "optional", "HttpEndpoint": "enabled",
                                                                     "HttpPutResponseHopLimit": 2, "State": "applied"}}
    change = step.plan(rec)
    with Stubber(ec2) as stub:
        stub.add_response("modify_instance_metadata_options", {"InstanceId": IID, "InstanceMetadataOptions": {
            "State": "pending", "HttpTokens": "required", "HttpEndpoint": "enabled", "HttpPutResponseHopLimit": 2}})
        out = step.apply(_Run(ec2), change)
    assert out["settled"] is settled
    assert (out.get("reason") is None) if reason is None else (reason in out["reason"])
