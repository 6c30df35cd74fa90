"""The pure plan of ec2account/autoscaling*.py: launch sources, owners, the order of versions on a shared template,
what each group is pointed at, and the calls."""

from __future__ import annotations

import botocore.session
import pytest

from ansible_collections.keyless.aws.plugins.module_utils.ec2account import autoscaling as asg
from ansible_collections.keyless.aws.plugins.module_utils.ec2account import autoscaling_apply as asg_apply
from ansible_collections.keyless.aws.plugins.module_utils.ec2account import autoscaling_plan as asg_plan

SESSION = botocore.session.get_session()
SHAPES = {"data": SESSION.get_service_model("ec2").shape_for("RequestLaunchTemplateData"),
          "policy": SESSION.get_service_model("autoscaling").shape_for("MixedInstancesPolicy")}
TID = "lt-0123456789abcdef0"
OTHER = "lt-0fedcba9876543210"
REQUIRED = {"instance_profile": None, "metadata": {"HttpTokens": "required"}}
OPTIONAL_MD = {"HttpTokens": "optional", "HttpPutResponseHopLimit": 2}
REQUIRED_MD = {"HttpTokens": "required", "HttpPutResponseHopLimit": 2}


def version(number, default=False, md=None, **data):
    data = dict(data, MetadataOptions=dict(md or OPTIONAL_MD))
    return {"LaunchTemplateId": TID, "LaunchTemplateName": "web", "VersionNumber": number, "DefaultVersion": default,
            "LaunchTemplateData": data}


def entry(versions, default, template_id=TID, name="web", operator=None):
    return {"template": {"LaunchTemplateId": template_id, "LaunchTemplateName": name, "DefaultVersionNumber": default,
                         "LatestVersionNumber": max(v["VersionNumber"] for v in versions), "Operator": operator},
            "versions": {v["VersionNumber"]: v for v in versions}}


def group(name, version_ref=None, tags=None, template_id=TID, **extra):
    spec = {"LaunchTemplateId": template_id, "LaunchTemplateName": "web"}
    if version_ref is not None:
        spec["Version"] = version_ref
    out = {"AutoScalingGroupName": name, "LaunchTemplate": spec,
           "Tags": [{"Key": k, "Value": v} for k, v in (tags or {}).items()]}
    out.update(extra)
    if "MixedInstancesPolicy" in extra or "LaunchConfigurationName" in extra:
        del out["LaunchTemplate"]
    return out


def observed(groups, templates=None, configurations=None, existing=None):
    templates = templates if templates is not None else {TID: entry(
        [version(1, True), version(2, KeyName="k2"), version(3, KeyName="k3")], 1)}
    return {"groups": groups, "templates": templates,
            "template_ids": {e["template"]["LaunchTemplateName"]: i for i, e in templates.items()},
            "launch_configurations": configurations or {}, "existing": existing or {}}


def run(groups, desired=None, options=None, **kwargs):
    planned = asg_plan.plan(observed(groups, **kwargs), desired or REQUIRED, options or {}, SHAPES)
    return planned, {g["name"]: g for g in planned["groups"]}


def created(planned):
    return [(v["source_version"], v["version"], v["purpose"]) for t in planned["templates"] for v in t["versions"]]


# ---------------------------------------------------------------- sources and owners

def test_launch_sources_of_every_kind():
    assert asg.launch_sources(group("a")) == [{"path": "LaunchTemplate", "template_id": TID, "template_name": "web",
                                               "version": None, "ref": "$Default"}]
    mixed = group("m", MixedInstancesPolicy={"LaunchTemplate": {
        "LaunchTemplateSpecification": {"LaunchTemplateName": "web", "Version": "$Latest"},
        "Overrides": [{"InstanceType": "t3.large"},
                      {"InstanceType": "m6g.large", "LaunchTemplateSpecification": {"LaunchTemplateId": OTHER,
                                                                                    "Version": "4"}}]}})
    assert [(s["path"], s["ref"]) for s in asg.launch_sources(mixed)] == [
        ("MixedInstancesPolicy.LaunchTemplate.LaunchTemplateSpecification", "$Latest"),
        ("MixedInstancesPolicy.LaunchTemplate.Overrides[1].LaunchTemplateSpecification", "4")]
    assert asg.launch_sources(group("l", LaunchConfigurationName="old")) == [
        {"path": "LaunchConfigurationName", "launch_configuration": "old"}]


