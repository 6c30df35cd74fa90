"""Guardrails for the organization (issue 25), on the moto server: an organization with OUs prod and sandbox, a prod
account whose Auto Scaling group launches from a template that does not require IMDSv2. The preflight names the
template and the group and the attach is refused; once they are compliant the preflight is clean and the guardrail
attaches to prod only; a launch without IMDSv2 is then refused in the prod account and allowed in sandbox;
`state: absent` restores the organization exactly; reruns are changed=0; check mode changes nothing."""

from __future__ import annotations

import json

import pytest
from botocore.exceptions import ClientError

from tests.support.fleet_seed import assumed_session, put_metric_history
from tests.support.launch_sources_seed import MOTO_IMAGE
from tests.support.playbook import run_playbook
from tests.support.strict import strict_off

pytestmark = pytest.mark.integration

REGION = "us-east-1"
MEMBER_ROLE = "OrganizationAccountAccessRole"
NAME = "keyless-imds-guardrail"


def member(url, account, service):
    session = assumed_session(url, "arn:aws:iam::%s:role/%s" % (account, MEMBER_ROLE))
    return session.client(service, region_name=REGION, endpoint_url=url)


def build(moto):
    orgs = moto.client("organizations")
    orgs.create_organization(FeatureSet="ALL")
    root = orgs.list_roots()["Roots"][0]["Id"]
    for policy_type in ("SERVICE_CONTROL_POLICY", "DECLARATIVE_POLICY_EC2"):
        orgs.enable_policy_type(RootId=root, PolicyType=policy_type)
    ous = {name: orgs.create_organizational_unit(ParentId=root, Name=name)["OrganizationalUnit"]["Id"]
           for name in ("prod", "sandbox")}
    accounts = {}
    for name in ("prod", "sandbox"):
        account = orgs.create_account(Email="%s@example.com" % name, AccountName=name)["CreateAccountStatus"]["AccountId"]
        orgs.move_account(AccountId=account, SourceParentId=root, DestinationParentId=ous[name])
        accounts[name] = account
    return root, ous, accounts


def seed_prod(url, account):
    """The prod account's launch source: template web (HttpTokens optional) and the group web-asg on its $Default."""
    with strict_off(url):
        ec2 = member(url, account, "ec2")
        asg = member(url, account, "autoscaling")
        template = ec2.create_launch_template(LaunchTemplateName="web", LaunchTemplateData={
            "ImageId": MOTO_IMAGE, "InstanceType": "t3.micro",
            "MetadataOptions": {"HttpTokens": "optional", "HttpPutResponseHopLimit": 1}})["LaunchTemplate"]
        asg.create_auto_scaling_group(AutoScalingGroupName="web-asg", MinSize=0, MaxSize=2, DesiredCapacity=1,
                                      AvailabilityZones=[REGION + "a"],
                                      LaunchTemplate={"LaunchTemplateId": template["LaunchTemplateId"],
                                                      "Version": "$Default"})
        # the group's instance has run for weeks without an IMDSv1 call: EC2's daily MetadataNoToken history of zeros
        running = [i["InstanceId"] for r in ec2.describe_instances()["Reservations"] for i in r["Instances"]]
        put_metric_history(member(url, account, "cloudwatch"), running, 14)
    return template["LaunchTemplateId"]


def make_compliant(url, account, template_id):
    """What keyless.aws.ec2_launch_template_identity does: a version that requires IMDSv2, made the default."""
    with strict_off(url):
        ec2 = member(url, account, "ec2")
        version = ec2.create_launch_template_version(
            LaunchTemplateId=template_id, SourceVersion="1",
            LaunchTemplateData={"MetadataOptions": {"HttpTokens": "required", "HttpPutResponseHopLimit": 2}})
        ec2.modify_launch_template(LaunchTemplateId=template_id,
                                   DefaultVersion=str(version["LaunchTemplateVersion"]["VersionNumber"]))


