"""ec2account/managed_sources: the pure judgements as tables, the resolver and the readers' thin I/O."""

from __future__ import annotations

import datetime

import boto3
import botocore.exceptions
import botocore.session
import pytest
from botocore.stub import Stubber
from moto import mock_aws

from ansible_collections.keyless.aws.plugins.module_utils.aws.module import Progress
from ansible_collections.keyless.aws.plugins.module_utils.ec2account import managed_sources as ms
from ansible_collections.keyless.aws.plugins.module_utils.ec2account import reported_sources as rs

SHAPE = botocore.session.get_session().get_service_model("ec2").shape_for("RequestLaunchTemplateData")
LT = "lt-0123456789abcdef0"
PROFILE_ARN = "arn:aws:iam::123456789012:instance-profile/app"


def version(number, options=None, default=False, **data):
    if options is not None:
        data["MetadataOptions"] = options
    return {"LaunchTemplateId": LT, "LaunchTemplateName": "workers", "VersionNumber": number,
            "DefaultVersion": default, "LaunchTemplateData": data}


def nodegroup(status="ACTIVE", template="1", name="workers"):
    out = {"clusterName": "prod", "nodegroupName": name, "status": status}
    if template is not None:
        out["launchTemplate"] = {"id": LT, "name": "workers", "version": template}
    return out


def resolved(current, latest=None, ref_version="1"):
    return {("id", LT, ref_version): {"version": current, "latest": latest or current}}


# ---------------------------------------------------------------- the resolver

def test_template_ref_reads_ec2_and_eks_specs():
    assert ms.template_ref({"LaunchTemplateId": LT, "Version": 3}) == {"id": LT, "name": None, "version": "3"}
    assert ms.template_ref({"LaunchTemplateName": "w"}) == {"id": None, "name": "w", "version": "$Default"}
    assert ms.template_ref({"id": LT, "name": "w", "version": "$Latest"}) == {"id": LT, "name": "w", "version": "$Latest"}
    assert ms.ref_key(ms.template_ref({"LaunchTemplateName": "w", "Version": "2"})) == ("name", "w", "2")


class FakeEc2:
    """describe_launch_template_versions answering like EC2: a missing version fails the whole call."""

    def __init__(self, versions, missing_templates=()):
        self.versions, self.missing_templates, self.calls = versions, missing_templates, []

    def describe_launch_template_versions(self, LaunchTemplateId=None, LaunchTemplateName=None, Versions=()):
        self.calls.append(list(Versions))
        if (LaunchTemplateId or LaunchTemplateName) in self.missing_templates:
            raise botocore.exceptions.ClientError({"Error": {"Code": "InvalidLaunchTemplateId.NotFound"}}, "x")
        out = []
        for wanted in Versions:
            found = [v for v in self.versions if (wanted == "$Latest" and v is self.versions[-1]) or
                     (wanted == "$Default" and v["DefaultVersion"]) or str(v["VersionNumber"]) == wanted]
            if not found:
                raise botocore.exceptions.ClientError({"Error": {"Code": "InvalidLaunchTemplateId.VersionNotFound"}}, "x")
            out.extend(found)
        return {"LaunchTemplateVersions": out}


def test_resolve_versions_one_call_per_template_and_missing_ones():
    ec2 = FakeEc2([version(1, default=True), version(2), version(3)])
    refs = [ms.template_ref({"LaunchTemplateId": LT, "Version": v}) for v in ("1", "$Default", "$Latest", "2")]
    out = ms.resolve_versions(ec2, refs, latest=True)
    assert ec2.calls == [["$Default", "$Latest", "1", "2"]]
    assert {k[2]: v["version"]["VersionNumber"] for k, v in out.items()} == {"1": 1, "$Default": 1, "$Latest": 3, "2": 2}
    assert {v["latest"]["VersionNumber"] for v in out.values()} == {3}
    # a version deleted meanwhile fails the whole call: each version is then read alone
    gone = ms.resolve_versions(FakeEc2([version(1, default=True)]), [ms.template_ref({"id": LT, "version": "7"}),
                                                                     ms.template_ref({"id": LT, "version": "1"})])
    assert gone[("id", LT, "7")]["version"] is None and gone[("id", LT, "1")]["version"]["VersionNumber"] == 1
    deleted = ms.resolve_versions(FakeEc2([], missing_templates=[LT]), [ms.template_ref({"id": LT})], latest=True)
    assert deleted == {("id", LT, "$Default"): {"version": None, "latest": None}}


