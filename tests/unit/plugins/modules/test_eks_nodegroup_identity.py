"""eks_nodegroup_identity against the in-process moto server (strict layer on; seeding under strict_off), and the
EKS handlers tests/support/moto_eks.py adds to moto."""

from __future__ import annotations

import boto3
import botocore.client
import botocore.exceptions
import pytest

from ansible_collections.keyless.aws.plugins.module_utils.aws import connection
from ansible_collections.keyless.aws.plugins.modules import eks_nodegroup_identity as mod
from tests.support import moto_eks
from tests.support.module_runner import DEFAULT_CONN, run_module
from tests.support.moto_server import MotoServer, calls, reset_moto
from tests.support.strict import strict_off

ACCOUNT = "123456789012"
NODE_ROLE = "arn:aws:iam::%s:role/eks-node" % ACCOUNT

pytestmark = pytest.mark.usefixtures("shared_botocore_loader")


@pytest.fixture(scope="module")
def server():
    with MotoServer() as running:
        yield running


@pytest.fixture
def aws(server, monkeypatch):
    """An empty account at the server; the clients seed and read back (not the subject: strict layer off)."""
    reset_moto(server.url)
    monkeypatch.setitem(moto_eks.ROLLOUT, "seconds", 0.0)
    kwargs = dict(region_name="us-east-1", endpoint_url=server.url, aws_access_key_id=DEFAULT_CONN["access_key"],
                  aws_secret_access_key=DEFAULT_CONN["secret_key"])
    return {"url": server.url, "ec2": boto3.client("ec2", **kwargs), "eks": boto3.client("eks", **kwargs)}


def seed(aws, nodegroups, cluster="prod"):
    """nodegroups: {name: launch template data, or None for the template EKS generates}."""
    templates = {}
    with strict_off(aws["url"]):
        aws["eks"].create_cluster(name=cluster, roleArn="arn:aws:iam::%s:role/eks" % ACCOUNT,
                                  resourcesVpcConfig={"subnetIds": ["subnet-0123456789abcdef0"]})
        for name, data in nodegroups.items():
            kwargs = {}
            if data is not None:
                lt = aws["ec2"].create_launch_template(LaunchTemplateName="%s-%s" % (cluster, name),
                                                       LaunchTemplateData=data)["LaunchTemplate"]
                templates[name] = lt["LaunchTemplateId"]
                kwargs["launchTemplate"] = {"id": lt["LaunchTemplateId"], "version": "1"}
            aws["eks"].create_nodegroup(clusterName=cluster, nodegroupName=name, nodeRole=NODE_ROLE,
                                        subnets=["subnet-0123456789abcdef0"], **kwargs)
    return templates


def run(aws, args, **kwargs):
    return run_module(mod.main, dict(args, endpoint_url=aws["url"]), **kwargs)


def mutating(aws):
    made = []
    for key, count in calls(aws["url"])["counts"].items():
        if key.startswith(("ec2:Create", "eks:POST")):
            made.extend([key] * count)
    return sorted(made)


def nodegroup(aws, name, cluster="prod"):
    return aws["eks"].describe_nodegroup(clusterName=cluster, nodegroupName=name)["nodegroup"]


def template_data(aws, template_id, version):
    found = aws["ec2"].describe_launch_template_versions(LaunchTemplateId=template_id, Versions=[str(version)])
    return found["LaunchTemplateVersions"][0]["LaunchTemplateData"]


WORKERS = {"ImageId": "ami-12345678", "InstanceType": "m5.large", "UserData": "IyEvYmluL2Jhc2g=",
           "MetadataOptions": {"HttpTokens": "optional", "HttpPutResponseHopLimit": 2}}
TIGHT = {"ImageId": "ami-12345678", "MetadataOptions": {"HttpTokens": "required", "HttpPutResponseHopLimit": 1}}


