"""ec2_instance_identity in-process under moto.mock_aws: both steps over one observe, ordering, batches."""

from __future__ import annotations

import botocore.client
import botocore.exceptions
import pytest
from moto import mock_aws

from ansible_collections.keyless.aws.plugins.modules import ec2_instance_identity as module
from tests.support.fixtures import MockFleet
from tests.support.module_runner import run_module

OPEN = {"capacity": 100000, "refill": 100000.0}
BUCKETS = ("AssociateIamInstanceProfile", "ModifyInstanceMetadataOptions", "mutating", "describe")
FAST = {"rate_limits": {name: dict(OPEN) for name in BUCKETS}}


@pytest.fixture
def aws():
    with mock_aws():
        yield MockFleet(hop=1)


def by_id(res):
    return {r["instance_id"]: r for r in res["instances"]}


def args(**extra):
    return dict(FAST, tags={"Fleet": "app"}, instance_profile="App", http_tokens="required", **extra)


def test_both_steps_in_one_pass_on_a_mixed_fleet(aws):
    none_run, legacy_run, legacy_stop, app_run, gone = aws.launch(5)
    hop2 = aws.launch(1, hop=2)[0]
    for iid, name in ((legacy_run, "Legacy"), (legacy_stop, "Legacy"), (app_run, "App")):
        aws.ec2.associate_iam_instance_profile(InstanceId=iid, IamInstanceProfile={"Name": name})
    aws.ec2.stop_instances(InstanceIds=[legacy_stop])
    aws.ec2.terminate_instances(InstanceIds=[gone])

    check = run_module(module.main, args(), check_mode=True)
    assert check.changed and aws.profile_of(none_run) is None and aws.options_of(none_run)["HttpTokens"] == "optional"
    planned = by_id(check)
    assert planned[legacy_stop]["profile"]["action"] == "disassociate_associate"

    first = run_module(module.main, args())
    assert first.changed and not first.failed, first
    rows = by_id(first)
    assert rows[none_run]["profile"]["action"] == "associate" and rows[none_run]["metadata"]["action"] == "modify"
    assert rows[legacy_run]["profile"]["action"] == "replace"
    assert rows[legacy_stop]["profile"]["action"] == "disassociate_associate"
    assert rows[app_run]["profile"]["status"] == "unchanged" and rows[app_run]["metadata"]["status"] == "changed"
    assert rows[gone]["status"] == "skipped" and rows[gone]["profile"] is None
    for iid in (none_run, legacy_run, legacy_stop, app_run, hop2):
        assert aws.profile_of(iid) == "App"
        assert aws.options_of(iid)["HttpTokens"] == "required"
    assert aws.options_of(hop2)["HttpPutResponseHopLimit"] == 2  # only the fields given change
    summary = first["summary"]
    assert summary["changed"] == 5 and summary["skipped"] == 1 and summary["not_reached"] == 0
    assert first["skipped_instances"] == [{"instance_id": gone, "reason": rows[gone]["reason"]}]
    assert summary["profile"]["by_action"] == {"associate": 2, "replace": 1, "disassociate_associate": 1}
    assert summary["metadata"]["by_action"] == {"modify": 5}
    # one observe: one DescribeInstances page and one association read, however many steps
    assert first["api_calls"]["by_operation"]["DescribeIamInstanceProfileAssociations"] >= 1
    assert first["batches"] == [{"batch": 1, "instances": 5, "changed": 5, "failed": 0, "held": 0, "not_reached": 0}]

    second = run_module(module.main, args())
    assert not second.changed and second["summary"]["unchanged"] == 5
    mutating = [op for op in second["api_calls"]["by_operation"] if not op.startswith(("Describe", "Get", "List"))]
    assert mutating == []
    assert second["api_calls"]["by_operation"].get("DescribeInstances") == 1


def fail_associate_for(monkeypatch, bad):
    real = botocore.client.BaseClient._make_api_call

    def failing(self, operation, params):
        if operation == "AssociateIamInstanceProfile" and params.get("InstanceId") in bad:
            raise botocore.exceptions.ClientError({"Error": {"Code": "UnauthorizedOperation", "Message": "no"}}, operation)
        return real(self, operation, params)
    monkeypatch.setattr(botocore.client.BaseClient, "_make_api_call", failing)