def organization_state(moto, targets):
    """Every policy (id, name, type, content, tags) and what each target has attached: compared before and after."""
    orgs = moto.client("organizations")
    state = {"policies": {}, "attached": {}}
    for policy_type in ("SERVICE_CONTROL_POLICY", "DECLARATIVE_POLICY_EC2"):
        for summary in orgs.list_policies(Filter=policy_type)["Policies"]:
            content = orgs.describe_policy(PolicyId=summary["Id"])["Policy"]["Content"]
            tags = orgs.list_tags_for_resource(ResourceId=summary["Id"])["Tags"]
            state["policies"][summary["Id"]] = (summary["Name"], policy_type, content, sorted(map(str, tags)))
        for target in targets:
            state["attached"].setdefault(target, []).extend(
                sorted(p["Id"] for p in orgs.list_policies_for_target(TargetId=target, Filter=policy_type)["Policies"]))
    return state


def run_guardrail(moto, tmp_path, args, check=False, diff=False, module="organizations_guardrail"):
    out = tmp_path / "outcome.json"
    playbook = """
- name: Guardrail
  hosts: localhost
  gather_facts: false
  tasks:
    - name: Run %s
      keyless.aws.%s: %s
      register: outcome
      ignore_errors: true
    - name: Save it
      ansible.builtin.copy:
        content: "{{ outcome | to_json }}"
        dest: %s
        mode: "0644"
      check_mode: false
""" % (module, module, json.dumps(args), out)
    result = run_playbook(playbook, moto.url, check=check, diff=diff)
    assert out.exists(), result.stdout + result.stderr
    return json.loads(out.read_text())


def launch(url, account, tokens=None):
    ec2 = member(url, account, "ec2")
    options = {"MetadataOptions": {"HttpTokens": tokens}} if tokens else {}
    return ec2.run_instances(ImageId=MOTO_IMAGE, InstanceType="t3.micro", MinCount=1, MaxCount=1, **options)