@pytest.mark.parametrize("name,tags,kind", [
    ("web", {}, None),
    ("web", {"team": "a"}, None),
    ("ng", {"eks:cluster-name": "prod", "eks:nodegroup-name": "general"}, "eks"),
    ("eks-general-2ac6a1f0-1111-2222-3333-444455556666", {}, "eks"),
    ("eks-not-a-uuid", {}, None),
    ("eb", {"elasticbeanstalk:environment-name": "shop"}, "elasticbeanstalk"),
    ("ecs", {"AmazonECSManaged": ""}, "ecs"),
    ("batch", {"aws:batch:compute-environment": "ce"}, "batch"),
])
def test_group_owner(name, tags, kind):
    owner = asg.group_owner(group(name, tags=tags))
    assert (owner or {}).get("kind") == kind


def test_eks_name_gives_the_node_group():
    owner = asg.group_owner(group("eks-general-2ac6a1f0-1111-2222-3333-444455556666"))
    assert owner["name"] == "general"


@pytest.mark.parametrize("params,message", [
    ({}, "the selector is empty"),
    ({"all_groups": True, "names": ["a"]}, "do not combine"),
    ({"names": ["x" * 256]}, "names has invalid"),
    ({"names": ["a\x00b"]}, "names has invalid"),
    ({"tags": {"": "x"}}, "invalid tag key"),
    ({"tags": {"k": []}}, "non-empty list"),
    ({"tags": {"k": {"a": 1}}}, "the value must be"),
    ({"tags": {"k": None}}, "the value must be"),
])
def test_validate_selector(params, message):
    assert any(message in e for e in asg.validate_selector(params)), asg.validate_selector(params)


@pytest.mark.parametrize("params,message", [
    ({"include_owned": ["eks"]}, "UpdateNodegroupVersion"),
    ({"include_owned": ["karpenter"]}, "use any of elasticbeanstalk, batch, ecs"),
    ({"min_healthy_percentage": 101}, "min_healthy_percentage=101"),
    ({"converted_template_name": "{nope}"}, "converted_template_name"),
])
def test_validate_options(params, message):
    assert any(message in e for e in asg.validate_options(params)), asg.validate_options(params)
    assert asg.validate_options({"include_owned": ["ecs", "batch"], "min_healthy_percentage": 0,
                                 "converted_template_name": "{group}-{launch_configuration}"}) == []


# ---------------------------------------------------------------- the order of versions

def test_pinned_older_version_gets_its_own_version_and_latest_is_kept():
    planned, groups = run([group("a", "1")])
    assert created(planned) == [(1, 4, "compliance"), (3, 5, "keep_latest")]
    keep = planned["templates"][0]["versions"][1]
    assert keep["data"] == {"MetadataOptions": OPTIONAL_MD}  # a copy of version 3: $Latest launches what it did
    assert groups["a"]["update"] == {"AutoScalingGroupName": "a",
                                     "LaunchTemplate": {"LaunchTemplateId": TID, "Version": "4"}}
    source = groups["a"]["sources"][0]
    assert (source["resolves_to"], source["resolves_to_after"], source["version_after"]) == (1, 4, "4")
    assert source["after"] == {"metadata_options": {"http_tokens": "required"}}
    assert groups["a"]["versions_created"] == [{"template_id": TID, "template_name": "web", "version": 4,
                                                "source_version": 1}]


