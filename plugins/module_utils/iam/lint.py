# -*- coding: utf-8 -*-
# Copyright: keyless.aws contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The least-privilege judgement of policy documents: what a grant lets an instance do that it must not.

Contract (pure: parsed documents in, refusals out, no AWS call):
- judge_permissions(doc, allow_admin, own_role) -> [Refusal]: administrator access (every action on every
  resource, or NotAction on every resource) and every escalation path of escalation.CATALOGUE that a statement
  reaches on an unscoped resource; with own_role, also the actions that let the role change itself.
- judge_trust(doc, allow_admin) -> [Refusal] (trust_lint.py): trusting everyone, web identity without a subject.
- lint_policy(doc, kind, allow_admin, own_role) -> [message]: the messages of the two above.
- is_admin_managed_policy(value): AdministratorAccess / PowerUserAccess / IAMFullAccess by name or ARN.
allow_admin=True accepts everything (the caller has said so explicitly). Each refusal names the statement
(Sid or index), the action (the pattern and the escalation actions it reaches), the resource, the
escalation path with its source, how to scope it, and that allow_admin: true accepts it.

IAM facts this relies on (IAM User Guide, policy elements Action / NotAction / Resource / NotResource):
- An action pattern matches "service:action" case-insensitively; `*` matches any run of characters (none
  too), `?` exactly one. So `iam:**` and `iam:?*` grant what `iam:*` grants, and `*`, `*:*` grant all.
- Allow + NotAction grants every action no NotAction pattern matches (of every service); Allow + NotResource
  covers every resource no NotResource pattern matches.
- Resource patterns match ARNs case-sensitively with the same wildcards; `*` also crosses `:` and `/`.
- IAM rejects an identity policy statement without Resource or NotResource: such a statement covers nothing.
- An explicit Deny wins over any Allow.

