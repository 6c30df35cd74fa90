#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: keyless.aws contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: organizations_guardrail
short_description: Keep IMDSv1 and weakened metadata options out of an AWS organization, after proving nothing breaks
version_added: 0.1.0
description:
  - Builds a service control policy (SCP) and, on request, an EC2 declarative policy from intent - never from
    hand-written JSON - creates or updates them in AWS Organizations, and attaches them to OUs and accounts, one
    target after the other in the order of O(targets).
  - "The SCP denies, each in a statement of its own: C(ec2:RunInstances) of an instance without
    C(HttpTokens=required) (O(require_imdsv2)); C(ec2:RunInstances) with a hop limit above O(hop_limit_cap);
    C(ec2:ModifyInstanceMetadataOptions) that does not keep C(HttpTokens=required) or raises the hop limit above the
    cap, except to O(exempt_principal_arns) (O(deny_weakening)); every action signed with role credentials the
    instance metadata service delivered through IMDSv1 (C(ec2:RoleDelivery) below 2.0, O(deny_imdsv1_credentials));
    C(ec2:RunInstances) without an instance profile (O(require_instance_profile))."
  - The EC2 declarative policy (O(policy_types) with V(declarative_policy_ec2)) sets the account IMDS defaults of
    every account under the targets (C(instance_metadata_defaults) - HttpTokens required, the hop limit at the cap),
    which accounts cannot change.
  - Before a target gets the guardrail, the preflight reads every ACTIVE account under it (C(ListAccountsForParent)
    through the OUs, recursively), through the role O(member_role_name) of each account, in each of O(regions) (by
    default the account's enabled regions), and lists what would break - launch templates whose C($Default) or
    C($Latest) version is not IMDSv2-required or exceeds the cap, Auto Scaling groups whose launch template versions
    or launch configuration would be refused, EKS node groups and fleets of running instances, instances still
    calling IMDSv1 (CloudWatch C(MetadataNoToken)) and, with O(check_cloudtrail), the principals that call
    C(ModifyInstanceMetadataOptions). A target is attached only when its preflight is clean, or when every finding
    is named in O(accept_breaking). The first target that is not stops the task - the targets before it stay
    attached, and the task fails naming it and returning the preflight.
  - The policies are named after O(name) and tagged C(keyless:managed-by=keyless.aws) and C(keyless:guardrail=<name>).
    A policy of that name without the tags is never touched. O(state=absent) detaches and deletes only the tagged
    policies of O(name).
  - Never acts on the organization's root without O(allow_root=true), and never enables a policy type
    (C(EnablePolicyType) acts on the root) - the task fails naming the call when a type is not enabled.
  - Service control policies do not apply to the management account; its preflight is reported as skipped.
  - M(keyless.aws.organizations_guardrail_info) reports which guardrail rules are in force per account.
author: keyless.aws maintainers (@keyless-aws)
options:
  name:
    description:
      - The guardrail's name. The SCP is named O(name), the declarative policy O(name) followed by C(-ec2-defaults).
    type: str
    default: keyless-imds-guardrail
  state:
    description:
      - V(present) creates, updates and attaches the policies; V(absent) detaches and deletes them.
    type: str
    choices: [present, absent]
    default: present
  targets:
    description:
      - OU ids (C(ou-...)) and account ids (12 digits), in the order to attach them. The root id (C(r-...)) only with
        O(allow_root=true).
      - The module's policies are detached from a target that is no longer listed.
    type: list
    elements: str
    default: []
  allow_root:
    description:
      - Allow the root in O(targets) - the guardrail then applies to every account of the organization.
    type: bool
    default: false
  policy_types:
    description:
      - Which policies to manage - V(service_control_policy), V(declarative_policy_ec2), or both.
    type: list
    elements: str
    default: [service_control_policy]
  require_imdsv2:
    description:
      - Deny launching an instance that does not require IMDSv2. The declarative policy sets C(http_tokens) to
        V(required) (V(no_preference) when false).
    type: bool
    default: true
  hop_limit_cap:
    description:
      - The highest IMDSv2 hop limit allowed at launch and by a modify (1 to 64; containers need 2). The declarative
        policy sets the default hop limit to it.
    type: int
    default: 2
  deny_weakening:
    description:
      - Deny C(ModifyInstanceMetadataOptions) that does not keep C(HttpTokens=required) or that sets a hop limit above
        O(hop_limit_cap), except to O(exempt_principal_arns).
    type: bool
    default: true
  exempt_principal_arns:
    description:
      - The role ARNs (C(*) and C(?) allowed) that may still change metadata options freely - the deployer role of
        the collection, a break-glass role.
    type: list
    elements: str
    default: []
  deny_imdsv1_credentials:
    description:
      - Deny every action signed with role credentials that IMDSv1 delivered (C(ec2:RoleDelivery) below 2.0). Instances
        that still call IMDSv1 then lose their role; the preflight names them.
    type: bool
    default: true
  require_instance_profile:
    description:
      - Deny launching an instance without an instance profile.
    type: bool
    default: false
  declarative_http_endpoint:
    description:
      - C(http_endpoint) of the declarative policy.
    type: str
    choices: [no_preference, enabled, disabled]
    default: no_preference
  declarative_instance_metadata_tags:
    description:
      - C(instance_metadata_tags) of the declarative policy.
    type: str
    choices: [no_preference, enabled, disabled]
    default: no_preference
  exception_message:
    description:
      - The declarative policy's custom error message (1 to 1024 characters).
    type: str
  member_role_name:
    description:
      - The role the preflight assumes in each account under the targets.
    type: str
    default: keyless-deployer
  regions:
    description:
      - The regions the preflight reads in each account. Default - the account's enabled regions (C(DescribeRegions)).
    type: list
    elements: str
  imdsv1_lookback_days:
    description:
      - The days of CloudWatch C(MetadataNoToken) the preflight reads per instance that is not IMDSv2-required.
    type: int
    default: 14
  check_cloudtrail:
    description:
      - Also read CloudTrail (C(LookupEvents)) for the principals that called C(ModifyInstanceMetadataOptions).
    type: bool
    default: false
  cloudtrail_days:
    description:
      - The days of CloudTrail events O(check_cloudtrail) reads (1 to 90).
    type: int
    default: 90
  accept_breaking:
    description:
      - Finding ids of the preflight (C(account:region:kind:name)) that may break - an explicit opt-in. A target whose
        every finding is listed here is attached.
    type: list
    elements: str
    default: []
  preflight_only:
    description:
      - Run the preflight for every target and change nothing.
    type: bool
    default: false
attributes:
  check_mode:
    support: full
    description: Reads the organization and the member accounts, runs the preflight, returns the documents, the plan and the attachments.
  diff_mode:
    support: full
    description: Shows the policies (content and targets) before and after.
notes:
  - "Needs, with the controller's credentials in the management account (or a delegated administrator):
    C(organizations:DescribeOrganization), C(organizations:ListRoots), C(organizations:DescribeOrganizationalUnit),
    C(organizations:DescribeAccount), C(organizations:ListAccountsForParent),
    C(organizations:ListOrganizationalUnitsForParent), C(organizations:ListPolicies), C(organizations:DescribePolicy),
    C(organizations:ListTagsForResource), C(organizations:ListTargetsForPolicy), and, to change,
    C(organizations:CreatePolicy) (with its tags), C(organizations:UpdatePolicy), C(organizations:AttachPolicy),
    C(organizations:DetachPolicy), C(organizations:DeletePolicy) - C(policies/guardrails.json) in the collection; and
    C(sts:AssumeRole) on O(member_role_name) of each account, whose role reads EC2, Auto Scaling, EKS, CloudWatch
    (and CloudTrail) - the read-only statements of C(policies/deployer.json)."
  - "The SCP must fit 5,120 characters (the declarative policy 10,000): the module sends compact JSON and counts it
    as AWS does; a document that would not fit fails before any AWS call."
  - "A C(ModifyInstanceMetadataOptions) request that does not name C(HttpTokens=required) is denied to principals
    that are not exempt (the condition key is absent from such a request); the collection's own modules always send it."
extends_documentation_fragment:
  - keyless.aws.aws
"""

EXAMPLES = r"""
- name: Preflight only - what would break under the guardrail in prod and sandbox
  keyless.aws.organizations_guardrail:
    targets: [ou-ab12-prod0001, ou-ab12-sandbox1]
    regions: [eu-west-1]
    preflight_only: true
  register: guardrail_preflight

- name: Attach the guardrail to sandbox, then prod, stopping at the first that is not clean
  keyless.aws.organizations_guardrail:
    targets: [ou-ab12-sandbox1, ou-ab12-prod0001]
    regions: [eu-west-1]
    exempt_principal_arns:
      - arn:aws:iam::*:role/keyless-deployer
    policy_types: [service_control_policy, declarative_policy_ec2]

- name: Attach although one known template will be refused
  keyless.aws.organizations_guardrail:
    targets: [ou-ab12-prod0001]
    accept_breaking:
      - 111111111111:eu-west-1:launch_template:lt-0123456789abcdef0

- name: Remove the guardrail (only the policies this module created)
  keyless.aws.organizations_guardrail:
    state: absent
"""

RETURN = r"""
changed:
  description: Whether a policy or an attachment changed (in check mode - would change).
  returned: always
  type: bool
policies:
  description: The module's policies after the run (predicted in check mode), by name.
  returned: always
  type: dict
  sample:
    keyless-imds-guardrail:
      type: SERVICE_CONTROL_POLICY
      id: p-abcd1234
      content: {Version: "2012-10-17", Statement: []}
      targets: [ou-ab12-prod0001]
preflight:
  description:
    - One report per target that was checked, in the order of O(targets) - V(target), V(clean), V(summary) and
      V(accounts), each with V(account), V(state), V(regions), V(findings), V(errors) and V(skipped) (why an account
      was not read).
    - A finding has V(id) (for O(accept_breaking)), V(account), V(region), V(kind) (V(launch_template),
      V(autoscaling_group), V(eks), V(spot_fleet), V(ec2_fleet), V(instance), V(modify_caller)), V(name), V(reasons)
      and V(converge) (what makes it compliant).
  returned: always
  type: list
  elements: dict
preflight_markdown:
  description: The preflight as a Markdown report (write it with M(ansible.builtin.copy)).
  returned: always
  type: str
stopped_at:
  description: The target at which the staged attach stopped (its preflight is not clean); null when none did.
  returned: always
  type: str
reason:
  description: Why the attach stopped at RV(stopped_at); null otherwise.
  returned: always
  type: str
blocking:
  description: The finding ids that stopped the attach and are not in O(accept_breaking).
  returned: when the task got to planning
  type: list
  elements: str
changes:
  description: The Organizations calls made (in check mode - that would be made), in order.
  returned: always
  type: list
  elements: dict
  sample:
    - {action: create_policy, operation: CreatePolicy, target: keyless-imds-guardrail, before: null, after: {}}
    - {action: attach_policy, operation: AttachPolicy, target: keyless-imds-guardrail to ou-ab12-prod0001,
       before: {attached: false}, after: {attached: true}}
"""

from ansible_collections.keyless.aws.plugins.module_utils.aws.module import aws_module, run_module
from ansible_collections.keyless.aws.plugins.module_utils.organizations.converge import converge
from ansible_collections.keyless.aws.plugins.module_utils.organizations.guardrail import argument_spec


def main():
    module = aws_module(argument_spec())
    run_module(module, lambda progress: converge(module, progress))


if __name__ == "__main__":
    main()
