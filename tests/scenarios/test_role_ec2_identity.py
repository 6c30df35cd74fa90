"""The ec2_identity role end to end: real ansible-playbook against the moto server, a seeded fleet.

The final state is read with boto3 (fleet_state: profile from the active association, metadata options
from DescribeInstances), never from the role's own report. Each test keeps its playbook runs few: every
run of ansible-playbook costs seconds.
"""

from __future__ import annotations

import json

import pytest

from tests.support.fleet_seed import fleet_state, seed_fleet
from tests.support.moto_server import mutating_calls
from tests.support.playbook import role_playbook, run_playbook

pytestmark = pytest.mark.integration

ACCOUNT = "123456789012"
CLOUDWATCH = "arn:aws:iam::aws:policy/CloudWatchAgentServerPolicy"
APP_ACCESS = {"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Action": ["s3:GetObject", "s3:ListBucket"],
     "Resource": ["arn:aws:s3:::my-app-data", "arn:aws:s3:::my-app-data/*"]}]}
ALIVE = ("running", "stopped")


def converge_playbook(result_file, **role_vars):
    """A play that includes the role with role_vars and writes ec2_identity_result to result_file."""
    params = dict({"ec2_identity_role_name": "WebApp", "ec2_identity_instance_tags": {"Fleet": "web"},
                   "ec2_identity_managed_policies": [CLOUDWATCH],
                   "ec2_identity_inline_policies": {"AppAccess": APP_ACCESS},
                   "ec2_identity_batch_size": 15}, **role_vars)
    return role_playbook(result_file, params)


def test_check_first_run_rerun(moto, tmp_path):
    url = moto.url
    fleet = seed_fleet(url, 45, prefix="web", seed=3, control_group=3, imdsv1_callers=3)
    reports = tmp_path / "reports"
    result_file = tmp_path / "result.json"
    play = converge_playbook(result_file, ec2_identity_report_dir=str(reports))
    iam = moto.client("iam")
    moto.reset_calls()

    # --check --diff on an account without the role: no mutating call, predicted ARNs, predicted report
    check = run_playbook(play, url, check=True, diff=True)
    assert check.rc == 0, check
    assert mutating_calls(moto.calls()) == {}
    predicted = json.loads(result_file.read_text())
    assert predicted["check_mode"] is True
    assert predicted["role_arn"] == "arn:aws:iam::%s:role/WebApp" % ACCOUNT
    assert predicted["instance_profile_arn"] == "arn:aws:iam::%s:instance-profile/WebApp" % ACCOUNT
    assert predicted["counts"]["changed"] > 0
    assert "WebApp" not in [r["RoleName"] for r in iam.list_roles()["Roles"]]
    assert "Check mode" in (reports / "localhost-WebApp.md").read_text()

    # first run: converges; the batches are shown
    first = run_playbook(play, url)
    assert first.rc == 0, first
    assert first.changed > 0
    assert "batch 1/3: 15 instances" in first.stdout and "batch 3/3:" in first.stdout
    result = json.loads(result_file.read_text())
    profile_arn = result["instance_profile_arn"]
    state = fleet_state(url, fleet["all"] + fleet["control_group"])
    held = set(fleet["imdsv1_callers"])
    for iid in fleet["all"]:
        inst = state[iid]
        if inst["state"] not in ALIVE:
            continue
        assert inst["profile_arn"] == profile_arn, (iid, inst)
        if iid in held:
            assert inst["metadata"]["HttpTokens"] == "optional", (iid, inst)
        else:
            assert inst["metadata"]["HttpTokens"] == "required", (iid, inst)
        assert inst["metadata"]["HttpEndpoint"] == "enabled"
    for iid in fleet["hop_limit_2"]:
        if state[iid]["state"] in ALIVE:
            assert state[iid]["metadata"]["HttpPutResponseHopLimit"] == 2, iid
    for iid in fleet["control_group"]:  # outside the selector: untouched
        assert state[iid]["profile_arn"] == fleet["profiles"]["other"]
        assert state[iid]["metadata"]["HttpTokens"] == "optional"
    assert [p["PolicyArn"] for p in iam.list_attached_role_policies(RoleName="WebApp")["AttachedPolicies"]] == [CLOUDWATCH]
    assert iam.list_role_policies(RoleName="WebApp")["PolicyNames"] == ["AppAccess"]
    assert result["role_arn"] == iam.get_role(RoleName="WebApp")["Role"]["Arn"]
    assert {h["instance_id"] for h in result["held"]} == held
    assert all(h["imdsv1_calls"] > 0 for h in result["held"])
    assert result["counts"]["failed"] == 0
    assert result["compliance"]["after"]["non_compliant"] == len(held)
    report = json.loads((reports / "localhost-WebApp.json").read_text())
    assert report["result"]["counts"] == result["counts"]
    markdown = (reports / "localhost-WebApp.md").read_text()
    assert "## Held back" in markdown and sorted(held)[0] in markdown

    # rerun: changed=0 and not one mutating API call
    moto.reset_calls()
    second = run_playbook(play, url)
    assert second.rc == 0, second
    assert second.changed == 0, second
    assert mutating_calls(moto.calls()) == {}
    assert json.loads(result_file.read_text())["counts"]["changed"] == 0