def test_latest_consumer_version_comes_last():
    planned, groups = run([group("pinned", "2"), group("latest", "$Latest"), group("default")])
    # sources 1 ($Default) and 2 (pinned) first, the one from the latest (3) last: $Latest = 3 + compliance
    assert created(planned) == [(1, 4, "compliance"), (2, 5, "compliance"), (3, 6, "compliance")]
    template = planned["templates"][0]
    assert (template["default_version_before"], template["default_version_after"]) == (1, 4)
    assert groups["pinned"]["update"]["LaunchTemplate"]["Version"] == "5"
    assert groups["latest"]["update"] is None and groups["latest"]["action"] == "new_template_versions"
    assert groups["latest"]["sources"][0]["resolves_to_after"] == 6
    assert groups["default"]["update"] is None and groups["default"]["sources"][0]["resolves_to_after"] == 4
    assert groups["default"]["sources"][0]["version_after"] is None  # it still names no version


def test_compliant_latest_consumer_gets_a_copy_of_its_latest():
    templates = {TID: entry([version(1, True), version(2, md=REQUIRED_MD, KeyName="new")], 1)}
    planned, groups = run([group("latest", "$Latest"), group("default", "$Default")], templates=templates)
    assert created(planned) == [(1, 3, "compliance"), (2, 4, "keep_latest")]
    assert planned["templates"][0]["versions"][1]["data"] == {"MetadataOptions": REQUIRED_MD}
    assert groups["latest"]["status"] == "unchanged"
    assert groups["default"]["status"] == "changed"


def test_default_that_is_latest_needs_one_version():
    templates = {TID: entry([version(1, True)], 1)}
    planned, groups = run([group("a"), group("b", "$Latest"), group("c", "1")], templates=templates)
    assert created(planned) == [(1, 2, "compliance")]  # shared by the three groups
    assert planned["templates"][0]["versions"][0]["groups"] == ["a", "b", "c"]
    assert planned["templates"][0]["default_version_after"] == 2
    assert [groups[n]["update"] is not None for n in "abc"] == [False, False, True]


def test_pinned_groups_share_one_version():
    planned, groups = run([group("a", "2"), group("b", "2")])
    assert created(planned) == [(2, 4, "compliance"), (3, 5, "keep_latest")]
    assert groups["a"]["update"]["LaunchTemplate"]["Version"] == groups["b"]["update"]["LaunchTemplate"]["Version"] == "4"


def test_everything_compliant_is_unchanged():
    templates = {TID: entry([version(1, True, md=REQUIRED_MD)], 1)}
    planned, groups = run([group("a"), group("b", "$Latest")], templates=templates)
    assert planned["templates"] == [] and planned["conversions"] == []
    assert {g["status"] for g in groups.values()} == {"unchanged"}
    assert groups["a"]["action"] == "none"


def test_latest_that_carries_the_change_is_reused():
    templates = {TID: entry([version(1, True), version(2, md=REQUIRED_MD)], 1)}
    planned, groups = run([group("a", "1")], templates=templates)
    assert created(planned) == []
    assert groups["a"]["update"]["LaunchTemplate"]["Version"] == "2" and groups["a"]["status"] == "changed"


def test_managed_template_is_skipped():
    templates = {TID: entry([version(1, True)], 1, operator={"Managed": True, "Principal": "eks.amazonaws.com"})}
    planned, groups = run([group("a")], templates=templates)
    assert groups["a"]["status"] == "skipped" and "eks.amazonaws.com" in groups["a"]["reason"]
    assert planned["templates"] == []


def test_profile_and_metadata_from_the_source_version():
    profile = {"name": "app", "arn": "arn:aws:iam::123456789012:instance-profile/app", "given_as": "name"}
    planned, _groups = run([group("a", "1")], desired={"instance_profile": profile, "metadata": {}})
    assert planned["templates"][0]["versions"][0]["data"] == {"IamInstanceProfile": {"Name": "app"}}
    assert planned["templates"][0]["versions"][0]["changed_fields"] == ["IamInstanceProfile"]


# ---------------------------------------------------------------- owners and groups left alone

