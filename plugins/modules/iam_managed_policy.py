#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: keyless.aws contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: iam_managed_policy
short_description: Manage a customer-managed IAM policy, its versions and tags
version_added: 0.1.0
description:
  - Creates, updates and deletes a customer-managed IAM policy.
  - "The document is compared semantically with the policy's default version (statement order, a string
    versus a one-item list, C(Principal \"*\") versus C({\"AWS\": \"*\"}), an account id versus its root ARN
    and so on are not differences), so an equivalent document never creates a new version."
  - A different document becomes a new default version. IAM keeps at most 5 versions; at the limit the
    oldest non-default version is deleted first.
  - Least privilege is checked before any AWS call, with the judgement of M(keyless.aws.iam_role). Unless
    O(allow_admin=true) a document is refused when a statement allows every action on every resource, uses
    C(NotAction) on every resource, or reaches a privilege-escalation action on an unscoped resource (for
    example C(iam:Put*Policy), C(iam:AttachRolePolicy), C(iam:CreatePolicyVersion), C(iam:PassRole) or
    C(sts:AssumeRole) on C(*) or on every role ARN). Action patterns are matched as IAM matches them
    (wildcards, any case). The error names the statement (Sid or index), the action and the escalation actions
    it reaches, the resource, the escalation path with its source, and how to scope it.
  - O(state=absent) detaches the policy from every role, user and group, deletes its non-default
    versions, then deletes it.
author: keyless.aws maintainers (@keyless-aws)
options:
  name:
    description:
      - The policy name, up to 128 letters, digits and C(+=,.@_-). Policy names are unique in the account
        whatever the path.
    type: str
    required: true
  path:
    description:
      - The IAM path, for example V(/app/). Used when the policy is created; V(/) when left out.
      - IAM cannot move a policy. A different path for an existing policy fails with a message; delete the
        policy and create it again.
    type: str
  description:
    description:
      - A description, set when the policy is created (up to 1000 characters).
      - IAM cannot change the description of an existing policy, so a different description for an
        existing policy fails with a message saying the policy must be recreated (delete it with
        O(state=absent) and create it again). Left out, the description is not compared.
    type: str
  policy:
    description:
      - The policy document, as a mapping or a JSON string. Required with O(state=present).
      - It needs a C(Statement); at most 6144 characters as IAM counts them (JSON without whitespace outside
        strings).
      - What IAM would refuse is refused before any AWS call, naming the statement - an empty or null
        C(Action), C(NotAction), C(Resource), C(NotResource) or C(Effect), a statement without C(Resource),
        a C(Principal), unknown statement elements, Sids other than letters and digits, documents nested
        deeper than IAM's grammar.
    type: raw
  tags:
    description:
      - Tags of the policy, as a mapping. Left out, tags are not changed.
      - Keys starting with C(aws:) are AWS's own and are never changed or removed.
    type: dict
  purge_tags:
    description:
      - Remove tags not listed in O(tags). Has no effect when O(tags) is left out.
    type: bool
    default: true
  state:
    description:
      - V(present) creates or updates the policy; V(absent) detaches it everywhere and deletes it.
    type: str
    choices: [present, absent]
    default: present
  allow_admin:
    description:
      - Accept a document that grants administrator access or a privilege-escalation path (see the
        description), and Access Analyzer security warnings (see O(validate_with_access_analyzer)). Leave it
        V(false) unless administrator access is the point.
    type: bool
    default: false
  validate_with_access_analyzer:
    description:
      - Also send the document to IAM Access Analyzer C(ValidatePolicy) (as an C(IDENTITY_POLICY), in check
        mode too) before any change. Findings of type C(ERROR) refuse the task, and so do C(SECURITY_WARNING)
        findings unless O(allow_admin=true); C(WARNING) and C(SUGGESTION) findings are returned in
        RV(access_analyzer_findings).
      - Needs C(access-analyzer:ValidatePolicy). The local test endpoint (moto) does not implement Access
        Analyzer, so leave this off against it.
    type: bool
    default: false
attributes:
  check_mode:
    support: full
    description:
      - Makes no change and returns the predicted policy; a policy that would be created gets the ARN
        C(arn:<partition>:iam::<account>:policy<path><name>) built from the account id.
  diff_mode:
    support: full
    description: Shows the name, path, document, description (when given) and tags before and after.
notes:
  - A policy used as a permissions boundary is not deleted (removing a boundary widens what the role or
    user may do); the task fails naming them. Remove the boundaries first.
  - "Permissions: C(iam:GetPolicy), C(iam:GetPolicyVersion), C(iam:ListPolicyVersions), C(iam:ListPolicyTags),
    C(iam:ListPolicies), C(iam:CreatePolicy), C(iam:CreatePolicyVersion), C(iam:DeletePolicyVersion),
    C(iam:TagPolicy), C(iam:UntagPolicy), and for O(state=absent) C(iam:ListEntitiesForPolicy),
    C(iam:Detach*Policy), C(iam:DeletePolicy); with O(validate_with_access_analyzer=true)
    C(access-analyzer:ValidatePolicy)."
