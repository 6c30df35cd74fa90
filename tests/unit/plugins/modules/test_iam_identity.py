"""iam_identity: the IAM role and instance profile of many accounts in one process (module_utils/iam/identity.py).

Bad input of any entry fails the task before any call. Against the in-process moto server (strict layer on) with two
member accounts reached by AssumeRole and a third whose AssumeRole is refused (the Deny middleware answers
AccessDenied as STS does): check mode predicts and changes nothing, a converge creates each account's role and
profile once, a rerun changes nothing and reads each account once, the refused account is a row with its error
and fails the task (or not, with fail_on_account_error=false) without stopping the others, and every entry's result
is what iam_role and iam_instance_profile return for the same options.
"""

from __future__ import annotations

import pytest

from ansible_collections.keyless.aws.plugins.module_utils.aws.connection import target_params
from ansible_collections.keyless.aws.plugins.modules import iam_identity as mod
from ansible_collections.keyless.aws.plugins.modules import iam_instance_profile, iam_role
from tests.support.deny import denying_server
from tests.support.module_runner import run_module
from tests.support.moto_server import calls

SHOP = "111111111111"
DATA = "222222222222"
LOCKED = "333333333333"
POLICY = {"Version": "2012-10-17",
          "Statement": [{"Effect": "Allow", "Action": ["s3:GetObject"], "Resource": "arn:aws:s3:::shop-config/*"}]}
ROLE = {"name": "ShopAppRole", "inline_policies": {"read-config": POLICY}, "tags": {"App": "shop"},
        "description": "shop", "permissions_boundary": None, "wait": False}


def deployer(account):
    return "arn:aws:iam::%s:role/keyless-deployer" % account


def entry(name, account, role=None, **extra):
    out = {"name": name, "connection": {"assume_role_arn": deployer(account)}, "role": dict(role or ROLE),
           "instance_profile": {"wait": False}}
    out.update(extra)
    return out


@pytest.fixture(scope="module")
def server():
    with denying_server(roles=[deployer(LOCKED)]) as (moto, _deny):
        yield moto.url


def run(url, args, **kwargs):
    return run_module(mod.main, dict(args, endpoint_url=url, region="us-east-1"), **kwargs)


def test_bad_input_of_any_entry_fails_before_any_call(server):
    calls(server, reset=True)
    result = run(server, {"accounts": [
        entry("a", SHOP),
        entry("a", DATA),
        entry("b", SHOP, role={"name": "x" * 70}),
        entry("c", SHOP, role=dict(ROLE, state="absent", colour="blue")),
        entry("d", SHOP, instance_profile={"role": "Other", "path": "no-slash"}),
        entry("e", SHOP, role=dict(ROLE, managed_policies=["arn:aws:iam::aws:policy/AdministratorAccess"])),
        entry("f", SHOP, connection={"assume_role_arn": "arn:aws:iam::12345:role/x", "colour": "red"}),
    ], "concurrency": 0})
    assert result.failed, result
    msg = result["msg"]
    for fragment in ("account entry a is listed twice", "account entry b: role", "account entry c: role option state='absent' "
                     "is not an option here", "colour", "account entry d: instance_profile option role='Other' is not "
                     "an option here", "account entry d: instance_profile: path", "account entry e: role:",
                     "account entry f: connection option(s) colour are not known",
                     "concurrency=0 is out of range"):
        assert fragment in msg, (fragment, msg)
    assert "AdministratorAccess" in msg
    assert calls(server)["total"] == 0


def test_check_mode_predicts_converge_creates_once_and_a_rerun_changes_nothing(server):
    args = {"accounts": [entry("shop-us-east-1", SHOP), entry("data-eu-west-1", DATA,
                                                              instance_profile={"name": "DataProfile", "wait": False})]}
    calls(server, reset=True)
    checked = run(server, args, check_mode=True, diff=True)
    assert not checked.failed and checked.changed, checked
    seen = calls(server)
    assert seen["mutating"] == seen["counts"].get("sts:AssumeRole", 0), seen["counts"]  # nothing but AssumeRole
    shop = checked["accounts"]["shop-us-east-1"]
    assert (shop["account"], shop["role_arn"], shop["instance_profile_arn"]) == (
        SHOP, "arn:aws:iam::%s:role/ShopAppRole" % SHOP, "arn:aws:iam::%s:instance-profile/ShopAppRole" % SHOP)
    assert checked["accounts"]["data-eu-west-1"]["instance_profile_arn"] == \
        "arn:aws:iam::%s:instance-profile/DataProfile" % DATA
    assert [c["operation"] for c in shop["changes"]][:1] == ["CreateRole"], shop["changes"]
    # one diff for the role and one for the profile of every account, each headed with its entry
    assert len(checked["diff"]) == 4 and checked["diff"][0]["before_header"].startswith("shop-us-east-1: IAM role")

    calls(server, reset=True)
    done = run(server, args)
    assert not done.failed and done.changed and done["failed_accounts"] == [], done
    for name in args["accounts"]:
        row = done["accounts"][name["name"]]
        assert row["changed"] and row["error"] is None and row["role"]["arn"] == row["role_arn"], row
    assert done["accounts"]["shop-us-east-1"]["role_arn"] == shop["role_arn"]  # the prediction was right
    seen = calls(server)
    for account in (SHOP, DATA):
        assert seen["by_account"][account]["iam:CreateRole"] == 1, seen["by_account"][account]
        assert seen["by_account"][account]["iam:CreateInstanceProfile"] == 1
        assert seen["by_account"][account]["iam:AddRoleToInstanceProfile"] == 1

    calls(server, reset=True)
    again = run(server, args)
    assert not again.failed and not again.changed, again
    assert all(not row["changes"] for row in again["accounts"].values())
    seen = calls(server)
    assert seen["mutating"] == seen["counts"]["sts:AssumeRole"] == 2, seen["counts"]
    assert seen["by_account"][SHOP]["iam:GetRole"] == 1, seen["by_account"][SHOP]

    # what the two modules say of the same role and profile in the same account
    role = run_module(iam_role.main, dict(ROLE, endpoint_url=server, region="us-east-1",
                                          assume_role_arn=deployer(SHOP)), check_mode=True)
    profile = run_module(iam_instance_profile.main, dict(name="ShopAppRole", role="ShopAppRole", wait=False,
                                                         endpoint_url=server, region="us-east-1",
                                                         assume_role_arn=deployer(SHOP)), check_mode=True)
    assert not role.changed and not profile.changed
    assert again["accounts"]["shop-us-east-1"]["role"] == role["role"]
    assert again["accounts"]["shop-us-east-1"]["instance_profile"] == profile["instance_profile"]