What "unscoped" means - a pattern covers EVERY resource of a type (every role, user, group, customer managed
policy, Lambda function, Glue development endpoint of the account) when it matches the ARN of a resource of
that type whose name it cannot know: arn:<partition>:<service>:<region>:<account>:<type prefix> followed by a
name made of a character that appears nowhere in the pattern, longer than the pattern's `?` count. Any
partition; the pattern's own account or region when it pins one, any 12-digit account when it is a
wildcard. So `*`, `arn:aws:iam::*:*`, `arn:*:iam::123456789012:*`, `arn:aws:iam::*:role/*` and
`arn:aws:iam::*:role/?*` cover every role; `arn:aws:iam::123456789012:role/app/*` (a path),
`...:role/app-*` (a name prefix) and `...:role/AppRole` are scoped: they cover only roles whose path or name
was chosen in the pattern. Conditions are not evaluated (a condition may narrow a grant, but the judgement
does not depend on it): name the resources instead. An unconditional Deny in the same document that covers
the same action on every resource of the type lifts the refusal of that action; a Deny in another policy does
not (policies are attached and detached independently, so each document must be safe on its own).
"""

from __future__ import annotations

import re

from ansible_collections.keyless.aws.plugins.module_utils.iam.documents import as_list, statements
from ansible_collections.keyless.aws.plugins.module_utils.iam.escalation import (  # noqa: F401 (re-exported)
    ADMIN_MANAGED_POLICIES,
    CATALOGUE,
    PATHS,
    RESOURCE_TYPES,
    SELF_ESCALATION,
    cite,
)
from ansible_collections.keyless.aws.plugins.module_utils.iam.matching import (
    ALLOW_ADMIN,
    Refusal,
    action_matches,
    action_patterns,
    covers,
    covers_every,
    covers_everything,
    covers_role,
    denied,
    grants,
    grants_every_action,
    resource_matches,
    statement_label,
)
from ansible_collections.keyless.aws.plugins.module_utils.iam.trust_lint import judge_trust

# the pattern matchers the tests and callers read from here too (defined in matching.py)
__all__ = ["ADMIN_MANAGED_POLICIES", "action_matches", "covers_every", "covers_everything", "grants_every_action",
           "is_admin_managed_policy", "judge_permissions", "judge_trust", "lint_policy", "resource_matches"]
MAX_LISTED = 6


def _and(words, conjunction="and"):
    words = list(words)
    return words[0] if len(words) == 1 else ", ".join(words[:-1]) + " %s " % conjunction + words[-1]


def _plural(noun):
    return noun[:-1] + "ies" if noun.endswith("policy") else noun + "s"


def _listed(actions, limit=None):
    actions = list(actions)
    more = len(actions) - limit if limit else 0
    return ", ".join(actions[:limit] if limit else actions) + (" and %d more" % more if more > 0 else "")


def _resources_text(shown):
    if len(shown) == 1 and shown[0].startswith("every resource except"):
        return shown[0]
    return "Resource " + ", ".join(repr(p) for p in shown)


def _actions_text(stmt, reached_patterns):
    key, patterns = action_patterns(stmt)
    if key == "NotAction":
        return "every action except %s (NotAction)" % as_list(stmt["NotAction"])
    return ", ".join(repr(p) for p in reached_patterns or patterns)


def _paths_text(rows):
    names = []
    for row in rows:
        if row[2] not in names:
            names.append(row[2])
    parts = []
    for name in names:
        of_path = [row for row in rows if row[2] == name]
        how = ": %s" % PATHS[name] if len(names) <= 2 else ""
        parts.append('"%s" (%s%s)' % (name, cite(of_path), how))
    return "; ".join(parts)


def _unique(values):
    out = []
    for value in values:
        if value not in out:
            out.append(value)
    return out


def _escalation(stmt, index, hits):
    rows = [row for row, _shown in hits]
    reached = [row[0] for row in rows]
    patterns = [p for p in action_patterns(stmt)[1] if any(action_matches(p, a) for a in reached)]
    shown = _unique(p for _row, shown in hits for p in shown)
    types = _unique(row[1] for row in rows)
    nouns = [RESOURCE_TYPES[t]["noun"] for t in types]
    message = ("%s allows %s on %s, which reaches %s on every %s of the account: privilege escalation to "
               "administrator access by %s. Scope it: name the %s it needs in Resource (for example %s) or drop %s; %s"
               % (statement_label(stmt, index), _actions_text(stmt, patterns), _resources_text(shown), _listed(reached),
                  _and(nouns), _paths_text(rows), _and([_plural(n) for n in nouns], "or"),
                  RESOURCE_TYPES[types[0]]["example"], "these actions" if len(reached) > 1 else "the action",
                  ALLOW_ADMIN))
    return Refusal(index, stmt.get("Sid"), "escalation", message, reached, patterns, shown, _unique(r[2] for r in rows))


def _self_escalation(stmt, index, hits, own_role):
    rows = [row for row, _shown in hits]
    reached = [row[0] for row in rows]
    patterns = [p for p in action_patterns(stmt)[1] if any(action_matches(p, a) for a in reached)]
    shown = _unique(p for _row, shown in hits for p in shown)
    me = "role%s%s" % (own_role[0] or "/", own_role[1])
    message = ("%s allows %s on %s, which includes this role itself (%s): %s on its own ARN lets the role change "
               "its own permissions or trust, privilege escalation to administrator access by %s. Scope it: leave "
               "this role out of Resource (a role must not manage itself) or drop %s; %s"
               % (statement_label(stmt, index), _actions_text(stmt, patterns), _resources_text(shown), me, _listed(reached),
                  _paths_text(rows), "these actions" if len(reached) > 1 else "the action", ALLOW_ADMIN))
    return Refusal(index, stmt.get("Sid"), "self", message, reached, patterns, shown, _unique(r[2] for r in rows))


def _administrator(stmt, index, shown):
    patterns = [p for p in action_patterns(stmt)[1] if grants_every_action(p)]
    message = ("%s allows %s on %s: every action on every resource, that is administrator access, reaching every "
               "privilege escalation path (iam:PutRolePolicy, iam:AttachRolePolicy, iam:PassRole, ...). Name the "
               "actions and resources the instance needs; %s"
               % (statement_label(stmt, index), ", ".join(repr(p) for p in patterns), _resources_text(shown), ALLOW_ADMIN))
    return Refusal(index, stmt.get("Sid"), "admin", message, [row[0] for row in CATALOGUE], patterns, shown,
                   _unique(row[2] for row in CATALOGUE))


def _not_action(stmt, index, shown, hits):
    reached = [row[0] for row, _shown in hits]
    also = ""
    if reached:
        also = ", among them the privilege escalation actions %s" % _listed(reached, MAX_LISTED)
    message = ("%s allows %s on %s: that grants every other action of every service on every resource "
               "(administrator access but for the exceptions)%s. List the actions it needs in Action instead; %s"
               % (statement_label(stmt, index), _actions_text(stmt, ()), _resources_text(shown), also, ALLOW_ADMIN))
    return Refusal(index, stmt.get("Sid"), "not_action", message, reached, [], shown,
                   _unique(row[2] for row, _shown in hits))


def _judge_statement(stmts, index, stmt, own_role):
    key, patterns = action_patterns(stmt)
    everything, shown_all = covers(stmt, covers_everything)
    if everything and key == "Action" and any(grants_every_action(p) for p in patterns):
        return [_administrator(stmt, index, shown_all)]
    hits, self_hits = [], []
    for row in CATALOGUE:
        action, resource_type = row[0], row[1]
        if not grants(stmt, action):
            continue

        def every(pattern, _type=resource_type):
            return covers_every(pattern, _type)
        covered, shown = covers(stmt, every)
        if covered and not denied(stmts, action, every):
            hits.append((row, shown))
        elif own_role and action in SELF_ESCALATION:
            def mine(pattern):
                return covers_role(pattern, own_role)
            covered, shown = covers(stmt, mine)
            if covered and not denied(stmts, action, mine):
                self_hits.append((row, shown))
    if everything and key == "NotAction":
        return [_not_action(stmt, index, shown_all, hits)]
    out = [_escalation(stmt, index, hits)] if hits else []
    if self_hits:
        out.append(_self_escalation(stmt, index, self_hits, own_role))
    return out


def judge_permissions(doc, allow_admin=False, own_role=None):
    """The refused Allow statements of a permissions policy (identity policy), in statement order.

    own_role: (path, name) of the role the policy is for (iam_role, the audit): actions that change a role's
    permissions or trust (escalation.SELF_ESCALATION) on that role's own ARN are refused too."""
    if allow_admin:
        return []
    stmts = statements(doc)
    out = []
    for index, stmt in enumerate(stmts):
        if isinstance(stmt, dict) and stmt.get("Effect") == "Allow":
            out.extend(_judge_statement(stmts, index, stmt, own_role))
    return out


def is_admin_managed_policy(arn_or_name):
    """AdministratorAccess / PowerUserAccess / IAMFullAccess by name, path/name or AWS-managed ARN (any partition)."""
    value = (arn_or_name or "").strip()
    if value.startswith("arn:"):
        match = re.match(r"^arn:aws[a-z-]*:iam::aws:policy/(?:.*/)?([^/]+)$", value)
        return bool(match) and match.group(1) in ADMIN_MANAGED_POLICIES
    return value.rsplit("/", 1)[-1] in ADMIN_MANAGED_POLICIES


def lint_policy(doc, kind="permissions", allow_admin=False, own_role=None):
    """Least-privilege problems of a parsed policy, each naming the statement and why; [] when fine.

    kind="permissions": judge_permissions; kind="trust": trust_lint.judge_trust."""
    if kind not in ("permissions", "trust"):
        raise ValueError("kind must be 'permissions' or 'trust', not %r" % (kind,))
    if kind == "trust":
        return [r.message for r in judge_trust(doc, allow_admin)]
    return [r.message for r in judge_permissions(doc, allow_admin, own_role)]
