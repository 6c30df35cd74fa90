"""The playbooks (ansible-playbook keyless.aws.<name>) on the moto server: many account/region targets
in parallel, audit's exit code, rollback's and teardown's confirmations, teardown's safe order.
Final state is read with boto3."""

from __future__ import annotations

import json

import pytest

from tests.support import fleet_seed
from tests.support.fleet_seed import fleet_state, seed_fleet
from tests.support.moto_server import mutating_calls
from tests.support.playbook import run_playbook

pytestmark = pytest.mark.integration

OTHER_ACCOUNT = "222222222222"
DEPLOYER = "arn:aws:iam::%s:role/keyless-deployer" % OTHER_ACCOUNT
ALIVE = ("running", "stopped")


def assumed_session(url):
    """Credentials of the other account: moto's AssumeRole credentials select the role's account."""
    return fleet_seed.assumed_session(url, DEPLOYER)


def inventory(tmp_path, hosts, **group_vars):
    group_vars.setdefault("ansible_connection", "local")
    group_vars.setdefault("ansible_python_interpreter", "{{ ansible_playbook_python }}")
    path = tmp_path / "inventory.json"
    path.write_text(json.dumps({"aws_targets": {"hosts": hosts, "vars": group_vars}}))
    return str(path)


def test_many_targets_in_parallel_and_audit_exit_code(moto, tmp_path, monkeypatch):
    url = moto.url
    a1_east = seed_fleet(url, 12, prefix="multi", seed=1, imdsv1_callers=1)
    a1_west = seed_fleet(url, 8, region="eu-west-1", prefix="multi", seed=2, imdsv1_callers=0)
    other = assumed_session(url)
    with monkeypatch.context() as patch:  # the same seeding code, with the other account's credentials
        patch.setattr(fleet_seed, "_client", lambda service, endpoint, region: other.client(
            service, region_name=region, endpoint_url=endpoint))
        a2_east = seed_fleet(url, 6, prefix="multi", seed=3, imdsv1_callers=0)
    reports = tmp_path / "reports"
    inv = inventory(tmp_path, {
        "a1-us-east-1": {"aws_region": "us-east-1"},
        "a1-eu-west-1": {"aws_region": "eu-west-1"},
        "a2-us-east-1": {"aws_region": "us-east-1", "aws_assume_role_arn": DEPLOYER},
    }, ec2_identity_role_name="FleetApp", ec2_identity_instance_tags={"Fleet": "multi"},
        ec2_identity_report_dir=str(reports))

    res = run_playbook("keyless.aws.converge", url, inventory=inv, args=["-f", "3"])
    assert res.rc == 0, res
    assert sorted(res.recap) == ["a1-eu-west-1", "a1-us-east-1", "a2-us-east-1", "localhost"]  # localhost: the summary
    for fleet, region, account, session in ((a1_east, "us-east-1", "123456789012", None),
                                            (a1_west, "eu-west-1", "123456789012", None),
                                            (a2_east, "us-east-1", OTHER_ACCOUNT, other)):
        if session is None:
            state = fleet_state(url, fleet["all"], region=region)
        else:
            with monkeypatch.context() as patch:
                patch.setattr(fleet_seed, "_client", lambda service, endpoint, reg: session.client(
                    service, region_name=reg, endpoint_url=endpoint))
                state = fleet_state(url, fleet["all"], region=region)
        for iid in fleet["all"]:
            if state[iid]["state"] in ALIVE:
                assert state[iid]["profile_arn"] == "arn:aws:iam::%s:instance-profile/FleetApp" % account, (region, iid)
    assert moto.client("iam").get_role(RoleName="FleetApp")["Role"]["Arn"].startswith("arn:aws:iam::123456789012:")
    assert other.client("iam", region_name="us-east-1", endpoint_url=url).get_role(
        RoleName="FleetApp")["Role"]["Arn"].startswith("arn:aws:iam::%s:" % OTHER_ACCOUNT)
    for host in ("a1-us-east-1", "a1-eu-west-1", "a2-us-east-1"):
        assert (reports / ("%s-FleetApp.json" % host)).exists()
    # one summary of the run, beside the targets' reports: its counts are the targets' own, summed
    summary = json.loads((reports / "summary.json").read_text())
    assert [t["target"] for t in summary["targets"]] == ["a1-eu-west-1", "a1-us-east-1", "a2-us-east-1"]
    for entry in summary["targets"]:
        own = json.loads((reports / ("%s-FleetApp.json" % entry["target"])).read_text())["result"]
        assert entry["status"] == "ok" and entry["error"] is None
        assert entry["changed"] == int(own["counts"]["changed"]) > 0
        assert entry["instances"] == own["compliance"]["after"]["total"] and entry["report"] == own["report"]["markdown"]
        assert entry["compliant"] + entry["non_compliant"] == entry["instances"]
    by_target = {t["target"]: t for t in summary["targets"]}
    assert by_target["a1-us-east-1"]["held"] == 1 and by_target["a2-us-east-1"]["region"] == "us-east-1"
    for key in ("instances", "compliant", "changed", "held", "failed"):
        assert summary["totals"][key] == sum(t[key] for t in summary["targets"]), key
    assert summary["totals"]["targets"] == 3 and summary["totals"]["targets_failed"] == 0
    markdown = (reports / "summary.md").read_text()
    assert "| a2-us-east-1 |" in markdown and "| **total** |" in markdown
    html = (reports / "summary.html").read_text()
    assert html.count('class="bar"') == 4 and "<link" not in html and "<script" not in html  # self-contained
    assert "keyless_summary" in res.stdout or res.rc == 0

    # a second run changes nothing, and the summary says so
    again = run_playbook("keyless.aws.converge", url, inventory=inv, args=["-f", "3"])
    assert again.rc == 0 and again.changed == 0, again
    assert json.loads((reports / "summary.json").read_text())["totals"]["changed"] == 0

    # audit, asked to fail when non-compliant: only the target with an IMDSv1 caller (held back) fails
    moto.reset_calls()
    audit = run_playbook("keyless.aws.audit", url, inventory=inv, args=["-f", "3"],
                         extra_vars={"ec2_identity_audit_fail_on_noncompliant": True})
    assert audit.rc != 0, audit
    assert audit.recap["a1-us-east-1"]["failed"] == 1, audit
    assert audit.recap["a1-eu-west-1"]["failed"] == 0 and audit.recap["a2-us-east-1"]["failed"] == 0, audit
    assert "1 of " in audit.stdout and "not compliant" in audit.stdout and a1_east["imdsv1_callers"][0] in audit.stdout
    assert mutating_calls(moto.calls()) == {}
    assert json.loads((reports / "a1-us-east-1-FleetApp-audit.json").read_text())["result"]["compliant"] is False
    # the audit's summary lists the failed target with its error, and the others as ok
    audit_summary = json.loads((reports / "audit-summary.json").read_text())
    states = {t["target"]: (t["status"], t["error"]) for t in audit_summary["targets"]}
    assert states["a1-us-east-1"][0] == "failed" and "not compliant" in states["a1-us-east-1"][1], states
    assert states["a1-eu-west-1"] == ("ok", None) and states["a2-us-east-1"] == ("ok", None), states
    assert audit_summary["totals"]["targets_failed"] == 1 and audit_summary["kind"] == "audit"


