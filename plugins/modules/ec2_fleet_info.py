#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: keyless.aws contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: ec2_fleet_info
short_description: Audit the instance profiles and metadata options of a fleet of EC2 instances
version_added: 0.1.0
description:
  - Read-only audit of the selected instances. Per instance it reports the Name tag, the state, the
    instance profile (ARN and name, from the instance's active association), the role inside the
    profile, the metadata (IMDS) options, the launch template the instance came from, optionally its
    IMDSv1 usage from CloudWatch, and findings against an optional O(expected) spec.
  - Per launch template the audited instances came from, it reports what the template's B(default)
    version (the one Auto Scaling groups and fleets launch replacements from) launches with, and
    whether that meets O(expected) (RV(templates)); fix templates with
    M(keyless.aws.ec2_launch_template_identity).
  - Per role found in the audited instances' profiles it reports whether the role can escalate its
    privileges (RV(roles), finding C(role_can_escalate)); its inline and attached managed policies are judged
    as M(keyless.aws.iam_role) judges them (an escalation path such as C(iam:PutRolePolicy), C(iam:PassRole)
    or C(sts:AssumeRole) on unscoped resources, administrator access, a write to the role's own policies or
    trust, or an admin AWS managed policy).
  - Observes in bulk so a large fleet costs few calls; C(DescribeInstances) and
    C(DescribeIamInstanceProfileAssociations) at 1,000 a page, one C(GetInstanceProfile) per distinct
    profile (not per instance), the policies of each distinct role once (C(ListRolePolicies),
    C(GetRolePolicy) per inline policy, C(ListAttachedRolePolicies)) and each distinct managed policy once
    (C(GetPolicy), C(GetPolicyVersion)), one C(DescribeLaunchTemplateVersions) per distinct launch template
    and, with O(imdsv1_usage=true), one C(GetMetricData) per 250 instances (two metrics each).
  - Makes no modifying call, ever.
author: keyless.aws maintainers (@keyless-aws)
options:
  expected:
    description:
      - What a compliant instance looks like. Every key is optional; only the keys given are checked.
      - C(instance_profile) - name or ARN of the expected instance profile (findings C(no_profile),
        C(wrong_profile)).
      - C(role) - name or ARN of the role the profile must hold (findings C(no_profile), C(wrong_role)).
      - C(http_tokens) - V(required) (finding C(imdsv1_allowed)) or V(optional) (C(imdsv2_required)).
      - C(http_endpoint) - V(enabled) (finding C(endpoint_disabled)) or V(disabled) (C(endpoint_enabled)).
      - C(min_hop_limit) - the smallest acceptable hop limit, 1 to 64 (finding C(hop_limit_below_minimum)).
      - Whatever O(expected) says, a profile that no longer exists is reported as C(profile_not_found),
        a profile without a role as C(profile_without_role), with O(check_role_escalation=true) a role whose
        policies let it escalate as C(role_can_escalate), and with O(imdsv1_usage=true) an instance
        with IMDSv1 calls as C(imdsv1_in_use).
      - Launch templates (RV(templates)) are checked against C(instance_profile), C(http_tokens),
        C(http_endpoint) and C(min_hop_limit) (C(role) is not checked there); a metadata option the
        template does not set counts as not set, and a template that no longer exists is reported as
        C(template_not_found).
    type: dict
  imdsv1_usage:
    description:
      - Read the CloudWatch metrics C(MetadataNoToken) and C(MetadataNoTokenRejected) (daily sums over
        O(imdsv1_lookback_days)) of every audited instance and report them as RV(instances[].imdsv1_calls),
        RV(instances[].imdsv1_rejected) and the signal the safe rollout judges by, RV(instances[].imdsv1_signal).
    type: bool
    default: false
  imdsv1_lookback_days:
    description:
      - The window, in days, for O(imdsv1_usage). AWS's migration guidance is 14 days without IMDSv1 calls.
    type: int
    default: 14
  check_role_escalation:
    description:
      - Read the policies of each distinct role of the audited instances and report instances whose role
        can escalate its privileges (finding C(role_can_escalate), details in RV(roles)).
      - Needs C(iam:ListRolePolicies), C(iam:GetRolePolicy), C(iam:ListAttachedRolePolicies),
        C(iam:GetPolicy) and C(iam:GetPolicyVersion); set V(false) to audit without them.
    type: bool
    default: true
  launch_sources:
    description:
      - Also audit what launches the replacements of the audited instances (RV(launch_sources)) - the Auto Scaling
        groups, EKS node groups, Elastic Beanstalk environments, Spot Fleet requests and EC2 Fleets their tags name,
        each judged at the template version it launches (a number, C($Latest) or C($Default); every template of a
        mixed-instances policy), or its launch configuration - against O(expected) (without it, against
        C(http_tokens=required)).
      - Reads only what the instances' owners name; nothing when no instance has an owner. Needs
        C(autoscaling:DescribeAutoScalingGroups), C(autoscaling:DescribeLaunchConfigurations),
        C(eks:DescribeNodegroup), C(ec2:DescribeSpotFleetRequests) and C(ec2:DescribeFleets) for those owners.
    type: bool
    default: true
  fail_on_findings:
    description:
      - Fail the task when any audited instance is not compliant (the full result is still returned).
    type: bool
    default: false
attributes:
  check_mode:
    support: full
    description: The module only reads; it behaves the same in check mode.
  diff_mode:
    support: none
    description: The module changes nothing, so there is nothing to diff.
notes:
  - The profile of an instance is read from its active association (C(associating), C(associated) or
    C(disassociating)); EC2 reports profiles by ARN only, the name is the last segment of the ARN.
  - Needs C(ec2:DescribeInstances), C(ec2:DescribeIamInstanceProfileAssociations),
    C(ec2:DescribeLaunchTemplateVersions), C(iam:GetInstanceProfile), with O(check_role_escalation=true) the
    IAM reads listed there and, with O(imdsv1_usage=true), C(cloudwatch:GetMetricData).
  - The role judgement looks at each policy document on its own; permissions boundaries and service control
    policies, which may narrow what a role can do, are not evaluated.
extends_documentation_fragment:
  - keyless.aws.aws
  - keyless.aws.fleet
"""

EXAMPLES = r"""
- name: Audit the web fleet against the documented setup
  keyless.aws.ec2_fleet_info:
    tags:
      Fleet: web
    expected:
      instance_profile: web-instance-profile
      http_tokens: required
      http_endpoint: enabled
      min_hop_limit: 2
    imdsv1_usage: true
  register: audit

- name: Show the counts
  ansible.builtin.debug:
    var: audit.summary

- name: Fail the play when anything in the account is not compliant
  keyless.aws.ec2_fleet_info:
    all_instances: true
    expected:
      http_tokens: required
    fail_on_findings: true
"""

RETURN = r"""
instances:
  description: One entry per audited instance, sorted by instance id.
  returned: always
  type: list
  elements: dict
  contains:
    instance_id:
      description: The instance id.
      type: str
    name:
      description: The C(Name) tag, or null.
      type: str
    state:
      description: The instance state.
      type: str
    instance_profile_arn:
      description: The ARN of the profile of the active association, or null.
      type: str
    instance_profile_name:
      description: The profile's name (last segment of the ARN), or null.
      type: str
    association_state:
      description: The state of the active association (C(associated), C(associating), C(disassociating)), or null.
      type: str
    role_name:
      description: The role inside the profile, or null.
      type: str
    metadata_options:
      description: The instance's metadata options.
      type: dict
      contains:
        http_tokens:
          description: C(optional) or C(required).
          type: str
        http_endpoint:
          description: C(enabled) or C(disabled).
          type: str
        http_put_response_hop_limit:
          description: The hop limit.
          type: int
        http_protocol_ipv6:
          description: C(enabled) or C(disabled).
          type: str
        instance_metadata_tags:
          description: C(enabled) or C(disabled).
          type: str
    imdsv1_calls:
      description: Sum of C(MetadataNoToken) over the lookback window; null unless O(imdsv1_usage=true).
      type: float
    imdsv1_rejected:
      description: Sum of C(MetadataNoTokenRejected) (IMDSv1 calls refused while IMDSv2 was required) over the window; null unless O(imdsv1_usage=true).
      type: float
    imdsv1_signal:
      description:
        - What the safe rollout makes of the window (null unless O(imdsv1_usage=true)) - V(calls) (IMDSv1 or refused
          calls), V(no_data) (data on fewer than half of its days), V(unknown) (no answer from CloudWatch) or V(clean).
      type: str
    launch_template:
      description: The launch template the instance came from ({id, name, version}), or null.
      type: dict
    findings:
      description: What does not match O(expected) (see there), in a fixed order.
      type: list
      elements: str
    compliant:
      description: True when there are no findings.
      type: bool
  sample:
    - instance_id: i-0123456789abcdef0
      name: web-1
      state: running
      instance_profile_arn: arn:aws:iam::123456789012:instance-profile/legacy-profile
      instance_profile_name: legacy-profile
      association_state: associated
      role_name: legacy-role
      metadata_options: {http_tokens: optional, http_endpoint: enabled, http_put_response_hop_limit: 1,
                         http_protocol_ipv6: disabled, instance_metadata_tags: disabled}
      imdsv1_calls: 12.0
      launch_template: {id: lt-0123456789abcdef0, name: web, version: "3"}
      findings: [wrong_profile, imdsv1_allowed, hop_limit_below_minimum, imdsv1_in_use]
      compliant: false
templates:
  description:
    - One entry per launch template the audited instances came from, sorted by id, describing the
      template's default version.
  returned: always
  type: list
  elements: dict
  contains:
    id:
      description: The launch template id.
      type: str
    name:
      description: The launch template name.
      type: str
    version:
      description: The default version number (what new launches use), or null when the template is gone.
      type: int
    instance_profile:
      description: The instance profile the default version launches with ({arn, name} or {name}), or null.
      type: dict
    metadata_options:
      description: The metadata options the default version sets (only the fields it sets), or null when gone.
      type: dict
    instances:
      description: How many audited instances came from this template.
      type: int
    findings:
      description:
        - What does not match O(expected) (C(no_profile), C(wrong_profile), C(imdsv1_allowed),
          C(imdsv2_required), C(endpoint_disabled), C(endpoint_enabled), C(hop_limit_below_minimum)),
          or C(template_not_found).
      type: list
      elements: str
    compliant:
      description: True when there are no findings.
      type: bool
  sample:
    - id: lt-0123456789abcdef0
      name: web
      version: 3
      instance_profile: null
      metadata_options: {http_tokens: optional, http_put_response_hop_limit: 2}
      instances: 40
      findings: [no_profile, imdsv1_allowed]
      compliant: false
roles:
  description:
    - One entry per distinct role of the audited instances, sorted by name, with the judgement of its
      policies. Empty with O(check_role_escalation=false).
  returned: always
  type: list
  elements: dict
  contains:
    role_name:
      description: The role name.
      type: str
    role_arn:
      description: The role ARN.
      type: str
    instances:
      description: How many audited instances use this role.
      type: int
    policies:
      description: The policies read, inline ones as C(inline NAME), managed ones by ARN.
      type: list
      elements: str
    can_escalate:
      description: True when a policy of the role lets it escalate its privileges.
      type: bool
    escalations:
      description:
        - "Why: per refused statement, {policy, statement (Sid or index; null for an admin managed policy),
          message}; the message names the action, the resource, the escalation path and how to scope it."
      type: list
      elements: dict
  sample:
    - role_name: legacy-role
      role_arn: arn:aws:iam::123456789012:role/legacy-role
      instances: 40
      policies: [inline legacy-access]
      can_escalate: true
      escalations:
        - policy: inline legacy-access
          statement: Admin
          message: "statement 'Admin' allows 'iam:PassRole' on Resource '*', which reaches iam:PassRole on every role
            of the account: privilege escalation to administrator access by ..."
