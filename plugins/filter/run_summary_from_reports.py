# -*- coding: utf-8 -*-
# Copyright: keyless.aws contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The run summary rebuilt from the targets' JSON reports (pure: reads the reports it is given).

Contract: reports (keyless.aws.target_reports entries: kind, target, account_id, account_name, region, error,
result, path) -> the same summary keyless.aws.run_summary builds from the host variables of the same run -
same entries, same counts, targets sorted by name - so a run split over several controllers or AWX/AAP job
slices and merged reads like one run. The report paths in it point where the reports were read from. The
counting rules live in run_summary.py (reports_hostvars, run_summary); this file only names the filter
(ansible-doc finds a filter's documentation in the file named like it).
"""

from __future__ import annotations

DOCUMENTATION = r"""
name: run_summary_from_reports
short_description: The summary of a converge or audit run, rebuilt from the targets' JSON reports
version_added: 0.1.0
description:
  - Builds the summary of C(keyless.aws.converge) or C(keyless.aws.audit) from the JSON reports the targets wrote
    (C(<ec2_identity_report_dir>/<ec2_identity_report_name>.json), C(-audit.json) for an audit), as read by the lookup
    C(keyless.aws.target_reports) - one or more report directories, for a run split over several controllers or
    AWX/AAP job slices.
  - The summary is the one C(keyless.aws.run_summary) builds from the host variables of the same run (the same
    counting rules, in one place) - one entry per target, sorted by target name, and the totals. Only the
    C(report) paths differ; they point to the directory each report was read from.
  - A target that failed wrote its report with its C(error) and is listed as V(failed); a report with neither a
    result nor an error is listed as V(not_finished). A target that wrote no report is not in the summary.
  - The playbook C(keyless.aws.summarize) reads the report directories and writes C(summary.json), C(summary.md)
    and C(summary.html) with it.
author: keyless.aws maintainers (@keyless-aws)
options:
  _input:
    description:
      - The targets' reports, each a mapping with C(kind) (V(converge) or V(audit)), C(target), C(account_id),
        C(account_name), C(region), C(error) and C(result), and optionally C(path) (where the JSON report was read).
      - One report per target; C(keyless.aws.target_reports) keeps the newest when a target has several.
    type: list
    elements: dict
    required: true
  kind:
    description:
      - Which run to summarize; every report must be of that kind.
      - Not given, the kind of the reports (they must all be of one kind; V(converge) when the list is empty).
    type: str
    choices: [converge, audit]
"""

EXAMPLES = r"""
- name: One summary of a converge run split over two report directories
  ansible.builtin.set_fact:
    run_summary: >-
      {{ query('keyless.aws.target_reports', '/mnt/slice1', '/mnt/slice2') | keyless.aws.run_summary_from_reports }}

- name: The totals of an audit
  ansible.builtin.debug:
    msg: >-
      {{ (query('keyless.aws.target_reports', 'ec2_identity_reports', kind='audit')
          | keyless.aws.run_summary_from_reports(kind='audit')).totals }}
"""

RETURN = r"""
_value:
  description:
    - The summary, as returned by C(keyless.aws.run_summary) (see C(ansible-doc -t filter keyless.aws.run_summary)) -
      C(kind), C(check_mode), C(targets) (one entry per target, sorted by name, with C(target), C(account_id),
      C(account_name), C(region), C(status), C(error), the counts, C(compliant_percent), C(identity_changed) and
      C(report)) and C(totals).
  type: dict
"""

from ansible_collections.keyless.aws.plugins.filter.run_summary import run_summary_from_reports


class FilterModule(object):
    """keyless.aws filters."""

    def filters(self):
        return {"run_summary_from_reports": run_summary_from_reports}
