# -*- coding: utf-8 -*-
# Copyright: keyless.aws contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Compliance of a converged fleet, before and after, without reading it again (pure).

A multi-step run observed every instance once; after it, an instance whose profile step changed has the
desired profile and one whose metadata step changed has the requested options (AWS answers `applied` once
the bulk wait is over). So the audit's findings after the run are computed from the observed records and
the step results, with fleet/audit.py's own judgement, instead of a second DescribeInstances pass.

    compliance(records, associations, profiles, expected, results_by_step, desired_profile_arn)
        -> {"before": audit summary, "after": audit summary}, each with non_compliant_instances (ids)
        records: {instance_id: selection.instance_record()} of the instances acted on; associations: their
        active associations; profiles: audit's {profile name: {found, role_name}}, the desired one included.

Private to the collection: no stable API.
"""

from __future__ import annotations

from ansible_collections.keyless.aws.plugins.module_utils.fleet.audit import audit_row, summarize
from ansible_collections.keyless.aws.plugins.module_utils.fleet.metadata import OPTION_TO_API


def _after(record, association, step_results, desired_profile_arn):
    record = dict(record)
    profile = step_results.get("profile")
    if profile is not None and profile["status"] == "changed":
        association = {"profile_arn": desired_profile_arn, "state": "associated"} if desired_profile_arn else None
    metadata = step_results.get("metadata")
    if metadata is not None and metadata["status"] == "changed":
        record["metadata"] = dict(record.get("metadata") or {},
                                  **{OPTION_TO_API[k]: v for k, v in (metadata["after"] or {}).items()},
                                  State="applied")
    return record, association


def compliance(records, associations, profiles, expected, results_by_step, desired_profile_arn):
    by_step = {}
    for name, recs in results_by_step.items():
        for rec in recs:
            by_step.setdefault(rec["instance_id"], {})[name] = rec
    before, after = [], []
    for iid in sorted(records):
        before.append(audit_row(records[iid], associations.get(iid), profiles, expected))
        record, association = _after(records[iid], associations.get(iid), by_step.get(iid, {}), desired_profile_arn)
        after.append(audit_row(record, association, profiles, expected))
    out = {}
    for when, rows in (("before", before), ("after", after)):
        out[when] = summarize(rows)
        out[when]["non_compliant_instances"] = [row["instance_id"] for row in rows if not row["compliant"]]
    return out
