"""run_summary: one entry per target from what the role left in its host variables, totals that add up,
failed and unfinished targets listed with their error, never dropped."""

from __future__ import annotations

import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.keyless.aws.plugins.filter.run_summary import NOT_FINISHED, run_summary


def converge_result(total, compliant, changed, held=0, failed=0, check_mode=False, report="/r/x.md", groups=None,
                    keys=None):
    return {"counts": {"total": total + 1, "selected": total, "changed": changed, "held": held, "failed": failed},
            "autoscaling_groups": {"summary": groups} if groups else None, "keys": keys,
            "compliance": {"after": {"total": total, "compliant": compliant, "non_compliant": total - compliant}},
            "identity_changed": changed > 0, "check_mode": check_mode, "report": {"markdown": report}, "region": "eu-west-1"}


def keys_result(used, instances):
    """The role's `keys` (ec2_identity_result.keys, ec2_identity_audit_result.keys): used is {masked id: [instances]}."""
    return {"users": [], "keys": [{"access_key_id": k} for k in used] + [{"access_key_id": "AKIA...NONE"}],
            "used_from_fleet": [{"user": "app", "access_key_id": k, "instances": i, "calls": 3} for k, i in used.items()],
            "instances_with_keys": instances, "retired": [], "refused": []}


HOSTVARS = {
    "prod-us-east-1": {"aws_account_id": "111122223333", "aws_account_name": "prod", "aws_region": "us-east-1",
                       "ec2_identity_result": converge_result(10, 9, 4, held=1, groups={
                           "total": 5, "changed": 1, "unchanged": 1, "held": 1, "failed": 1, "skipped": 1},
                           keys=keys_result({"AKIA...AAAA": ["i-1", "i-2"], "AKIA...BBBB": ["i-2"]}, ["i-1", "i-2"]))},
    "prod-eu-west-1": {"aws_account_id": "111122223333", "aws_account_name": "prod",
                       "ec2_identity_result": converge_result(5, 3, 5, failed=2, keys=keys_result({"AKIA...CCCC": ["i-9"]}, ["i-9"])),
                       "keyless_target_error": "2 instance(s) failed"},
    "dev-us-east-1": {"aws_account_id": "444455556666", "aws_region": "us-east-1"},
    "empty-us-east-1": {"aws_region": "us-east-1", "ec2_identity_result": converge_result(0, 0, 0)},
}


def test_entries_and_totals():
    got = run_summary(list(HOSTVARS), HOSTVARS)
    rows = {e["target"]: e for e in got["targets"]}
    assert [e["target"] for e in got["targets"]] == list(HOSTVARS)  # the order given
    prod = rows["prod-us-east-1"]
    assert (prod["instances"], prod["compliant"], prod["non_compliant"], prod["changed"], prod["held"], prod["failed"]) == \
        (10, 9, 1, 4, 1, 0)
    assert prod["status"] == "ok" and prod["error"] is None and prod["compliant_percent"] == 90.0
    assert prod["launch_sources"] == 3  # groups held, failed or left to their owners still launch non-compliant
    assert prod["account_id"] == "111122223333" and prod["account_name"] == "prod" and prod["report"] == "/r/x.md"
    # the keys step: 2 keys used from the fleet, 2 instances with a key (a key not used from the fleet is not counted)
    assert (prod["keys_used"], prod["instances_with_keys"]) == (2, 2)
    # a target that failed after converging part of its fleet: its counts, its error
    west = rows["prod-eu-west-1"]
    assert west["status"] == "failed" and west["error"] == "2 instance(s) failed" and west["failed"] == 2
    assert west["region"] == "eu-west-1"  # from the result when the inventory does not say
    # a target with no result at all is listed, not dropped
    dev = rows["dev-us-east-1"]
    assert dev["status"] == "not_finished" and dev["error"] == NOT_FINISHED and dev["instances"] == 0
    assert (dev["keys_used"], dev["instances_with_keys"]) == (0, 0)
    empty = rows["empty-us-east-1"]
    assert empty["compliant_percent"] == 100.0
    assert (empty["keys_used"], empty["instances_with_keys"]) == (0, 0)  # the keys step did not run: keys is null
    totals = got["totals"]
    assert totals == {"instances": 15, "compliant": 12, "non_compliant": 3, "changed": 9, "held": 1, "rolled_back": 0, "failed": 2,
                      "launch_sources": 3, "instances_with_keys": 3, "keys_used": 3, "guardrails_missing": 0, "targets": 4,
                      "targets_ok": 2, "targets_failed": 2, "compliant_percent": 80.0}
    assert all(e["guardrails_missing"] == 0 for e in got["targets"])  # a converge never reads the guardrails
    assert got["kind"] == "converge" and got["check_mode"] is False


