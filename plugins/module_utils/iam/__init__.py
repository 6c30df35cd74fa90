# -*- coding: utf-8 -*-
# Copyright: keyless.aws contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""IAM: roles, instance profiles, managed policies, policy documents and the least-privilege judgement.
Private to the collection: no stable API.

documents (parse, refuse what IAM would refuse, count characters as IAM does, normalize, compare),
lint / trust_lint (least privilege, sharing matching: IAM's pattern matching) with escalation (the catalogue of
privilege-escalation paths),
access_analyzer (optional ValidatePolicy), roles / role_plan / role_params / role_policies (iam_role, a
role's policies read once), profiles (iam_instance_profile), managed_policies (iam_managed_policy); role_converge
and profile_converge (the engines of iam_role and iam_instance_profile), identity (both, for many accounts at once:
iam_identity).

May import: aws/. Plans (role_plan, the plan functions elsewhere), documents, lint, trust_lint and escalation
make no call.
"""