extends_documentation_fragment:
  - keyless.aws.aws
"""

EXAMPLES = r"""
- name: The application's permissions as a reusable managed policy
  keyless.aws.iam_managed_policy:
    name: AppAccess
    path: /app/
    description: S3, SQS and Secrets Manager access of my-app
    policy:
      Version: "2012-10-17"
      Statement:
        - Sid: S3Access
          Effect: Allow
          Action: [s3:GetObject, s3:PutObject, s3:ListBucket]
          Resource: [arn:aws:s3:::my-app-data, arn:aws:s3:::my-app-data/*]
        - Sid: SecretsManagerAccess
          Effect: Allow
          Action: secretsmanager:GetSecretValue
          Resource: arn:aws:secretsmanager:us-east-1:123456789012:secret:my-app/*
    tags:
      Application: my-app
  register: app_policy

- name: Attach it by ARN (predicted in check mode too)
  keyless.aws.iam_role:
    name: MyAppRole
    managed_policies:
      - "{{ app_policy.policy.arn }}"

- name: A document from a file
  keyless.aws.iam_managed_policy:
    name: ReadReports
    policy: "{{ lookup('ansible.builtin.file', 'read-reports.json') }}"

- name: Detach from everything and delete
  keyless.aws.iam_managed_policy:
    name: AppAccess
    state: absent
"""

RETURN = r"""
policy:
  description:
    - The policy after the task; in check mode the predicted one (C(policy_id) is null for a policy that
      would be created). Null after O(state=absent).
  returned: always
  type: dict
  contains:
    arn:
      description: The policy's ARN.
      type: str
    policy_name:
      description: The name.
      type: str
    policy_id:
      description: The stable id IAM assigned.
      type: str
    path:
      description: The IAM path.
      type: str
    default_version_id:
      description: The default version (V(v1), V(v2), ...).
      type: str
    description:
      description: The description (empty when none).
      type: str
    document:
      description: The default version's document.
      type: dict
    tags:
      description: The policy's tags.
      type: dict
    attachment_count:
      description: Number of roles, users and groups it is attached to.
      type: int
  sample:
    arn: arn:aws:iam::123456789012:policy/app/AppAccess
    policy_name: AppAccess
    policy_id: ANPAEXAMPLEID12345678
    path: /app/
    default_version_id: v2
    description: S3, SQS and Secrets Manager access of my-app
    document:
      Version: "2012-10-17"
      Statement:
        - {Sid: S3Access, Effect: Allow, Action: s3:GetObject, Resource: "arn:aws:s3:::my-app-data/*"}
    tags: {Application: my-app}
    attachment_count: 1
access_analyzer_findings:
  description:
    - With O(validate_with_access_analyzer=true), the Access Analyzer findings that did not refuse the task
      (C(WARNING), C(SUGGESTION), and C(SECURITY_WARNING) with O(allow_admin=true)); otherwise empty.
  returned: when O(state=present)
  type: list
  elements: dict
  sample: [{"policy": "policy", "finding_type": "SUGGESTION", "issue_code": "REDUNDANT_ACTION",
            "details": "The 1 action is redundant because they provide similar permissions to an action in the policy.",
            "learn_more_link": "https://docs.aws.amazon.com/IAM/latest/UserGuide/access-analyzer-reference-policy-checks.html",
            "location": "Statement[0].Action[1]"}]
changes:
  description:
    - The changes made (or, in check mode, that would be made), in order, each with V(action) (the snake_case
      name of the AWS API call), V(operation) (the API operation), V(target), V(before) and V(after).
  returned: always
  type: list
  elements: dict
  sample:
    - {action: delete_policy_version, operation: DeletePolicyVersion,
       target: "arn:aws:iam::123456789012:policy/app/AppAccess", before: v1, after: null}
    - {action: create_policy_version, operation: CreatePolicyVersion,
       target: "arn:aws:iam::123456789012:policy/app/AppAccess", before: {}, after: {}}
"""

from ansible_collections.keyless.aws.plugins.module_utils.aws.arns import iam_arn, validate_iam_name, validate_iam_path
from ansible_collections.keyless.aws.plugins.module_utils.aws.errors import InputError
from ansible_collections.keyless.aws.plugins.module_utils.aws.module import aws_module, context, run_module
from ansible_collections.keyless.aws.plugins.module_utils.aws.plan import apply_plan, diff
from ansible_collections.keyless.aws.plugins.module_utils.aws.tags import validate_tags
from ansible_collections.keyless.aws.plugins.module_utils.iam import access_analyzer, managed_policies as mp
from ansible_collections.keyless.aws.plugins.module_utils.iam.documents import (
    MANAGED_POLICY_MAX_CHARS, PolicyError, parse_policy, policy_length,
)
from ansible_collections.keyless.aws.plugins.module_utils.iam.lint import lint_policy

POLICY_NAME_MAX = 128
DESCRIPTION_MAX = 1000


def argument_spec():
    return dict(
        name=dict(type="str", required=True),
        path=dict(type="str"),
        description=dict(type="str"),
        policy=dict(type="raw"),
        tags=dict(type="dict"),
        purge_tags=dict(type="bool", default=True),
        state=dict(type="str", choices=["present", "absent"], default="present"),
        allow_admin=dict(type="bool", default=False),
        validate_with_access_analyzer=dict(type="bool", default=False),
    )


def validate(params):
    """(errors, parsed document or None): every input error, before any AWS call."""
    errors = [validate_iam_name(params["name"], "name", POLICY_NAME_MAX)]
    if params.get("path") is not None:
        errors.append(validate_iam_path(params["path"], "path"))
    description = params.get("description")
    if description is not None and len(description) > DESCRIPTION_MAX:
        errors.append("description is %d characters long: IAM allows at most %d" % (len(description), DESCRIPTION_MAX))
    errors.extend(validate_tags(params.get("tags"), "tags"))
    document = None
    if params["state"] == "present":
        document, doc_errors = _validate_document(params)
        errors.extend(doc_errors)
    return [e for e in errors if e], document


def _validate_document(params):
    if params.get("policy") in (None, ""):
        return None, ["policy is required with state=present: give the policy document as a mapping or JSON text"]
    try:
        document = parse_policy(params["policy"], "policy", "permissions")
    except PolicyError as exc:
        return None, [str(exc)]
    errors = ["policy: %s" % problem for problem in lint_policy(document, "permissions", params["allow_admin"])]
    length = policy_length(document)
    if length > MANAGED_POLICY_MAX_CHARS:
        errors.append("policy is %s characters long as IAM counts them (JSON without whitespace outside strings): "
                      "IAM allows at most %s for a managed policy (a fixed quota); split the statements over several "
                      "managed policies" % (format(length, ","), format(MANAGED_POLICY_MAX_CHARS, ",")))
    return document, errors


def desired_state(params, document):
    return {"name": params["name"], "path": params.get("path"), "description": params.get("description"),
            "document": document, "tags": params.get("tags"), "purge_tags": params["purge_tags"]}


def validate_with_access_analyzer(module, ctx, desired):
    """The document through Access Analyzer ValidatePolicy; fails on refused findings, returns the rest."""
    if not module.params["validate_with_access_analyzer"]:
        return []
    refusals, findings = access_analyzer.validate_documents(ctx.client("accessanalyzer"),
                                                            [("policy", "identity", desired["document"])],
                                                            module.params["allow_admin"])
    if refusals:
        raise InputError(refusals)
    return findings


def observe(ctx, iam, desired):
    """The existing policy, looked up at the declared path (or /) first, then by name at any path."""
    path = desired["path"] or "/"
    current = mp.observe_policy(iam, iam_arn(ctx.partition, ctx.account_id, "policy", path, desired["name"]))
    if current is None:
        arn = mp.find_policy_arn(iam, desired["name"])
        if arn is not None:
            current = mp.observe_policy(iam, arn)
    return current


def present(module, ctx, iam, desired, progress):
    desired["access_analyzer_findings"] = validate_with_access_analyzer(module, ctx, desired)
    current = observe(ctx, iam, desired)
    plan = mp.plan_present(desired, current, desired["purge_tags"])
    if not plan:
        return plan, current, mp.public(current)
    if module.check_mode:
        return plan, current, mp.predict(desired, current, plan, ctx.partition, ctx.account_id)
    responses = apply_plan(ctx.client, plan, progress)
    arn = responses[0]["Policy"]["Arn"] if current is None else current["arn"]
    return plan, current, mp.public(mp.observe_policy(iam, arn))


def absent(module, ctx, iam, desired, progress):
    current = observe(ctx, iam, desired)
    if current is None:
        return mp.plan_absent(None, {}), None
    if current["permissions_boundary_usage_count"]:
        users = mp.list_boundary_users(iam, current["arn"])
        raise mp.PolicyPlanError(
            "policy %s is the permissions boundary of %s; removing a boundary widens what they may do, so it is "
            "not done here: remove or replace those boundaries first (keyless.aws.iam_role permissions_boundary)"
            % (current["arn"], ", ".join(users) or "%d entities" % current["permissions_boundary_usage_count"]))
    plan = mp.plan_absent(current, mp.list_entities(iam, current["arn"]))
    if not module.check_mode:
        apply_plan(ctx.client, plan, progress)
    return plan, current


def converge(module, progress):
    params = module.params
    errors, document = validate(params)
    ctx = context(module, errors)
    desired = desired_state(params, document)
    iam = ctx.client("iam")
    if params["state"] == "present":
        plan, current, obj = present(module, ctx, iam, desired, progress)
        return dict(changed=plan.changed, policy=obj, changes=plan.as_list(),
                    access_analyzer_findings=desired["access_analyzer_findings"],
                    diff=diff(mp.declared(current, desired), mp.declared(obj, desired)))
    plan, current = absent(module, ctx, iam, desired, progress)
    return dict(changed=plan.changed, policy=None, changes=plan.as_list(),
                diff=diff(mp.declared(current, {"description": "", "tags": {}}), {}))


def main():
    module = aws_module(argument_spec())
    run_module(module, lambda progress: converge(module, progress))


if __name__ == "__main__":
    main()
