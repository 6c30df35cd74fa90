# -*- coding: utf-8 -*-
# Copyright: keyless.aws contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The least-privilege judgement of policy documents: what a grant lets an instance do that it must not.

Private to the collection: no stable API.
"""

from __future__ import annotations

import re

from ansible_collections.keyless.aws.plugins.module_utils.iam.documents import _as_list, _normalize_principal, _statements

ADMIN_MANAGED_POLICIES = frozenset(("AdministratorAccess", "PowerUserAccess", "IAMFullAccess"))
ADMIN_ACTIONS = frozenset(("*", "*:*", "iam:*"))


def is_admin_managed_policy(arn_or_name):
    """AdministratorAccess / PowerUserAccess / IAMFullAccess by name, path/name or AWS-managed ARN (any partition)."""
    value = (arn_or_name or "").strip()
    if value.startswith("arn:"):
        match = re.match(r"^arn:aws[a-z-]*:iam::aws:policy/(?:.*/)?([^/]+)$", value)
        return bool(match) and match.group(1) in ADMIN_MANAGED_POLICIES
    return value.rsplit("/", 1)[-1] in ADMIN_MANAGED_POLICIES


def _label(stmt, index):
    sid = stmt.get("Sid") if isinstance(stmt, dict) else None
    return "statement %r" % sid if sid else "statement #%d (no Sid)" % index


def _lint_permissions(stmt, label):
    problems = []
    actions = {str(a).lower() for a in _as_list(stmt.get("Action"))}
    admin = sorted(actions & ADMIN_ACTIONS)
    if "NotAction" in stmt:
        problems.append("%s allows every action except %s (NotAction with Allow grants far more than it names): "
                        "list the actions to allow instead" % (label, _as_list(stmt["NotAction"])))
    if admin and "*" in [str(r) for r in _as_list(stmt.get("Resource"))]:
        problems.append("%s allows %s on Resource '*' (administrator access): name the actions and resources, "
                        "or set allow_admin: true" % (label, ", ".join(repr(a) for a in admin)))
    elif admin and "NotResource" in stmt:
        granted = ", ".join(repr(a) for a in admin)
        problems.append("%s allows %s on every resource except %s (administrator access): name the resources, "
                        "or set allow_admin: true" % (label, granted, _as_list(stmt["NotResource"])))
    return problems


def _trusts_everyone(principal):
    principal = _normalize_principal(principal, "aws")
    return isinstance(principal, dict) and "*" in principal.get("AWS", [])


def _lint_trust(stmt, label):
    if "NotPrincipal" in stmt:
        return ["%s trusts every principal except %s (NotPrincipal with Allow): name the trusted principals"
                % (label, stmt["NotPrincipal"])]
    if _trusts_everyone(stmt.get("Principal")) and not stmt.get("Condition"):
        return ["%s trusts Principal '*' without a Condition (anyone in any AWS account could assume the role): "
                "name the trusted principals or add a Condition, or set allow_admin: true" % label]
    return []


def lint_policy(doc, kind="permissions", allow_admin=False):
    """Least-privilege problems of a parsed policy, each naming the statement and why; [] when fine.

    kind="permissions": Allow of `*`, `*:*` or `iam:*` on Resource `*` (or NotResource), NotAction Allows.
    kind="trust": Allow trusting Principal `*` / {"AWS": "*"} without a Condition, NotPrincipal Allows.
    allow_admin=True accepts all of these (the caller has said so explicitly).
    """
    if kind not in ("permissions", "trust"):
        raise ValueError("kind must be 'permissions' or 'trust', not %r" % (kind,))
    if allow_admin:
        return []
    problems = []
    for index, stmt in enumerate(_statements(doc)):
        if not isinstance(stmt, dict) or stmt.get("Effect") != "Allow":
            continue
        label = _label(stmt, index)
        problems.extend(_lint_trust(stmt, label) if kind == "trust" else _lint_permissions(stmt, label))
    return problems
