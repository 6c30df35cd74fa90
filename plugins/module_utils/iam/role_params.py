# -*- coding: utf-8 -*-
# Copyright: keyless.aws contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""iam_role's options -> the desired role and every validation error (pure: no AWS call).

AWS facts (documents.py counts the characters): a role's inline policies may have 10,240 characters in
total; its trust policy 2,048 by default, raisable to 4,096 with Service Quotas (IAM, "Role trust policy
length"). IAM cannot tell us a raised quota without a call, so the user declares it
(trust_policy_size_quota).

Private to the collection: no stable API.
"""

from __future__ import annotations


from ansible_collections.keyless.aws.plugins.module_utils.aws import rules
from ansible_collections.keyless.aws.plugins.module_utils.aws.arns import validate_arn, validate_iam_name, validate_iam_path
from ansible_collections.keyless.aws.plugins.module_utils.aws.tags import validate_tags
from ansible_collections.keyless.aws.plugins.module_utils.iam.documents import (
    INLINE_POLICIES_MAX_CHARS, TRUST_POLICY_DEFAULT_QUOTA, TRUST_POLICY_MAX_QUOTA, PolicyError, parse_policy,
    policy_length, trust_policy_for_services,
)
from ansible_collections.keyless.aws.plugins.module_utils.iam.lint import is_admin_managed_policy, lint_policy
from ansible_collections.keyless.aws.plugins.module_utils.iam.role_plan import DECLARABLE


DEFAULT_TRUSTED_SERVICES = ["ec2.amazonaws.com"]
_COUNTED = "as IAM counts them (JSON without whitespace outside strings)"
_TRUST_QUOTA = "Service Quotas, IAM, 'Role trust policy length'"


def _validate_managed(values, allow_admin):
    errors = []
    for value in values or []:
        if not isinstance(value, str) or not value:
            errors.append("managed_policies item %r is empty: give a policy ARN or name" % (value,))
        elif value.startswith("arn:"):
            err = validate_arn(value, "managed_policies item", "iam", "policy")
            if err:
                errors.append(err)
        elif not rules.is_policy_name(value):
            errors.append("managed_policies item %r is neither a policy ARN nor a policy name (letters, digits and "
                          "+ = , . @ _ -, optionally after a path such as 'service-role/')" % value)
        if isinstance(value, str) and is_admin_managed_policy(value) and not allow_admin:
            errors.append("managed_policies item %r grants administrator-level access (%s): attach a least-privilege "
                          "policy instead, or set allow_admin: true" % (value, value.rsplit("/", 1)[-1]))
    return errors


def _validate_inline(policies, allow_admin, own_role=None):
    errors, docs = [], {}
    for name, value in (policies or {}).items():
        option = "inline_policies.%s" % name
        err = validate_iam_name(name, "inline_policies key", max_len=128)
        if err:
            errors.append(err)
        try:
            docs[name] = parse_policy(value, option, "permissions")
        except PolicyError as exc:
            errors.append(str(exc))
            continue
        problems = lint_policy(docs[name], "permissions", allow_admin, own_role)
        errors.extend("%s: %s" % (option, p) for p in problems)
    return errors + inline_size_errors(docs), docs


def _length(doc):
    """policy_length of a document; one IAM returned that did not parse is counted as the text it is."""
    return policy_length(doc) if isinstance(doc, dict) else len(str(doc))


def inline_size_errors(docs, kept=None):
    """IAM's 10,240-character total for all inline policies of a role: the declared ones (`docs`) plus, when
    known, the role's other inline policies that stay (`kept`, purge_inline_policies=false)."""
    sizes = {name: _length(doc) for name, doc in sorted(docs.items())}
    kept_sizes = {name: _length(doc) for name, doc in sorted((kept or {}).items()) if name not in docs}
    total = sum(sizes.values()) + sum(kept_sizes.values())
    if total <= INLINE_POLICIES_MAX_CHARS:
        return []
    parts = ", ".join("%s %s" % (name, format(size, ",")) for name, size in list(sizes.items()) + list(kept_sizes.items()))
    what = "inline_policies are"
    todo = ""
    if kept_sizes:
        what = "inline_policies and the role's other inline policies (%s, kept because purge_inline_policies=false) are" \
            % ", ".join(kept_sizes)
        todo = ", or set purge_inline_policies: true to delete the others"
    return ["%s %s characters in total %s (%s): IAM allows %s for all inline policies of a role together; move "
            "statements into a managed policy (keyless.aws.iam_managed_policy, 6,144 characters each) and attach it "
            "with managed_policies%s" % (what, format(total, ","), _COUNTED, parts,
                                         format(INLINE_POLICIES_MAX_CHARS, ","), todo)]


def _trust_size_errors(doc, option, quota):
    """The trust policy against the account's quota: IAM's default, or the raised one the user declared."""
    if quota is not None and not TRUST_POLICY_DEFAULT_QUOTA < quota <= TRUST_POLICY_MAX_QUOTA:
        quota = None  # IAM's default (an out-of-range quota is reported by _validate_scalars)
    length = policy_length(doc)
    if length <= (quota or TRUST_POLICY_DEFAULT_QUOTA):
        return []
    head = "%s is %s characters long %s" % (option, format(length, ","), _COUNTED)
    if quota is None:
        return ["%s: IAM's trust policy quota is %s by default. The quota can be raised up to %s (%s); once this "
                "account's quota is raised, set trust_policy_size_quota to the new value, or shorten the trust policy"
                % (head, format(TRUST_POLICY_DEFAULT_QUOTA, ","), format(TRUST_POLICY_MAX_QUOTA, ","), _TRUST_QUOTA)]
    return ["%s: trust_policy_size_quota=%d allows at most %s; shorten the trust policy, or raise the account's quota "
            "(up to %s; %s) and trust_policy_size_quota with it"
            % (head, quota, format(quota, ","), format(TRUST_POLICY_MAX_QUOTA, ","), _TRUST_QUOTA)]


def _validate_trust(params, allow_admin):
    quota = params.get("trust_policy_size_quota")
    if params.get("assume_role_policy_document") is not None:
        try:
            doc = parse_policy(params["assume_role_policy_document"], "assume_role_policy_document", "trust")
        except PolicyError as exc:
            return [str(exc)], None
        errors = ["assume_role_policy_document: %s" % p for p in lint_policy(doc, "trust", allow_admin)]
        return errors + _trust_size_errors(doc, "assume_role_policy_document", quota), doc
    services = params.get("trusted_services")
    if services is None:
        return [], None
    errors = []
    if not services:
        errors.append("trusted_services is empty: name at least one service principal such as ec2.amazonaws.com")
    for service in services:
        if not rules.is_service_principal(service):
            errors.append("trusted_services item %r is not a service principal: expected e.g. ec2.amazonaws.com"
                          % (service,))
    if errors:
        return errors, None
    doc = trust_policy_for_services(services)
    return _trust_size_errors(doc, "trusted_services (the trust policy it makes)", quota), doc


def _validate_scalars(params):
    errors = [validate_iam_name(params.get("name"), "name", 64)]
    if params.get("path") is not None:
        errors.append(validate_iam_path(params["path"], "path"))
    description = params.get("description")
    if description is not None:
        if len(description) > 1000:
            errors.append("description is %d characters long: IAM allows at most 1000" % len(description))
        elif not rules.is_role_description(description):
            errors.append("description %r contains characters IAM does not accept: use printable Latin-1 text"
                          % description)
    duration = params.get("max_session_duration")
    if duration is not None and not 3600 <= duration <= 43200:
        errors.append("max_session_duration=%r is out of range: use 3600 to 43200 seconds (1 to 12 hours)" % duration)
    boundary = params.get("permissions_boundary")
    if boundary:
        errors.append(validate_arn(boundary, "permissions_boundary", "iam", "policy"))
    quota = params.get("trust_policy_size_quota")
    if quota is not None and not TRUST_POLICY_DEFAULT_QUOTA <= quota <= TRUST_POLICY_MAX_QUOTA:
        errors.append("trust_policy_size_quota=%r is out of range: IAM's trust policy quota is %d by default and can be "
                      "raised to at most %d (%s); give the account's quota, %d to %d"
                      % (quota, TRUST_POLICY_DEFAULT_QUOTA, TRUST_POLICY_MAX_QUOTA, _TRUST_QUOTA,
                         TRUST_POLICY_DEFAULT_QUOTA, TRUST_POLICY_MAX_QUOTA))
    timeout = params.get("wait_timeout")
    if timeout is not None and timeout < 1:
        errors.append("wait_timeout=%r must be at least 1 second" % timeout)
    return [e for e in errors if e]


def role_desired(params):
    """iam_role's params -> (desired dict for plan_role, validation errors). Pure: no AWS call."""
    allow_admin = bool(params.get("allow_admin"))
    errors = _validate_scalars(params)
    trust_errors, trust = _validate_trust(params, allow_admin)
    own_role = (params.get("path"), params["name"]) if params.get("name") else None  # a role must not change itself
    inline_errors, inline = _validate_inline(params.get("inline_policies"), allow_admin, own_role)
    errors += trust_errors + inline_errors + _validate_managed(params.get("managed_policies"), allow_admin)
    errors += validate_tags(params.get("tags"), "tags")
    desired = {
        "state": params.get("state") or "present",
        "name": params.get("name"),
        "path": params.get("path"),
        "description": params.get("description"),
        "max_session_duration": params.get("max_session_duration"),
        "assume_role_policy_document": trust,
        "permissions_boundary": params.get("permissions_boundary"),
        "managed_policies": params.get("managed_policies"),
        "purge_managed_policies": bool(params.get("purge_managed_policies")),
        "inline_policies": inline if params.get("inline_policies") is not None else None,
        "purge_inline_policies": bool(params.get("purge_inline_policies")),
        "tags": params.get("tags"),
        "purge_tags": params.get("purge_tags", True) is not False,
    }
    return desired, errors


def declared_keys(params):
    """The role fields the user declared (what diff before/after shows)."""
    keys = [k for k in DECLARABLE if params.get(k) is not None]
    if params.get("trusted_services") is not None and "assume_role_policy_document" not in keys:
        keys.append("assume_role_policy_document")
    return keys
