#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: keyless.aws contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: iam_role
short_description: Manage an IAM role, its trust policy, managed and inline policies, and tags
version_added: 0.1.0
description:
  - Creates, updates or deletes an IAM role together with its trust policy, attached managed policies,
    inline policies, permissions boundary and tags.
  - Policy documents are compared by meaning, not by text, so an equivalent document never reports a
    change. Statement order, a string versus a one-item list, a C(Principal) of C(*) versus an C(AWS)
    principal of C(*), an account id versus its root ARN in any partition, and the case of action names
    make no difference.
  - Least privilege is enforced before any AWS call for the documents given here. Unless O(allow_admin=true)
    the module refuses the AWS-managed policies C(AdministratorAccess), C(PowerUserAccess) and
    C(IAMFullAccess); permission statements that allow every action on every resource, or C(NotAction) on
    every resource; statements that reach a privilege-escalation action on an unscoped resource (for example
    C(iam:PutRolePolicy), C(iam:Attach*Policy), C(iam:CreatePolicyVersion), C(iam:UpdateAssumeRolePolicy),
    C(iam:PassRole) or C(sts:AssumeRole) on C(*) or on C(arn:aws:iam::*:role/*)); statements that let the
    role change its own policies or trust; and trust statements that trust the principal C(*) without a
    condition that restricts it, or a web identity provider without a condition on its C(sub) claim.
  - Action patterns are matched as IAM matches them (C(*) and C(?) wildcards, any case), so C(iam:**),
    C(iam:?*) and C(IAM:Put*Policy) are judged by the actions they grant; an Allow with C(NotAction) grants
    every other action and one with C(NotResource) covers every other resource. A resource is unscoped when
    its pattern covers every role (user, group, policy, function) of the account, such as C(*),
    C(arn:aws:iam::*:*) or C(arn:aws:iam::123456789012:role/*); a path (C(role/app/*)), a name prefix
    (C(role/app-*)) or a name is scoped. The error names the statement (its Sid or index), the action and the
    escalation actions it reaches, the resource, the escalation path with its published source, and how to
    scope it.
  - Managed policies this run would attach are read (C(GetPolicy), C(GetPolicyVersion), once each and never
    on a rerun that attaches nothing) and their default version is judged the same way before any change.
  - O(state=absent) deletes in the order IAM requires, removing the role from its instance profiles,
    detaching managed policies and deleting inline policies first.
  - Every input is validated before any AWS call; every problem is reported at once. Policy documents are
    checked for what IAM would refuse, naming the option, the policy and the statement - an empty or null
    C(Action), C(NotAction), C(Resource), C(NotResource), C(Principal) or C(Effect), unknown statement
    elements, Sids other than letters and digits, a C(Principal) in a permissions policy, a C(Resource) or
    a missing C(Principal) in the trust policy, documents nested deeper than IAM's grammar - and their
    sizes are counted as IAM counts them (JSON without whitespace outside strings) against IAM's quotas
    (all inline policies of the role together 10,240 characters, the trust policy O(trust_policy_size_quota)).
  - Before anything is created or changed, in check mode too, every managed policy in O(managed_policies)
    and the O(permissions_boundary) are read with C(GetPolicy), so a mistyped ARN fails with nothing
    created. The role is created with its trust policy, boundary and tags in one call; then its inline
    policies are put and its managed policies attached.
author: keyless.aws maintainers (@keyless-aws)
options:
  name:
    description:
      - The role name, 1 to 64 letters, digits and C(+=,.@_-).
    type: str
    required: true
    aliases: [role_name]
  path:
    description:
      - The path of the role, for example C(/app/). A new role is created at C(/) when not given.
      - IAM cannot move a role to another path; giving a path that differs from an existing role's
        path is an error (delete and re-create the role to move it).
    type: str
  description:
    description:
      - A description of the role (at most 1000 characters). Left unchanged when not given.
    type: str
  assume_role_policy_document:
    description:
      - The trust policy, as a mapping or JSON text.
      - Mutually exclusive with O(trusted_services).
      - When neither this nor O(trusted_services) is given, a new role trusts C(ec2.amazonaws.com) and an
        existing role keeps its trust policy.
    type: json
    aliases: [trust_policy]
  trusted_services:
    description:
      - Shorthand for a trust policy that lets these service principals call C(sts:AssumeRole).
      - Mutually exclusive with O(assume_role_policy_document). When neither is given, a new role trusts
        C(ec2.amazonaws.com) (that is, the default is V([ec2.amazonaws.com]) for a new role).
    type: list
    elements: str
  max_session_duration:
    description:
      - The maximum session duration in seconds, 3600 to 43200. Left unchanged when not given
        (a new role gets AWS's default of 3600).
    type: int
  permissions_boundary:
    description:
      - The ARN of a managed policy used as permissions boundary. An empty string removes the boundary.
        Left unchanged when not given.
      - A new boundary must exist (read with C(GetPolicy) before any change), like the ARNs of
        O(managed_policies).
    type: str
    aliases: [boundary]
  managed_policies:
    description:
      - Managed policies to attach, as ARNs or names. A name (or C(path/Name)) is resolved with
        C(GetPolicy) to the AWS-managed C(arn:PARTITION:iam::aws:policy/NAME) or the customer-managed
        C(arn:PARTITION:iam::ACCOUNT:policy/NAME), without listing the account's policies; a name that
        matches both is an error.
      - Every ARN that is not attached yet is read with C(GetPolicy) before anything is changed. An ARN that
        does not exist is an error, and so is a policy of another account or partition (a role can use only
        AWS-managed policies and its own account's).
      - In check mode a customer-managed policy that does not exist yet, given by name or by this account's
        ARN, is predicted (an earlier task such as M(keyless.aws.iam_managed_policy) may create it) with a
        warning; the real run refuses it before changing anything if it still does not exist. An AWS-managed
        ARN (C(arn:PARTITION:iam::aws:policy/...)) that does not exist fails in check mode too, since no task
        can create it.
      - Left unchanged when not given.
    type: list
    elements: str
    aliases: [managed_policy]
  purge_managed_policies:
    description:
      - Detach attached managed policies that are not in O(managed_policies).
      - Off by default because a role may be shared with other deployments. Only applies when
        O(managed_policies) is given.
    type: bool
    default: false
  inline_policies:
    description:
      - Inline policies, as a mapping of policy name to policy document (mapping or JSON text).
      - Left unchanged when not given.
    type: dict
  purge_inline_policies:
    description:
      - Delete inline policies that are not in O(inline_policies). Only applies when O(inline_policies)
        is given.
    type: bool
    default: false
  tags:
    description:
      - Tags of the role, as a mapping. Keys starting with C(aws:) are reserved by AWS and never touched.
      - Left unchanged when not given.
    type: dict
    aliases: [resource_tags]
  purge_tags:
    description:
      - Remove tags that are not in O(tags). Only applies when O(tags) is given; C(aws:) tags are never
        removed.
    type: bool
    default: true
  state:
    description:
      - Whether the role should exist.
    type: str
    choices: [present, absent]
    default: present
  wait:
    description:
      - After creating a role, wait until IAM answers for it several consecutive times (botocore's
        C(role_exists) waiter, then 3 successful reads in a row), so the next task can use it.
    type: bool
    default: true
  wait_timeout:
    description:
      - How many seconds to wait at most when O(wait=true).
    type: int
    default: 120
  allow_admin:
    description:
      - Allow administrator-level grants and privilege-escalation paths that are refused otherwise (see the
        description), and Access Analyzer security warnings (see O(validate_with_access_analyzer)).
    type: bool
    default: false
  validate_with_access_analyzer:
    description:
      - Also send the trust policy and each inline policy given here to IAM Access Analyzer C(ValidatePolicy)
        (in check mode too) before any change. The trust policy is validated as a C(RESOURCE_POLICY) of type
        C(AWS::IAM::AssumeRolePolicyDocument), inline policies as C(IDENTITY_POLICY).
      - Findings of type C(ERROR) refuse the task, and so do C(SECURITY_WARNING) findings unless
        O(allow_admin=true); C(WARNING) and C(SUGGESTION) findings are returned in RV(access_analyzer_findings).
      - Needs C(access-analyzer:ValidatePolicy). The local test endpoint (moto) does not implement Access
        Analyzer, so leave this off against it.
    type: bool
    default: false
  trust_policy_size_quota:
    description:
      - The account's quota for the length of a role trust policy, in characters as IAM counts them (JSON
        without whitespace outside strings). A longer trust policy is refused before any AWS call.
      - IAM's default is 2048. It can be raised to at most 4096 in Service Quotas (IAM, C(Role trust policy
        length)); after the account's quota has been raised, set this to the new value.
      - 2048 to 4096.
    type: int
    default: 2048
attributes:
  check_mode:
    support: full
    description:
      - Reads the role and reports what would change without changing it. A role that would be created is
        returned as predicted, with its ARN built from the account id, so later tasks can use RV(role.arn).
  diff_mode:
    support: full
    description: Shows the declared fields of the role before and after.
notes:
  - The catalogue of escalation paths and its sources (Rhino Security Labs' 21 methods, Bishop Fox
    iam-vulnerable, cloudsplaining, the AWS IAM User Guide on C(iam:PassRole)) is listed in the collection's
    C(plugins/module_utils/iam/escalation.py).
  - IAM is eventually consistent; calls that meet C(ConcurrentModification), or C(NoSuchEntity) right after
    the role was created, are retried briefly.
  - Needs C(iam:GetRole), C(iam:ListAttachedRolePolicies), C(iam:ListRolePolicies), C(iam:GetRolePolicy),
    C(iam:ListRoleTags), C(iam:ListInstanceProfilesForRole), C(iam:GetPolicy) (managed policies and the
    boundary), C(iam:GetPolicyVersion) (the policies to attach, judged before they are) and, to change, the
    matching create, update, attach, put, tag and delete permissions.
extends_documentation_fragment:
  - keyless.aws.aws
"""

EXAMPLES = r"""
- name: Role for the application's EC2 instances (trusts ec2.amazonaws.com by default)
  keyless.aws.iam_role:
    name: AppInstanceRole
    description: Role for the app's EC2 instances
    managed_policies:
      - arn:aws:iam::aws:policy/CloudWatchAgentServerPolicy
    inline_policies:
      AppAccess:
        Version: "2012-10-17"
        Statement:
          - Sid: S3Objects
            Effect: Allow
            Action: [s3:GetObject, s3:PutObject]
            Resource: arn:aws:s3:::my-app-data/*
          - Sid: S3List
            Effect: Allow
            Action: s3:ListBucket
            Resource: arn:aws:s3:::my-app-data
          - Sid: Queue
            Effect: Allow
            Action: [sqs:SendMessage, sqs:ReceiveMessage, sqs:DeleteMessage]
            Resource: arn:aws:sqs:us-east-1:123456789012:app-queue
          - Sid: Secrets
            Effect: Allow
            Action: secretsmanager:GetSecretValue
            Resource: arn:aws:secretsmanager:us-east-1:123456789012:secret:my-app/*
    tags:
      app: my-app
  register: app_role

- name: A role for ECS tasks, attached policy given by name, other attachments removed
  keyless.aws.iam_role:
    name: AppTaskRole
    path: /app/
    trusted_services: [ecs-tasks.amazonaws.com]
    managed_policies: [CloudWatchAgentServerPolicy]
    purge_managed_policies: true
    max_session_duration: 7200

- name: A role assumed from another account with an external id
  keyless.aws.iam_role:
    name: CrossAccountReader
    assume_role_policy_document:
      Version: "2012-10-17"
      Statement:
        - Effect: Allow
          Principal: {AWS: "210987654321"}
          Action: sts:AssumeRole
          Condition: {StringEquals: {sts:ExternalId: my-external-id}}

- name: Remove the permissions boundary of a role
  keyless.aws.iam_role:
    name: AppInstanceRole
    permissions_boundary: ""

- name: Delete a role (out of its instance profiles, policies detached and deleted first)
  keyless.aws.iam_role:
    name: AppTaskRole
    state: absent
"""

RETURN = r"""
role:
  description:
    - The role after the task; in check mode the predicted role (RV(role.role_id) and RV(role.create_date)
      are null for a role that would be created). Null when the role is absent.
  returned: always
  type: dict
  contains:
    arn:
      description: The ARN of the role.
      type: str
      sample: arn:aws:iam::123456789012:role/AppInstanceRole
    role_name:
      description: The name of the role.
      type: str
      sample: AppInstanceRole
    role_id:
      description: The stable id of the role.
      type: str
      sample: AROAEXAMPLEID1234567
    path:
      description: The path of the role.
      type: str
      sample: /
    description:
      description: The description of the role.
      type: str
      sample: Role for the app's EC2 instances
    max_session_duration:
      description: The maximum session duration in seconds.
      type: int
      sample: 3600
    assume_role_policy_document:
      description: The trust policy.
      type: dict
      sample: {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"},
               "Action": "sts:AssumeRole"}]}
    permissions_boundary:
      description: The ARN of the permissions boundary, or null.
      type: str
      sample: null
    managed_policies:
      description: The ARNs of the attached managed policies, sorted.
      type: list
      elements: str
      sample: [arn:aws:iam::aws:policy/CloudWatchAgentServerPolicy]
    inline_policies:
      description: The inline policies, name to document.
      type: dict
      sample: {"AppAccess": {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:ListBucket",
               "Resource": "arn:aws:s3:::my-app-data"}]}}
    tags:
      description: The tags of the role (read with ListRoleTags).
      type: dict
      sample: {"app": "my-app"}
    instance_profiles:
      description: The instance profiles that hold the role.
      type: list
      elements: dict
      sample: [{"instance_profile_name": "AppInstanceProfile", "arn": "arn:aws:iam::123456789012:instance-profile/AppInstanceProfile",
                "instance_profile_id": "AIPAEXAMPLEID1234567"}]
    create_date:
      description: When the role was created (ISO 8601).
      type: str
      sample: "2026-12-01T08:00:00+00:00"
access_analyzer_findings:
  description:
    - With O(validate_with_access_analyzer=true), the Access Analyzer findings that did not refuse the task
      (C(WARNING), C(SUGGESTION), and C(SECURITY_WARNING) with O(allow_admin=true)); otherwise empty.
  returned: always
  type: list
  elements: dict
  sample: [{"policy": "inline_policies.AppAccess", "finding_type": "SUGGESTION", "issue_code": "EMPTY_ARRAY_ACTION",
            "details": "This statement includes no actions and does not affect the policy.",
            "learn_more_link": "https://docs.aws.amazon.com/IAM/latest/UserGuide/access-analyzer-reference-policy-checks.html",
            "location": "Statement[0].Action"}]
changes:
  description: The changes made (or, in check mode, that would be made), in order.
  returned: always
  type: list
  elements: dict
  contains:
    action:
      description: The change, as the snake_case name of the AWS API call (V(create_role), V(attach_role_policy)).
      type: str
    operation:
      description: The AWS API operation (V(CreateRole), V(AttachRolePolicy)).
      type: str
    target:
      description: The resource the call touches.
      type: str
    before:
      description: The value before the change, where it has one.
      type: raw
    after:
      description: The value after the change, where it has one.
      type: raw
  sample: [{"action": "create_role", "operation": "CreateRole", "target": "AppInstanceRole", "before": null,
            "after": "AppInstanceRole"},
           {"action": "attach_role_policy", "operation": "AttachRolePolicy",
            "target": "arn:aws:iam::aws:policy/CloudWatchAgentServerPolicy", "before": null, "after": null}]
"""

from ansible_collections.keyless.aws.plugins.module_utils.aws.module import aws_module, context, run_module
from ansible_collections.keyless.aws.plugins.module_utils.iam import role_converge, role_params


def converge(module, progress):
    desired, errors = role_params.role_desired(module.params)
    return role_converge.converge(module, context(module, errors, default_region="us-east-1"), desired, progress)


def main():
    module = aws_module(role_converge.argument_spec(), mutually_exclusive=role_converge.MUTUALLY_EXCLUSIVE)
    run_module(module, lambda progress: converge(module, progress))


if __name__ == "__main__":
    main()