def test_rollback_needs_confirmation(moto, tmp_path):
    url = moto.url
    fleet = seed_fleet(url, 20, prefix="rb", seed=4, imdsv1_callers=0)
    required = [i for i in fleet["required_already"] if i in fleet["running"]]
    assert len(required) >= 2
    target, bystander = required[0], required[1]
    inv = inventory(tmp_path, {"rb-us-east-1": {"aws_region": "us-east-1"}})

    moto.reset_calls()
    refused = run_playbook("keyless.aws.rollback", url, inventory=inv,
                           extra_vars={"ec2_identity_instance_ids": [target]})
    assert refused.rc != 0
    assert "ec2_identity_rollback_confirm=true" in refused.stdout, refused
    assert moto.calls()["total"] == 0
    assert fleet_state(url, [target])[target]["metadata"]["HttpTokens"] == "required"

    done = run_playbook("keyless.aws.rollback", url, inventory=inv,
                        extra_vars={"ec2_identity_instance_ids": [target], "ec2_identity_rollback_confirm": True})
    assert done.rc == 0, done
    state = fleet_state(url, [target, bystander])
    assert state[target]["metadata"]["HttpTokens"] == "optional"
    assert state[bystander]["metadata"]["HttpTokens"] == "required"


def test_teardown_confirmation_and_safe_order(moto, tmp_path):
    url = moto.url
    fleet = seed_fleet(url, 30, prefix="td", seed=5, correct_profile="TornApp", imdsv1_callers=0)
    users = [i for i in fleet["correct_profile"] if i not in fleet["terminated"]]
    assert users
    inv = inventory(tmp_path, {"td-us-east-1": {"aws_region": "us-east-1"}},
                    ec2_identity_role_name="TornAppRole", ec2_identity_instance_profile_name="TornApp")
    iam = moto.client("iam")

    moto.reset_calls()
    refused = run_playbook("keyless.aws.teardown", url, inventory=inv)
    assert refused.rc != 0
    assert "ec2_identity_teardown_confirm=true" in refused.stdout, refused
    assert moto.calls()["total"] == 0

    moto.reset_calls()
    done = run_playbook("keyless.aws.teardown", url, inventory=inv, extra_vars={"ec2_identity_teardown_confirm": True})
    assert done.rc == 0, done
    counts = moto.calls()["counts"]
    # every user was disassociated (else iam_instance_profile would refuse to delete a profile in use)
    assert counts.get("ec2:DisassociateIamInstanceProfile") == len(users), counts
    assert counts.get("iam:DeleteInstanceProfile") == 1 and counts.get("iam:DeleteRole") == 1, counts
    state = fleet_state(url, fleet["all"])
    assert all(state[i]["profile_arn"] is None for i in users)
    others = [i for i in fleet["other_profile"] if state[i]["state"] in ALIVE]
    assert others and all(state[i]["profile_arn"] == fleet["profiles"]["other"] for i in others)
    assert "TornApp" not in [p["InstanceProfileName"] for p in iam.list_instance_profiles()["InstanceProfiles"]]
    assert "TornAppRole" not in [r["RoleName"] for r in iam.list_roles()["Roles"]]


