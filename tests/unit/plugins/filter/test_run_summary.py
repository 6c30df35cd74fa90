"""run_summary: one entry per target from what the role left in its host variables, totals that add up,
failed and unfinished targets listed with their error, never dropped, targets sorted by name.
run_summary_from_reports: the same summary from the targets' JSON reports (one run = a split run merged)."""

from __future__ import annotations

import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.keyless.aws.plugins.filter.run_summary import (
    NOT_FINISHED, RESULT_VARS, reports_hostvars, run_summary, run_summary_from_reports, summary_fields)


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
    assert [e["target"] for e in got["targets"]] == sorted(HOSTVARS)  # by name, whatever the order given
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
    missing = {e["target"]: e["guardrails_missing"] for e in got["targets"]}
    assert missing == {"prod-us-east-1": 0, "sandbox-us-east-1": 4, "sandbox-eu-west-1": 1, "not-asked": 0, "malformed": 0,
                       "failed": 0}
    assert got["totals"]["guardrails_missing"] == 5
    failed = {e["target"]: e for e in got["targets"]}["failed"]
    assert failed["status"] == "failed" and "AccessDenied" in failed["error"]


# ---- the same summary from the targets' reports ------------------------------------------------------------------

def report_of(name, host, kind="converge", path=None):
    """The report a target of HOSTVARS would write (the contract of report.yml / audit.yml), with the lookup's path."""
    return {"kind": kind, "target": name, "generated_at": "2026-12-07T10:00:00Z", "account_id": host.get("aws_account_id"),
            "account_name": host.get("aws_account_name"), "region": host.get("aws_region"),
            "error": host.get("keyless_target_error"), "result": host.get(RESULT_VARS[kind]), "instances": [], "path": path}


def same_but_report_dir(one, other):
    """Equal summaries, the directory part of the report paths aside."""
    def strip(summary):
        return dict(summary, targets=[dict(t, report=t["report"] and t["report"].rsplit("/", 1)[-1]) for t in summary["targets"]])
    return strip(one) == strip(other)


def test_reports_give_the_hostvars_summary_in_any_order():
    """One run (hostvars) and the same run's reports, split in two directories and read in another order, agree."""
    one_run = run_summary(list(HOSTVARS), HOSTVARS)
    reports = [report_of(name, HOSTVARS[name], path="/mnt/slice%d/%s-App.json" % (n % 2 + 1, name))
               for n, name in enumerate(reversed(list(HOSTVARS)))]
    merged = run_summary_from_reports(reports)
    assert merged != one_run and same_but_report_dir(merged, one_run)
    # the report paths point where the reports were read from
    assert {t["target"]: t["report"] for t in merged["targets"]}["prod-us-east-1"] == "/mnt/slice2/x.md"


def test_a_failed_target_without_a_result_is_listed_failed_with_its_error():
    reports = [report_of("b", {"ec2_identity_result": converge_result(4, 4, 1)}),
               dict(report_of("a", {}), error="AssumeRole failed for arn:aws:iam::444455556666:role/nope: AccessDenied")]
    got = run_summary_from_reports(reports)
    a, b = got["targets"]
    assert (a["target"], a["status"], a["instances"], a["report"]) == ("a", "failed", 0, None)
    assert "AccessDenied" in a["error"] and b["status"] == "ok"
    assert got["totals"]["targets_failed"] == 1 and got["totals"]["instances"] == 4
    # neither a result nor an error: did not finish, as from hostvars
    assert run_summary_from_reports([report_of("c", {})])["targets"][0]["status"] == "not_finished"


def test_audit_reports():
    audit = {"summary": {"total": 2, "compliant": 1, "non_compliant": 1, "launch_sources": {"non_compliant": 1}},
             "non_compliant": [{"instance_id": "i-1", "findings": ["no_profile"]}], "guardrails": guardrails(["hop_limit_cap"]),
             "report": {"json": "/r/a-audit.json", "markdown": "/r/a-audit.md"}}
    hostvars = {"a": {"aws_region": "us-east-1", "ec2_identity_audit_result": audit}}
    reports = [report_of("a", hostvars["a"], kind="audit", path="/mnt/s1/a-audit.json")]
    got = run_summary_from_reports(reports)  # the kind of the reports
    assert got["kind"] == "audit" and same_but_report_dir(got, run_summary(["a"], hostvars, kind="audit"))
    assert got["targets"][0]["report"] == "/mnt/s1/a-audit.md" and got["totals"]["guardrails_missing"] == 1


def test_summary_fields_count_like_the_whole_result():
    """The lookup keeps only SUMMARY_FIELDS of a result: the counts of the pruned results are the whole results'."""
    pruned = {name: {key: (summary_fields(value, "converge") if key == "ec2_identity_result" else value)
                     for key, value in host.items()} for name, host in HOSTVARS.items()}
    assert run_summary(list(pruned), pruned) == run_summary(list(HOSTVARS), HOSTVARS)
    result = converge_result(3, 2, 1)
    result["compliance"]["after"]["non_compliant_instances"] = ["i-%d" % n for n in range(10000)]
    result["held"] = [{"instance_id": "i-1"}]
    kept = summary_fields(result, "converge")
    assert "held" not in kept and "non_compliant_instances" not in kept["compliance"]["after"]
    assert summary_fields(None, "audit") is None


@pytest.mark.parametrize("reports, kind, fragment", [
    ({"target": "a"}, None, "must be a list of target reports"),
    (["a"], None, "report 1 is not a target report"),
    ([{"kind": "plan", "target": "a"}], None, "kind 'plan'"),
    ([{"kind": "audit", "target": "a"}], "converge", "is an audit report and this summary is of kind converge"),
    ([{"kind": "converge", "target": "a"}], "plan", "kind must be converge or audit"),
    ([{"kind": "converge", "target": "a"}, {"kind": "converge", "target": "a"}], None, "target a has two reports"),
])
def test_bad_reports(reports, kind, fragment):
    with pytest.raises(AnsibleFilterError, match=fragment):
        reports_hostvars(reports, kind)


def test_no_reports_is_an_empty_converge_summary():
    got = run_summary_from_reports([])
    assert got["kind"] == "converge" and got["targets"] == [] and got["totals"]["targets"] == 0