def test_guardrail_preflight_attach_enforce_and_remove(moto, tmp_path):
    url = moto.url
    root, ous, accounts = build(moto)
    template_id = seed_prod(url, accounts["prod"])
    targets = [root, ous["prod"], ous["sandbox"], accounts["prod"], accounts["sandbox"]]
    before = organization_state(moto, targets)
    args = {"targets": [ous["prod"]], "regions": [REGION],
            "policy_types": ["service_control_policy", "declarative_policy_ec2"],
            "exempt_principal_arns": ["arn:aws:iam::*:role/keyless-deployer"]}

    # 1. the preflight names the template and the group; nothing is created or attached
    refused = run_guardrail(moto, tmp_path, args)
    assert refused["failed"] and refused["stopped_at"] == ous["prod"], refused.get("msg")
    ids = set(refused["blocking"])
    assert "%s:%s:launch_template:%s" % (accounts["prod"], REGION, template_id) in ids
    assert "%s:%s:autoscaling_group:web-asg" % (accounts["prod"], REGION) in ids
    template_finding = next(f for a in refused["preflight"][0]["accounts"] for f in a["findings"]
                            if f["kind"] == "launch_template")
    assert template_finding["used_by"] == ["web-asg"] and "HttpTokens optional" in template_finding["reasons"][0]
    assert "web-asg" in refused["preflight_markdown"]
    assert not refused["changed"] and refused["changes"] == []
    assert organization_state(moto, targets) == before

    # 2. compliant sources: the preflight is clean; check mode predicts and changes nothing
    make_compliant(url, accounts["prod"], template_id)
    predicted = run_guardrail(moto, tmp_path, args, check=True, diff=True)
    assert not predicted.get("failed"), predicted.get("msg")
    assert predicted["changed"] and predicted["preflight"][0]["clean"]
    assert [c["action"] for c in predicted["changes"]] == ["create_policy", "attach_policy"] * 2
    assert predicted["policies"][NAME]["targets"] == [ous["prod"]]
    statements = {s["Sid"]: s for s in predicted["policies"][NAME]["content"]["Statement"]}
    assert statements["RequireImdsv2AtLaunch"]["Condition"] == {"StringNotEquals": {"ec2:MetadataHttpTokens": "required"}}
    assert statements["DenyImdsv1RoleCredentials"]["Condition"] == {"NumericLessThan": {"ec2:RoleDelivery": "2.0"}}
    assert predicted["diff"]["before"] == {} and NAME in predicted["diff"]["after"]
    assert organization_state(moto, targets) == before

    # 3. attach to prod only; a rerun changes nothing
    attached = run_guardrail(moto, tmp_path, args)
    assert not attached.get("failed"), attached.get("msg")
    assert attached["changed"] and attached["policies"][NAME]["targets"] == [ous["prod"]]
    assert attached["policies"][NAME + "-ec2-defaults"]["targets"] == [ous["prod"]]
    orgs = moto.client("organizations")
    policy_id = attached["policies"][NAME]["id"]
    assert [t["TargetId"] for t in orgs.list_targets_for_policy(PolicyId=policy_id)["Targets"]] == [ous["prod"]]
    tags = {t["Key"]: t["Value"] for t in orgs.list_tags_for_resource(ResourceId=policy_id)["Tags"]}
    assert tags == {"keyless:managed-by": "keyless.aws", "keyless:guardrail": NAME}
    effective = json.loads(orgs.describe_effective_policy(PolicyType="DECLARATIVE_POLICY_EC2",
                                                          TargetId=accounts["prod"])["EffectivePolicy"]["PolicyContent"])
    assert effective["ec2_attributes"]["instance_metadata_defaults"]["http_tokens"] == {"@@assign": "required"}
    again = run_guardrail(moto, tmp_path, args)
    assert not again.get("failed") and not again["changed"] and again["changes"] == [], again.get("msg")
    assert again["preflight"] == []  # everything in place: no member account is read again

    # 4. enforced: prod refuses a launch without IMDSv2 and allows one with it; sandbox allows both
    with pytest.raises(ClientError) as denied:
        launch(url, accounts["prod"])
    assert denied.value.response["Error"]["Code"] == "UnauthorizedOperation"
    assert launch(url, accounts["prod"], "required")["Instances"]
    assert launch(url, accounts["sandbox"])["Instances"]

    # 5. absent restores the organization exactly; a rerun changes nothing; the launch is allowed again
    removed = run_guardrail(moto, tmp_path, {"state": "absent"})
    assert not removed.get("failed") and removed["changed"], removed.get("msg")
    assert sorted(c["action"] for c in removed["changes"]) == ["delete_policy"] * 2 + ["detach_policy"] * 2
    assert organization_state(moto, targets) == before
    assert not run_guardrail(moto, tmp_path, {"state": "absent"})["changed"]
    assert launch(url, accounts["prod"])["Instances"]


def test_guardrail_leaves_a_policy_it_did_not_create(moto, tmp_path):
    """A policy with the guardrail's name that is not tagged as ours is never updated, attached or deleted."""
    root, ous, _accounts = build(moto)
    orgs = moto.client("organizations")
    foreign = orgs.create_policy(Name=NAME, Type="SERVICE_CONTROL_POLICY", Description="theirs",
                                 Content=json.dumps({"Version": "2012-10-17", "Statement": [
                                     {"Effect": "Deny", "Action": "s3:DeleteBucket", "Resource": "*"}]}))
    foreign_id = foreign["Policy"]["PolicySummary"]["Id"]
    present = run_guardrail(moto, tmp_path, {"targets": [ous["sandbox"]], "regions": [REGION]})
    assert present["failed"] and "not tagged" in present["msg"] and not present["changed"]
    absent = run_guardrail(moto, tmp_path, {"state": "absent"})
    assert not absent.get("failed") and not absent["changed"], absent.get("msg")
    assert orgs.describe_policy(PolicyId=foreign_id)["Policy"]["PolicySummary"]["Description"] == "theirs"
    root_run = run_guardrail(moto, tmp_path, {"targets": [root], "regions": [REGION], "name": "other"})
    assert root_run["failed"] and "allow_root" in root_run["msg"]