launch_sources:
  description:
    - With O(launch_sources=true), one entry per launch source that owns an audited instance - C(kind) (V(autoscaling),
      V(eks), V(elasticbeanstalk), V(spot_fleet), V(ec2_fleet), V(karpenter), V(batch), V(ecs)), C(id), C(name),
      C(state), C(type), C(launch_templates) (each C(id), C(name), C(version) resolved, C(requested_version),
      C(instance_profile), C(metadata_options), C(findings)), C(launch_specifications) (a launch configuration or a
      Spot Fleet launch specification, with its C(findings)), C(instances) (the audited instances it owns),
      C(findings), C(compliant) (null for an owner whose settings are not read - Karpenter, Batch, ECS),
      C(proposed_change) and C(converge) (what converges it).
    - Findings are those of RV(instances), plus V(launch_configuration) (a group still on a launch configuration,
      which cannot change) and V(not_found) (a group or node group the instances name that no longer exists).
  returned: always
  type: list
  elements: dict
  sample:
    - kind: autoscaling
      name: web-asg
      launch_templates: [{id: lt-0123456789abcdef0, name: web, version: 3, requested_version: "3",
                          findings: [no_profile, imdsv1_allowed]}]
      instances: [i-0123456789abcdef0]
      findings: [imdsv1_allowed, no_profile]
      compliant: false
      converge: keyless.aws.autoscaling_group_identity (the role does it for the groups of its fleet)