def test_owned_groups_are_skipped_unless_included():
    groups = [group("ng", "1", tags={"eks:cluster-name": "prod", "eks:nodegroup-name": "general"}, template_id=OTHER),
              group("ecs", tags={"AmazonECSManaged": ""}, template_id=OTHER)]
    templates = {OTHER: entry([dict(version(1, True), LaunchTemplateId=OTHER)], 1, OTHER, "other")}
    _planned, by_name = run(groups, templates=templates)
    assert by_name["ng"]["status"] == "skipped" and "UpdateNodegroupVersion" in by_name["ng"]["reason"]
    assert "include_owned" not in by_name["ng"]["reason"]
    assert by_name["ecs"]["status"] == "skipped" and "'ecs' in include_owned" in by_name["ecs"]["reason"]
    _planned, by_name = run(groups, options={"include_owned": ["ecs"]}, templates=templates)
    assert by_name["ecs"]["status"] == "changed" and by_name["ng"]["status"] == "skipped"
    assert by_name["ecs"]["owner"] == {"kind": "ecs", "name": None, "service": "Amazon ECS"}


def test_group_with_operator_or_being_deleted_is_skipped():
    _planned, by_name = run([group("a", Operator={"Principal": "ecs.amazonaws.com"}),
                             group("b", Status="Delete in progress")])
    assert "managed by ecs.amazonaws.com" in by_name["a"]["reason"]
    assert by_name["b"]["status"] == "skipped" and "being deleted" in by_name["b"]["reason"]


def test_default_shared_with_a_group_left_alone_is_held():
    eks = group("ng", tags={"eks:cluster-name": "prod", "eks:nodegroup-name": "general"})
    planned, by_name = run([eks, group("a"), group("b", "2")])
    assert by_name["a"]["status"] == "held" and "ng" in by_name["a"]["reason"]
    assert by_name["b"]["status"] == "changed"
    assert created(planned) == [(2, 4, "compliance"), (3, 5, "keep_latest")]
    assert planned["templates"][0]["default_version_after"] == 1


def test_latest_launched_by_a_group_left_alone_stays_what_it_was():
    templates = {TID: entry([version(1, True)], 1)}
    eks = group("ng", "$Latest", tags={"eks:cluster-name": "prod", "eks:nodegroup-name": "general"})
    planned, by_name = run([eks, group("a", "1")], templates=templates)
    # the fix of version 1 is the latest's too, so a plain copy of version 1 comes after it
    assert created(planned) == [(1, 2, "compliance"), (1, 3, "keep_latest")]
    assert by_name["a"]["update"]["LaunchTemplate"]["Version"] == "2"


def test_missing_template_or_version_fails_the_group():
    _planned, by_name = run([group("a", "9"), group("b", template_id=OTHER)])
    assert by_name["a"]["status"] == "failed" and "version 9" in by_name["a"]["reason"]
    assert by_name["b"]["status"] == "failed" and "does not exist" in by_name["b"]["reason"]


# ---------------------------------------------------------------- mixed instances policies

def test_mixed_policy_is_sent_whole_with_the_pinned_override_moved():
    other = entry([dict(version(1, True), LaunchTemplateId=OTHER, LaunchTemplateName="arm")], 1, OTHER, "arm")
    compliant = entry([version(1, True, md=REQUIRED_MD)], 1)
    arm_spec = {"LaunchTemplateName": "arm", "Version": "1"}
    overrides = [{"InstanceType": "t3.large", "WeightedCapacity": "2"},
                 {"InstanceType": "m6g.large", "LaunchTemplateSpecification": arm_spec}]
    distribution = {"OnDemandBaseCapacity": 1, "SpotAllocationStrategy": "capacity-optimized"}
    policy = {"LaunchTemplate": {
        "LaunchTemplateSpecification": {"LaunchTemplateId": TID, "LaunchTemplateName": "web", "Version": "$Latest"},
        "Overrides": overrides}, "InstancesDistribution": distribution}
    planned, by_name = run([group("m", MixedInstancesPolicy=policy)], templates={TID: compliant, OTHER: other})
    assert created(planned) == [(1, 2, "compliance")]
    assert by_name["m"]["update"] == {"AutoScalingGroupName": "m", "MixedInstancesPolicy": {
        "LaunchTemplate": {
            "LaunchTemplateSpecification": {"LaunchTemplateId": TID, "Version": "$Latest"},
            "Overrides": [overrides[0], {"InstanceType": "m6g.large",
                                         "LaunchTemplateSpecification": dict(arm_spec, Version="2")}]},
        "InstancesDistribution": distribution}}
    assert [s["compliant"] for s in by_name["m"]["sources"]] == [True, False]