# ---------------------------------------------------------------- EKS: validation and plan

@pytest.mark.parametrize("params,message", [
    ({"clusters": ["prod"], "http_tokens": "required"}, None),
    ({"clusters": ["prod"]}, "nothing to ensure"),
    ({"clusters": [], "http_tokens": "required"}, "clusters is empty"),
    ({"clusters": ["a" * 101], "http_tokens": "required"}, "clusters has invalid names"),
    ({"clusters": ["p"], "nodegroups": ["_x"], "http_tokens": "required"}, "nodegroups has invalid names '_x'"),
    ({"clusters": ["p"], "http_tokens": "sometimes"}, "http_tokens='sometimes'"),
    ({"clusters": ["p"], "http_put_response_hop_limit": 0}, "http_put_response_hop_limit=0"),
    ({"clusters": ["p"], "http_tokens": "required", "http_put_response_hop_limit": 1}, "allow_hop_limit_1=true"),
    ({"clusters": ["p"], "http_tokens": "required", "http_put_response_hop_limit": 1, "allow_hop_limit_1": True}, None),
    ({"clusters": ["p"], "http_tokens": "optional", "http_put_response_hop_limit": 1}, None),
])
def test_validate_nodegroup_params(params, message):
    errors = ms.validate_nodegroup_params(params)
    assert (not errors) if message is None else any(message in e for e in errors), errors


@pytest.mark.parametrize("options,allow,refused", [
    ({"HttpTokens": "required", "HttpPutResponseHopLimit": 2}, False, None),
    ({"HttpTokens": "required", "HttpPutResponseHopLimit": 1}, False, "a hop limit of 1"),
    ({"HttpTokens": "required"}, False, "no hop limit (EC2's default is 1)"),
    ({"HttpTokens": "required", "HttpPutResponseHopLimit": 1}, True, None),
    ({"HttpTokens": "optional", "HttpPutResponseHopLimit": 1}, False, None),
])
def test_hop_limit_refusal(options, allow, refused):
    reason = ms.hop_limit_refusal(options, allow)
    assert reason is None if refused is None else refused in reason


def test_wanted_options_adds_hop_limit_2_for_pods():
    assert ms.wanted_options({"HttpTokens": "required"}) == {"HttpTokens": "required", "HttpPutResponseHopLimit": 2}
    assert ms.wanted_options({"HttpTokens": "required"}, allow_hop_limit_1=True) == {"HttpTokens": "required"}
    assert ms.wanted_options({"HttpTokens": "required", "HttpPutResponseHopLimit": 3})["HttpPutResponseHopLimit"] == 3


REQUIRED = {"metadata": {"HttpTokens": "required"}}
OPTIONAL_2 = {"HttpTokens": "optional", "HttpPutResponseHopLimit": 2, "State": "applied"}


@pytest.mark.parametrize("group,found,desired,allow,action,reason", [
    (nodegroup(template=None), {}, REQUIRED, False, "hold",
     "create a node group with a custom launch template carrying MetadataOptions {HttpTokens: required, "
     "HttpPutResponseHopLimit: 2}"),
    (nodegroup(template=None), {}, REQUIRED, True, "hold", "MetadataOptions {HttpTokens: required} (and no"),
    (nodegroup(), resolved(version(1, {"HttpTokens": "required", "HttpPutResponseHopLimit": 2})), REQUIRED, False,
     "none", "already carries"),
    (nodegroup(), resolved(version(1, OPTIONAL_2), version(4)), REQUIRED, False, "create_version", "version 5 from version 1"),
    (nodegroup(status="UPDATING"), resolved(version(1, OPTIONAL_2)), REQUIRED, False, "hold", "UPDATING"),
    (nodegroup(status="CREATING"), resolved(version(1, OPTIONAL_2)), REQUIRED, False, "hold", "CREATING"),
    (nodegroup(status="DELETING"), resolved(version(1, OPTIONAL_2)), REQUIRED, False, "skip", "DELETING"),
    (nodegroup(status="DEGRADED"), resolved(version(1, OPTIONAL_2)), REQUIRED, False, "create_version", "version 2"),
    (nodegroup(), resolved(version(1, OPTIONAL_2, IamInstanceProfile={"Name": "x"})), REQUIRED, False, "hold",
     "carries IamInstanceProfile"),
    (nodegroup(), resolved(version(1, {"HttpTokens": "optional"})), REQUIRED, False, "hold", "no hop limit"),
    (nodegroup(), resolved(version(1, {"HttpTokens": "optional"})), REQUIRED, True, "create_version", "version 2"),
    (nodegroup(), resolved(None), REQUIRED, False, "hold", "does not exist any more"),
    # an UPDATING node group that already carries the options: nothing to do, not held
    (nodegroup(status="UPDATING"), resolved(version(1, {"HttpTokens": "required"})), REQUIRED, False, "none", ""),
])
def test_plan_nodegroup(group, found, desired, allow, action, reason):
    item = ms.plan_nodegroup(group, found, desired, allow, SHAPE)
    assert item["action"] == action and reason in item["reason"], item["reason"]
    if action != "create_version":
        assert item["launch_template_after"] == item["launch_template_before"] and item["version_created"] is None


