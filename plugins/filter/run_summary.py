# -*- coding: utf-8 -*-
# Copyright: keyless.aws contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""One summary of a converge or audit run over many account/region targets (pure: reads host variables or reports).

Contract: for each target (an inventory host of keyless.aws.converge / keyless.aws.audit), read what the
role left in its host variables - ec2_identity_result (converge), ec2_identity_audit_result (audit),
keyless_target_error (set by the playbook when the target failed) - and return one entry per target with
the same counts, plus totals. A target without a result and without an error did not run to its end
(unreachable, or stopped by the play); it is reported as such, never left out. Targets are listed sorted by
name, whatever order they come in, so that one run and the same run split over several controllers (or
AWX/AAP job slices) and merged give the same summary.

The same counts from the targets' JSON reports (keyless.aws.target_reports, filter run_summary_from_reports):
reports_hostvars() turns the reports into the host variables above and run_summary() counts them - this file
is the one home of the counting rules. SUMMARY_FIELDS says which parts of a result the counts read; the
lookup keeps only those (a result's per-instance lists can hold 10,000 records).
"""

from __future__ import annotations

DOCUMENTATION = r"""
name: run_summary
short_description: One summary of a converge or audit run across account/region targets
version_added: 0.1.0
description:
  - Builds the run summary the playbooks C(keyless.aws.converge) and C(keyless.aws.audit) write as
    C(summary.json), C(summary.md) and C(summary.html) and return with C(set_stats).
  - For each target, reads the host variables the role C(keyless.aws.ec2_identity) leaves
    (C(ec2_identity_result) after a converge, C(ec2_identity_audit_result) after an audit) and the error the
    playbook records when the target failed (C(keyless_target_error)).
  - A target with neither a result nor an error did not finish (unreachable, or stopped before the role
    ended); it is listed with status V(not_finished) and counted in RV(_value.totals.targets_failed).
  - Targets are listed sorted by name, so that a run split over several controllers or AWX/AAP job slices and
    merged with C(keyless.aws.run_summary_from_reports) gives the same summary as one run.
author: keyless.aws maintainers (@keyless-aws)
positional: hostvars
options:
  _input:
    description: The inventory host names of the targets (listed sorted by name in the summary).
    type: list
    elements: str
    required: true
  hostvars:
    description: Ansible's C(hostvars) (or any mapping of host name to its variables).
    type: dict
    required: true
  kind:
    description: Which run to summarize.
    type: str
    choices: [converge, audit]
    default: converge
"""

EXAMPLES = r"""
- name: Summarize the converge of every target
  ansible.builtin.set_fact:
    run_summary: "{{ query('inventory_hostnames', 'aws_targets') | keyless.aws.run_summary(hostvars) }}"

- name: Summarize an audit
  ansible.builtin.debug:
    msg: "{{ (['prod-us-east-1'] | keyless.aws.run_summary(hostvars, kind='audit')).totals }}"
"""

RETURN = r"""
_value:
  description: The summary.
  type: dict
  contains:
    kind:
      description: V(converge) or V(audit).
      type: str
    check_mode:
      description: Whether any target ran in check mode (its counts are predictions).
      type: bool
    targets:
      description: One entry per target, sorted by target name.
      type: list
      elements: dict
      contains:
        target:
          description: The inventory host name.
          type: str
        account_id:
          description: The account (host variable C(aws_account_id)), or null when the inventory does not say.
          type: str
        account_name:
          description: The account's name (host variable C(aws_account_name)), or null.
          type: str
        region:
          description: The region of the target.
          type: str
        status:
          description: V(ok), V(failed) (with RV(_value.targets[].error)) or V(not_finished).
          type: str
        error:
          description: Why the target failed or did not finish; null when it is V(ok).
          type: str
        instances:
          description: Instances selected on the target (terminated ones left out).
          type: int
        compliant:
          description: Instances compliant after the run (predicted in check mode).
          type: int
        non_compliant:
          description: Instances not compliant after the run.
          type: int
        changed:
          description: Instances changed (would change in check mode); 0 for an audit.
          type: int
        held:
          description: Instances held back at C(http_tokens=optional) (IMDSv1 calls, no evidence, a later wave).
          type: int
        rolled_back:
          description: Instances a wave required IMDSv2 on and its watch put back to C(http_tokens=optional).
          type: int
        failed:
          description: Instances that failed to converge.
          type: int
        instances_with_keys:
          description:
            - Instances an IAM user's long-term access key was used from (CloudTrail), when the role's keys step
              (C(ec2_identity_keys_report)) or the audit's (C(ec2_identity_audit_keys)) ran; 0 otherwise.
          type: int
        keys_used:
          description: Access keys used from the selected instances (0 when the keys step did not run).
          type: int
        launch_sources:
          description:
            - Launch sources that still launch non-compliant instances - for a converge, the Auto Scaling groups the
              run held, failed or left to their owners; for an audit, the non-compliant RV(keyless.aws.ec2_fleet_info#module:launch_sources).
          type: int
        guardrails_missing:
          description:
            - For an audit with C(ec2_identity_audit_guardrails), the organization guardrail rules missing in the
              target's account (C(ec2_identity_audit_result.guardrails.missing)); 0 when not asked, and for a converge.
          type: int
        compliant_percent:
          description: C(compliant) as a percentage of C(instances) (100 when there are none), one decimal.
          type: float
        identity_changed:
          description: Whether the IAM role or instance profile changed on this target.
          type: bool
        report:
          description:
            - The target's Markdown report, or null. In a summary built from reports, the path is in the directory the
              JSON report was read from (the Markdown report is beside it).
          type: str
    totals:
      description: The counts of RV(_value.targets) summed, with the number of targets.
      type: dict
      contains:
        targets:
          description: Targets in the run.
          type: int
        targets_ok:
          description: Targets with status V(ok).
          type: int
        targets_failed:
          description: Targets with status V(failed) or V(not_finished).
          type: int
        instances:
          description: Instances over every target.
          type: int
        compliant:
          description: Compliant instances over every target.
          type: int
        non_compliant:
          description: Non-compliant instances over every target.
          type: int
        changed:
          description: Changed instances over every target.
          type: int
        held:
          description: Held instances over every target.
          type: int
        rolled_back:
          description: Instances rolled back by the watch of their wave, over every target.
          type: int
        failed:
          description: Failed instances over every target.
          type: int
        instances_with_keys:
          description: Instances an access key was used from, over every target.
          type: int
        keys_used:
          description: Access keys used from the fleet, over every target.
          type: int
        launch_sources:
          description: Launch sources that still launch non-compliant instances, over every target.
          type: int
        guardrails_missing:
          description: Organization guardrail rules missing, over every target (an account audited in two regions counts twice).
          type: int
        compliant_percent:
          description: C(compliant) as a percentage of C(instances) (100 when there are none), one decimal.
          type: float
"""

import os

from ansible.errors import AnsibleFilterError
from ansible.module_utils.common.text.converters import to_text

COUNTS = ("instances", "compliant", "non_compliant", "changed", "held", "rolled_back", "failed", "launch_sources",
          "instances_with_keys", "keys_used", "guardrails_missing")
KINDS = ("converge", "audit")
RESULT_VARS = {"converge": "ec2_identity_result", "audit": "ec2_identity_audit_result"}
_KEYS = {"instances_with_keys": None, "used_from_fleet": None}
_REPORT = {"json": None, "markdown": None}
# What the counts below read of a result, per kind (keep in step with _converge_counts, _audit_counts, _key_counts
# and _guardrails_missing; the unit tests count pruned and whole results alike)
SUMMARY_FIELDS = {
    "converge": {"region": None, "check_mode": None, "identity_changed": None, "counts": None,
                 "compliance": {"after": {"total": None, "compliant": None, "non_compliant": None}},
                 "autoscaling_groups": {"summary": None}, "keys": _KEYS, "report": _REPORT},
    "audit": {"region": None, "summary": None, "guardrails": {"missing": None}, "keys": _KEYS, "report": _REPORT},
}
NOT_FINISHED = "no result: the target did not finish (unreachable, or stopped before the role ended; see the play recap)"


def _int(value):
    try:
        return int(value or 0)
    except (TypeError, ValueError):
        return 0


def _percent(part, whole):
    """part of whole in percent, one decimal; 100 for an empty whole (nothing to fix is compliant)."""
    return round(100.0 * part / whole, 1) if whole else 100.0


def _get(mapping, key, default=None):
    try:
        value = mapping[key]
    except (KeyError, TypeError):
        return default
    return default if value is None else value


def _key_counts(result):
    """Instances a key was used from and keys used from the fleet: the result's `keys` (null when not run: 0)."""
    keys = _get(result, "keys", {})

    def count(name):
        value = _get(keys, name, [])
        return len(value) if isinstance(value, (list, tuple)) else 0

    return {"instances_with_keys": count("instances_with_keys"), "keys_used": count("used_from_fleet")}


def _guardrails_missing(result):
    """The organization guardrail rules missing in the target's account: the result's `guardrails` (null when the
    audit did not ask: 0)."""
    missing = _get(_get(result, "guardrails", {}), "missing", [])
    return len(missing) if isinstance(missing, (list, tuple)) else 0


def _converge_counts(result):
    counts = _get(result, "counts", {})
    groups = _get(_get(result, "autoscaling_groups", {}), "summary", {})
    after = _get(_get(result, "compliance", {}), "after", {})
    # compliance covers the instances the run judged (terminated ones are left out): its total when present
    instances = _int(_get(after, "total", _get(counts, "selected", _get(counts, "total"))))
    compliant = _int(_get(after, "compliant")) if after else 0
    counts_out = {
        "instances": instances,
        "compliant": compliant,
        "non_compliant": _int(_get(after, "non_compliant", instances - compliant)) if after else instances,
        "changed": _int(_get(counts, "changed")),
        "held": _int(_get(counts, "held")),
        "rolled_back": _int(_get(counts, "rolled_back")),
        "failed": _int(_get(counts, "failed")),
        # Auto Scaling groups the run left launching non-compliant instances: held (a launch configuration without
        # the opt-in, a conflict), failed, or left to their owners
        "launch_sources": sum(_int(_get(groups, key)) for key in ("held", "failed", "skipped")),
        "identity_changed": bool(_get(result, "identity_changed", False)),
        "report": _get(_get(result, "report", {}), "markdown"),
        "check_mode": bool(_get(result, "check_mode", False)),
        "guardrails_missing": 0,
    }
    counts_out.update(_key_counts(result))
    return counts_out


def _audit_counts(result):
    summary = _get(result, "summary", {})
    counts = {
        "instances": _int(_get(summary, "total")),
        "compliant": _int(_get(summary, "compliant")),
        "non_compliant": _int(_get(summary, "non_compliant")),
        "changed": 0, "held": 0, "rolled_back": 0, "failed": 0, "identity_changed": False,
        "launch_sources": _int(_get(_get(summary, "launch_sources", {}), "non_compliant")),
        "report": _get(_get(result, "report", {}), "markdown"),
        "check_mode": False,
        "guardrails_missing": _guardrails_missing(result),
    }
    counts.update(_key_counts(result))
    return counts


def _check_kind(kind, name):
    if kind not in KINDS:
        raise AnsibleFilterError("%s: kind must be converge or audit, not %r" % (name, kind))


def run_summary(targets, hostvars, kind="converge"):
    _check_kind(kind, "run_summary")
    if isinstance(targets, (str, bytes)) or not hasattr(targets, "__iter__"):
        raise AnsibleFilterError("run_summary: the input must be a list of inventory host names")
    result_var, counts_of = RESULT_VARS[kind], (_converge_counts if kind == "converge" else _audit_counts)
    entries = []
    # sorted by name: the order of an inventory is not in the targets' reports, and a split run merged must
    # read like one run
    for name in sorted(to_text(target) for target in targets):
        host = _get(hostvars, name, {})
        result = _get(host, result_var)
        error = _get(host, "keyless_target_error")
        entry = {"target": name, "account_id": _get(host, "aws_account_id"), "account_name": _get(host, "aws_account_name"),
                 "region": _get(host, "aws_region", _get(result, "region") if result else None)}
        if result:
            counts = counts_of(result)
        else:
            counts = dict({key: 0 for key in COUNTS}, identity_changed=False, report=None, check_mode=False)
        entry.update(counts)
        entry["status"] = "failed" if error else ("ok" if result else "not_finished")
        entry["error"] = to_text(error) if error else (None if result else NOT_FINISHED)
        entries.append(entry)
    totals = {key: sum(e[key] for e in entries) for key in COUNTS}
    totals["targets"] = len(entries)
    totals["targets_ok"] = sum(1 for e in entries if e["status"] == "ok")
    totals["targets_failed"] = totals["targets"] - totals["targets_ok"]
    totals["compliant_percent"] = _percent(totals["compliant"], totals["instances"])
    for entry in entries:
        entry["compliant_percent"] = _percent(entry["compliant"], entry["instances"])
    check_mode = any(e.pop("check_mode") for e in entries)
    return {"kind": kind, "check_mode": check_mode, "targets": entries, "totals": totals}


# ---- the same summary from the targets' JSON reports ---------------------------------------------------

def _prune(value, spec):
    """value reduced to the keys of spec (nested: a dict spec keeps those keys of a dict value; None keeps all)."""
    if spec is None or not isinstance(value, dict):
        return value
    return {key: _prune(value[key], sub) for key, sub in spec.items() if key in value}


def summary_fields(result, kind):
    """The parts of a target's result (ec2_identity_result / ec2_identity_audit_result) that the counts read."""
    _check_kind(kind, "summary_fields")
    return _prune(result, SUMMARY_FIELDS[kind])


def _relocated(result, path):
    """The result with its report paths in the directory its JSON report was read from (path): where they are now,
    on this controller, not where the controller that wrote them put them."""
    report = _get(result, "report")
    if not path or not isinstance(report, dict):
        return result
    folder = os.path.dirname(to_text(path))
    moved = {key: (os.path.join(folder, os.path.basename(to_text(value))) if key in ("json", "markdown") and value else value)
             for key, value in report.items()}
    return dict(result, report=moved)


def reports_hostvars(reports, kind=None, name="run_summary_from_reports"):
    """(kind, {target: host variables}) of the targets' reports: what run_summary reads of hostvars.

    reports: dicts with kind, target, account_id, account_name, region, error, result (a keyless.aws.target_reports
    entry, or a report JSON as the role writes it); path, when given, is where the JSON report was read from.
    kind: converge or audit; None takes the reports' own (they must agree)."""
    if isinstance(reports, (str, bytes, dict)) or not hasattr(reports, "__iter__"):
        raise AnsibleFilterError("%s: the input must be a list of target reports (query('keyless.aws.target_reports', "
                                 "dir, ...)), not %s" % (name, type(reports).__name__))
    reports = list(reports)
    if kind is not None:
        _check_kind(kind, name)
    hosts = {}
    for number, report in enumerate(reports):
        where = "report %d" % (number + 1)
        if not isinstance(report, dict) or not _get(report, "target"):
            raise AnsibleFilterError("%s: %s is not a target report (a mapping with kind, target, result and error), got %r"
                                     % (name, where, report if not isinstance(report, dict) else sorted(report)))
        target = to_text(report["target"])
        where = "the report of %s%s" % (target, (" (%s)" % report["path"]) if _get(report, "path") else "")
        own = _get(report, "kind")
        if own not in KINDS:
            raise AnsibleFilterError("%s: %s has kind %r; a target report's kind is converge or audit" % (name, where, own))
        if kind is None:
            kind = own
        if own != kind:
            raise AnsibleFilterError("%s: %s is a%s %s report and this summary is of kind %s; summarize one kind at a time"
                                     % (name, where, "n" if own == "audit" else "", own, kind))
        if target in hosts:
            raise AnsibleFilterError("%s: target %s has two reports; keep one (keyless.aws.target_reports keeps the newest)"
                                     % (name, target))
        result = _get(report, "result")
        host = {RESULT_VARS[kind]: _relocated(summary_fields(result, kind), _get(report, "path")) if result else None,
                "keyless_target_error": _get(report, "error")}
        for var, key in (("aws_account_id", "account_id"), ("aws_account_name", "account_name"), ("aws_region", "region")):
            host[var] = _get(report, key)
        hosts[target] = host
    return kind or "converge", hosts


def run_summary_from_reports(reports, kind=None):
    """The run summary of the targets' reports: the same as run_summary over the hostvars of the same run."""
    kind, hosts = reports_hostvars(reports, kind)
    return run_summary(list(hosts), hosts, kind=kind)


class FilterModule(object):
    """keyless.aws filters."""

    def filters(self):
        return {"run_summary": run_summary}