def test_an_account_that_fails_is_a_row_with_its_error_and_never_stops_the_others(server):
    accounts = [entry("locked", LOCKED), entry("shop", SHOP, role=dict(ROLE, name="ShopOther"))]
    result = run(server, {"accounts": accounts})
    assert result.failed and result["failed_accounts"] == ["locked"], result
    assert "1 of 2 account(s) failed: locked: " in result["msg"] and "AccessDenied" in result["msg"], result["msg"]
    locked, shop = result["accounts"]["locked"], result["accounts"]["shop"]
    assert locked["role_arn"] is None and not locked["changed"] and "AssumeRole" in locked["error"], locked
    assert shop["error"] is None and shop["changed"] and shop["role_arn"].endswith(":role/ShopOther"), shop

    kept = run(server, {"accounts": accounts, "fail_on_account_error": False})
    assert not kept.failed and not kept.changed and kept["failed_accounts"] == ["locked"], kept
    assert kept["accounts"]["locked"]["error"]


def test_without_fail_on_account_error_bad_input_stays_with_its_entry(server):
    calls(server, reset=True)
    admin = dict(ROLE, name="ShopAdmin", managed_policies=["arn:aws:iam::aws:policy/AdministratorAccess"])
    result = run(server, {"accounts": [entry("admin", SHOP, role=admin), entry("shop", DATA)],
                          "fail_on_account_error": False}, check_mode=True)
    assert not result.failed and result["failed_accounts"] == ["admin"], result
    bad = result["accounts"]["admin"]
    assert "AdministratorAccess" in bad["error"] and bad["role_name"] == "ShopAdmin" and bad["role_arn"] is None, bad
    assert result["accounts"]["shop"]["error"] is None and result["accounts"]["shop"]["role_arn"]
    assert SHOP not in calls(server)["by_account"]  # no call at all for the refused entry (not even AssumeRole)
    # a name twice is the list's own problem: the task fails before any call whatever fail_on_account_error says
    calls(server, reset=True)
    twice = run(server, {"accounts": [entry("a", SHOP), entry("a", DATA)], "fail_on_account_error": False})
    assert twice.failed and "account entry a is listed twice" in twice["msg"] and calls(server)["total"] == 0


def test_an_entry_whose_credentials_fail_is_a_row_and_the_others_converge(server, tmp_path, monkeypatch):
    # a profile whose credential_process fails: botocore raises when the entry's client is made
    config = tmp_path / "config"
    config.write_text("[profile broken]\ncredential_process = /bin/false\nregion = us-east-1\n")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(config))
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIAKEYLESSTESTFAKE1")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "keylessFakeSecretKeyForTestsOnly0000000x")
    accounts = [{"name": "broken", "connection": {"profile": "broken"}, "role": dict(ROLE, name="BrokenRole")},
                entry("shop", SHOP, role=dict(ROLE, name="ShopCreds"))]
    result = run_module(mod.main, {"accounts": accounts, "endpoint_url": server, "region": "us-east-1",
                                   "fail_on_account_error": False}, check_mode=True, connection=False)
    assert not result.failed and result["failed_accounts"] == ["broken"], result
    assert "credential" in result["accounts"]["broken"]["error"].lower(), result["accounts"]["broken"]
    assert result["accounts"]["shop"]["error"] is None and result["accounts"]["shop"]["role_arn"], result


def test_connection_values_convert_as_the_modules_convert_them(server):
    # templated inventory values are strings: "5" and "false" are what the modules' own options would make of them
    args = {"accounts": [entry("shop", SHOP, connection={"assume_role_arn": deployer(SHOP), "max_attempts": "5",
                                                         "validate_certs": "false"})]}
    assert not run(server, args, check_mode=True).failed
    params = target_params({"connection": {"max_attempts": "5", "validate_certs": "false", "region": None}},
                           {"region": "eu-west-1", "validate_certs": True})
    assert params == {"region": "eu-west-1", "validate_certs": False, "max_attempts": 5}, params
    bad = run(server, {"accounts": [entry("shop", SHOP, connection={"max_attempts": "many"})]})
    assert bad.failed and "connection option max_attempts='many'" in bad["msg"], bad["msg"]


def test_a_null_profile_name_is_the_role_name_and_alias_warnings_are_kept(server):
    result = run(server, {"accounts": [dict(entry("shop", SHOP, role={"name": "ShopNamed", "role_name": "ShopNamed",
                                                                      "wait": False}),
                                            instance_profile={"name": None, "wait": False})]}, check_mode=True)
    assert not result.failed, result
    assert result["accounts"]["shop"]["instance_profile_name"] == "ShopNamed"
    assert any("alias role_name" in w for w in result["accounts"]["shop"]["warnings"]), result["accounts"]["shop"]