summary:
  description: Counts over RV(instances) and RV(templates).
  returned: always
  type: dict
  contains:
    total:
      description: Audited instances.
      type: int
    compliant:
      description: Instances without findings.
      type: int
    non_compliant:
      description: Instances with at least one finding.
      type: int
    by_state:
      description: Audited instances per state.
      type: dict
    by_finding:
      description: Instances per finding (findings nobody has are left out).
      type: dict
    skipped:
      description: Selected instances in a state outside O(states).
      type: int
    missing:
      description: Ids in O(instance_ids) that do not exist.
      type: int
    templates:
      description: Counts over RV(templates) ({total, compliant, non_compliant, by_finding}).
      type: dict
    launch_sources:
      description: Counts over RV(launch_sources) ({total, compliant, non_compliant, not_read, by_kind, by_finding}).
      type: dict
  sample: {total: 3, compliant: 1, non_compliant: 2, by_state: {running: 2, stopped: 1},
           by_finding: {no_profile: 1, imdsv1_allowed: 2}, skipped: 1, missing: 0,
           templates: {total: 1, compliant: 0, non_compliant: 1, by_finding: {no_profile: 1, imdsv1_allowed: 1}}}
skipped:
  description: Selected instances in a state outside O(states), with the reason.
  returned: always
  type: list
  elements: dict
  sample: [{instance_id: i-0fedcba9876543210, name: old, state: terminated, reason: instance is terminated}]
