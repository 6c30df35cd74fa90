# -*- coding: utf-8 -*-
# Copyright: keyless.aws contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Lookup keyless.aws.target_reports: the targets' JSON reports of one or more report directories, on the controller.

Contract: every *.json file directly in the given directories whose JSON is a mapping with `kind` (converge or
audit) and `target` is a target report; the others (summary.json, *-suggested-policy.json, anything else) are
left alone, and a file that is not JSON is skipped with a warning naming it. The reports of the asked kind come
back one per target, sorted by target, reduced to what the run summary reads (kind, target, account_id,
account_name, region, error, generated_at, path, and the parts of result the counts read: SUMMARY_FIELDS of
plugins/filter/run_summary.py) - never the per-instance lists, which can hold 10,000 records. A target found
twice keeps its newest report (generated_at; on a tie the later directory given, then the later file name), with
a warning naming both files. A directory that does not exist, or no report of the kind at all, is an error that
names the directories and what is expected. Reads only; relative directories are relative to the working
directory of ansible-playbook.
"""

from __future__ import annotations

DOCUMENTATION = r"""
name: target_reports
short_description: Read the targets' JSON reports of a converge or audit run from one or more directories
version_added: 0.1.0
description:
  - Reads the JSON report every target of C(keyless.aws.converge) or C(keyless.aws.audit) writes
    (C(<ec2_identity_report_dir>/<ec2_identity_report_name>.json), C(-audit.json) for an audit), from one or
    more directories on the controller - one per controller, or per AWX/AAP job slice, of a run split in parts.
  - A file is a target report when its JSON is a mapping with C(kind) (V(converge) or V(audit)) and C(target).
    Other JSON files in the directories (the run summary C(summary.json), C(*-suggested-policy.json)) are
    ignored; a C(.json) file that is not JSON is skipped with a warning naming it. Subdirectories are not read.
  - A target found twice (a slice rerun, two directories holding the same report) keeps the report with the
    newest C(generated_at) (on a tie, the one from the later directory given), with a warning naming both files.
  - Each report comes back reduced to what the run summary reads; the C(instances) lists and the per-instance
    lists of C(result) are left out. Give the list to the filter C(keyless.aws.run_summary_from_reports), or to
    the role's summary entry point as C(ec2_identity_summary_reports) (what the playbook C(keyless.aws.summarize) does).
  - Use C(query) (or C(lookup) with C(wantlist=true)); the result is a list of mappings.
author: keyless.aws maintainers (@keyless-aws)
options:
  _terms:
    description:
      - The directories to read (or lists of them). A relative directory is relative to the working directory of
        C(ansible-playbook). Each must exist; a directory given twice is read once.
    type: list
    elements: path
    required: true
  kind:
    description: Which reports to read - the converge reports or the audit reports.
    type: str
    choices: [converge, audit]
    default: converge
notes:
  - The reports are read on the controller; the lookup makes no AWS call.
"""

EXAMPLES = r"""
- name: Read the converge reports of a run split over two controllers
  ansible.builtin.set_fact:
    keyless_reports: "{{ query('keyless.aws.target_reports', '/mnt/slice1', '/mnt/slice2') }}"

- name: The targets that failed in an audit
  ansible.builtin.debug:
    msg: >-
      {{ query('keyless.aws.target_reports', 'ec2_identity_reports', kind='audit')
         | selectattr('error') | map(attribute='target') | list }}

- name: One summary of the reports
  ansible.builtin.debug:
    msg: "{{ (query('keyless.aws.target_reports', ['/mnt/slice1', '/mnt/slice2']) | keyless.aws.run_summary_from_reports).totals }}"
