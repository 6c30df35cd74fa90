"""A whole organization in one run, on the moto server: an organization with nested OUs and member accounts,
instances in two regions of every account. The keyless.aws.targets inventory lists exactly the selected
accounts x regions; keyless.aws.converge reaches each target through its assumed role and touches nothing
else; the IAM role of an account is converged once, whatever the number of its regions; the run summary adds
up; a second run reports changed=0; the same organization split in two runs (two controllers or AWX/AAP job
slices, each with its own report directory) and merged with keyless.aws.summarize gives the one run's summary -
the same targets in the same order, the same counts and a failed target with its error - generated_at and the
directory of the report paths aside (the merged summary points to where it read the reports)."""

from __future__ import annotations

import json
import pathlib
import re
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor

import pytest

from tests.support import fleet_seed
from tests.support.aws_env import ROOT, aws_env
from tests.support.fleet_seed import fleet_state, seed_fleet
from tests.support.moto_server import mutating_calls
from tests.support.playbook import plain, run_playbook

pytestmark = pytest.mark.integration

REGIONS = ("us-east-1", "eu-west-1")
DEPLOYER = "keyless-deployer"
ALIVE = ("running", "stopped")
BROKEN = "broken-us-east-1"


def role_arn(account):
    return "arn:aws:iam::%s:role/%s" % (account, DEPLOYER)


def build_organization(moto):
    """root -> prod -> eu (nested) and root -> dev; billing in prod, shop in prod/eu, sandbox in dev."""
    orgs = moto.client("organizations")
    orgs.create_organization(FeatureSet="ALL")
    root = orgs.list_roots()["Roots"][0]["Id"]
    prod = orgs.create_organizational_unit(ParentId=root, Name="prod")["OrganizationalUnit"]["Id"]
    eu = orgs.create_organizational_unit(ParentId=prod, Name="eu")["OrganizationalUnit"]["Id"]
    dev = orgs.create_organizational_unit(ParentId=root, Name="dev")["OrganizationalUnit"]["Id"]
    accounts = {}
    for name, parent in (("billing", prod), ("shop", eu), ("sandbox", dev)):
        status = orgs.create_account(Email="%s@example.com" % name, AccountName=name)["CreateAccountStatus"]
        accounts[name] = status["AccountId"]
        orgs.move_account(AccountId=status["AccountId"], SourceParentId=root, DestinationParentId=parent)
    return {"root": root, "prod": prod, "eu": eu, "dev": dev}, accounts


def seed_everywhere(url, accounts):
    fleets = {}
    for name, account in accounts.items():
        with fleet_seed.as_role(url, role_arn(account)):
            for number, region in enumerate(REGIONS):
                fleets[(name, region)] = seed_fleet(url, 6, region=region, prefix="org-" + name, seed=10 + number,
                                                    imdsv1_callers=0, tag={"App": "billing"})
    return fleets


def comparable(summary):
    """The summary without its timestamp, with report paths by file name."""
    out = {key: value for key, value in summary.items() if key != "generated_at"}
    out["targets"] = [dict(t, report=t["report"].rsplit("/", 1)[-1] if t["report"] else None) for t in summary["targets"]]
    return out


def iam_calls_by_account(counts, accounts):
    return {name: {k: n for k, n in counts["by_account"].get(account, {}).items() if k.startswith("iam:")}
            for name, account in accounts.items()}


def state_of(url, account, fleet, region):
    with fleet_seed.as_role(url, role_arn(account)):
        return fleet_state(url, fleet["all"], region=region)