missing_instance_ids:
  description: Ids given in O(instance_ids) that EC2 does not know.
  returned: always
  type: list
  elements: str
  sample: []
expected:
  description: The expected spec the findings were computed against.
  returned: always
  type: dict
  sample: {instance_profile: web-instance-profile, http_tokens: required, min_hop_limit: 2}
"""

from ansible_collections.keyless.aws.plugins.module_utils.aws.errors import TaskFailure
from ansible_collections.keyless.aws.plugins.module_utils.aws.module import aws_module, context, run_module
from ansible_collections.keyless.aws.plugins.module_utils.ec2account import launch_source_audit, launch_templates
from ansible_collections.keyless.aws.plugins.module_utils.fleet import audit as fleet_audit, selection as fleet
from ansible_collections.keyless.aws.plugins.module_utils.fleet.identities import read_identities
from ansible_collections.keyless.aws.plugins.module_utils.fleet.imdsv1_usage import default_min_days, imdsv1_evidence
from ansible_collections.keyless.aws.plugins.module_utils.iam.lint import is_admin_managed_policy
from ansible_collections.keyless.aws.plugins.module_utils.iam.role_policies import PolicyDocuments

MAX_FAILED_LISTED = 20


def argument_spec():
    spec = fleet.selector_argument_spec()
    spec.update(
        expected=dict(type="dict"),
        imdsv1_usage=dict(type="bool", default=False),
        imdsv1_lookback_days=dict(type="int", default=14),
        check_role_escalation=dict(type="bool", default=True),
        fail_on_findings=dict(type="bool", default=False),
        launch_sources=dict(type="bool", default=True),
    )
    return spec


def validate(params):
    errors = fleet.validate_selector(params) + fleet_audit.validate_expected(params.get("expected"))
    days = params.get("imdsv1_lookback_days")
    if days is not None and not 1 <= days <= 455:
        errors.append("imdsv1_lookback_days=%r is out of range: use 1 to 455 (CloudWatch keeps hourly data 455 days)"
                      % days)
    return errors


def read_roles(iam, profiles):
    """{role name: judge_role entry}: the policies of each distinct role read once (not once per instance), each
    managed policy once however many roles have it; admin AWS managed policies are judged by name, unread."""
    reader = PolicyDocuments(iam)
    out = {}
    for profile in sorted(profiles.values(), key=lambda p: p.get("role_name") or ""):
        name = profile.get("role_name")
        if not name or name in out:
            continue
        policies = reader.role(name, skip_managed=is_admin_managed_policy)
        out[name] = fleet_audit.judge_role(name, profile.get("role_arn"), policies)
    return out


def observe(ctx, params):
    ec2 = ctx.client("ec2")
    selection = fleet.observe_instances(ec2, params)
    ids = list(selection.instances)
    associations, profiles = read_identities(ec2, ctx.client("iam"), ids)
    judged = read_roles(ctx.client("iam"), profiles) if params["check_role_escalation"] else {}
    # one DescribeLaunchTemplateVersions ($Default) per distinct template: its name and what it launches
    template_ids = set(r["launch_template"]["id"] for r in selection.instances.values()
                       if (r.get("launch_template") or {}).get("id"))
    versions = launch_templates.default_versions(ec2, template_ids) if template_ids else {}
    calls = (imdsv1_evidence(ctx.client("cloudwatch"), sorted(ids), params["imdsv1_lookback_days"],
                             default_min_days(params["imdsv1_lookback_days"]))
             if params["imdsv1_usage"] and ids else {})
    sources = (launch_source_audit.observe(ctx.client, selection.instances,
                                           fleet_audit.normalize_expected(params.get("expected")))
               if params.get("launch_sources") else [])
    return selection, associations, profiles, versions, calls, judged, sources


def audit(params, selection, associations, profiles, versions, calls, judged=None, sources=()):
    expected = fleet_audit.normalize_expected(params.get("expected"))
    checked = bool(params.get("imdsv1_usage"))
    template_names = dict((tid, v.get("LaunchTemplateName")) for tid, v in versions.items())
    judged = judged or {}
    escalating = set(name for name, role in judged.items() if role["can_escalate"])
    rows = [fleet_audit.audit_row(selection.instances[iid], associations.get(iid), profiles, expected,
                                  imdsv1_calls=(calls.get(iid) or {}).get("calls", 0) if checked else None,
                                  imdsv1_checked=checked, imdsv1=calls.get(iid),
                                  template_names=template_names, escalating_roles=escalating)
            for iid in sorted(selection.instances)]
    skipped = [{"instance_id": r["instance_id"], "name": r.get("name"), "state": r.get("state"),
                "reason": r.get("skip_reason")} for r in selection.skipped]
    templates = fleet_audit.template_rows([selection.instances[iid] for iid in sorted(selection.instances)],
                                          versions, expected)
    summary = fleet_audit.summarize(rows, skipped, selection.missing)
    summary["templates"] = fleet_audit.summarize_templates(templates)
    summary["launch_sources"] = launch_source_audit.summarize(sources)
    return dict(changed=False, instances=rows, templates=templates, launch_sources=list(sources),
                roles=fleet_audit.role_rows(rows, judged),
                summary=summary, skipped=skipped, missing_instance_ids=list(selection.missing), expected=expected)


def failure_message(result):
    bad = [r for r in result["instances"] if not r["compliant"]]
    listed = ", ".join("%s (%s)" % (r["instance_id"], ", ".join(r["findings"])) for r in bad[:MAX_FAILED_LISTED])
    more = " and %d more" % (len(bad) - MAX_FAILED_LISTED) if len(bad) > MAX_FAILED_LISTED else ""
    counts = ", ".join("%s=%d" % kv for kv in sorted(result["summary"]["by_finding"].items()))
    return "%d of %d instances are not compliant (%s): %s%s" % (
        len(bad), result["summary"]["total"], counts, listed, more)


def read(module):
    ctx = context(module, validate(module.params), require_region=True)
    result = audit(module.params, *observe(ctx, module.params))
    if module.params["fail_on_findings"] and result["summary"]["non_compliant"]:
        raise TaskFailure(failure_message(result), result)
    return result


def main():
    module = aws_module(argument_spec())
    run_module(module, lambda progress: read(module))


if __name__ == "__main__":
    main()