def test_two_applications_in_one_play(moto, tmp_path):
    """include_role and import_role of two applications in one play: no variable leaks between them."""
    url = moto.url
    web = seed_fleet(url, 8, prefix="web", seed=1, imdsv1_callers=0, tag={"Fleet": "web"})
    api = seed_fleet(url, 6, prefix="api", seed=2, imdsv1_callers=0, tag={"Fleet": "api"})
    out = tmp_path / "results.json"
    play = """
- name: Two applications
  hosts: localhost
  gather_facts: false
  tasks:
    - name: Web application (include_role)
      ansible.builtin.include_role:
        name: keyless.aws.ec2_identity
      vars:
        ec2_identity_role_name: WebApp
        ec2_identity_instance_tags: {Fleet: web}
        ec2_identity_http_put_response_hop_limit: 2
        ec2_identity_managed_policies: [%(cw)s]
        ec2_identity_report_dir: %(dir)s
    - name: API application (import_role)
      ansible.builtin.import_role:
        name: keyless.aws.ec2_identity
      vars:
        ec2_identity_role_name: ApiApp
        ec2_identity_instance_tags: {Fleet: api}
        ec2_identity_report_dir: %(dir)s
    - name: Save the results
      ansible.builtin.copy:
        content: "{{ {'last': ec2_identity_result, 'all': ec2_identity_results} | to_json }}"
        dest: %(out)s
        mode: "0644"
""" % {"cw": CLOUDWATCH, "dir": tmp_path, "out": out}
    res = run_playbook(play, url)
    assert res.rc == 0, res
    results = json.loads(out.read_text())
    assert sorted(results["all"]) == ["ApiApp", "WebApp"]
    assert results["last"]["role_name"] == "ApiApp"

    def alive(fleet):
        return [i for i in fleet["all"] if i not in fleet["terminated"]]

    assert results["all"]["WebApp"]["counts"]["selected"] == len(alive(web))
    assert results["all"]["ApiApp"]["counts"]["selected"] == len(alive(api))
    state = fleet_state(url, web["all"] + api["all"])
    for fleet, name, hop in ((web, "WebApp", 2), (api, "ApiApp", None)):
        for iid in alive(fleet):
            assert state[iid]["profile_arn"].endswith("/" + name), (iid, state[iid])
            if hop:
                assert state[iid]["metadata"]["HttpPutResponseHopLimit"] == hop
    # the web hop limit did not leak into the API application (it keeps its seeded limits)
    for iid in alive(api):
        seeded = 2 if iid in api["hop_limit_2"] else 1
        assert state[iid]["metadata"]["HttpPutResponseHopLimit"] == seeded, iid
    iam = moto.client("iam")
    assert iam.list_attached_role_policies(RoleName="ApiApp")["AttachedPolicies"] == []
    assert (tmp_path / "localhost-WebApp.md").exists() and (tmp_path / "localhost-ApiApp.md").exists()


def test_argument_spec_and_validation_fail_before_any_call(moto, tmp_path):
    """A wrong type, an unknown choice and an empty selector each fail with a message naming the variable."""
    play = """
- name: Bad inputs
  hosts: localhost
  gather_facts: false
  tasks:
    - name: Try each bad input
      ansible.builtin.include_tasks: %s
      loop:
        - {ec2_identity_role_name: App, ec2_identity_instance_tags: {Fleet: x}, ec2_identity_batch_size: lots}
        - {ec2_identity_role_name: App, ec2_identity_instance_tags: {Fleet: x}, ec2_identity_http_tokens: maybe}
        - {ec2_identity_role_name: App}
        - {ec2_identity_role_name: "bad name!", ec2_identity_all_instances: true}
      loop_control:
        loop_var: bad
""" % (tmp_path / "one.yml")
    (tmp_path / "one.yml").write_text("""
- name: One bad input
  block:
    - name: Run the role
      ansible.builtin.include_role:
        name: keyless.aws.ec2_identity
      vars:
        ec2_identity_role_name: "{{ bad.ec2_identity_role_name }}"
        ec2_identity_instance_tags: "{{ bad.ec2_identity_instance_tags | default({}) }}"
        ec2_identity_batch_size: "{{ bad.ec2_identity_batch_size | default(500) }}"
        ec2_identity_http_tokens: "{{ bad.ec2_identity_http_tokens | default('required') }}"
        ec2_identity_all_instances: "{{ bad.ec2_identity_all_instances | default(false) }}"
  rescue:
    - name: Print the failure
      ansible.builtin.debug:
        msg: "BAD_INPUT {{ ansible_failed_result.msg }}"
""")
    moto.reset_calls()
    res = run_playbook(play, moto.url)
    assert res.rc == 0, res
    msgs = [line for line in res.stdout.splitlines() if "BAD_INPUT" in line]
    assert len(msgs) == 4, res
    assert "ec2_identity_batch_size" in msgs[0] and "int" in msgs[0], msgs[0]
    assert "ec2_identity_http_tokens must be one of: optional, required, got: maybe" in msgs[1], msgs[1]
    assert "no instances selected" in msgs[2] and "ec2_identity_all_instances" in msgs[2], msgs[2]
    assert "ec2_identity_role_name" in msgs[3] and "bad name!" in msgs[3], msgs[3]
    assert moto.calls()["total"] == 0  # every check ran before any AWS call