def test_organization_inventory_converge_and_summary(moto, tmp_path):
    url = moto.url
    ous, accounts = build_organization(moto)
    fleets = seed_everywhere(url, accounts)
    reports = tmp_path / "reports"
    inv = tmp_path / "org.targets.yml"
    inv.write_text("\n".join([
        "plugin: keyless.aws.targets",
        "organizational_units: [%s]" % ous["prod"],
        "regions: [%s]" % ", ".join(REGIONS),
        "assume_role_name: %s" % DEPLOYER,
        "endpoint_url: %s" % url,
        ""]))
    group_vars = tmp_path / "group_vars"
    group_vars.mkdir()
    (group_vars / "aws_targets.yml").write_text(json.dumps({
        "ec2_identity_role_name": "OrgApp", "ec2_identity_instance_tags": {"App": "billing"},
        "ec2_identity_report_dir": str(reports)}))

    # the inventory: exactly the accounts under prod (nested eu included) x the two regions
    listed = subprocess.run([str(pathlib.Path(sys.executable).parent / "ansible-inventory"), "-i", str(inv), "--list"],
                            cwd=str(ROOT), env=aws_env(url), capture_output=True, text=True, check=False)
    assert listed.returncode == 0, listed.stderr
    data = json.loads(listed.stdout)
    hosts = sorted(data["aws_targets"]["hosts"])
    assert hosts == sorted("%s-%s" % (name, region) for name in ("billing", "shop") for region in REGIONS), hosts
    hostvars = plain(data["_meta"]["hostvars"])
    assert hostvars["shop-eu-west-1"]["aws_assume_role_arn"] == role_arn(accounts["shop"])
    assert hostvars["shop-eu-west-1"]["aws_account_id"] == accounts["shop"]
    assert hostvars["billing-us-east-1"]["aws_region"] == "us-east-1"

    # --check first: nothing changes, and the account's second region reports the ARNs its first target predicted
    moto.reset_calls()
    checked = run_playbook("keyless.aws.converge", url, inventory=str(inv), args=["-f", "4"], check=True,
                           extra_vars={"ec2_identity_report_dir": str(tmp_path / "check")})
    assert checked.rc == 0 and checked.changed > 0, checked
    assert mutating_calls(moto.calls()) == {}
    for name in ("billing", "shop"):
        by = set()
        for region in REGIONS:
            predicted = json.loads((tmp_path / "check" / ("%s-%s-OrgApp.json" % (name, region))).read_text())["result"]
            assert predicted["check_mode"] is True
            assert predicted["role_arn"] == "arn:aws:iam::%s:role/OrgApp" % accounts[name], predicted["role_arn"]
            assert predicted["instance_profile_arn"] == "arn:aws:iam::%s:instance-profile/OrgApp" % accounts[name]
            by.add(predicted["iam_converged_by"])
        # one target of the account converged (predicted) the role for both
        assert len(by) == 1 and by <= {"%s-%s" % (name, region) for region in REGIONS}, by

    moto.reset_calls()
    res = run_playbook("keyless.aws.converge", url, inventory=str(inv), args=["-f", "4"])
    assert res.rc == 0, res
    for name in ("billing", "shop"):
        for region in REGIONS:
            fleet = fleets[(name, region)]
            state = state_of(url, accounts[name], fleet, region)
            want = "arn:aws:iam::%s:instance-profile/OrgApp" % accounts[name]
            for iid in fleet["all"]:
                if state[iid]["state"] in ALIVE:
                    assert state[iid]["profile_arn"] == want, (name, region, iid)
                    assert state[iid]["metadata"]["HttpTokens"] == "required", (name, region, iid)
    # nothing else: not the unselected account, not the management account
    for region in REGIONS:
        fleet = fleets[("sandbox", region)]
        before = {i: fleet["profiles"]["correct"] for i in fleet["correct_profile"]}
        state = state_of(url, accounts["sandbox"], fleet, region)
        assert not any(state[i]["profile_arn"] and state[i]["profile_arn"].endswith("/OrgApp") for i in fleet["all"])
        assert all(state[i]["profile_arn"] == arn for i, arn in before.items())
    with fleet_seed.as_role(url, role_arn(accounts["sandbox"])) as session:
        roles = session.client("iam", region_name="us-east-1", endpoint_url=url).list_roles()["Roles"]
        assert "OrgApp" not in [r["RoleName"] for r in roles]
    assert "OrgApp" not in [r["RoleName"] for r in moto.client("iam").list_roles()["Roles"]]

    # one summary that adds up
    summary = json.loads((reports / "summary.json").read_text())
    assert sorted(t["target"] for t in summary["targets"]) == hosts
    assert {t["target"]: t["account_id"] for t in summary["targets"]}["shop-us-east-1"] == accounts["shop"]
    alive = sum(1 for key, fleet in fleets.items() if key[0] != "sandbox"
                for iid in fleet["all"] if iid not in fleet["terminated"])
    assert summary["totals"]["instances"] == alive
    assert summary["totals"]["compliant"] == alive and summary["totals"]["failed"] == 0
    assert summary["totals"]["changed"] == sum(t["changed"] for t in summary["targets"]) > 0
    assert summary["totals"]["targets"] == 4 and summary["totals"]["targets_failed"] == 0
    assert "| shop-eu-west-1 |" in (reports / "summary.md").read_text()

    # IAM once per account: the role and profile were created once in each account, by one of its two targets
    first = iam_calls_by_account(moto.calls(), {k: v for k, v in accounts.items() if k != "sandbox"})
    for name, per in first.items():
        assert per.get("iam:CreateRole") == 1 and per.get("iam:CreateInstanceProfile") == 1, (name, per)

    # a second run changes nothing, and the summary says so; every IAM read is made once per account, not per region.
    # A target that fails (a profile that does not exist) is in the run too.
    broken = tmp_path / "broken.yml"
    broken.write_text(json.dumps({"aws_targets": {"hosts": {BROKEN: {
        "aws_region": "us-east-1", "aws_profile": "keyless-no-such-profile", "aws_account_id": accounts["sandbox"],
        "aws_account_name": "sandbox"}}}}))

    def converge(report_dir, pattern=None, extra=None):
        extra = dict(extra or {}, ec2_identity_report_dir=str(tmp_path / report_dir))
        if pattern:
            extra["keyless_targets"] = pattern
        res = run_playbook("keyless.aws.converge", url, inventory=str(inv), args=["-i", str(broken), "-f", "4"],
                           extra_vars=extra)
        if BROKEN in res.recap:  # the broken target fails, the others converge
            assert res.rc != 0 and res.recap[BROKEN]["failed"] == 1, res
        assert all(host == BROKEN or recap["failed"] == 0 for host, recap in res.recap.items()), res
        return res

    moto.reset_calls()
    again = converge("one")
    assert again.changed == 0, again
    for name, per in iam_calls_by_account(moto.calls(), {k: v for k, v in accounts.items() if k != "sandbox"}).items():
        # the fleet step of each region with instances reads the profiles its instances carry (an instance's role is
        # IAM's to tell): region work; converging the role and profile is once per account
        fleet_reads = per.pop("iam:GetInstanceProfile", 0) - 1
        assert per and set(per.values()) == {1}, (name, sorted(per.items()))
        assert fleet_reads == 2 * len(REGIONS), (name, fleet_reads)  # the app's profile and the legacy one, per region
    # every target's fleet was converged: the plan previewed them in one process (one DescribeInstances per target
    # beside the census's) and no target ran the fleet module (which would read its fleet again)
    for name in ("billing", "shop"):
        per = moto.calls()["by_account"][accounts[name]]
        assert per["ec2:DescribeInstances"] == 2 * len(REGIONS), (name, per)
    single = json.loads((tmp_path / "one" / "summary.json").read_text())
    assert single["totals"]["changed"] == 0 and single["totals"]["targets_failed"] == 1
    # the same organization split in two runs at the same time, each with its own report directory, then merged
    # (the first part without the preview: every target runs its fleet step, and its reports must be the previewed
    # ones - but for the target that converged the account's IAM role, which depends on the targets of the run)
    with ThreadPoolExecutor(2) as pool:
        parts = list(pool.map(converge, ["part1", "part2"], ["*-us-east-1", "*-eu-west-1"],
                              [{"keyless_fleet_preview": False}, None]))
    assert BROKEN in parts[0].recap and BROKEN not in parts[1].recap
    for host in ("billing-us-east-1", "shop-us-east-1"):
        previewed, ran = (json.loads((tmp_path / run / ("%s-OrgApp.json" % host)).read_text().replace("/%s/" % run, "/"))
                          for run in ("one", "part1"))
        assert previewed["result"]["counts"]["total"] > 0, host
        for report in (previewed, ran):
            report.update(generated_at=None, result=dict(report["result"], iam_converged_by=None))
        assert previewed == ran, host
        previewed, ran = (re.sub(r"\d{4}-\d\d-\d\dT[\d:]+Z|converged by [^)]+", "(varies)",
                                 (tmp_path / run / ("%s-OrgApp.md" % host)).read_text()).replace("/%s/" % run, "/")
                          for run in ("one", "part1"))
        assert previewed == ran, host
    part1 = json.loads((tmp_path / "part1" / "summary.json").read_text())
    assert [t["target"] for t in part1["targets"]] == sorted(["billing-us-east-1", "shop-us-east-1", BROKEN])
    merged_dir = tmp_path / "merged"
    res = run_playbook("keyless.aws.summarize", url, extra_vars={
        "keyless_report_dirs": [str(tmp_path / "part1"), str(tmp_path / "part2")], "ec2_identity_report_dir": str(merged_dir)})
    assert res.rc == 0 and res.changed == 0, res
    merged = json.loads((merged_dir / "summary.json").read_text())
    assert comparable(merged) == comparable(single)
    assert [t["target"] for t in merged["targets"]] == sorted(hosts + [BROKEN])
    rows = {t["target"]: t for t in merged["targets"]}
    assert rows[BROKEN]["status"] == "failed" and "keyless-no-such-profile" in rows[BROKEN]["error"], rows[BROKEN]
    assert rows["shop-eu-west-1"]["report"] == str(tmp_path / "part2" / "shop-eu-west-1-OrgApp.md")
    assert merged["totals"]["targets"] == 5 and merged["totals"]["targets_failed"] == 1
    assert merged["totals"]["instances"] == merged["totals"]["compliant"] == alive and merged["totals"]["changed"] == 0
    assert (merged_dir / "summary.md").exists() and (merged_dir / "summary.html").exists()

    # drift after the converge: one instance back on IMDSv1 in one region. That target's preview is not converged, so
    # it runs its fleet step and converges the instance again (reading its fleet again); the others take theirs
    fleet = fleets[("shop", "us-east-1")]
    state = state_of(url, accounts["shop"], fleet, "us-east-1")
    drifted = next(iid for iid in fleet["all"] if state[iid]["state"] == "running")
    with fleet_seed.as_role(url, role_arn(accounts["shop"])) as session:
        session.client("ec2", region_name="us-east-1", endpoint_url=url).modify_instance_metadata_options(
            InstanceId=drifted, HttpTokens="optional")
    # --check first: only the drifted target predicts a change; the converged ones report from their previews, marked
    # as predictions, and nothing is called that changes anything
    moto.reset_calls()
    predicted = run_playbook("keyless.aws.converge", url, inventory=str(inv), args=["-f", "4"], check=True, diff=True,
                             extra_vars={"ec2_identity_report_dir": str(tmp_path / "drift-check")})
    assert predicted.rc == 0 and mutating_calls(moto.calls()) == {}, predicted
    for host in hosts:
        result = json.loads((tmp_path / "drift-check" / ("%s-OrgApp.json" % host)).read_text())["result"]
        assert result["check_mode"] is True and result["counts"]["changed"] == (1 if host == "shop-us-east-1" else 0), host
        assert "Check mode" in (tmp_path / "drift-check" / ("%s-OrgApp.md" % host)).read_text(), host
    moto.reset_calls()
    drift = converge("drift", pattern=",".join(hosts))
    assert drift.rc == 0 and drift.changed > 0, drift
    assert state_of(url, accounts["shop"], fleet, "us-east-1")[drifted]["metadata"]["HttpTokens"] == "required"
    counts = {host: json.loads((tmp_path / "drift" / ("%s-OrgApp.json" % host)).read_text())["result"]["counts"]["changed"]
              for host in hosts}
    assert counts == dict((host, 1 if host == "shop-us-east-1" else 0) for host in hosts), counts
    calls_now = moto.calls()["by_account"]
    # (the fleet step's observe, and its wait until the change shows)
    assert calls_now[accounts["shop"]]["ec2:DescribeInstances"] > 2 * len(REGIONS)
    assert calls_now[accounts["billing"]]["ec2:DescribeInstances"] == 2 * len(REGIONS)
