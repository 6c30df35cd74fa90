#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: keyless.aws contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: organizations_guardrail_info
short_description: Which IMDS guardrails are in force in the accounts of an AWS organization, and which are missing
version_added: 0.1.0
description:
  - Read-only companion of M(keyless.aws.organizations_guardrail) - what a guardrail with the same options would
    enforce, against what the organization enforces now.
  - Changes nothing and reads no member account. For every account under O(targets) (or every account
    of the organization with O(all_accounts=true)) it returns the guardrail rules in force there (RV(accounts)) -
    from the SCPs attached to the account, to each OU on its path and to the root, and the account's effective EC2
    declarative policy (C(DescribeEffectivePolicy)) - and the rules the options ask for that are missing. Every
    SCP is recognized by content, ours (tagged) or not - a Deny statement implements a rule when it covers the
    rule's action and resource with the rule's condition (alone, or with C(aws:PrincipalArn) exemptions); an Allow,
    or a Deny narrowed by another condition, implements none.
author: keyless.aws maintainers (@keyless-aws)
options:
  name:
    description:
      - The guardrail's name, to recognize the policies M(keyless.aws.organizations_guardrail) created (by name and tag).
    type: str
    default: keyless-imds-guardrail
  targets:
    description:
      - The OUs (C(ou-...)) and accounts (12 digits) whose accounts to report. The root - use O(all_accounts).
    type: list
    elements: str
    default: []
  all_accounts:
    description:
      - Report every account of the organization instead of the accounts under O(targets) (give one of the two).
    type: bool
    default: false
  policy_types:
    description:
      - The policy types the expected guardrail has - V(service_control_policy) and V(declarative_policy_ec2).
    type: list
    elements: str
    default: [service_control_policy]
  require_imdsv2:
    description:
      - Expect the rule that refuses a launch without C(HttpTokens=required).
    type: bool
    default: true
  hop_limit_cap:
    description:
      - The hop limit cap expected; an SCP that caps at a higher value does not count.
    type: int
    default: 2
  deny_weakening:
    description:
      - Expect the rules that refuse a C(ModifyInstanceMetadataOptions) that does not keep IMDSv2 required within the cap.
    type: bool
    default: true
  exempt_principal_arns:
    description:
      - The principals the expected guardrail exempts (reported beside each policy's own exemptions).
    type: list
    elements: str
    default: []
  deny_imdsv1_credentials:
    description:
      - Expect the rule that refuses calls signed with role credentials delivered through IMDSv1.
    type: bool
    default: true
  require_instance_profile:
    description:
      - Expect the rule that refuses a launch without an instance profile.
    type: bool
    default: false
attributes:
  check_mode:
    support: full
    description: The module only reads; it behaves the same in check mode.
  diff_mode:
    support: N/A
    description: The module changes nothing, so there is nothing to diff.
notes:
  - "Needs, with the controller's credentials in the management account (or a delegated administrator):
    C(organizations:DescribeOrganization), C(organizations:ListRoots), C(organizations:DescribeOrganizationalUnit),
    C(organizations:DescribeAccount), C(organizations:ListAccountsForParent),
    C(organizations:ListOrganizationalUnitsForParent), C(organizations:ListPolicies), C(organizations:DescribePolicy),
    C(organizations:ListTargetsForPolicy), C(organizations:ListTagsForResource), C(organizations:DescribeEffectivePolicy)
    - the read statements of C(policies/guardrails.json)."
extends_documentation_fragment:
  - keyless.aws.aws
"""

EXAMPLES = r"""
- name: Which guardrail rules are in force in the accounts of prod, and which are missing
  keyless.aws.organizations_guardrail_info:
    targets: [ou-ab12-prod0001]
    policy_types: [service_control_policy, declarative_policy_ec2]
  register: guardrails_in_force

- name: Every account of the organization that misses a rule
  ansible.builtin.debug:
    msg: "{{ guardrails_in_force.accounts | selectattr('missing') | map(attribute='account') | list }}"
"""

RETURN = r"""
changed:
  description: Always false.
  returned: always
  type: bool
accounts:
  description:
    - One entry per account, sorted by id - V(account), V(name), V(state), V(path) (the root,
      the OUs and the account), V(expected) (the rules the options ask for), V(in_force), V(missing) (expected and
      not in force), V(policies), V(declarative) (the effective C(instance_metadata_defaults), null without one) and
      V(notes) (the management account, a policy type not enabled, an account that is not ACTIVE).
    - "Rules: V(require_imdsv2), V(hop_limit_cap), V(deny_weakening), V(deny_imdsv1_credentials),
      V(require_instance_profile) (SCP statements) and V(declarative_imds_defaults) (the declarative policy)."
    - A policy has V(id), V(name), V(type), V(attached_to) (V(id), V(kind) root, ou or account, V(name)),
      V(inherited), V(ours) (tagged by this module), V(rules) and for an SCP V(hop_limit_cap) (the lowest launch cap
      it sets), V(exempt_principals), V(conditional) (Deny statements narrowed by another condition) and V(error).
  returned: always
  type: list
  elements: dict
  sample:
    - account: "111111111111"
      path: [r-ab12, ou-ab12-prod0001, "111111111111"]
      in_force: [require_imdsv2, hop_limit_cap, deny_weakening, deny_imdsv1_credentials]
      missing: []
      policies:
        - {name: keyless-imds-guardrail, attached_to: {id: ou-ab12-prod0001, kind: ou, name: prod}, inherited: true,
           ours: true, rules: [require_imdsv2, hop_limit_cap, deny_weakening, deny_imdsv1_credentials]}
expected:
  description: The rules the options ask for.
  returned: always
  type: list
  elements: str
summary:
  description: V(accounts), V(complete) (accounts with no rule missing) and V(missing) (rule -> accounts).
  returned: always
  type: dict
"""

from ansible_collections.keyless.aws.plugins.module_utils.aws.module import aws_module, run_module
from ansible_collections.keyless.aws.plugins.module_utils.organizations.converge import converge
from ansible_collections.keyless.aws.plugins.module_utils.organizations.guardrail import argument_spec, info_params


def main():
    module = aws_module(argument_spec(info=True))
    module.params = info_params(module.params)
    run_module(module, lambda progress: converge(module, progress))


if __name__ == "__main__":
    main()