def test_check_mode_then_converge_then_unchanged(aws):
    templates = seed(aws, {"workers": WORKERS, "generated": None, "tight": TIGHT})
    args = {"clusters": ["prod"], "http_tokens": "required"}
    calls(aws["url"], reset=True)
    predicted = run(aws, args, check_mode=True, diff=True)
    assert predicted.changed and not predicted.failed, predicted
    assert mutating(aws) == []
    by_name = {n["name"]: n for n in predicted["nodegroups"]}
    assert [n["name"] for n in predicted["nodegroups"]] == ["generated", "tight", "workers"]
    workers = by_name["workers"]
    assert (workers["action"], workers["status"], workers["version_created"]) == ("create_version", "changed", 2)
    assert workers["launch_template_before"] == {"id": templates["workers"], "name": "prod-workers", "version": "1"}
    assert workers["launch_template_after"]["version"] == "2"
    assert predicted["diff"] == {"before": {"nodegroups": {"prod/workers": {"metadata_options": {"http_tokens": "optional"}}}},
                                 "after": {"nodegroups": {"prod/workers": {"metadata_options": {"http_tokens": "required"}}}}}
    generated = by_name["generated"]
    assert generated["status"] == "held" and generated["launch_template_before"] is None
    assert "MetadataOptions {HttpTokens: required, HttpPutResponseHopLimit: 2}" in generated["reason"]
    # a template already at IMDSv2 with 1 hop by the owner's choice: the given option holds, nothing to do
    assert by_name["tight"]["status"] == "unchanged"
    assert nodegroup(aws, "workers")["launchTemplate"]["version"] == "1"

    fixed = run(aws, args, diff=True)
    assert fixed.changed and not fixed.failed, fixed
    assert sorted(mutating(aws)) == ["ec2:CreateLaunchTemplateVersion", "eks:POST /clusters/prod/node-groups/workers/update-version"]
    workers = {n["name"]: n for n in fixed["nodegroups"]}["workers"]
    assert workers["update_id"] and workers["version_created"] == 2
    assert workers["changed_fields"] == ["MetadataOptions.HttpTokens"]
    assert fixed["summary"] == {"total": 3, "changed": 1, "unchanged": 1, "held": 1, "skipped": 0, "failed": 0,
                                "by_action": {"create_version": 1, "hold": 1, "none": 1}}
    assert any("prod/generated held" in str(w) for w in fixed["warnings"]), fixed["warnings"]
    assert nodegroup(aws, "workers")["launchTemplate"] == {"id": templates["workers"], "name": "prod-workers", "version": "2"}
    data = template_data(aws, templates["workers"], 2)
    # only the given field changed: hop limit 2, the AMI, the instance type and the user data survive
    assert data["MetadataOptions"] == {"HttpTokens": "required", "HttpPutResponseHopLimit": 2}
    assert (data["ImageId"], data["InstanceType"], data["UserData"]) == ("ami-12345678", "m5.large", "IyEvYmluL2Jhc2g=")
    assert "IamInstanceProfile" not in data

    calls(aws["url"], reset=True)
    again = run(aws, args)
    assert not again.changed and calls(aws["url"])["mutating"] == 0
    assert [n["status"] for n in again["nodegroups"]] == ["held", "unchanged", "unchanged"]


def test_hop_limit_below_2_is_refused_unless_allowed(aws):
    templates = seed(aws, {"bare": {"ImageId": "ami-12345678"}, "tight": TIGHT})
    held = run(aws, {"clusters": ["prod"], "nodegroups": ["bare"], "http_tokens": "required"})
    assert not held.changed and held["nodegroups"][0]["status"] == "held"
    assert "no hop limit (EC2's default is 1)" in held["nodegroups"][0]["reason"]
    lowered = run(aws, {"clusters": ["prod"], "nodegroups": ["bare"], "http_put_response_hop_limit": 2,
                        "http_tokens": "required"})
    assert lowered.changed and template_data(aws, templates["bare"], 2)["MetadataOptions"] == {
        "HttpTokens": "required", "HttpPutResponseHopLimit": 2}
    # tokens already required at 1 hop: lowering nothing, but asking for hop 1 with tokens required is refused...
    refused = run(aws, {"clusters": ["prod"], "http_tokens": "required", "http_put_response_hop_limit": 1})
    assert refused.failed and "allow_hop_limit_1" in refused["msg"]
    # ...unless allowed: EKS's best practice keeps pods away from the node role
    allowed = run(aws, {"clusters": ["prod"], "nodegroups": ["bare"], "http_tokens": "required",
                        "http_put_response_hop_limit": 1, "allow_hop_limit_1": True})
    assert allowed.changed and nodegroup(aws, "bare")["launchTemplate"]["version"] == "3"


