"""The ec2_identity role end to end: real ansible-playbook against the moto server, a seeded fleet.

The final state is read with boto3 (fleet_state: profile from the active association, metadata options
from DescribeInstances), never from the role's own report. Each test keeps its playbook runs few: every
run of ansible-playbook costs seconds.
"""

from __future__ import annotations

import json

import pytest

from tests.support.fleet_seed import fleet_state, seed_fleet
from tests.support.playbook import run_playbook

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
    return """
- name: Converge
  hosts: localhost
  gather_facts: false
  tasks:
    - name: Converge, and on failure still save the result
      block:
        - name: Include the role
          ansible.builtin.include_role:
            name: keyless.aws.ec2_identity
          vars: %s
      rescue:
        - name: Show the failure
          ansible.builtin.debug:
            msg: "ROLE_FAILED {{ ansible_failed_result.msg }}"
    - name: Save the result
      ansible.builtin.copy:
        content: "{{ ec2_identity_result | to_json }}"
        dest: %s
        mode: "0644"
      check_mode: false
      changed_when: false
""" % (json.dumps(params), result_file)


def mutating(calls):
    """Calls that change AWS state (AssumeRole only hands out credentials)."""
    return {k: v for k, v in calls["counts"].items()
            if not k.split(":", 1)[1].startswith(("Describe", "Get", "List")) and k != "sts:AssumeRole"}


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
    assert mutating(moto.calls()) == {}
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
    assert mutating(moto.calls()) == {}
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
    assert res.rc == 0 and res.recap["localhost"]["rescued"] == 1, res
    assert "ROLE_FAILED rollout stopped after batch 1/4" in res.stdout, res
    result = json.loads(result_file.read_text())
    assert result["stopped"] is True and result["counts"]["batches_run"] == 1
    assert result["counts"]["not_processed"] == 15
    failed = {f["instance_id"] for f in result["failed"]}
    assert failed and failed <= set(broken)
    assert all("UnauthorizedOperation" in f["reason"] for f in result["failed"])
    report = json.loads((tmp_path / "localhost-WebApp.json").read_text())
    touched = {i["instance_id"] for i in report["instances"]["profile"]}
    assert len(touched) == 5
    state = fleet_state(url, fleet["all"])
    for iid in fleet["all"]:
        if iid not in touched:  # batches 2..4 never ran
            assert state[iid]["profile_arn"] is None and state[iid]["metadata"]["HttpTokens"] == "optional", iid
    assert "## Failures (%d)" % len(result["failed"]) in (tmp_path / "localhost-WebApp.md").read_text()
