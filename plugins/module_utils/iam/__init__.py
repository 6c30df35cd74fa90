# -*- coding: utf-8 -*-
# Copyright: keyless.aws contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""IAM: roles, instance profiles, managed policies, policy documents and the least-privilege judgement.
Private to the collection: no stable API.

documents (parse, refuse what IAM would refuse, count characters as IAM does, normalize, compare),
lint (least privilege), roles / role_plan / role_params (iam_role), profiles (iam_instance_profile),
managed_policies (iam_managed_policy).

May import: aws/. Plans (role_plan, the plan functions elsewhere) and documents/lint make no call.
"""