def test_each_step_stands_alone_unless_ordered(aws, monkeypatch):
    bad, good = aws.launch(2)
    fail_associate_for(monkeypatch, {bad})
    result = run_module(module.main, args())
    assert result.failed and result["failed_instances"] == [
        {"instance_id": bad, "step": "profile", "reason": result["failed_instances"][0]["reason"]}]
    assert "UnauthorizedOperation" in result["failed_instances"][0]["reason"] and "profile step" in result["msg"]
    assert by_id(result)[bad]["metadata"]["status"] == "changed"  # independent: the metadata step still ran
    assert aws.options_of(bad)["HttpTokens"] == "required" and aws.profile_of(good) == "App"


def test_profile_first_keeps_the_options_of_an_instance_whose_profile_failed(aws, monkeypatch):
    bad, good = aws.launch(2)
    fail_associate_for(monkeypatch, {bad})
    result = run_module(module.main, args(order="profile_first"))
    rows = by_id(result)
    assert rows[bad]["status"] == "failed" and rows[bad]["metadata"]["status"] == "skipped"
    assert "its profile step failed" in rows[bad]["metadata"]["reason"]
    assert aws.options_of(bad)["HttpTokens"] == "optional"
    assert rows[good]["status"] == "changed" and aws.options_of(good)["HttpTokens"] == "required"


def test_max_fail_percentage_stops_after_a_batch(aws, monkeypatch):
    ids = sorted(aws.launch(6))
    fail_associate_for(monkeypatch, set(ids[:2]))
    result = run_module(module.main, args(order="profile_first", batch_size=2, max_fail_percentage=10,
                                          concurrency=1))
    assert result.failed and "rollout stopped after batch 1/3" in result["msg"] and result["stopped"]
    rows = by_id(result)
    assert [rows[i]["status"] for i in ids[:2]] == ["failed", "failed"]
    # batch 2 may have started while batch 1 finished; batch 3 waits for batch 1's verdict and never starts
    assert all(rows[i]["status"] in ("changed", "skipped") for i in ids[2:4])
    assert all(rows[i]["status"] == "skipped" and "rollout stopped" in rows[i]["reason"] for i in ids[4:])
    assert result["batches"][0] == {"batch": 1, "instances": 2, "changed": 0, "failed": 2, "held": 0, "not_reached": 0}
    assert result["batches"][2]["not_reached"] == 2 and result["summary"]["not_reached"] >= 2
    assert not {rec["instance_id"] for rec in result["skipped_instances"]} & set(ids[4:])
    assert all(aws.profile_of(i) is None for i in ids[4:])


def test_one_step_alone_and_bad_input(aws):
    only_meta = run_module(module.main, dict(FAST, tags={"Fleet": "app"}, http_tokens="required"))
    assert not only_meta.failed and only_meta["instance_profile"] is None
    nothing = run_module(module.main, dict(tags={"Fleet": "app"}))
    assert nothing.failed and "nothing to converge" in nothing["msg"]
    bad = run_module(module.main, dict(tags={"Fleet": "app"}, instance_profile="bad name", batch_size=-1,
                                       max_fail_percentage=101))
    assert bad.failed and "instance_profile=" in bad["msg"] and "batch_size=-1" in bad["msg"]
    assert "max_fail_percentage=101" in bad["msg"]


def test_diff_shows_both_steps(aws):
    iid = aws.launch(1)[0]
    result = run_module(module.main, args(), check_mode=True, diff=True)
    before, after = result["diff"]["before"][iid], result["diff"]["after"][iid]
    assert before["profile"] == {"instance_profile": None} and before["metadata"]["http_tokens"] == "optional"
    assert after["profile"]["instance_profile"].endswith(":instance-profile/App")
    assert after["metadata"]["http_tokens"] == "required"


def test_compliance_before_and_after_from_one_observe(aws):
    fresh, legacy = aws.launch(2)
    aws.ec2.associate_iam_instance_profile(InstanceId=legacy, IamInstanceProfile={"Name": "Legacy"})
    expected = {"instance_profile": "App", "http_tokens": "required"}
    result = run_module(module.main, args(expected=expected))
    before, after = result["compliance"]["before"], result["compliance"]["after"]
    assert before["non_compliant"] == 2 and before["by_finding"] == {"no_profile": 1, "wrong_profile": 1,
                                                                     "imdsv1_allowed": 2}
    assert after["compliant"] == 2 and after["by_finding"] == {}
    assert result["api_calls"]["by_operation"]["DescribeInstances"] == 1  # no second read of the fleet
    rerun = run_module(module.main, args(expected=expected))
    assert rerun["compliance"]["before"]["compliant"] == 2 == rerun["compliance"]["after"]["compliant"]