def test_update_in_progress_is_held_not_failed(aws, monkeypatch):
    templates = seed(aws, {"workers": WORKERS})
    args = {"clusters": ["prod"], "http_tokens": "required"}
    monkeypatch.setitem(moto_eks.ROLLOUT, "seconds", 3600.0)
    assert run(aws, args).changed
    assert nodegroup(aws, "workers")["status"] == "UPDATING"
    calls(aws["url"], reset=True)
    busy = run(aws, args)
    assert not busy.changed and not busy.failed and busy["nodegroups"][0]["status"] == "held"
    assert "UPDATING" in busy["nodegroups"][0]["reason"] and mutating(aws) == []
    # ACTIVE as read, but EKS still has the update: UpdateNodegroupVersion answers ResourceInUseException
    from moto.eks.models import eks_backends
    eks_backends[ACCOUNT]["us-east-1"].clusters["prod"].nodegroups["workers"].status = "ACTIVE"
    raced = run(aws, args)
    [item] = raced["nodegroups"]
    assert not raced.failed and item["status"] == "held" and "ResourceInUseException" in item["reason"]
    assert item["action"] == "update_nodegroup"  # the version of the first run is reused, not created again
    assert aws["ec2"].describe_launch_templates(LaunchTemplateIds=[templates["workers"]])[
        "LaunchTemplates"][0]["LatestVersionNumber"] == 2
    monkeypatch.setitem(moto_eks.ROLLOUT, "seconds", 0.0)
    done = run(aws, args)
    assert not done.changed and done["nodegroups"][0]["status"] == "unchanged"


def test_template_with_instance_profile_and_missing_version_are_held(aws):
    templates = seed(aws, {"profiled": dict(WORKERS, IamInstanceProfile={"Name": "old"}), "workers": WORKERS})
    with strict_off(aws["url"]):
        aws["ec2"].delete_launch_template(LaunchTemplateId=templates["workers"])
    result = run(aws, {"clusters": ["prod"], "http_tokens": "required"})
    assert not result.changed and not result.failed
    profiled, workers = result["nodegroups"]
    assert profiled["status"] == "held" and "IamInstanceProfile" in profiled["reason"]
    assert workers["status"] == "held" and "does not exist any more" in workers["reason"]


def test_one_failure_does_not_stop_the_others(aws, monkeypatch):
    seed(aws, {"a": WORKERS, "b": WORKERS})
    real = botocore.client.BaseClient._make_api_call

    def failing(self, operation, params):
        if operation == "UpdateNodegroupVersion" and params.get("nodegroupName") == "a":
            raise botocore.exceptions.ClientError({"Error": {"Code": "AccessDeniedException", "Message": "no"}}, operation)
        return real(self, operation, params)

    monkeypatch.setattr(botocore.client.BaseClient, "_make_api_call", failing)
    result = run(aws, {"clusters": ["prod"], "http_tokens": "required"})
    assert result.failed and result.changed and "prod/a" in result["msg"] and "AccessDeniedException" in result["msg"]
    assert [(n["name"], n["status"]) for n in result["nodegroups"]] == [("a", "failed"), ("b", "changed")]
    assert result["failed_nodegroups"][0]["name"] == "a"
    assert nodegroup(aws, "b")["launchTemplate"]["version"] == "2"
    monkeypatch.setattr(botocore.client.BaseClient, "_make_api_call", real)
    rerun = run(aws, {"clusters": ["prod"], "http_tokens": "required"})
    assert rerun.changed and rerun["nodegroups"][0]["action"] == "update_nodegroup"  # reuses version 2
    assert nodegroup(aws, "a")["launchTemplate"]["version"] == "2"