def test_plan_nodegroup_changes_only_metadata_from_the_named_version():
    current = version(1, OPTIONAL_2, ImageId="ami-1", UserData="eA==")
    item = ms.plan_nodegroup(nodegroup(), resolved(current, version(3, ImageId="ami-other")),
                             {"metadata": {"HttpTokens": "required"}}, False, SHAPE)
    assert item["data"] == {"MetadataOptions": {"HttpTokens": "required", "HttpPutResponseHopLimit": 2}}
    assert (item["source_version"], item["version_created"]) == (1, 4)
    assert item["launch_template_after"] == {"id": LT, "name": "workers", "version": "4"}
    assert item["before"] == {"metadata_options": {"http_tokens": "optional"}}
    assert item["after"] == {"metadata_options": {"http_tokens": "required"}}
    assert item["changed_fields"] == ["MetadataOptions.HttpTokens"]


def test_plan_nodegroup_reuses_a_latest_version_that_carries_the_change():
    current = version(1, OPTIONAL_2, ImageId="ami-1")
    carried = version(2, {"HttpTokens": "required", "HttpPutResponseHopLimit": 2, "State": "pending"}, ImageId="ami-1")
    item = ms.plan_nodegroup(nodegroup(), resolved(current, carried), REQUIRED, False, SHAPE)
    assert item["action"] == "update_nodegroup" and item["version_created"] is None
    assert item["launch_template_after"]["version"] == "2"
    assert [c.operation for c in ms.nodegroup_plan(item)] == ["UpdateNodegroupVersion"]


# ---------------------------------------------------------------- EKS: the calls

class FakeClient:
    def __init__(self, answers):
        self.answers, self.calls = answers, []

    def __getattr__(self, method):
        def api(**params):
            self.calls.append((method, params))
            answer = self.answers[method]
            if isinstance(answer, Exception):
                raise answer
            return answer
        return api


def planned(**overrides):
    item = ms.plan_nodegroup(nodegroup(), resolved(version(1, OPTIONAL_2)), REQUIRED, False, SHAPE)
    item["status"] = ms.NODEGROUP_STATUS[item["action"]]
    item.update(overrides)
    return item


def test_nodegroup_plan_and_apply_move_the_node_group_to_the_version_aws_numbered():
    item = planned()
    plan = ms.nodegroup_plan(item)
    assert [(c.operation, c.service) for c in plan] == [("CreateLaunchTemplateVersion", "ec2"),
                                                        ("UpdateNodegroupVersion", "eks")]
    create = plan.changes[0].params
    assert (create["SourceVersion"], create["LaunchTemplateData"]) == ("1", item["data"])
    # the node group is in the token (its description names it): one version per node group, never a mismatch
    assert create["ClientToken"] == ms.client_token(LT, 1, dict(item["data"], _for="%s/%s" % (item["cluster"],
                                                                                              item["name"])))
    assert create["ClientToken"] != ms.client_token(LT, 1, item["data"])
    ec2 = FakeClient({"create_launch_template_version": {"LaunchTemplateVersion": {"VersionNumber": 7}}})
    eks = FakeClient({"update_nodegroup_version": {"update": {"id": "u-1", "status": "InProgress"}}})
    failed = ms.apply_nodegroups(lambda service: {"ec2": ec2, "eks": eks}[service], [item], Progress())
    assert failed == [] and item["status"] == "changed" and item["update_id"] == "u-1"
    # another version appeared meanwhile: the node group moves to the one AWS made, not the predicted one
    assert item["version_created"] == 7 and item["launch_template_after"]["version"] == "7"
    assert eks.calls == [("update_nodegroup_version", {"clusterName": "prod", "nodegroupName": "workers",
                                                       "launchTemplate": {"id": LT, "version": "7"}})]