def test_owned_nodes_keep_their_profile_and_two_hops(aws):
    """An EKS node and a Beanstalk instance in the selection: their profiles are left to their owners (held, with
    what to converge instead); IMDSv2 is still required, with 2 hops on the node (it runs pods); the instance of a
    plain Auto Scaling group converges like any other. A rerun changes nothing; include_owned lets a user in."""
    node, beanstalk, asg_member, plain = aws.launch(4)
    aws.associate(node, "Legacy")
    aws.ec2.create_tags(Resources=[node], Tags=[{"Key": "eks:cluster-name", "Value": "prod"},
                                                {"Key": "eks:nodegroup-name", "Value": "general"},
                                                {"Key": "aws:autoscaling:groupName", "Value": "eks-general-1"}])
    aws.ec2.create_tags(Resources=[beanstalk], Tags=[{"Key": "elasticbeanstalk:environment-name", "Value": "shop"}])
    aws.ec2.create_tags(Resources=[asg_member], Tags=[{"Key": "aws:autoscaling:groupName", "Value": "web"}])

    res = run_module(module.main, args(), diff=True)
    assert not res.failed, res
    rows = by_id(res)
    assert set(res["diff"]["after"]) == {node, beanstalk, asg_member, plain}  # the owner is no step of the diff
    assert res["diff"]["after"][node] == {"profile": rows[node]["profile"]["before"],  # held: no change shown
                                          "metadata": rows[node]["metadata"]["after"]}
    assert rows[node]["status"] == "held" and rows[node]["profile"]["status"] == "held"
    assert "Amazon EKS prod/general" in rows[node]["reason"] and rows[node]["metadata"]["status"] == "changed"
    assert rows[node]["owner"] == {"kind": "eks", "name": "prod/general", "service": "Amazon EKS"}
    assert rows[beanstalk]["profile"]["status"] == "held" and rows[beanstalk]["owner"]["kind"] == "elasticbeanstalk"
    assert rows[asg_member]["status"] == "changed" and rows[asg_member]["owner"]["kind"] == "autoscaling"
    assert rows[plain]["owner"] is None
    assert [o["instance_id"] for o in res["owned_instances"]] == sorted([node, beanstalk])
    # the Auto Scaling group of a node is EKS's: only the plain group's launch sources are the role's to converge
    assert res["owners"] == {"autoscaling": ["web"], "eks": ["prod/general"], "elasticbeanstalk": ["shop"]}
    assert aws.profile_of(node) == "Legacy" and aws.profile_of(beanstalk) is None
    assert aws.profile_of(asg_member) == "App" and aws.profile_of(plain) == "App"
    assert aws.options_of(node)["HttpTokens"] == "required" and aws.options_of(node)["HttpPutResponseHopLimit"] == 2
    assert aws.options_of(beanstalk)["HttpPutResponseHopLimit"] == 1  # no containers: the hop limit is the user's
    assert aws.options_of(plain)["HttpPutResponseHopLimit"] == 1

    again = run_module(module.main, args())
    assert not again.changed and again["summary"]["held"] == 2 and again["summary"]["changed"] == 0

    included = run_module(module.main, args(include_owned=["eks"]))
    assert by_id(included)[node]["profile"]["action"] == "replace" and aws.profile_of(node) == "App"
    assert aws.profile_of(beanstalk) is None


def test_waves_gate_only_the_instances_imdsv2_gets_required_on(aws):
    """An instance whose only change is its profile goes with the first wave; the ones IMDSv2 gets required on
    are spread over the waves (check mode shows the plan, the run applies it wave by wave)."""
    tightened = sorted(aws.launch(4))
    profile_only = aws.launch(1)[0]
    aws.ec2.modify_instance_metadata_options(InstanceId=profile_only, HttpTokens="required")
    check = run_module(module.main, args(waves=[25, 50, 100]), check_mode=True)
    waves = check["waves"]
    assert [w["enforced"] for w in waves] == [1, 1, 2] and waves[0]["instances"] == 2
    assert sorted(sum((w["instance_ids"] for w in waves), [])) == tightened
    assert profile_only not in sum((w["instance_ids"] for w in waves), [])
    res = run_module(module.main, args(waves=[25, 50, 100], order="profile_first"))
    assert not res.failed and [w["enforced"] for w in res["waves"]] == [1, 1, 2], res
    assert all(w["not_reached"] == 0 and w["stopped"] is None for w in res["waves"])
    assert all(aws.options_of(iid)["HttpTokens"] == "required" and aws.profile_of(iid) for iid in tightened)
    assert aws.profile_of(profile_only)
    again = run_module(module.main, args(waves=[25, 50, 100]))
    assert not again.changed and again["waves"] == []
