#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: keyless.aws contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: iam_policy_from_activity
short_description: Suggest a least-privilege policy for an IAM role from its CloudTrail activity
version_added: 0.1.0
description:
  - Collects the CloudTrail events a role made over a window, either from the CloudTrail
    C(LookupEvents) API or from CloudTrail log files as CloudTrail delivers them
    (C(AWSLogs/<account>/CloudTrail/<region>/YYYY/MM/DD/*.json.gz)) in an S3 bucket or a local directory.
  - Keeps the events whose C(userIdentity.sessionContext.sessionIssuer.arn) is the role (or whose
    assumed-role ARN belongs to it), maps each call to the IAM action it needs (with a table for
    the calls whose names differ, such as S3 C(ListObjectsV2) needing C(s3:ListBucket) or
    C(CopyObject) needing C(s3:GetObject) on the source and C(s3:PutObject) on the target), and
    collects the resources the events name.
  - Returns a suggested policy document (one statement per service and resource list, resources as
    narrow as the events show, S3 keys as key-prefix wildcards), and compares it with the role's
    current inline and attached managed policies - granted actions never used, used actions not
    granted (including calls CloudTrail recorded as C(AccessDenied)) - plus the events it could not map.
  - The suggestion never contains a privilege-escalation path; an action that M(keyless.aws.iam_role) would refuse
    in it (for example C(iam:PutRolePolicy) or C(iam:PassRole) on C(*), or a write to the role's own policies or
    trust) is left out, listed in RV(withheld_actions) with the reason, and reported in a warning, even when
    the role was seen using it. The same action on named resources is kept.
  - Read-only. It never changes the role; write the suggestion where you want it (the
    C(keyless.aws.ec2_identity) role can put it in its report).
  - C(LookupEvents) returns management events only (no S3 object or other data events) and is
    limited to about 2 calls per second per account and region; pages are paced to that rate.
    With a busy account prefer O(source=s3) and a trail that records data events.
  - The comparison is by action name. Resource scopes, conditions, permission boundaries and
    service control policies are not evaluated, which is why a call CloudTrail recorded as denied
    is reported on its own.
author: keyless.aws maintainers (@keyless-aws)
options:
  role:
    description:
      - The role to analyze, by name or ARN.
    type: str
    required: true
  days:
    description:
      - The window, in days back from now.
      - 1 to 90 with O(source=lookup_events) (CloudTrail keeps 90 days of event history);
        1 to 3650 with log files.
    type: int
    default: 90
  source:
    description:
      - Where the events come from.
      - V(lookup_events) calls the CloudTrail C(LookupEvents) API in each of O(regions).
      - V(s3) reads the log files of the window from O(s3_bucket) (only the day prefixes of the window are listed).
      - V(local) reads log files from O(local_path) (the delivered layout, or any directory of
        C(.json.gz)/C(.json) log files).
    type: str
    choices: [lookup_events, s3, local]
    default: lookup_events
  s3_bucket:
    description:
      - The bucket the trail delivers to. Required with O(source=s3).
    type: str
  s3_prefix:
    description:
      - The trail's S3 key prefix (the part before C(AWSLogs/)), if it has one.
    type: str
    default: ""
  local_path:
    description:
      - A directory of log files. Required with O(source=local).
    type: path
  organization_id:
    description:
      - For an organization trail, the organization id in the key layout
        (C(AWSLogs/<organization id>/<account>/CloudTrail/...)).
    type: str
  regions:
    description:
      - The regions to read.
      - Default with O(source=lookup_events) is the connection's region (O(region), else the profile's
        region in the AWS config file); with log files, every
        region folder the layout holds.
      - Calls to global services such as IAM are recorded in C(us-east-1).
    type: list
    elements: str
  max_events:
    description:
      - Stop after reading this many events (of any principal); the result then says C(truncated=true).
      - With O(source=lookup_events) each 50 events cost one paced call (about 100 events a second).
    type: int
    default: 100000
  include_denied:
    description:
      - Put actions whose every call was denied (C(AccessDenied)) into the suggested policy too.
      - Either way they are listed in RV(used_not_granted).
    type: bool
    default: false
attributes:
  check_mode:
    support: full
    description:
      - The module only reads; check mode runs it the same way and returns the same result.
      - In check mode a role that does not exist yet (an earlier task only predicted it) gives an empty
        result and a warning instead of failing.
  diff_mode:
    support: N/A
    description: The module only reads and never changes the role, so there is nothing to diff.
extends_documentation_fragment:
  - keyless.aws.aws
"""

EXAMPLES = r"""
- name: Suggest a policy from the last 30 days of management events in two regions
  keyless.aws.iam_policy_from_activity:
    role: app-web
    days: 30
    regions: [us-east-1, eu-west-1]
  register: activity

- name: Use the trail's log files in S3 (includes S3 object calls when the trail records data events)
  keyless.aws.iam_policy_from_activity:
    role: arn:aws:iam::123456789012:role/app/app-web
    source: s3
    s3_bucket: org-cloudtrail-logs
    s3_prefix: trails/main
  register: activity

- name: Save the suggestion for review
  ansible.builtin.copy:
    content: "{{ activity.suggested_policy | to_nice_json }}"
    dest: "reports/app-web-policy.json"
    mode: "0644"

- name: Show what the role may do but never did
  ansible.builtin.debug:
    var: activity.unused_granted_actions
"""

RETURN = r"""
role:
  description: The analyzed role.
  returned: always
  type: dict
  sample: {"role_name": "app-web", "arn": "arn:aws:iam::123456789012:role/app/app-web"}
window:
  description: The window the events were read for (UTC, ISO 8601).
  returned: always
  type: dict
  sample: {"start": "2026-09-02T08:00:00+00:00", "end": "2026-12-01T08:00:00+00:00", "days": 90}
source:
  description: Where the events came from, the regions read and how much was read.
  returned: always
  type: dict
  sample: {"type": "s3", "regions": ["us-east-1"], "events_read": 5120, "files": 96, "api_calls": 0,
           "truncated": false}
event_count:
  description: The number of events of the role in the window.
  returned: always
  type: int
  sample: 312
event_counts:
  description: The role's events by how they were classified.
  returned: always
  type: dict
  sample: {"mapped": 300, "unmapped": 2, "no_permission": 10, "skipped": 0, "denied": 7}
suggested_policy:
  description:
    - A policy document allowing what the role was seen doing, one statement per service and resource list,
      without privilege-escalation paths (see RV(withheld_actions)).
    - V(null) when the role made no call that needs a permission.
  returned: always
  type: dict
  sample: {"Version": "2012-10-17", "Statement": [{"Sid": "Sqs", "Effect": "Allow",
           "Action": ["sqs:DeleteMessage", "sqs:ReceiveMessage"],
           "Resource": "arn:aws:sqs:us-east-1:123456789012:app-jobs"}]}
withheld_actions:
  description:
    - Actions the activity used that the suggestion leaves out because they are a privilege-escalation path on the
      resources seen (an unscoped resource, or the role itself), with the resources, the escalation paths and
      the refusal message of the least-privilege judgement. Grant them only after review, scoped to named resources.
  returned: always
  type: list
  elements: dict
  sample: [{"action": "iam:PassRole", "resources": ["*"], "paths": ["PassRole to a service that runs code"],
            "reason": "statement 'Iam' allows 'iam:PassRole' on Resource '*', which reaches iam:PassRole on every role
                       of the account: privilege escalation to administrator access by ..."}]
suggested_policy_size:
  description: Length of the suggested policy as compact JSON (managed policies allow 6144 characters, inline 10240).
  returned: always
  type: int
  sample: 1532
used_actions:
  description: Every IAM action the role's calls needed (denied calls included), sorted.
  returned: always
  type: list
  elements: str
  sample: ["s3:GetObject", "s3:ListBucket", "sqs:ReceiveMessage"]
action_usage:
  description: Per used action, how often it was called, how often denied, the resources and the last call.
  returned: always
  type: list
  elements: dict
  sample: [{"action": "s3:GetObject", "calls": 120, "denied": 0, "resources": ["arn:aws:s3:::app-data/config/*"],
            "last_seen": "2026-11-30T22:47:20Z"}]
unused_granted_actions:
  description:
    - Actions (or wildcard patterns) the role's policies allow that no event used.
    - A wildcard that matched used actions is listed in RV(wildcard_grants) instead.
  returned: always
  type: list
  elements: str
  sample: ["dynamodb:*", "s3:DeleteBucket"]
unused_by_policy:
  description: RV(unused_granted_actions) by the policy (inline name or managed ARN) that grants them.
  returned: always
  type: dict
  sample: {"arn:aws:iam::123456789012:policy/app-managed": ["dynamodb:*"]}
wildcard_grants:
  description: Wildcard grants that were used, with the used actions they matched.
  returned: always
  type: list
  elements: dict
  sample: [{"pattern": "s3:Get*", "not_action": [], "policy": "app-inline", "used": ["s3:GetObject"]}]
used_not_granted:
  description: Used actions no current policy allows, explicitly denied ones, and ones CloudTrail recorded as denied.
  returned: always
  type: list
  elements: dict
  sample: [{"action": "s3:DeleteObject", "calls": 3, "denied": 3, "reason": "no attached or inline policy allows it"}]
unmapped_events:
  description: Events that could not be mapped to an IAM action, grouped by source and name.
  returned: always
  type: list
  elements: dict
  sample: [{"event_source": "ec2-instance-connect.amazonaws.com", "event_name": "SendSSHPublicKey", "count": 7,
            "denied": 0, "reason": "unknown event source 'ec2-instance-connect.amazonaws.com'"}]
current_policies:
  description: The policies the comparison used.
  returned: always
  type: list
  elements: dict
  sample: [{"type": "inline", "name": "app-inline"},
           {"type": "managed", "name": "ReadOnlyAccess", "arn": "arn:aws:iam::aws:policy/ReadOnlyAccess"}]
"""


from ansible_collections.keyless.aws.plugins.module_utils.activity.suggested_policy import analyze
from ansible_collections.keyless.aws.plugins.module_utils.aws import rules
from ansible_collections.keyless.aws.plugins.module_utils.aws.arns import name_of, validate_arn, validate_iam_name
from ansible_collections.keyless.aws.plugins.module_utils.activity.cloudtrail import (
    LOOKUP_MAX_DAYS,
    collect_events,
    window,
)
from ansible_collections.keyless.aws.plugins.module_utils.aws.errors import PlanError
from ansible_collections.keyless.aws.plugins.module_utils.aws.module import aws_module, context, run_module
from ansible_collections.keyless.aws.plugins.module_utils.iam.roles import role_policy_documents
from ansible_collections.keyless.aws.plugins.module_utils.iam.documents import INLINE_POLICIES_MAX_CHARS, MANAGED_POLICY_MAX_CHARS

LOG_MAX_DAYS = 3650


def argument_spec():
    return dict(
        role=dict(type="str", required=True),
        days=dict(type="int", default=90),
        source=dict(type="str", default="lookup_events", choices=["lookup_events", "s3", "local"]),
        s3_bucket=dict(type="str"),
        s3_prefix=dict(type="str", default=""),
        local_path=dict(type="path"),
        organization_id=dict(type="str"),
        regions=dict(type="list", elements="str"),
        max_events=dict(type="int", default=100000),
        include_denied=dict(type="bool", default=False),
    )


def validate(params):
    """Every problem with the options, as messages naming option, value and what is allowed."""
    errors = []
    role = params["role"]
    if role.startswith("arn:"):
        errors.append(validate_arn(role, "role", service="iam", resource_type="role"))
    else:
        errors.append(validate_iam_name(role, "role"))
    source = params["source"]
    limit = LOOKUP_MAX_DAYS if source == "lookup_events" else LOG_MAX_DAYS
    if not 1 <= params["days"] <= limit:
        errors.append("days=%r is out of range: with source=%s use 1 to %d" % (params["days"], source, limit))
    if source == "s3" and not params.get("s3_bucket"):
        errors.append("source=s3 needs s3_bucket: the bucket the trail delivers its log files to")
    if source == "local" and not params.get("local_path"):
        errors.append("source=local needs local_path: a directory of CloudTrail log files")
    if source != "s3" and params.get("s3_bucket"):
        errors.append("s3_bucket=%r is only used with source=s3 (source is %s)" % (params["s3_bucket"], source))
    if source != "local" and params.get("local_path"):
        errors.append("local_path=%r is only used with source=local (source is %s)" % (params["local_path"], source))
    if source == "lookup_events" and params.get("organization_id"):
        errors.append("organization_id is only used with log files (source=s3 or local)")
    if params.get("organization_id") and not rules.is_organization_id(params["organization_id"]):
        errors.append("organization_id=%r is not an organization id: expected o- and 10-32 lower-case letters or digits"
                      % params["organization_id"])
    for region in params.get("regions") or []:
        if not rules.is_region(region):
            errors.append("regions: %r is not a region name such as us-east-1" % region)
    if params["max_events"] < 1:
        errors.append("max_events=%r must be at least 1" % params["max_events"])
    return [e for e in errors if e]


def empty_result(params, name):
    """The result for a role that does not exist yet (check mode only)."""
    arn = params["role"] if params["role"].startswith("arn:") else None
    start, end = window(params["days"])
    result = analyze([], [], arn or "")
    result.update(changed=False, role={"role_name": name, "arn": arn}, event_count=0, current_policies=[],
                  window={"start": start.isoformat(), "end": end.isoformat(), "days": params["days"]},
                  source={"type": params["source"], "regions": params.get("regions") or [], "events_read": 0,
                          "files": 0, "api_calls": 0, "truncated": False})
    return result


def analyze_activity(module):
    params = module.params
    # LookupEvents reads one region at a time: without `regions`, the connection's (option, AWS_REGION, profile)
    ctx = context(module, validate(params), require_region=params["source"] == "lookup_events" and not params.get("regions"))
    name = name_of(params["role"])
    role, policies = role_policy_documents(ctx.client("iam"), name)
    if role is None:
        if module.check_mode:
            # an earlier task of the play (iam_role) may only have predicted the role: nothing to analyze yet
            module.warn("role %s does not exist yet: check mode reports no activity" % name)
            return empty_result(params, name)
        raise PlanError("role=%r: the role %s does not exist; create it first (keyless.aws.iam_role) or fix the name"
                        % (params["role"], name))
    if params["role"].startswith("arn:") and role["Arn"] != params["role"]:
        raise PlanError("role=%r does not match the role of that name in this account (%s)" % (params["role"], role["Arn"]))
    start, end = window(params["days"])
    regions = params.get("regions")
    if params["source"] == "lookup_events" and not regions:
        regions = [ctx.region]  # require_region made sure there is one
    collected = collect_events(ctx.client, params["source"], role["Arn"], start, end, regions=regions,
                               s3_bucket=params.get("s3_bucket"), s3_prefix=params.get("s3_prefix"),
                               local_path=params.get("local_path"), max_events=params["max_events"],
                               organization_id=params.get("organization_id"))
    result = analyze(collected.events, policies, role["Arn"], include_denied=params["include_denied"])
    if result["suggested_policy_size"] > MANAGED_POLICY_MAX_CHARS:
        module.warn("the suggested policy is %d characters: IAM allows %d in a managed policy and %d in the role's "
                    "inline policies together; split it or widen some resources"
                    % (result["suggested_policy_size"], MANAGED_POLICY_MAX_CHARS, INLINE_POLICIES_MAX_CHARS))
    if result["withheld_actions"]:
        module.warn("the activity contains privilege escalation paths; the suggested policy leaves out %s (see "
                    "withheld_actions): grant them only after review, scoped to named resources"
                    % ", ".join("%s on %s" % (w["action"], ", ".join(w["resources"])) for w in result["withheld_actions"]))
    if collected.truncated:
        module.warn("stopped after max_events=%d events: the result covers the newest part of the window only"
                    % params["max_events"])
    result.update(
        changed=False,
        role={"role_name": role["RoleName"], "arn": role["Arn"]},
        window={"start": start.isoformat(), "end": end.isoformat(), "days": params["days"]},
        source={"type": params["source"], "regions": collected.regions, "events_read": collected.read,
                "files": collected.files, "api_calls": collected.api_calls, "truncated": collected.truncated},
        event_count=len(collected.events),
        current_policies=[{k: p[k] for k in ("type", "name", "arn") if k in p} for p in policies],
    )
    return result


def main():
    module = aws_module(argument_spec())
    run_module(module, lambda progress: analyze_activity(module))


if __name__ == "__main__":
    main()