def test_check_mode_is_reported():
    hostvars = {"a": {"ec2_identity_result": converge_result(2, 0, 2, check_mode=True)}}
    assert run_summary(["a"], hostvars)["check_mode"] is True


def test_audit():
    hostvars = {"a": {"aws_region": "us-east-1", "ec2_identity_audit_result": {
        "summary": {"total": 7, "compliant": 5, "non_compliant": 2, "launch_sources": {"non_compliant": 2}},
        "keys": keys_result({"AKIA...AAAA": ["i-1"], "AKIA...BBBB": ["i-1", "i-3"], "AKIA...CCCC": ["i-4"]},
                            ["i-1", "i-3", "i-4"]),
        "report": {"markdown": "/r/a-audit.md"}}},
        "b": {"ec2_identity_result": converge_result(3, 3, 3)}}
    got = run_summary(["a", "b"], hostvars, kind="audit")
    a, b = got["targets"]
    assert (a["instances"], a["compliant"], a["non_compliant"], a["changed"], a["status"]) == (7, 5, 2, 0, "ok")
    assert a["launch_sources"] == 2 and got["totals"]["launch_sources"] == 2
    assert (a["keys_used"], a["instances_with_keys"]) == (3, 3)
    assert (got["totals"]["keys_used"], got["totals"]["instances_with_keys"]) == (3, 3)
    assert b["status"] == "not_finished"  # a converge result is not an audit result
    assert got["totals"]["instances"] == 7 and got["kind"] == "audit"


@pytest.mark.parametrize("targets, kind, fragment", [
    ("prod-us-east-1", "converge", "list of inventory host names"),
    (["a"], "plan", "kind must be converge or audit"),
])
def test_bad_input(targets, kind, fragment):
    with pytest.raises(AnsibleFilterError, match=fragment):
        run_summary(targets, {}, kind=kind)


def test_audit_without_the_keys_count_and_malformed_keys_count_zero():
    hostvars = {"a": {"ec2_identity_audit_result": {"summary": {"total": 1, "compliant": 1, "non_compliant": 0},
                                                    "keys": None}},
                "b": {"ec2_identity_audit_result": {"summary": {"total": 1, "compliant": 1, "non_compliant": 0},
                                                    "keys": {"used_from_fleet": "oops", "instances_with_keys": None}}}}
    got = run_summary(["a", "b"], hostvars, kind="audit")
    assert [(e["keys_used"], e["instances_with_keys"]) for e in got["targets"]] == [(0, 0), (0, 0)]
    assert (got["totals"]["keys_used"], got["totals"]["instances_with_keys"]) == (0, 0)


def guardrails(missing, in_force=()):
    """The role's `guardrails` (ec2_identity_audit_result.guardrails) of an account."""
    return {"account": "111122223333", "path": ["r-ab12", "ou-ab12-prod0001", "111122223333"],
            "expected": list(in_force) + list(missing), "in_force": list(in_force), "missing": list(missing),
            "policies": [], "declarative": None, "notes": []}


def test_audit_counts_the_guardrails_missing_per_target_and_in_total():
    audit = {"summary": {"total": 1, "compliant": 1, "non_compliant": 0}}
    hostvars = {
        "prod-us-east-1": {"ec2_identity_audit_result": dict(audit, guardrails=guardrails(
            [], ["require_imdsv2", "hop_limit_cap", "deny_weakening", "deny_imdsv1_credentials"]))},
        "sandbox-us-east-1": {"ec2_identity_audit_result": dict(audit, guardrails=guardrails(
            ["require_imdsv2", "hop_limit_cap", "deny_weakening", "deny_imdsv1_credentials"]))},
        "sandbox-eu-west-1": {"ec2_identity_audit_result": dict(audit, guardrails=guardrails(
            ["deny_imdsv1_credentials"], ["require_imdsv2"]))},
        "not-asked": {"ec2_identity_audit_result": dict(audit, guardrails=None)},
        "malformed": {"ec2_identity_audit_result": dict(audit, guardrails={"missing": "oops"})},
        "failed": {"keyless_target_error": "reading the organization's guardrails failed: AccessDenied"},
    }
    got = run_summary(list(hostvars), hostvars, kind="audit")
    assert [e["guardrails_missing"] for e in got["targets"]] == [0, 4, 1, 0, 0, 0]
    assert got["totals"]["guardrails_missing"] == 5
    assert got["targets"][-1]["status"] == "failed" and "AccessDenied" in got["targets"][-1]["error"]
