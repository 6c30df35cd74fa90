"""fleet/ownership.py: who owns an instance, and what the fleet steps may change on it (pure, table tests)."""

from __future__ import annotations

import pytest

from ansible_collections.keyless.aws.plugins.module_utils.fleet import ownership
from ansible_collections.keyless.aws.plugins.module_utils.fleet import steps

ASG = {"aws:autoscaling:groupName": "web-asg"}
EKS = dict(ASG, **{"eks:cluster-name": "prod", "eks:nodegroup-name": "general",
                   "aws:autoscaling:groupName": "eks-general-1a2b"})


@pytest.mark.parametrize("tags, kind, name, protected, containers", [
    ({}, None, None, None, None),
    ({"Name": "web"}, None, None, None, None),
    (ASG, "autoscaling", "web-asg", False, False),
    (EKS, "eks", "prod/general", True, True),
    ({"eks:cluster-name": "prod"}, "eks", "prod", True, True),
    (dict(ASG, **{"karpenter.sh/nodepool": "default"}), "karpenter", "default", True, True),
    ({"karpenter.sh/provisioner-name": "old"}, "karpenter", "old", True, True),
    (dict(ASG, **{"elasticbeanstalk:environment-name": "shop-prod"}), "elasticbeanstalk", "shop-prod", True, False),
    (dict(ASG, **{"aws:batch:compute-environment": "ce1"}), "batch", "ce1", True, True),
    (dict(ASG, AmazonECSManaged=""), "ecs", None, True, True),
    ({"aws:ec2spot:fleet-request-id": "sfr-1"}, "spot_fleet", "sfr-1", False, False),
    ({"aws:ec2:fleet-id": "fleet-1"}, "ec2_fleet", "fleet-1", False, False),
])
def test_owner_of(tags, kind, name, protected, containers):
    owner = ownership.owner_of(tags)
    if kind is None:
        assert owner is None
        return
    assert (owner["kind"], owner["name"], owner["protected"], owner["containers"]) == (
        kind, name, protected, containers)
    # the same answer from EC2's tag list
    assert ownership.owner_of([{"Key": k, "Value": v} for k, v in tags.items()]) == owner


def test_owner_keeps_only_the_tags_that_find_it():
    owner = ownership.owner_of(dict(EKS, Name="node", Team="x"))
    assert owner["tags"] == {"aws:autoscaling:groupName": "eks-general-1a2b", "eks:cluster-name": "prod",
                             "eks:nodegroup-name": "general"}


@pytest.mark.parametrize("tags, include, left", [
    ({}, [], False),
    (ASG, [], False),
    (EKS, [], True),
    (EKS, ["eks"], False),
    (EKS, ["karpenter"], True),
    ({"elasticbeanstalk:environment-name": "e"}, [], True),
])
def test_profile_left_to_owner(tags, include, left):
    assert ownership.profile_left_to_owner(ownership.owner_of(tags), include) is left


REQUIRED_1 = {"HttpTokens": "required", "HttpPutResponseHopLimit": 1}


@pytest.mark.parametrize("tags, include, request_, changed, needs", [
    (EKS, [], REQUIRED_1, {"HttpTokens"}, True),                      # our tightening would leave 1 hop
    (EKS, [], REQUIRED_1, {"HttpPutResponseHopLimit"}, True),         # the user asks for 1 hop
    (EKS, [], REQUIRED_1, {"InstanceMetadataTags"}, False),           # 1 hop was the owner's choice, not ours
    (EKS, ["eks"], REQUIRED_1, {"HttpTokens"}, False),                # the user knows better
    (EKS, [], {"HttpTokens": "required", "HttpPutResponseHopLimit": 2}, {"HttpTokens"}, False),
    (EKS, [], {"HttpTokens": "optional", "HttpPutResponseHopLimit": 1}, {"HttpTokens"}, False),
    ({"elasticbeanstalk:environment-name": "e"}, [], REQUIRED_1, {"HttpTokens"}, False),
    (ASG, [], REQUIRED_1, {"HttpTokens"}, False),
    ({}, [], REQUIRED_1, {"HttpTokens"}, False),
])
def test_needs_container_hops(tags, include, request_, changed, needs):
    assert ownership.needs_container_hops(ownership.owner_of(tags), include, request_, changed) is needs


def record(iid, tags, metadata=None, state="running"):
    return {"instance_id": iid, "state": state, "profile_arn": None, "owner": ownership.owner_of(tags),
            "metadata": metadata or {"HttpTokens": "optional", "HttpPutResponseHopLimit": 1, "HttpEndpoint": "enabled",
                                     "State": "applied"}}


def test_profile_step_holds_an_owned_instance_and_says_what_to_converge():
    step = steps.ProfileStep({"instance_profile": "App"}, check_mode=False)
    step.profile = {"name": "App", "arn": "arn:aws:iam::123456789012:instance-profile/App"}
    held = step.plan(record("i-1", EKS))
    assert held["status"] == "held" and held["action"] == "associate"
    assert "Amazon EKS prod/general" in held["reason"] and "UpdateNodegroupVersion" in held["reason"]
    assert "include_owned" in held["reason"]
    assert step.plan(record("i-2", ASG)).action == "associate"  # an InstanceChange: ASG instances converge
    assert step.report()["owned_instances"] == [{"instance_id": "i-1", "reason": held["reason"], "owner": {
        "kind": "eks", "name": "prod/general", "service": "Amazon EKS"}}]
    included = steps.ProfileStep({"instance_profile": "App", "include_owned": ["eks"]}, check_mode=False)
    included.profile = step.profile
    assert included.plan(record("i-1", EKS)).action == "associate"


def test_metadata_step_keeps_two_hops_for_a_container_owner_and_waits_for_them():
    step = steps.MetadataStep({"http_tokens": "required"})
    change = step.plan(record("i-1", EKS))
    assert change.data["request"]["HttpPutResponseHopLimit"] == 2 and change.data["request"]["HttpTokens"] == "required"
    assert "hop limit 2" in change.data["reason"] and change.after["http_put_response_hop_limit"] == 2
    plain = step.plan(record("i-2", ASG))
    assert plain.data["request"]["HttpPutResponseHopLimit"] == 1 and plain.data["reason"] is None
    # an explicit hop limit of 1 on a node is raised too, unless the owner is included
    explicit = steps.MetadataStep({"http_tokens": "required", "http_put_response_hop_limit": 1})
    assert explicit.plan(record("i-1", EKS)).data["request"]["HttpPutResponseHopLimit"] == 2
    included = steps.MetadataStep({"http_tokens": "required", "http_put_response_hop_limit": 1,
                                   "include_owned": ["eks"]})
    assert included.plan(record("i-1", EKS)).data["request"]["HttpPutResponseHopLimit"] == 1
    # already required at 1 hop (the owner's choice) and nothing else to change: left alone
    assert steps.MetadataStep({"http_tokens": "required"}).plan(
        record("i-1", EKS, dict(REQUIRED_1, State="applied")))["status"] == "unchanged"
    # an explicit 1 on a node that is already required at 2 hops: nothing to do, no call on every run
    assert explicit.plan(record("i-1", EKS, {"HttpTokens": "required", "HttpPutResponseHopLimit": 2,
                                             "HttpEndpoint": "enabled", "State": "applied"}))["status"] == "unchanged"
    # the wait compares the node with its own desired fields (2 hops), not the task's
    assert step.desired_for["i-1"]["HttpPutResponseHopLimit"] == 2 and "i-2" not in step.desired_for
