# -*- coding: utf-8 -*-
# Copyright: keyless.aws contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""What iam_role checks by reading, before any change and in check mode too (reads only).

Validation that needs no call is role_params.py. What only a read can tell:
- every managed policy and the permissions boundary exist (GetPolicy; a name resolves to the AWS-managed or
  the customer-managed ARN it means), and belong to this account or AWS;
- the inline policies the role keeps (purge_inline_policies=false) still fit IAM's 10,240 characters with the
  declared ones;
- the managed policies this run attaches grant no privilege escalation (their default version, judged like an
  inline document: lint.judge_permissions), unless allow_admin;
- with validate_with_access_analyzer, IAM Access Analyzer ValidatePolicy on the declared documents.
Each problem raises InputError; a missing customer-managed policy is only a warning in check mode (an earlier
task of the same --check run may create it).

Private to the collection: no stable API.
"""

from __future__ import annotations

from ansible_collections.keyless.aws.plugins.module_utils.aws.arns import parse_arn
from ansible_collections.keyless.aws.plugins.module_utils.aws.errors import InputError
from ansible_collections.keyless.aws.plugins.module_utils.iam import access_analyzer, role_params, roles
from ansible_collections.keyless.aws.plugins.module_utils.iam.role_policies import judge_new_managed_policies


def role_account(ctx, observed):
    """(partition, account id) of the role: from its ARN when it exists (no STS call), else from the caller."""
    parsed = parse_arn(observed["arn"]) if observed else None
    return (parsed["partition"], parsed["account_id"]) if parsed else (ctx.partition, ctx.account_id)


def check_by_reading(ctx, iam, desired, observed, check_mode, allow_admin):
    """Raises InputError listing what IAM would refuse; returns the warnings. Resolves desired's managed
    policy names to ARNs."""
    errors, warnings = [], []
    if desired["managed_policies"]:
        partition, account_id = role_account(ctx, observed)
        attached = set(observed["managed_policies"]) if observed else set()
        arns, errors, warnings = roles.resolve_policy_arns(iam, desired["managed_policies"], partition, account_id,
                                                           assume_missing=check_mode, attached=attached)
        desired["managed_policies"] = arns
    boundary = desired["permissions_boundary"]
    if boundary and boundary != (observed or {}).get("permissions_boundary"):
        partition, account_id = role_account(ctx, observed)
        error, warning = roles.check_policy_arn(iam, boundary, "permissions_boundary", partition, account_id,
                                                assume_missing=check_mode)
        errors.extend([error] if error else [])
        warnings.extend([warning] if warning else [])
    if observed and desired["inline_policies"] is not None and not desired["purge_inline_policies"]:
        errors.extend(role_params.inline_size_errors(desired["inline_policies"], observed["inline_policies"]))
    if errors:
        raise InputError(errors)
    if desired["managed_policies"] and not allow_admin:
        own_role = (desired["path"] or (observed or {}).get("path"), desired["name"])
        errors, missing = judge_new_managed_policies(iam, desired["managed_policies"],
                                                     (observed or {}).get("managed_policies") or [], own_role)
        if not check_mode:  # in check mode resolve_policy_arns already warned that they do not exist yet
            errors += ["managed_policies item %r does not exist: create it first or give the ARN of an existing policy"
                       % arn for arn in missing]
        if errors:
            raise InputError(errors)
    return warnings


def analyzer_findings(analyzer, desired, allow_admin):
    """The declared documents through Access Analyzer ValidatePolicy: refused findings raise InputError, the
    rest (suggestions, warnings) are returned."""
    docs = []
    if desired["assume_role_policy_document"]:  # declared, or built from trusted_services
        docs.append(("assume_role_policy_document", "trust", desired["assume_role_policy_document"]))
    for name, doc in sorted((desired["inline_policies"] or {}).items()):
        docs.append(("inline_policies.%s" % name, "identity", doc))
    refusals, findings = access_analyzer.validate_documents(analyzer, docs, allow_admin)
    if refusals:
        raise InputError(refusals)
    return findings
