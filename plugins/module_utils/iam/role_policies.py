# -*- coding: utf-8 -*-
# Copyright: keyless.aws contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""A role's permission policies as IAM holds them, read once (reads only).

Contract: policy dicts {type: "inline" | "managed", name, arn (managed only), document}, as
roles.role_policy_documents returns them; a managed policy is its default version. PolicyDocuments is that
reader with a cache per managed policy ARN, so a policy attached to many roles (the audit of a fleet) costs
one GetPolicy + one GetPolicyVersion in all; judge_new_managed_policies judges the policies iam_role is
about to attach.

AWS facts (roles.py makes the reads): ListRolePolicies / GetRolePolicy and ListAttachedRolePolicies are
paginated; GetPolicy names the DefaultVersionId, GetPolicyVersion returns that version's Document; a policy
detached and deleted between the reads answers NoSuchEntity and is left out.
"""

from __future__ import annotations

from ansible_collections.keyless.aws.plugins.module_utils.aws.errors import AwsCallError
from ansible_collections.keyless.aws.plugins.module_utils.iam.lint import is_admin_managed_policy, judge_permissions
from ansible_collections.keyless.aws.plugins.module_utils.iam.roles import managed_policy_document, role_policies_of


class PolicyDocuments(object):
    """Reads roles' policies, each managed policy once however many roles it is attached to."""

    def __init__(self, iam):
        self.iam = iam
        self._managed = {}

    def managed(self, arn):
        if arn not in self._managed:
            self._managed[arn] = managed_policy_document(self.iam, arn)
        return self._managed[arn]

    def role(self, role_name, skip_managed=None):
        """roles.role_policies_of with this cache: inline policies by name, then attached managed ones by ARN;
        [] for a role deleted since it was named (it grants nothing now)."""
        try:
            return role_policies_of(self.iam, role_name, self.managed, skip_managed)
        except AwsCallError as exc:
            if exc.code != "NoSuchEntity":
                raise
            return []


def judge_new_managed_policies(iam, arns, attached, own_role):
    """(errors, missing) for the managed policies a role is about to get (arns not in attached): each default
    version read once and judged as an inline document would be (lint.judge_permissions with own_role). The
    admin managed policies are refused by name before any call (role_params), so they are not read here."""
    errors, missing = [], []
    for arn in sorted(set(arns)):
        if arn in attached or is_admin_managed_policy(arn):
            continue
        policy = managed_policy_document(iam, arn)
        if policy is None:
            missing.append(arn)
            continue
        if not isinstance(policy["document"], dict):  # stored by IAM, so valid there: nothing we can judge
            continue
        errors.extend("managed_policies item %r: %s" % (arn, refusal.message)
                      for refusal in judge_permissions(policy["document"], own_role=own_role))
    return errors, missing