# ---------------------------------------------------------------- calls

def test_template_changes_create_in_order_then_move_the_default():
    planned, _groups = run([group("pinned", "2"), group("default")])
    plan = asg_apply.template_changes(planned["templates"][0])
    assert plan.actions() == ["create_launch_template_version"] * 3 + ["modify_launch_template"]
    first = plan.changes[0].params
    assert (first["SourceVersion"], first["LaunchTemplateData"]) == ("1", {"MetadataOptions": REQUIRED_MD})
    assert first["ClientToken"].startswith("keyless-")
    assert plan.changes[2].params["VersionDescription"].endswith("so $Latest launches what it did")
    responses = [{"LaunchTemplateVersion": {"VersionNumber": n}} for n in (7, 8, 9)]
    assert plan.changes[3].params(responses) == {"LaunchTemplateId": TID, "DefaultVersion": "7"}


# ---------------------------------------------------------------- launch configurations

LC = {"LaunchConfigurationName": "old-lc", "ImageId": "ami-12345678", "InstanceType": "t3.micro", "KeyName": "ops",
      "KernelId": "", "RamdiskId": "", "SecurityGroups": ["sg-12345678"], "UserData": "ZWNobyBoaQ==",
      "BlockDeviceMappings": [
          {"DeviceName": "/dev/xvda", "Ebs": {"VolumeSize": 8, "VolumeType": "gp3", "Encrypted": True, "SnapshotId": None}},
          {"DeviceName": "/dev/sdb", "NoDevice": True}],
      "InstanceMonitoring": {"Enabled": True}, "SpotPrice": "0.05", "IamInstanceProfile": "old-profile",
      "EbsOptimized": True, "PlacementTenancy": "dedicated", "ClassicLinkVPCSecurityGroups": [],
      "MetadataOptions": {"HttpTokens": "optional", "HttpPutResponseHopLimit": 2, "HttpEndpoint": "enabled"}}


def test_template_data_from_configuration_as_aws_migrates_it():
    data = asg_plan.template_data_from_configuration(LC, REQUIRED, SHAPES["data"])
    assert data == {
        "ImageId": "ami-12345678", "InstanceType": "t3.micro", "KeyName": "ops", "UserData": "ZWNobyBoaQ==",
        "EbsOptimized": True, "SecurityGroupIds": ["sg-12345678"],
        "BlockDeviceMappings": [{"DeviceName": "/dev/xvda", "Ebs": {"VolumeSize": 8, "VolumeType": "gp3", "Encrypted": True}},
                                {"DeviceName": "/dev/sdb", "NoDevice": ""}],
        "Monitoring": {"Enabled": True},
        "InstanceMarketOptions": {"MarketType": "spot", "SpotOptions": {"MaxPrice": "0.05"}},
        "Placement": {"Tenancy": "dedicated"}, "IamInstanceProfile": {"Name": "old-profile"},
        "MetadataOptions": {"HttpTokens": "required", "HttpPutResponseHopLimit": 2, "HttpEndpoint": "enabled"}}
    public = dict(LC, AssociatePublicIpAddress=True, IamInstanceProfile="arn:aws:iam::123456789012:instance-profile/x")
    profile = {"name": "app", "arn": "arn:aws:iam::123456789012:instance-profile/app", "given_as": "arn"}
    data = asg_plan.template_data_from_configuration(public, {"instance_profile": profile, "metadata": {}}, SHAPES["data"])
    assert data["NetworkInterfaces"] == [{"DeviceIndex": 0, "AssociatePublicIpAddress": True, "DeleteOnTermination": True,
                                          "Groups": ["sg-12345678"]}]
    assert "SecurityGroupIds" not in data and data["IamInstanceProfile"] == {"Arn": profile["arn"]}
    names = asg_plan.template_data_from_configuration(dict(LC, SecurityGroups=["default"], IamInstanceProfile=None), REQUIRED)
    assert names["SecurityGroups"] == ["default"] and "IamInstanceProfile" not in names


