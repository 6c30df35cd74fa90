# -*- coding: utf-8 -*-
# Copyright: keyless.aws contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Matching of IAM action and resource patterns, shared by the permissions judgement (lint.py) and the trust
judgement (trust_lint.py). Pure. Private to the collection.

IAM facts (IAM User Guide, policy elements Action / NotAction / Resource / NotResource): an action pattern matches
"service:action" case-insensitively, resource patterns match ARNs case-sensitively; `*` matches any run of
characters (none too), `?` exactly one; `*` in a resource also crosses `:` and `/`. "Unscoped" is defined in
lint.py's docstring.

    Refusal, ALLOW_ADMIN, PARTITIONS, action_matches, resource_matches, covers_every, covers_everything,
    grants_every_action, covers_role, action_patterns, grants, covers, denied, statement_label
"""

from __future__ import annotations

import functools
import re

from ansible_collections.keyless.aws.plugins.module_utils.aws import rules
from ansible_collections.keyless.aws.plugins.module_utils.aws.arns import iam_arn
from ansible_collections.keyless.aws.plugins.module_utils.iam.documents import as_list
from ansible_collections.keyless.aws.plugins.module_utils.iam.escalation import RESOURCE_TYPES

PARTITIONS = ("aws", "aws-cn", "aws-us-gov", "aws-iso", "aws-iso-b", "aws-iso-e", "aws-iso-f", "aws-eusc")
ANY_ACCOUNT = "123456789012"
ANY_REGION = "us-east-1"
# Characters IAM names may contain; the first one a pattern lacks stands for "a name the pattern cannot know".
_FILLERS = "QZXJKqzxjk79_=,.@+-"
ALLOW_ADMIN = "or set allow_admin: true to accept it"


class Refusal(object):
    """One refused statement: kind is admin | not_action | escalation | self | trust_everyone | web_identity |
    not_principal; actions are the catalogue actions it reaches (escalation, self, not_action)."""

    __slots__ = ("index", "sid", "kind", "actions", "patterns", "resources", "paths", "message")

    def __init__(self, index, sid, kind, message, actions=(), patterns=(), resources=(), paths=()):
        self.index, self.sid, self.kind, self.message = index, sid, kind, message
        self.actions, self.patterns, self.resources, self.paths = list(actions), list(patterns), list(resources), list(paths)

    def __repr__(self):
        return "Refusal(%r)" % self.message


# ---- IAM's wildcard matching -------------------------------------------------------------------------------

@functools.lru_cache(maxsize=4096)
def _glob(pattern, fold_case):
    regex = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    return re.compile(regex, (re.IGNORECASE if fold_case else 0) | re.DOTALL)


def action_matches(pattern, action):
    """IAM's action match: `*` / `?` wildcards, case-insensitive ("iam:Put*Policy" matches "iam:PutRolePolicy")."""
    return isinstance(pattern, str) and _glob(pattern, True).fullmatch(action) is not None


def resource_matches(pattern, arn):
    """IAM's resource match: `*` / `?` wildcards, case-sensitive."""
    return isinstance(pattern, str) and _glob(pattern, False).fullmatch(arn) is not None


def _filler(pattern, fold_case=False):
    text = pattern.lower() if fold_case else pattern
    char = next((c for c in _FILLERS if (c.lower() if fold_case else c) not in text), "\x7f")
    return char * (pattern.count("?") + 2)


def _instance(glob, length=None, fill="0"):
    """A string the glob matches (the first `*` padded to `length` characters when that is possible)."""
    literal = len(glob.replace("*", ""))
    pad = "" if length is None or literal >= length else fill * (length - literal)
    return glob.replace("*", pad, 1).replace("*", "").replace("?", fill)


def _fields(pattern):
    parts = pattern.split(":", 5)
    return parts if len(parts) == 6 and parts[0] == "arn" else None


def _accounts(pattern):
    fields = _fields(pattern)
    guess = _instance(fields[4], 12) if fields else ""
    return ([guess] if rules.is_account_id(guess) and guess != ANY_ACCOUNT else []) + [ANY_ACCOUNT]


def _regions(pattern):
    fields = _fields(pattern)
    guess = _instance(fields[3], fill="a") if fields else ""
    return ([guess] if guess and guess != ANY_REGION else []) + [ANY_REGION]


def covers_every(pattern, resource_type):
    """True when the resource pattern covers every resource of the type (see the module docstring)."""
    if not isinstance(pattern, str):
        return False
    kind = RESOURCE_TYPES[resource_type]
    name = _filler(pattern)
    regions = _regions(pattern) if kind["regional"] else [""]
    return any(resource_matches(pattern, "arn:%s:%s:%s:%s:%s%s" % (partition, kind["service"], region, account,
                                                                   kind["prefix"], name))
               for partition in PARTITIONS for account in _accounts(pattern) for region in regions)


def covers_everything(pattern):
    """True when the resource pattern covers every resource of every service (`*`, `arn:aws:*`, ...)."""
    if not isinstance(pattern, str):
        return False
    f = _filler(pattern)
    return any(resource_matches(pattern, "arn:%s:%s:%s:%s:%s" % (p, f, f, f, f)) and
               resource_matches(pattern, "arn:%s:%s:::%s" % (p, f, f)) for p in PARTITIONS)


def grants_every_action(pattern):
    """True when the action pattern matches every action of every service (`*`, `*:*`, `?*:*`, ...)."""
    if not isinstance(pattern, str):
        return False
    f = _filler(pattern, fold_case=True)
    return action_matches(pattern, "%s:%s" % (f, f))


def _own_role_arns(own_role, pattern):
    path, name = own_role
    path = path or "/"
    return [iam_arn(partition, account, "role", path, name)
            for partition in PARTITIONS for account in _accounts(pattern)]


def covers_role(pattern, own_role):
    return isinstance(pattern, str) and any(resource_matches(pattern, arn) for arn in _own_role_arns(own_role, pattern))


# ---- one statement -----------------------------------------------------------------------------------------

def action_patterns(stmt):
    key = "NotAction" if "NotAction" in stmt else "Action"
    return key, [a for a in as_list(stmt.get(key)) if isinstance(a, str)]


def grants(stmt, action):
    """Whether the statement's Action (or NotAction) covers the action."""
    key, patterns = action_patterns(stmt)
    hit = any(action_matches(p, action) for p in patterns)
    return not hit if key == "NotAction" else hit


def covers(stmt, includes):
    """(covered, shown): does the statement cover the resources `includes(pattern)` tests a pattern for, and
    the patterns that make it so as shown in a message."""
    if "NotResource" in stmt:
        excluded = as_list(stmt["NotResource"])
        return (not any(includes(p) for p in excluded)), ["every resource except %s (NotResource)" % excluded]
    hits = [p for p in as_list(stmt.get("Resource")) if includes(p)]
    return bool(hits), hits


def denied(stmts, action, includes):
    return any(isinstance(s, dict) and s.get("Effect") == "Deny" and not s.get("Condition") and grants(s, action)
               and covers(s, includes)[0] for s in stmts)


def statement_label(stmt, index):
    sid = stmt.get("Sid") if isinstance(stmt, dict) else None
    return "statement %r" % sid if sid else "statement #%d (no Sid)" % index