def test_verify_on_the_instances(moto, tmp_path):
    """keyless.aws.verify runs imds_info per instance (here against the IMDS emulator, which serves each
    instance's real state from moto) and fails per instance with what is wrong."""
    from tests.support.imds_emulator import FAKE_SECRETS, ImdsEmulator
    from tests.support.instance_root import clean

    url = moto.url
    fleet = seed_fleet(url, 30, prefix="vf", seed=6, correct_profile="VerifyApp", imdsv1_callers=0)
    running = set(fleet["running"])
    good = sorted(running & set(fleet["correct_profile"]) & set(fleet["required_already"]))[0]
    weak = sorted(running & set(fleet["correct_profile"]) & set(fleet["optional"]))[0]
    bare = sorted(running & set(fleet["no_profile"]) & set(fleet["required_already"]))[0]
    with ImdsEmulator(url) as emulator:
        root = clean(tmp_path / "instance-root")  # no keys: this machine runs other playbooks with test keys
        hosts = {name: {"keyless_imds_endpoint": emulator.url_for(iid), "keyless_host_root": str(root)}
                 for name, iid in (("good", good), ("weak", weak), ("bare", bare))}
        path = tmp_path / "instances.json"
        path.write_text(json.dumps({"ec2_instances": {"hosts": hosts, "vars": {
            "ansible_connection": "local", "ansible_python_interpreter": "{{ ansible_playbook_python }}"}}}))
        res = run_playbook("keyless.aws.verify", url, inventory=str(path),
                           extra_vars={"keyless_expected_role": "VerifyAppRole"})
    assert res.rc != 0, res
    assert res.recap["good"]["failed"] == 0, res
    assert res.recap["weak"]["failed"] == 1 and res.recap["bare"]["failed"] == 1, res
    assert "weak (%s): IMDSv1 is allowed" % weak in res.stdout, res
    assert "bare (%s): no role" % bare in res.stdout, res
    assert "good (%s): role VerifyAppRole, IMDSv2 enforced" % good in res.stdout, res
    assert not any(secret in res.stdout for secret in FAKE_SECRETS)


def test_one_accounts_refused_iam_role_fails_its_targets_only(moto, tmp_path):
    """keyless.aws.converge converges every account's IAM role in one process (keyless.aws.iam_identity): an account
    whose role the modules refuse (an admin policy without ec2_identity_allow_admin) fails its own targets, with the
    refusal, and makes no call there; the other account's role is converged and its targets are ok."""
    url = moto.url
    reports = tmp_path / "reports"
    inv = inventory(tmp_path, {
        "home-us-east-1": {"aws_region": "us-east-1",
                           "ec2_identity_managed_policies": ["arn:aws:iam::aws:policy/AdministratorAccess"]},
        "home-eu-west-1": {"aws_region": "eu-west-1",
                           "ec2_identity_managed_policies": ["arn:aws:iam::aws:policy/AdministratorAccess"]},
        "other-us-east-1": {"aws_region": "us-east-1", "aws_assume_role_arn": DEPLOYER},
    }, ec2_identity_role_name="IsolatedApp", ec2_identity_instance_tags={"Fleet": "isolated"},
        ec2_identity_report_dir=str(reports))
    res = run_playbook("keyless.aws.converge", url, inventory=inv, args=["-f", "3"])
    assert res.rc != 0, res
    assert res.recap["home-us-east-1"]["failed"] == 1 and res.recap["home-eu-west-1"]["failed"] == 1, res.recap
    assert res.recap["other-us-east-1"]["failed"] == 0, res.recap
    summary = json.loads((reports / "summary.json").read_text())
    rows = {t["target"]: t for t in summary["targets"]}
    for name in ("home-us-east-1", "home-eu-west-1"):
        assert rows[name]["status"] == "failed" and "AdministratorAccess" in rows[name]["error"], rows[name]
    assert rows["other-us-east-1"]["status"] == "ok", rows["other-us-east-1"]
    counts = moto.calls()
    # the one role created is the other account's: the refused account's role was never called for
    assert counts["counts"].get("iam:CreateRole") == 1, counts["counts"]
    assert counts["by_account"].get(OTHER_ACCOUNT, {}).get("iam:CreateRole") == 1, counts["by_account"]