def test_missing_cluster_or_nodegroup_fails_naming_it(aws):
    seed(aws, {"workers": WORKERS})
    gone = run(aws, {"clusters": ["prod", "nosuch"], "http_tokens": "required"})
    assert gone.failed and "clusters nosuch do not exist" in gone["msg"]
    missing = run(aws, {"clusters": ["prod"], "nodegroups": ["workers", "ghost"], "http_tokens": "required"})
    assert missing.failed and "nodegroups ghost" in missing["msg"]


@pytest.mark.parametrize("args,message", [
    ({"clusters": ["prod"]}, "nothing to ensure"),
    ({"clusters": [], "http_tokens": "required"}, "clusters is empty"),
    ({"clusters": ["-bad"], "http_tokens": "required"}, "clusters has invalid names '-bad'"),
    ({"clusters": ["prod"], "nodegroups": ["a b"], "http_tokens": "required"}, "nodegroups has invalid names"),
    ({"clusters": ["prod"], "http_put_response_hop_limit": 65}, "http_put_response_hop_limit=65"),
    ({"clusters": ["prod"], "http_tokens": "required", "http_put_response_hop_limit": 1}, "allow_hop_limit_1=true"),
])
def test_validation_before_any_call(args, message, monkeypatch):
    monkeypatch.setattr(connection.AwsContext, "__init__", lambda *a, **k: pytest.fail("AWS was contacted"))
    result = run_module(mod.main, args)
    assert result.failed and message in result["msg"], result["msg"]


def test_test_endpoint_answers_node_group_updates_like_aws(aws, monkeypatch):
    """tests/support/moto_eks.py: the version a node group names is a number, UpdateNodegroupVersion refuses a
    node group without a launch template or with an update in progress, DescribeUpdate/ListUpdates read it."""
    templates = seed(aws, {"workers": WORKERS, "generated": None})
    eks, ec2 = aws["eks"], aws["ec2"]
    with strict_off(aws["url"]):
        ec2.create_launch_template_version(LaunchTemplateId=templates["workers"], SourceVersion="1",
                                           LaunchTemplateData={"ImageId": "ami-87654321"})
    eks.create_nodegroup(clusterName="prod", nodegroupName="latest", nodeRole=NODE_ROLE, subnets=["subnet-1"],
                         launchTemplate={"name": "prod-workers", "version": "$Latest"})
    assert nodegroup(aws, "latest")["launchTemplate"]["version"] == "2"
    assert "launchTemplate" not in nodegroup(aws, "generated")
    with pytest.raises(botocore.exceptions.ClientError, match="InvalidParameterException"):
        eks.update_nodegroup_version(clusterName="prod", nodegroupName="generated",
                                     launchTemplate={"id": templates["workers"], "version": "2"})
    monkeypatch.setitem(moto_eks.ROLLOUT, "seconds", 3600.0)
    update = eks.update_nodegroup_version(clusterName="prod", nodegroupName="workers",
                                          launchTemplate={"id": templates["workers"], "version": "2"})["update"]
    assert (update["status"], update["type"]) == ("InProgress", "VersionUpdate")
    with pytest.raises(botocore.exceptions.ClientError, match="ResourceInUseException"):
        eks.update_nodegroup_version(clusterName="prod", nodegroupName="workers",
                                     launchTemplate={"id": templates["workers"], "version": "2"})
    assert eks.list_updates(name="prod", nodegroupName="workers")["updateIds"] == [update["id"]]
    monkeypatch.setitem(moto_eks.ROLLOUT, "seconds", 0.0)
    read = eks.describe_update(name="prod", nodegroupName="workers", updateId=update["id"])["update"]
    assert read["status"] == "Successful" and nodegroup(aws, "workers")["launchTemplate"]["version"] == "2"
    assert nodegroup(aws, "workers")["status"] == "ACTIVE"