def error(code):
    return botocore.exceptions.ClientError({"Error": {"Code": code, "Message": code}}, "UpdateNodegroupVersion")


@pytest.mark.parametrize("code,status,text", [
    ("ResourceInUseException", "held", "version 2 was created and the rerun moves the node group to it"),
    ("InvalidParameterException", "failed", "InvalidParameterException"),
])
def test_apply_update_refused(code, status, text):
    item = planned()
    ec2 = FakeClient({"create_launch_template_version": {"LaunchTemplateVersion": {"VersionNumber": 2}}})
    eks = FakeClient({"update_nodegroup_version": error(code)})
    progress = Progress()
    failed = ms.apply_nodegroups(lambda service: {"ec2": ec2, "eks": eks}[service], [item], progress)
    assert item["status"] == status and text in item["reason"] and failed == ([item] if status == "failed" else [])
    assert [c.operation for c in progress.done] == ["CreateLaunchTemplateVersion"]


def test_summarize_nodegroups():
    items = [{"status": "changed", "action": "create_version"}, {"status": "held", "action": "hold"},
             {"status": "held", "action": "hold"}]
    assert ms.summarize_nodegroups(items) == {"total": 3, "changed": 1, "unchanged": 0, "held": 2, "skipped": 0,
                                              "failed": 0, "by_action": {"create_version": 1, "hold": 2}}


# ---------------------------------------------------------------- report-only readers (pure)

EXPECTED = {"instance_profile": "app", "http_tokens": "required", "min_hop_limit": 2}


@pytest.mark.parametrize("data,findings,change", [
    ({}, [], {}),
    ({"MetadataOptions": {"HttpTokens": "optional", "HttpPutResponseHopLimit": 1}}, ["imdsv1_allowed", "hop_limit_below_minimum"],
     {"MetadataOptions": {"HttpTokens": "required", "HttpPutResponseHopLimit": 2}}),
    ({"MetadataOptions": {"HttpEndpoint": "disabled"}}, ["no_profile", "endpoint_disabled"],
     {"IamInstanceProfile": {"Name": "app"}, "MetadataOptions": {"HttpEndpoint": "enabled"}}),
])
def test_compliant_change(data, findings, change):
    assert rs.compliant_change(data, findings, EXPECTED) == change


def lt_config(version_requested, template=LT):
    return {"LaunchTemplateSpecification": {"LaunchTemplateId": template, "Version": version_requested},
            "Overrides": [{"InstanceType": "m5.large"}]}


def spot(configs=None, specs=None, fleet_type="maintain", state="active"):
    data = {"Type": fleet_type, "IamFleetRole": "arn:aws:iam::123456789012:role/fleet", "TargetCapacity": 1}
    if configs is not None:
        data["LaunchTemplateConfigs"] = configs
    if specs is not None:
        data["LaunchSpecifications"] = specs
    return {"SpotFleetRequestId": "sfr-1", "SpotFleetRequestState": state, "SpotFleetRequestConfig": data}


NON_COMPLIANT = version(1, {"HttpTokens": "optional", "HttpPutResponseHopLimit": 2},
                        IamInstanceProfile={"Arn": PROFILE_ARN})
COMPLIANT = version(1, {"HttpTokens": "required", "HttpPutResponseHopLimit": 2}, IamInstanceProfile={"Name": "app"})


def test_spot_fleet_on_a_pinned_version_gets_a_version_and_a_modify():
    record = rs.spot_fleet_record(spot([lt_config("1")]), resolved(NON_COMPLIANT, version(4)), EXPECTED)
    assert (record["kind"], record["id"], record["state"], record["type"]) == ("spot_fleet", "sfr-1", "active", "maintain")
    assert record["findings"] == ["imdsv1_allowed"] and not record["compliant"]
    [entry] = record["launch_templates"]
    assert (entry["id"], entry["version"], entry["requested_version"]) == (LT, 1, "1")
    change = record["proposed_change"]
    assert change["operation"] == "ec2:ModifySpotFleetRequest"
    assert change["template_versions"] == [{
        "launch_template_id": LT, "launch_template_name": "workers", "source_version": 1, "version_created": 5,
        "make_default": False, "launch_template_data": {"MetadataOptions": {"HttpTokens": "required",
                                                                            "HttpPutResponseHopLimit": 2}}}]
    assert change["params"] == {"SpotFleetRequestId": "sfr-1", "LaunchTemplateConfigs": [
        {"LaunchTemplateSpecification": {"LaunchTemplateId": LT, "Version": "5"}, "Overrides": [{"InstanceType": "m5.large"}]}]}


