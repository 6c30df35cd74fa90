#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: keyless.aws contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: iam_policy_from_activity
short_description: Suggest a least-privilege policy for an IAM role (or from an IAM user's keys) from CloudTrail activity
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
  - With O(user) instead of O(role), the events are the calls an IAM user made with its access keys (optionally only
    those from O(source_addresses) or the addresses of O(instance_ids)), and the suggestion is the policy of the role
    that is to replace the keys on those instances (see M(keyless.aws.iam_access_key_info) for which instances use
    which key). The comparison is then with the user's own inline and attached managed policies (not its groups').
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
      - The role to analyze, by name or ARN. Give O(role) or O(user), not both.
    type: str
  user:
    description:
      - An IAM user whose access keys' calls to analyze, by name. Give O(role) or O(user), not both.
    type: str
  source_addresses:
    description:
      - With O(user), keep only the calls whose C(sourceIPAddress) is one of these addresses.
    type: list
    elements: str
  instance_ids:
    description:
      - With O(user), keep only the calls from the private or public addresses of these instances (read with
        C(DescribeInstances)); combined with O(source_addresses) when both are given.
    type: list
    elements: str
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
  - keyless.aws.cloudtrail
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

- name: The role that replaces a user's key on two instances - what the key did from them
  keyless.aws.iam_policy_from_activity:
    user: app-deploy
    instance_ids: [i-0123456789abcdef0, i-0fedcba9876543210]
    source: s3
    s3_bucket: org-cloudtrail-logs
    days: 30
  register: key_activity

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
  description: The analyzed role; null with O(user).
  returned: always
  type: dict
  sample: {"role_name": "app-web", "arn": "arn:aws:iam::123456789012:role/app/app-web"}
user:
  description: With O(user), the analyzed user and the addresses its calls were restricted to (null when all were kept).
  returned: when user is given
  type: dict
  sample: {"user_name": "app-deploy", "arn": "arn:aws:iam::123456789012:user/app-deploy", "source_addresses": ["10.0.1.5"]}
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


from ansible_collections.keyless.aws.plugins.module_utils.accesskeys.trail import trail_argument_spec, validate_trail
from ansible_collections.keyless.aws.plugins.module_utils.accesskeys.usage import observe_fleet
from ansible_collections.keyless.aws.plugins.module_utils.accesskeys.user_activity import (
    user_event_matcher,
    user_policy_documents,
    validate_addresses,
)
from ansible_collections.keyless.aws.plugins.module_utils.activity.suggested_policy import analyze
from ansible_collections.keyless.aws.plugins.module_utils.aws import rules
from ansible_collections.keyless.aws.plugins.module_utils.aws.arns import name_of, validate_arn, validate_iam_name
from ansible_collections.keyless.aws.plugins.module_utils.activity.cloudtrail import collect_events, window
from ansible_collections.keyless.aws.plugins.module_utils.aws.errors import PlanError
from ansible_collections.keyless.aws.plugins.module_utils.aws.module import aws_module, context, run_module
from ansible_collections.keyless.aws.plugins.module_utils.iam.roles import role_policy_documents
from ansible_collections.keyless.aws.plugins.module_utils.iam.documents import INLINE_POLICIES_MAX_CHARS, MANAGED_POLICY_MAX_CHARS


def argument_spec():
    spec = trail_argument_spec("lookup_events")  # source, s3_bucket, s3_prefix, local_path, organization_id, ...
    spec.update(
        role=dict(type="str"),
        user=dict(type="str"),
        source_addresses=dict(type="list", elements="str"),
        instance_ids=dict(type="list", elements="str"),
        days=dict(type="int", default=90),
        include_denied=dict(type="bool", default=False),
    )
    return spec


