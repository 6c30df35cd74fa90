"""keyless.aws.targets against an in-process moto server, built as users build it.

Each inventory is built by Ansible's own InventoryManager and DataLoader in a fresh Python process (the
driver below, as ansible-playbook and ansible-inventory do: the collection loader is installed in that
process only, so the in-process module tests of the same pytest worker are not affected). The `auto`
plugin finds keyless.aws.targets from `plugin:`, so option parsing, verify_file, compose, keyed_groups
and the cache run as they do for users. Every AWS call is counted where it arrives (/_keyless/calls).

The organization (management account 123456789012, moto's caller):
    root
    |- Prod (OU)          Data (Env=prod)
    |  '- Web (OU)        Web Prod (Env=prod, Team=web)
    |- Sandbox (OU)       Sandbox (Env=dev), Closed (SUSPENDED)
    |- Dup (OU)           "Team A", "team_a" (the same host name once sanitized, ignoring case)
    |- Bulk (OU)          app-00 ... app-39
    '- (root)             Shared, and the management account
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import boto3
import pytest

from tests.support.aws_env import ROOT, aws_env
from tests.support.deny import denying_server
from tests.support.moto_server import calls

DRIVER = textwrap.dedent("""
    import json, sys
    from ansible.plugins.loader import init_plugin_loader
    init_plugin_loader()
    from ansible.inventory.manager import InventoryManager
    from ansible.parsing.dataloader import DataLoader
    from ansible.utils.display import Display

    errors = []
    original = Display.error_as_warning

    def record(self, msg, exception, **kwargs):
        errors.append({"msg": msg, "error": getattr(exception, "message", None) or str(exception)})
        return original(self, msg, exception, **kwargs)

    Display.error_as_warning = record
    inventory = InventoryManager(loader=DataLoader(), sources=[sys.argv[1]], cache=sys.argv[2] != "refresh")
    hosts = [h.name for h in inventory.get_hosts()]
    out = {
        "order": hosts,
        "hosts": {h.name: {k: v for k, v in h.vars.items() if k not in ("inventory_file", "inventory_dir")}
                  for h in inventory.get_hosts()},
        "groups": {g.name: sorted(h.name for h in g.get_hosts()) for g in inventory.groups.values()},
        "errors": errors,
    }
    print(json.dumps(out, default=str))