@pytest.mark.parametrize("requested,fleet_type,operation,text,default", [
    ("$Latest", "maintain", None, "names $Latest or $Default", False),
    ("$Default", "maintain", None, "made the default for $Default", True),
    ("1", "request", None, "of type request, which ec2:ModifySpotFleetRequest cannot change", False),
])
def test_spot_fleet_changes_that_need_no_modify(requested, fleet_type, operation, text, default):
    record = rs.spot_fleet_record(spot([lt_config(requested)], fleet_type=fleet_type),
                                  resolved(NON_COMPLIANT, ref_version=requested), EXPECTED)
    change = record["proposed_change"]
    assert change["operation"] == operation and text in change["summary"] and change["params"] is None
    assert change["template_versions"][0]["make_default"] is default


def test_spot_fleet_launch_specifications_need_a_new_request():
    specs = [{"ImageId": "ami-1", "IamInstanceProfile": {"Arn": PROFILE_ARN}}, {"ImageId": "ami-2"}]
    record = rs.spot_fleet_record(spot(specs=specs), {}, EXPECTED)
    assert [s["findings"] for s in record["launch_specifications"]] == [["imdsv1_allowed", "hop_limit_below_minimum"],
                                                                        ["no_profile", "imdsv1_allowed",
                                                                         "hop_limit_below_minimum"]]
    change = record["proposed_change"]
    assert change["operation"] == "ec2:RequestSpotFleet" and "cannot be changed" in change["summary"]
    assert change["template_versions"][0]["launch_template_data"] == {
        "IamInstanceProfile": {"Name": "app"}, "MetadataOptions": {"HttpTokens": "required", "HttpPutResponseHopLimit": 2}}


def test_spot_fleet_compliant_or_template_gone():
    good = rs.spot_fleet_record(spot([lt_config("1")]), resolved(COMPLIANT), EXPECTED)
    assert good["compliant"] and good["findings"] == [] and good["proposed_change"] is None
    gone = rs.spot_fleet_record(spot([lt_config("1")]), resolved(None), None)
    assert gone["findings"] == ["template_not_found"] and "does not exist" in gone["proposed_change"]["summary"]


def test_ec2_fleet_one_version_per_template_version_and_modify_fleet():
    fleet = {"FleetId": "fleet-1", "FleetState": "active", "Type": "maintain",
             "LaunchTemplateConfigs": [lt_config("1"), lt_config("1")]}
    record = rs.ec2_fleet_record(fleet, resolved(NON_COMPLIANT, version(2)))  # expected None: IMDSv2 required
    assert record["findings"] == ["imdsv1_allowed"] and record["kind"] == "ec2_fleet"
    change = record["proposed_change"]
    assert change["operation"] == "ec2:ModifyFleet" and change["params"]["FleetId"] == "fleet-1"
    assert [v["version_created"] for v in change["template_versions"]] == [3]
    assert [c["LaunchTemplateSpecification"]["Version"] for c in change["params"]["LaunchTemplateConfigs"]] == ["3", "3"]


def instance(instance_id, env, tokens="optional", hop=1, profile=None):
    owner = None
    if env:
        owner = {"kind": "elasticbeanstalk", "name": env, "tags": {"elasticbeanstalk:environment-name": env}}
    return {"instance_id": instance_id, "profile_arn": profile,
            "metadata": {"HttpTokens": tokens, "HttpPutResponseHopLimit": hop}, "owner": owner}