def test_max_fail_percentage_stops_the_rollout(moto, tmp_path):
    """Instances that always fail (fault proxy) stop the rollout at the first batch over the threshold;
    later batches are not touched, and the report names every failure with its reason."""
    from tests.support.aws_proxy import AwsProxy

    url = moto.url
    fleet = seed_fleet(url, 20, prefix="web", mix="uniform")
    broken = fleet["all"][::2]  # every other instance
    result_file = tmp_path / "result.json"
    with AwsProxy(url, seed=1, fail_instances={iid: "UnauthorizedOperation" for iid in broken}) as proxy:
        play = converge_playbook(result_file, ec2_identity_batch_size=5, ec2_identity_max_fail_percentage=10,
                                 ec2_identity_endpoint_url=proxy.url, ec2_identity_report_dir=str(tmp_path))
        res = run_playbook(play, url)
    # two rescues: the role's own (it writes the report with the error, then fails with it) and the play's
    assert res.rc == 0 and res.recap["localhost"]["rescued"] == 2, res
    assert "ROLE_FAILED rollout stopped after batch 1/4" in res.stdout, res
    result = json.loads(result_file.read_text())
    # One pass: batch 2 runs while batch 1's last calls finish; batch 3 waits for batch 1's verdict, which
    # stops the rollout, so batches 3 and 4 are never touched.
    assert result["stopped"] is True and result["counts"]["batches_run"] == 2
    assert result["counts"]["not_processed"] >= 10
    failed = {f["instance_id"] for f in result["failed"]}
    assert failed and failed <= set(broken)
    assert all("UnauthorizedOperation" in f["reason"] for f in result["failed"])
    report = json.loads((tmp_path / "localhost-WebApp.json").read_text())
    touched = {i["instance_id"] for i in report["instances"]
               if any((i.get(step) or {}).get("status") in ("changed", "failed") for step in ("profile", "metadata"))}
    assert 5 <= len(touched) <= 10 and touched <= set(sorted(fleet["all"])[:10])
    state = fleet_state(url, fleet["all"])
    for iid in fleet["all"]:
        if iid not in touched:
            assert state[iid]["profile_arn"] is None and state[iid]["metadata"]["HttpTokens"] == "optional", iid
    assert "## Failures (%d)" % len(result["failed"]) in (tmp_path / "localhost-WebApp.md").read_text()


def _actions(policy):
    out = set()
    for statement in policy["Statement"]:
        actions = statement["Action"]
        out.update([actions] if isinstance(actions, str) else actions)
    return out