def validate(params):
    """Every problem with the options, as messages naming option, value and what is allowed."""
    errors = []
    role, user = params.get("role"), params.get("user")
    if bool(role) == bool(user):
        errors.append("give role (the role to analyze) or user (an IAM user whose keys' calls to analyze), not %s"
                      % ("both" if role else "neither"))
    if role and role.startswith("arn:"):
        errors.append(validate_arn(role, "role", service="iam", resource_type="role"))
    elif role:
        errors.append(validate_iam_name(role, "role"))
    if user and not rules.is_user_name(user):
        errors.append("user=%r is not an IAM user name: 1 to 64 letters, digits and + = , . @ _ -" % (user,))
    for option in ("source_addresses", "instance_ids"):
        if params.get(option) and not user:
            errors.append("%s restricts the calls of a user's keys: it is only used with user" % option)
    errors.extend(validate_addresses(params.get("source_addresses"), "source_addresses"))
    bad_ids = [i for i in params.get("instance_ids") or [] if not rules.is_instance_id(i)]
    if bad_ids:
        errors.append("instance_ids has invalid ids %s: an instance id is i- followed by 8 to 17 hex digits"
                      % ", ".join(repr(i) for i in bad_ids))
    errors.extend(validate_trail(params))  # the CloudTrail source options, as iam_access_key_info checks them
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


def user_addresses(ctx, params):
    """The addresses the user's calls are restricted to (source_addresses and those of instance_ids), or None."""
    if not params.get("source_addresses") and not params.get("instance_ids"):
        return None
    addresses = set(params.get("source_addresses") or ())
    if params.get("instance_ids"):
        instances, _calls = observe_fleet(ctx.client("ec2"), {"instance_ids": params["instance_ids"],
                                                              "states": ["pending", "running", "stopping", "stopped",
                                                                         "shutting-down", "terminated"]})
        missing = sorted(set(params["instance_ids"]) - set(instances))
        if missing:
            raise PlanError("instance_ids: %s not found in this region" % ", ".join(missing))
        for rec in instances.values():
            addresses.update(rec["private"] + rec["public"] + rec["ipv6"])
        if not addresses:
            raise PlanError("instance_ids: %s have no IP address left (terminated instances lose theirs), so no call "
                            "can be tied to them; give source_addresses instead" % ", ".join(params["instance_ids"]))
    return sorted(addresses)


def analyze_user_activity(module, ctx):
    params = module.params
    user, policies = user_policy_documents(ctx.client("iam"), params["user"])
    if user is None:
        raise PlanError("user=%r: there is no IAM user %s in this account" % (params["user"], params["user"]))
    addresses = user_addresses(ctx, params)
    start, end = window(params["days"])
    regions = params.get("regions")
    if params["source"] == "lookup_events" and not regions:
        regions = [ctx.region]
    account = user["Arn"].split(":")[4]
    collected = collect_events(ctx.client, params["source"], None, start, end, regions=regions,
                               s3_bucket=params.get("s3_bucket"), s3_prefix=params.get("s3_prefix"),
                               local_path=params.get("local_path"), max_events=params["max_events"],
                               organization_id=params.get("organization_id"),
                               match=user_event_matcher(user["Arn"], addresses), account=account)
    result = analyze(collected.events, policies, user["Arn"], include_denied=params["include_denied"])
    result.update(role=None, user={"user_name": user["UserName"], "arn": user["Arn"], "source_addresses": addresses})
    return finish(module, params, result, collected, start, end, policies)


def analyze_activity(module):
    params = module.params
    # LookupEvents reads one region at a time: without `regions`, the connection's (option, AWS_REGION, profile)
    ctx = context(module, validate(params), require_region=params["source"] == "lookup_events" and not params.get("regions"))
    if params.get("user"):
        return analyze_user_activity(module, ctx)
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
    result["role"] = {"role_name": role["RoleName"], "arn": role["Arn"]}
    return finish(module, params, result, collected, start, end, policies)


def finish(module, params, result, collected, start, end, policies):
    """Warnings and the common return values (window, source, counts, current policies)."""
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