def test_beanstalk_environments_grouped_by_their_tag():
    instances = [instance("i-2", "web", profile=PROFILE_ARN), instance("i-1", "web"), instance("i-3", None),
                 instance("i-4", "api", tokens="required", hop=2, profile=PROFILE_ARN)]
    api, web = rs.beanstalk_environments(instances, EXPECTED)
    assert (api["name"], api["instances"], api["compliant"], api["proposed_change"]) == ("api", ["i-4"], True, None)
    assert web["instances"] == ["i-1", "i-2"] and web["kind"] == "elasticbeanstalk"
    assert web["findings"] == ["hop_limit_below_minimum", "imdsv1_allowed", "no_profile"]
    assert web["instance_findings"]["i-1"] == ["no_profile", "imdsv1_allowed", "hop_limit_below_minimum"]
    change = web["proposed_change"]
    assert change["operation"] == "elasticbeanstalk:UpdateEnvironment"
    assert change["params"] == {"EnvironmentName": "web", "OptionSettings": [
        {"Namespace": "aws:autoscaling:launchconfiguration", "OptionName": "IamInstanceProfile", "Value": "app"},
        {"Namespace": "aws:autoscaling:launchconfiguration", "OptionName": "DisableIMDSv1", "Value": "true"}]}
    assert "no option for hop_limit_below_minimum" in change["summary"]
    assert rs.beanstalk_environments([instance("i-5", None)]) == []


# ---------------------------------------------------------------- report-only readers (I/O)

def test_observe_spot_fleets_reads_active_requests_and_their_versions():
    ec2 = boto3.client("ec2", region_name="us-east-1", aws_access_key_id="a", aws_secret_access_key="b")
    now = datetime.datetime(2026, 1, 1)
    configs = [dict(spot([lt_config("1")]), CreateTime=now),
               dict(spot([lt_config("1")], state="cancelled"), SpotFleetRequestId="sfr-0", CreateTime=now),
               dict(spot(specs=[{"ImageId": "ami-1"}], state="submitted"), SpotFleetRequestId="sfr-2", CreateTime=now)]
    with Stubber(ec2) as stub:
        stub.add_response("describe_spot_fleet_requests", {"SpotFleetRequestConfigs": configs}, {})
        stub.add_response("describe_launch_template_versions", {"LaunchTemplateVersions": [NON_COMPLIANT]},
                          {"LaunchTemplateId": LT, "Versions": ["$Latest", "1"]})
        records = rs.observe_spot_fleets(ec2)
        stub.assert_no_pending_responses()
    assert [(r["id"], r["state"], r["findings"]) for r in records] == [("sfr-1", "active", ["imdsv1_allowed"]),
                                                                       ("sfr-2", "submitted", ["imdsv1_allowed"])]


@mock_aws
def test_observe_ec2_fleets_leaves_instant_fleets_out():
    ec2 = boto3.client("ec2", region_name="us-east-1")
    ec2.create_launch_template(LaunchTemplateName="fleet", LaunchTemplateData={
        "ImageId": "ami-12345678", "InstanceType": "t3.micro", "MetadataOptions": {"HttpTokens": "optional"}})
    for fleet_type in ("maintain", "instant", "request"):
        ec2.create_fleet(Type=fleet_type, TargetCapacitySpecification={"TotalTargetCapacity": 1,
                                                                       "DefaultTargetCapacityType": "spot"},
                         LaunchTemplateConfigs=[{"LaunchTemplateSpecification": {"LaunchTemplateName": "fleet",
                                                                                 "Version": "$Latest"}}])
    records = rs.observe_ec2_fleets(ec2, {"http_tokens": "required"})
    assert sorted(r["type"] for r in records) == ["maintain", "request"]
    for record in records:
        assert record["findings"] == ["imdsv1_allowed"] and record["launch_templates"][0]["version"] == 1
        assert record["proposed_change"]["operation"] is None  # $Latest: the new version is launched as it is
        assert record["proposed_change"]["template_versions"][0]["version_created"] == 2


def test_node_groups_sharing_a_template_get_numbers_in_order():
    def item(name, template, number, action="create_version"):
        return {"name": name, "template_id": template, "action": action, "version_created": number,
                "launch_template_after": {"id": template, "version": str(number)},
                "reason": "version %d from version 1 with the metadata options" % number}
    items = ms.number_versions([item("a", "lt-1", 6), item("b", "lt-1", 6), item("c", "lt-2", 3),
                                item("d", "lt-1", 6, action="none")])
    assert [(i["name"], i["version_created"], i["launch_template_after"]["version"]) for i in items] == [
        ("a", 6, "6"), ("b", 7, "7"), ("c", 3, "3"), ("d", 6, "6")]
    assert items[1]["reason"].startswith("version 7 from version 1")