def test_launch_templates_and_activity_report(moto, tmp_path):
    """Both optional steps: the fleet's launch template is fixed, the report carries the suggested policy."""
    from tests.support.activity_fixtures import EXPECTED_ACTIONS, write_log_files

    url = moto.url
    seed_fleet(url, 8, prefix="web", seed=5, imdsv1_callers=0)
    ec2 = moto.client("ec2")
    data = {"ImageId": "ami-12c6146b", "InstanceType": "t3.micro",
            "MetadataOptions": {"HttpTokens": "optional", "HttpPutResponseHopLimit": 2, "HttpEndpoint": "enabled"}}
    fleet_lt = ec2.create_launch_template(
        LaunchTemplateName="web-asg", LaunchTemplateData=data,
        TagSpecifications=[{"ResourceType": "launch-template", "Tags": [{"Key": "Fleet", "Value": "web"}]}],
    )["LaunchTemplate"]["LaunchTemplateId"]
    other_lt = ec2.create_launch_template(LaunchTemplateName="db-asg", LaunchTemplateData=data)[
        "LaunchTemplate"]["LaunchTemplateId"]
    trail = tmp_path / "trail"
    role_arn = "arn:aws:iam::%s:role/WebApp" % ACCOUNT
    written = write_log_files(str(trail), None, ACCOUNT, "us-east-1", role_arn, days=3, seed=11,
                              names={"bucket": "my-app-data"})
    reports = tmp_path / "reports"
    result_file = tmp_path / "result.json"
    play = converge_playbook(result_file, ec2_identity_report_dir=str(reports),
                             ec2_identity_manage_launch_templates=True,
                             ec2_identity_activity_report=True, ec2_identity_activity_source="local",
                             ec2_identity_activity_local_path=str(trail), ec2_identity_activity_days=7)

    # --check --diff: the template is only predicted, the report is written and marked predicted
    moto.reset_calls()
    check = run_playbook(play, url, check=True, diff=True)
    assert check.rc == 0 and "ROLE_FAILED" not in check.stdout, check
    assert mutating_calls(moto.calls()) == {}
    predicted = json.loads(result_file.read_text())
    [planned] = predicted["launch_templates"]["templates"]
    assert planned["id"] == fleet_lt and planned["action"] == "create_version"
    assert planned["default_version_after"] == 2
    assert ec2.describe_launch_templates(LaunchTemplateIds=[fleet_lt])["LaunchTemplates"][0]["LatestVersionNumber"] == 1
    assert "**Check mode" in (reports / "localhost-WebApp.md").read_text()

    first = run_playbook(play, url)
    assert first.rc == 0 and "ROLE_FAILED" not in first.stdout, first
    # the fleet's template has a new default version with the profile and IMDSv2, the hop limit kept
    lt = ec2.describe_launch_templates(LaunchTemplateIds=[fleet_lt])["LaunchTemplates"][0]
    assert lt["DefaultVersionNumber"] == 2
    version = ec2.describe_launch_template_versions(LaunchTemplateId=fleet_lt, Versions=["$Default"])[
        "LaunchTemplateVersions"][0]["LaunchTemplateData"]
    assert version["IamInstanceProfile"] == {"Name": "WebApp"}
    assert version["MetadataOptions"]["HttpTokens"] == "required"
    assert version["MetadataOptions"]["HttpPutResponseHopLimit"] == 2
    assert version["ImageId"] == "ami-12c6146b" and version["InstanceType"] == "t3.micro"
    # a template not tagged for the fleet is not touched
    assert ec2.describe_launch_templates(LaunchTemplateIds=[other_lt])["LaunchTemplates"][0]["LatestVersionNumber"] == 1

    # the suggested policy in the report is the fixture role's activity (the denied DeleteObject left out)
    result = json.loads(result_file.read_text())
    activity = result["activity"]
    assert activity["event_count"] == len(written["role_events"])
    assert _actions(activity["suggested_policy"]) == set(EXPECTED_ACTIONS) - {"s3:DeleteObject"}
    report = json.loads((reports / "localhost-WebApp.json").read_text())
    assert report["result"]["activity"]["suggested_policy"] == activity["suggested_policy"]
    policy_file = reports / "localhost-WebApp-suggested-policy.json"
    assert json.loads(policy_file.read_text()) == activity["suggested_policy"]
    # granted by AppAccess and used: not unused; granted by CloudWatchAgentServerPolicy and unused: listed
    assert "s3:GetObject" not in activity["unused_granted_actions"]
    assert "ssm:GetParameter" not in [u["action"] for u in activity["used_not_granted"]]  # the managed policy grants it
    assert "sqs:ReceiveMessage" in [u["action"] for u in activity["used_not_granted"]]
    markdown = (reports / "localhost-WebApp.md").read_text()
    assert "## Suggested policy from activity" in markdown and "## Launch templates (1)" in markdown
    assert "Events of the role: %d" % activity["event_count"] in markdown
    assert "### Used but not granted" in markdown and "`sqs:ReceiveMessage`" in markdown
    assert "ec2-instance-connect.amazonaws.com" in markdown  # the unmapped fixture event
    assert "| web-asg | %s | create_version | 1 -> 2 |" % fleet_lt in markdown
    assert '"secretsmanager:GetSecretValue"' in markdown

    # rerun: nothing to change, not one mutating call, the template keeps its default version
    moto.reset_calls()
    second = run_playbook(play, url)
    assert second.rc == 0 and second.changed == 0, second
    assert mutating_calls(moto.calls()) == {}
    assert ec2.describe_launch_templates(LaunchTemplateIds=[fleet_lt])["LaunchTemplates"][0]["DefaultVersionNumber"] == 2
    assert json.loads(result_file.read_text())["launch_templates"]["summary"]["changed"] == 0