def lc_group(name, lc="old-lc"):
    return {"AutoScalingGroupName": name, "LaunchConfigurationName": lc, "Tags": []}


def test_launch_configuration_is_held_with_the_proposal():
    planned, by_name = run([lc_group("a")], configurations={"old-lc": LC})
    item = by_name["a"]
    assert item["status"] == "held" and "convert_launch_configurations=true" in item["reason"]
    assert item["proposed"]["launch_template_name"] == "old-lc"
    assert item["proposed"]["update"] == {"AutoScalingGroupName": "a", "LaunchTemplate": {
        "LaunchTemplateName": "old-lc", "Version": "$Default"}}
    assert item["proposed"]["launch_template_data"]["MetadataOptions"]["HttpTokens"] == "required"
    assert item["sources"][0]["before"] == {"metadata_options": {"http_tokens": "optional"}}
    assert planned["conversions"] == []


def test_a_compliant_launch_configuration_is_left_alone():
    compliant = dict(LC, MetadataOptions={"HttpTokens": "required", "HttpPutResponseHopLimit": 2, "HttpEndpoint": "enabled"})
    for options in ({}, {"convert_launch_configurations": True}):
        planned, by_name = run([lc_group("a")], options=options, configurations={"old-lc": compliant})
        assert by_name["a"]["status"] == "unchanged" and by_name["a"]["update"] is None, options
        assert "already launches compliant" in by_name["a"]["reason"] and planned["conversions"] == []


def test_launch_configuration_converted_once_for_its_groups():
    options = {"convert_launch_configurations": True}
    planned, by_name = run([lc_group("a"), lc_group("b")], options=options, configurations={"old-lc": LC})
    assert [(c["name"], c["groups"]) for c in planned["conversions"]] == [("old-lc", ["a", "b"])]
    assert by_name["a"]["status"] == by_name["b"]["status"] == "changed"
    assert by_name["a"]["update"]["LaunchTemplate"] == {"LaunchTemplateName": "old-lc", "Version": "$Default"}
    per_group = dict(options, converted_template_name="{group}-lt")
    planned, _by_name = run([lc_group("a"), lc_group("b")], options=per_group, configurations={"old-lc": LC})
    assert [c["name"] for c in planned["conversions"]] == ["a-lt", "b-lt"]


def test_existing_template_of_that_name():
    options = {"convert_launch_configurations": True}
    data = asg_plan.template_data_from_configuration(LC, REQUIRED, SHAPES["data"])
    same = {"old-lc": {"default": {"LaunchTemplateData": data}}}
    planned, by_name = run([lc_group("a")], options=options, configurations={"old-lc": LC}, existing=same)
    assert planned["conversions"] == [] and by_name["a"]["conversion"]["created"] is False
    assert by_name["a"]["update"] is not None  # the group still moves to it
    other = {"old-lc": {"default": {"LaunchTemplateData": {"ImageId": "ami-other"}}}}
    _planned, by_name = run([lc_group("a")], options=options, configurations={"old-lc": LC}, existing=other)
    assert by_name["a"]["status"] == "held" and "exists" in by_name["a"]["reason"]


def test_converted_name_conflicts_and_invalid_names_hold():
    options = {"convert_launch_configurations": True, "converted_template_name": "fleet"}
    configurations = {"old-lc": LC, "other-lc": dict(LC, LaunchConfigurationName="other-lc", ImageId="ami-87654321")}
    planned, by_name = run([lc_group("a"), lc_group("b", "other-lc")], options=options, configurations=configurations)
    assert by_name["a"]["status"] == "changed" and by_name["b"]["status"] == "held"
    assert len(planned["conversions"]) == 1
    _planned, by_name = run([lc_group("a", "bad name!")], options={"convert_launch_configurations": True},
                            configurations={"bad name!": dict(LC, LaunchConfigurationName="bad name!")})
    assert by_name["a"]["status"] == "held" and "not a valid launch template name" in by_name["a"]["reason"]