""")
MANAGEMENT = "123456789012"
PYTHON = sys.executable


@pytest.fixture(scope="module")
def org():
    # Organizations' CreateAccount makes the account's IAM backend: without the AWS-managed policies (denying_server)
    with denying_server() as (server, deny):
        client = boto3.client("organizations", region_name="us-east-1", endpoint_url=server.url,
                              aws_access_key_id="AKIAKEYLESSTESTFAKE1", aws_secret_access_key="x" * 40)
        client.create_organization(FeatureSet="ALL")
        root = client.list_roots()["Roots"][0]["Id"]

        def unit(parent, name):
            return client.create_organizational_unit(ParentId=parent, Name=name)["OrganizationalUnit"]["Id"]

        def account(name, parent, tags=None):
            account_id = client.create_account(AccountName=name, Email="%s@example.com" % name.replace(" ", "."))[
                "CreateAccountStatus"]["AccountId"]
            client.move_account(AccountId=account_id, SourceParentId=root, DestinationParentId=parent)
            if tags:
                client.tag_resource(ResourceId=account_id, Tags=[{"Key": k, "Value": v} for k, v in tags.items()])
            return account_id

        ous = {"root": root}
        ous["prod"] = unit(root, "Prod")
        ous["web"] = unit(ous["prod"], "Web")
        ous["sandbox"] = unit(root, "Sandbox")
        ous["dup"] = unit(root, "Dup")
        ids = {
            "web": account("Web Prod", ous["web"], {"Env": "prod", "Team": "web"}),
            "data": account("Data", ous["prod"], {"Env": "prod"}),
            "sandbox": account("Sandbox", ous["sandbox"], {"Env": "dev"}),
            "closed": account("Closed", ous["sandbox"]),
            "team_a1": account("Team A", ous["dup"]),
            "team_a2": account("team_a", ous["dup"]),
            "shared": account("Shared", root),
        }
        client.close_account(AccountId=ids["closed"])
        ous["bulk"] = unit(root, "Bulk")
        bulk = [account("app-%02d" % number, ous["bulk"]) for number in range(40)]
        yield {"url": server.url, "ous": ous, "ids": ids, "bulk": bulk, "deny": deny}


def build(org, tmp_path, config, refresh=False, name="org.targets.yml", env=None):
    """(inventory, calls) of the config (a dict, written as YAML) built by InventoryManager in a fresh process."""
    source = tmp_path / name
    body = {"plugin": "keyless.aws.targets", "endpoint_url": org["url"]}
    body.update(config)
    source.write_text(json.dumps(body))  # JSON is YAML
    calls(org["url"], reset=True)
    run_env = aws_env(org["url"], extra={"AWS_ENDPOINT_URL": None, **(env or {})})
    done = subprocess.run([PYTHON, "-c", DRIVER, str(source), "refresh" if refresh else "cache"], cwd=str(tmp_path),
                          env=run_env, capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    inventory = json.loads(done.stdout)
    inventory["stderr"] = done.stderr
    return inventory, calls(org["url"])["counts"]


def failure(inventory):
    """The keyless.aws.targets message of a build that failed (the auto plugin's failure)."""
    assert not inventory["order"], inventory["order"]
    messages = [e["error"] for e in inventory["errors"] if "'auto'" in e["msg"]]
    assert messages, inventory["errors"]
    return messages[0]


def host(account_name, region):
    return "%s-%s" % (account_name, region)


def test_exact_accounts_times_regions(org, tmp_path):
    ids = org["ids"]
    inventory, counts = build(org, tmp_path, {"accounts": [ids["data"], ids["shared"]],
                                              "regions": ["us-east-1", "eu-west-1"]})
    assert inventory["order"] == ["Data-eu-west-1", "Data-us-east-1", "Shared-eu-west-1", "Shared-us-east-1"]
    data = inventory["hosts"]["Data-eu-west-1"]
    assert data["aws_account_id"] == ids["data"] and data["aws_account_name"] == "Data"
    assert data["aws_region"] == "eu-west-1"
    assert data["aws_assume_role_arn"] == "arn:aws:iam::%s:role/OrganizationAccountAccessRole" % ids["data"]
    assert data["aws_endpoint_url"] == org["url"]
    assert data["aws_account_tags"] == {"Env": "prod"}
    assert data["ansible_connection"] == "local"
    assert data["ansible_python_interpreter"] == PYTHON
    assert "aws_organizational_unit" not in data  # not found through an OU: unknown, not guessed
    assert "aws_profile" not in data
    groups = inventory["groups"]
    assert groups["aws_targets"] == sorted(inventory["order"])
    assert groups["account_%s" % ids["data"]] == ["Data-eu-west-1", "Data-us-east-1"]
    assert groups["region_eu_west_1"] == ["Data-eu-west-1", "Shared-eu-west-1"]
    # named accounts: one DescribeAccount each, one tag read each, no listing of the organization
    assert counts["organizations:DescribeAccount"] == 2
    assert counts["organizations:ListTagsForResource"] == 2
    assert not any(k.startswith(("organizations:ListAccounts", "sts:", "ec2:")) for k in counts), counts


def test_nested_ous_with_their_path_and_groups(org, tmp_path):
    ids, ous = org["ids"], org["ous"]
    inventory, counts = build(org, tmp_path, {"organizational_units": [ous["prod"]], "regions": ["us-east-1"]})
    assert inventory["order"] == ["Data-us-east-1", "Web_Prod-us-east-1"]
    web = inventory["hosts"]["Web_Prod-us-east-1"]
    assert web["aws_account_id"] == ids["web"]
    assert web["aws_organizational_unit"] == ous["web"]
    assert web["aws_organizational_unit_path"] == ["Root", "Prod", "Web"]
    assert inventory["hosts"]["Data-us-east-1"]["aws_organizational_unit_path"] == ["Root", "Prod"]
    groups = inventory["groups"]
    assert groups["ou_" + ous["prod"].replace("-", "_")] == ["Data-us-east-1", "Web_Prod-us-east-1"]
    assert groups["ou_" + ous["web"].replace("-", "_")] == ["Web_Prod-us-east-1"]
    assert groups["ou_" + ous["root"].replace("-", "_")] == ["Data-us-east-1", "Web_Prod-us-east-1"]
    assert counts["organizations:ListOrganizationalUnitsForParent"] == 2  # Prod and Web
    assert counts["organizations:ListAccountsForParent"] == 2
    nested, _counts = build(org, tmp_path, {"organizational_units": [ous["web"]], "regions": ["us-east-1"]})
    assert nested["hosts"]["Web_Prod-us-east-1"]["aws_organizational_unit_path"] == ["Root", "Prod", "Web"]
    assert nested["order"] == ["Web_Prod-us-east-1"]


def test_root_exclude_suspended_and_management_left_out(org, tmp_path):
    ids = org["ids"]
    inventory, _counts = build(org, tmp_path, {"organizational_units": [org["ous"]["root"]],
                                               "exclude_accounts": [ids["sandbox"], "000000000000"],
                                               "regions": ["us-east-1"], "hostname_source": "id"})
    found = {h["aws_account_id"] for h in inventory["hosts"].values()}
    assert found == {ids["web"], ids["data"], ids["team_a1"], ids["team_a2"], ids["shared"]} | set(org["bulk"])
    assert ids["closed"] not in found  # SUSPENDED
    assert MANAGEMENT not in found  # include_management_account defaults to false
    assert host(ids["shared"], "us-east-1") in inventory["order"]  # hostname_source: id
    assert inventory["hosts"][host(ids["shared"], "us-east-1")]["aws_organizational_unit_path"] == ["Root"]
    assert "exclude_accounts: 000000000000 is not among the selected accounts" in inventory["stderr"]


def test_all_accounts(org, tmp_path):
    ids = org["ids"]
    inventory, counts = build(org, tmp_path, {"all_accounts": True, "regions": ["eu-central-1"]})
    found = sorted(h["aws_account_id"] for h in inventory["hosts"].values())
    assert found == sorted((set(ids.values()) | set(org["bulk"])) - {ids["closed"]})
    assert counts["organizations:ListAccounts"] == 1
    assert "organizations:ListAccountsForParent" not in counts


def test_duplicate_names_fall_back_to_ids(org, tmp_path):
    ids = org["ids"]
    inventory, _counts = build(org, tmp_path, {"organizational_units": [org["ous"]["dup"]], "regions": ["us-east-1"]})
    assert inventory["order"] == sorted([host(ids["team_a1"], "us-east-1"), host(ids["team_a2"], "us-east-1")])
    names = {h["aws_account_name"] for h in inventory["hosts"].values()}
    assert names == {"Team A", "team_a"}  # two hosts, never one


def test_regions_enabled_assumes_each_accounts_role(org, tmp_path):
    from moto.sts.models import sts_backends
    ids = org["ids"]
    expected = sorted(r["RegionName"] for r in boto3.client(
        "ec2", region_name="us-east-1", endpoint_url=org["url"], aws_access_key_id="AKIAKEYLESSTESTFAKE1",
        aws_secret_access_key="x" * 40).describe_regions()["Regions"])
    inventory, counts = build(org, tmp_path, {"accounts": [ids["data"], ids["web"]], "regions": "enabled",
                                              "assume_role_name": "keyless-deployer",
                                              "assume_role_path": "/keyless/"})
    assert len(expected) > 2
    assert inventory["order"] == sorted(["Data-%s" % r for r in expected] + ["Web_Prod-%s" % r for r in expected])
    assert counts["sts:AssumeRole"] == 2 and counts["ec2:DescribeRegions"] == 2
    assumed = {role.role_arn for account in (ids["data"], ids["web"])
               for role in sts_backends[account]["aws"].assumed_roles}
    assert {"arn:aws:iam::%s:role/keyless/keyless-deployer" % ids["data"],
            "arn:aws:iam::%s:role/keyless/keyless-deployer" % ids["web"]} <= assumed
    assert inventory["hosts"]["Data-us-east-1"]["aws_assume_role_arn"] == (
        "arn:aws:iam::%s:role/keyless/keyless-deployer" % ids["data"])


def test_assume_role_failure_names_the_call_and_account(org, tmp_path):
    ids = org["ids"]
    role = "arn:aws:iam::%s:role/OrganizationAccountAccessRole" % ids["sandbox"]
    org["deny"].roles.add(role)
    try:
        inventory, _counts = build(org, tmp_path, {"accounts": [ids["sandbox"], ids["data"]], "regions": "enabled",
                                                   "assume_role_external_id": "very-secret-external-id"})
    finally:
        org["deny"].roles.discard(role)
    message = failure(inventory)
    assert "AssumeRole (for DescribeRegions) failed for account %s (Sandbox)" % ids["sandbox"] in message
    assert "AccessDenied" in message and role in message
    assert ids["data"] not in message  # the account that worked is not blamed
    assert "very-secret-external-id" not in inventory["stderr"]


def test_management_account(org, tmp_path):
    inventory, _counts = build(org, tmp_path, {"accounts": [MANAGEMENT], "regions": ["us-east-1"]})
    message = failure(inventory)
    assert "%s is the organization's management account" % MANAGEMENT in message
    assert "include_management_account: true" in message
    inventory, counts = build(org, tmp_path, {"accounts": [MANAGEMENT], "regions": "enabled",
                                              "include_management_account": True, "hostname_source": "id"})
    target = inventory["hosts"][host(MANAGEMENT, "us-east-1")]
    assert "aws_assume_role_arn" not in target  # the controller's own credentials are the management account's
    assert counts["sts:GetCallerIdentity"] == 1 and "sts:AssumeRole" not in counts


def test_explicit_accounts_missing_or_not_active_fail(org, tmp_path):
    ids = org["ids"]
    inventory, _counts = build(org, tmp_path, {"accounts": [ids["data"], "999999999999", ids["closed"]],
                                               "regions": ["us-east-1"]})
    message = failure(inventory)
    assert "999999999999 is not an account of this organization" in message
    assert "%s (Closed) is SUSPENDED, not ACTIVE" % ids["closed"] in message
    assert ids["data"] not in message


def test_keyed_groups_on_tags_and_compose_overrides(org, tmp_path):
    inventory, _counts = build(org, tmp_path, {
        "organizational_units": [org["ous"]["prod"], org["ous"]["sandbox"]], "regions": ["us-east-1"],
        "keyed_groups": [{"key": "aws_account_tags.Env | default('none')", "prefix": "env"}],
        "groups": {"web_team": "aws_account_tags.Team | default('') == 'web'"},
        "compose": {"ansible_python_interpreter": "'/usr/bin/python3'"}})
    groups = inventory["groups"]
    assert groups["env_prod"] == ["Data-us-east-1", "Web_Prod-us-east-1"]
    assert groups["env_dev"] == ["Sandbox-us-east-1"]
    assert groups["web_team"] == ["Web_Prod-us-east-1"]
    assert {h["ansible_python_interpreter"] for h in inventory["hosts"].values()} == {"/usr/bin/python3"}


def test_partition_of_the_organization_in_the_role_arn(org, tmp_path):
    gov = boto3.client("organizations", region_name="us-gov-west-1", endpoint_url=org["url"],
                       aws_access_key_id="AKIAKEYLESSTESTFAKE1", aws_secret_access_key="x" * 40)
    gov.create_organization(FeatureSet="ALL")
    account_id = gov.create_account(AccountName="Gov App", Email="gov@example.com")["CreateAccountStatus"]["AccountId"]
    inventory, _counts = build(org, tmp_path, {"accounts": [account_id], "regions": ["us-gov-west-1"],
                                               "region": "us-gov-west-1"})
    target = inventory["hosts"]["Gov_App-us-gov-west-1"]
    assert target["aws_assume_role_arn"] == "arn:aws-us-gov:iam::%s:role/OrganizationAccountAccessRole" % account_id


def test_cache_hit_makes_no_call(org, tmp_path):
    config = {"accounts": [org["ids"]["data"]], "regions": ["us-east-1"], "cache": True,
              "cache_plugin": "ansible.builtin.jsonfile", "cache_connection": str(tmp_path / "cache")}
    first, counts = build(org, tmp_path, config)
    assert counts and first["order"] == ["Data-us-east-1"]
    again, counts = build(org, tmp_path, config)
    assert counts == {} and again["hosts"] == first["hosts"]
    _refreshed, counts = build(org, tmp_path, config, refresh=True)  # --flush-cache / refresh_inventory
    assert counts["organizations:DescribeAccount"] == 1
    wider, counts = build(org, tmp_path, dict(config, regions=["us-east-1", "eu-west-1"]))  # other options: a miss
    assert counts and wider["order"] == ["Data-eu-west-1", "Data-us-east-1"]


def test_access_denied_on_list_accounts(org, tmp_path):
    org["deny"].organizations.add("ListAccounts")
    try:
        inventory, _counts = build(org, tmp_path, {"all_accounts": True, "regions": ["us-east-1"]})
    finally:
        org["deny"].organizations.discard("ListAccounts")
    message = failure(inventory)
    assert "ListAccounts failed for the organization; AccessDeniedException" in message
    assert "what to do: the controller's credentials lack this permission" in message
    assert "ansible-doc -t inventory keyless.aws.targets" in message


def test_controller_not_in_an_organization(org, tmp_path):
    sts = boto3.client("sts", region_name="us-east-1", endpoint_url=org["url"],
                       aws_access_key_id="AKIAKEYLESSTESTFAKE1", aws_secret_access_key="x" * 40)
    creds = sts.assume_role(RoleArn="arn:aws:iam::210987654321:role/Lonely", RoleSessionName="test")["Credentials"]
    inventory, counts = build(org, tmp_path, {"all_accounts": True, "regions": ["us-east-1"],
                                              "access_key": creds["AccessKeyId"],
                                              "secret_key": creds["SecretAccessKey"],
                                              "session_token": creds["SessionToken"]})
    message = failure(inventory)
    assert "DescribeOrganization failed for the controller's organization" in message
    assert "AWSOrganizationsNotInUseException" in message and "management account" in message
    assert creds["SecretAccessKey"] not in inventory["stderr"]
    assert counts == {"organizations:DescribeOrganization": 1}


@pytest.mark.parametrize("config,fragments", [
    ({"regions": ["us-east-1"]}, ["no accounts are selected", "all_accounts: true"]),
    ({"accounts": ["111122223333"]}, ["regions is required: give a list of region names", "'enabled'"]),
    ({"regions": ["us-east-1"], "all_accounts": True, "accounts": ["111122223333"]},
     ["all_accounts: true selects every account", "cannot be combined"]),
    ({"accounts": ["111122223333"], "regions": ["us_east_1", "eu-west-1"]},
     ["regions: 'us_east_1' is not an AWS region name"]),
    ({"accounts": ["111122223333"], "regions": ["enabled", "eu-west-1"]},
     ["'enabled' takes every region enabled in each account and cannot be combined with region names (eu-west-1)"]),
    ({"accounts": ["11112222333", 123], "regions": ["us-east-1"]},
     ["accounts: '11112222333' is not an AWS account id: use 12 digits", "accounts: 123 is not"]),
    ({"accounts": ["111122223333"], "exclude_accounts": ["abc"], "regions": ["us-east-1"]},
     ["exclude_accounts: 'abc' is not an AWS account id"]),
    ({"organizational_units": ["ou-prod", "r-AB"], "regions": ["us-east-1"]},
     ["organizational_units: 'ou-prod' is not an OU or root id", "organizational_units: 'r-AB' is not"]),
    ({"accounts": ["111122223333"], "regions": ["us-east-1"], "assume_role_name": "bad role",
      "assume_role_path": "keyless"},
     ["assume_role_name='bad role' is not an IAM role name", "assume_role_path='keyless' is not an IAM path"]),
    ({"accounts": ["111122223333"], "regions": ["us-east-1"], "assume_role_external_id": "x"},
     ["assume_role_external_id is not an external id"]),
    ({"accounts": ["111122223333"], "regions": ["us-east-1"], "profile": "prod", "access_key": "AKIAX",
      "secret_key": "s3cr3t-never-shown"},
     ["profile='prod' and access_key and secret_key cannot be used together"]),
    ({"accounts": ["111122223333"], "regions": ["us-east-1"], "hostname_source": "alias"},
     ["hostname_source='alias' is not a host name source: use name (the account name) or id"]),
], ids=["no-selector", "no-regions", "all-and-accounts", "region", "enabled-mixed", "account-id", "exclude-id", "ou-id",
        "role-name-path", "external-id", "profile-and-keys", "hostname-source"])
def test_bad_options_refused_before_any_call(org, tmp_path, config, fragments):
    inventory, counts = build(org, tmp_path, config)
    message = failure(inventory)
    for fragment in fragments:
        assert fragment in message
    assert "s3cr3t-never-shown" not in inventory["stderr"]
    assert counts == {}


def test_unknown_ou_and_root_named(org, tmp_path):
    inventory, _counts = build(org, tmp_path, {"organizational_units": ["ou-zzzz-zzzzzzzz"], "regions": ["us-east-1"]})
    assert "organizational_units: ou-zzzz-zzzzzzzz is not an OU of this organization" in failure(inventory)
    inventory, _counts = build(org, tmp_path, {"organizational_units": ["r-zzzz"], "regions": ["us-east-1"]})
    assert "organizational_units: r-zzzz is not the root of this organization" in failure(inventory)


def test_other_file_names_are_not_taken(org, tmp_path):
    inventory, counts = build(org, tmp_path, {"accounts": [org["ids"]["data"]], "regions": ["us-east-1"]},
                              name="org.yml")
    assert inventory["order"] == [] and counts == {}
    assert not any("keyless.aws.targets" in e["error"] and "AWS" in e["error"] for e in inventory["errors"])


def test_ansible_doc_renders_without_warnings():
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=str(ROOT / ".build" / "collections"), ANSIBLE_NOCOLOR="1")
    done = subprocess.run([os.path.join(os.path.dirname(PYTHON), "ansible-doc"), "-t", "inventory",
                           "keyless.aws.targets"], env=env, capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    assert "WARNING" not in done.stderr and "ERROR" not in done.stderr, done.stderr
    assert "keyless.aws.targets" in done.stdout and "OrganizationAccountAccessRole" in done.stdout


def test_many_accounts_regions_enabled_one_assume_role_each(org, tmp_path):
    """40 accounts, regions: enabled: one AssumeRole and one DescribeRegions per account (8 at a time), hosts
    in sorted order whatever order the calls finished in."""
    inventory, counts = build(org, tmp_path, {"organizational_units": [org["ous"]["bulk"]], "regions": "enabled"})
    assert counts["sts:AssumeRole"] == 40 and counts["ec2:DescribeRegions"] == 40
    assert counts["organizations:ListTagsForResource"] == 40
    accounts = sorted({h["aws_account_name"] for h in inventory["hosts"].values()})
    assert accounts == ["app-%02d" % n for n in range(40)]
    assert inventory["order"] == sorted(inventory["order"])


@pytest.mark.parametrize("account,active", [
    ({"Status": "ACTIVE", "State": "ACTIVE"}, True),
    ({"Status": "ACTIVE"}, True),  # before State existed
    ({"State": "ACTIVE"}, True),  # once the deprecated Status is gone
    ({"Status": "ACTIVE", "State": "PENDING_CLOSURE"}, False),
    ({"Status": "SUSPENDED", "State": "SUSPENDED"}, False),
    ({"State": "PENDING_ACTIVATION"}, False),
    ({}, False),
])
def test_only_active_accounts(account, active):
    from ansible_collections.keyless.aws.plugins.plugin_utils.organizations import _active
    assert _active(account) is active