"""

RETURN = r"""
_raw:
  description: One report per target, sorted by target.
  type: list
  elements: dict
  contains:
    kind:
      description: V(converge) or V(audit).
      type: str
    target:
      description: The inventory host name of the target.
      type: str
    account_id:
      description: The target's account (its host variable C(aws_account_id)), or null.
      type: str
    account_name:
      description: The account's name (host variable C(aws_account_name)), or null.
      type: str
    region:
      description: The target's region (host variable C(aws_region)), or null.
      type: str
    error:
      description: Why the target failed, or null.
      type: str
    generated_at:
      description: When the target wrote the report (UTC, ISO 8601).
      type: str
    path:
      description: The JSON report the entry was read from.
      type: str
    result:
      description:
        - The parts of the target's C(ec2_identity_result) (converge) or C(ec2_identity_audit_result) (audit) that the run
          summary reads - counts, compliance totals, Auto Scaling group summary, access keys, guardrails missing, report
          paths, region, check mode - or null when the target failed before it had one.
      type: dict
"""

import json
import os

from ansible.errors import AnsibleLookupError
from ansible.module_utils.common.text.converters import to_native, to_text
from ansible.plugins.lookup import LookupBase
from ansible.utils.display import Display

from ansible_collections.keyless.aws.plugins.filter.run_summary import KINDS, summary_fields

display = Display()

KEPT = ("kind", "target", "account_id", "account_name", "region", "error", "generated_at")


def _directories(terms):
    """The directories of the terms (strings, or lists of them), in order, each once."""
    found, seen = [], set()
    for term in terms:
        for item in (term if isinstance(term, (list, tuple)) else [term]):
            if not isinstance(item, str) or not item.strip():
                raise AnsibleLookupError("target_reports: a directory must be a non-empty path, not %r" % (item,))
            path = os.path.abspath(os.path.expanduser(item))
            if not os.path.isdir(path):
                what = "is not a directory" if os.path.exists(path) else "does not exist"
                raise AnsibleLookupError("target_reports: the report directory %s %s (give the directories the targets "
                                         "wrote their JSON reports to: their ec2_identity_report_dir)" % (path, what))
            key = os.path.realpath(path)
            if key not in seen:
                seen.add(key)
                found.append(path)
    if not found:
        raise AnsibleLookupError("target_reports: no directory given; name one or more report directories "
                                 "(query('keyless.aws.target_reports', '/mnt/slice1', '/mnt/slice2'))")
    return found


def _read(path):
    """The JSON of path, or None (with a warning) when it is not JSON."""
    try:
        with open(path, "rb") as handle:
            return json.loads(handle.read().decode("utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        display.warning("target_reports: skipped %s: not a JSON file (%s)" % (path, to_native(exc)))
        return None


def reports_of(directories, kind):
    """One reduced report per target of kind, from the JSON files directly in directories (sorted by target)."""
    newest = {}
    for directory in directories:
        for name in sorted(os.listdir(directory)):
            path = os.path.join(directory, name)
            if not name.endswith(".json") or not os.path.isfile(path):
                continue
            data = _read(path)
            if not isinstance(data, dict) or data.get("kind") not in KINDS or not data.get("target"):
                continue  # the run summary, a suggested policy, anything that is not a target report
            if data["kind"] != kind:
                continue
            report = {key: data.get(key) for key in KEPT}
            report["target"] = to_text(report["target"])
            report["result"] = summary_fields(data.get("result"), kind) if data.get("result") else None
            report["path"] = path
            before = newest.get(report["target"])
            if before is not None:
                keep = report if to_text(report["generated_at"] or "") >= to_text(before["generated_at"] or "") else before
                display.warning("target_reports: target %s has two %s reports, %s (generated_at %s) and %s (generated_at %s); "
                                "keeping the newest, %s" % (report["target"], kind, before["path"], before["generated_at"],
                                                            path, report["generated_at"], keep["path"]))
                report = keep
            newest[report["target"]] = report
    if not newest:
        raise AnsibleLookupError("target_reports: no %s report in %s (a target report is a JSON file with kind: %s and a target, "
                                 "written by keyless.aws.%s; check the directories and kind=converge|audit)"
                                 % (kind, ", ".join(directories), kind, kind))
    return [newest[target] for target in sorted(newest)]


class LookupModule(LookupBase):

    def run(self, terms, variables=None, **kwargs):
        self.set_options(var_options=variables, direct=kwargs)
        kind = self.get_option("kind")
        if kind not in KINDS:
            raise AnsibleLookupError("target_reports: kind must be converge or audit, not %r" % (kind,))
        return reports_of(_directories(terms), kind)
