"""A whole organization in one run, on the moto server: an organization with nested OUs and member accounts,
instances in two regions of every account. The keyless.aws.targets inventory lists exactly the selected
accounts x regions; keyless.aws.converge reaches each target through its assumed role and touches nothing
else; the run summary adds up; a second run reports changed=0."""

from __future__ import annotations

import json
import pathlib
import subprocess
import sys

import pytest

from tests.support import fleet_seed
from tests.support.aws_env import ROOT, aws_env
from tests.support.fleet_seed import fleet_state, seed_fleet
from tests.support.playbook import plain, run_playbook

pytestmark = pytest.mark.integration

REGIONS = ("us-east-1", "eu-west-1")
DEPLOYER = "keyless-deployer"
ALIVE = ("running", "stopped")


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

    # a second run changes nothing, and the summary says so
    again = run_playbook("keyless.aws.converge", url, inventory=str(inv), args=["-f", "4"])
    assert again.rc == 0 and again.changed == 0, again
    assert json.loads((reports / "summary.json").read_text())["totals"]["changed"] == 0
