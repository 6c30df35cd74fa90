# -*- coding: utf-8 -*-
# Copyright: keyless.aws contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""iam_role's options -> the desired role and every validation error (pure: no AWS call).

Private to the collection: no stable API.
"""

from __future__ import annotations

import re

from ansible_collections.keyless.aws.plugins.module_utils.aws.arns import validate_arn, validate_iam_name, validate_iam_path
from ansible_collections.keyless.aws.plugins.module_utils.aws.tags import validate_tags
from ansible_collections.keyless.aws.plugins.module_utils.iam.documents import PolicyError, parse_policy, trust_policy_for_services
from ansible_collections.keyless.aws.plugins.module_utils.iam.lint import is_admin_managed_policy, lint_policy
from ansible_collections.keyless.aws.plugins.module_utils.iam.role_plan import DECLARABLE


_SERVICE_PRINCIPAL = re.compile(r"^[a-z0-9][a-z0-9-]*(\.[a-z0-9-]+)*\.amazonaws\.com(\.cn)?$")
_POLICY_NAME = re.compile(r"^(/?[\x21-\x7e]+/)?[\w+=,.@-]{1,128}$", re.ASCII)
_DESCRIPTION = re.compile(r"^[\t\n\r\x20-\x7e\xa1-\xff]*$")
DEFAULT_TRUSTED_SERVICES = ["ec2.amazonaws.com"]


def _validate_managed(values, allow_admin):
    errors = []
    for value in values or []:
        if not isinstance(value, str) or not value:
            errors.append("managed_policies item %r is empty: give a policy ARN or name" % (value,))
        elif value.startswith("arn:"):
            err = validate_arn(value, "managed_policies item", "iam", "policy")
            if err:
                errors.append(err)
        elif not _POLICY_NAME.match(value):
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
            docs[name] = parse_policy(value, option)
        except PolicyError as exc:
            errors.append(str(exc))
            continue
        problems = lint_policy(docs[name], "permissions", allow_admin, own_role)
        errors.extend("%s: %s" % (option, p) for p in problems)
    return errors, docs


def _validate_trust(params, allow_admin):
    if params.get("assume_role_policy_document") is not None:
        try:
            doc = parse_policy(params["assume_role_policy_document"], "assume_role_policy_document")
        except PolicyError as exc:
            return [str(exc)], None
        return ["assume_role_policy_document: %s" % p for p in lint_policy(doc, "trust", allow_admin)], doc
    services = params.get("trusted_services")
    if services is None:
        return [], None
    errors = []
    if not services:
        errors.append("trusted_services is empty: name at least one service principal such as ec2.amazonaws.com")
    for service in services:
        if not _SERVICE_PRINCIPAL.match(service or ""):
            errors.append("trusted_services item %r is not a service principal: expected e.g. ec2.amazonaws.com"
                          % (service,))
    return errors, (trust_policy_for_services(services) if not errors else None)


def _validate_scalars(params):
    errors = [validate_iam_name(params.get("name"), "name", 64)]
    if params.get("path") is not None:
        errors.append(validate_iam_path(params["path"], "path"))
    description = params.get("description")
    if description is not None:
        if len(description) > 1000:
            errors.append("description is %d characters long: IAM allows at most 1000" % len(description))
        elif not _DESCRIPTION.match(description):
            errors.append("description %r contains characters IAM does not accept: use printable Latin-1 text"
                          % description)
    duration = params.get("max_session_duration")
    if duration is not None and not 3600 <= duration <= 43200:
        errors.append("max_session_duration=%r is out of range: use 3600 to 43200 seconds (1 to 12 hours)" % duration)
    boundary = params.get("permissions_boundary")
    if boundary:
        errors.append(validate_arn(boundary, "permissions_boundary", "iam", "policy"))
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
