# -*- coding: utf-8 -*-
# Copyright: keyless.aws contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""IAM policy documents: parse, normalize, compare semantically (the least-privilege judgement is lint.py).

Comparison rules (what counts as "the same policy"):
- Statement order, order inside lists, duplicates, and a string versus a one-item list are not
  differences (IAM evaluates a statement list as a set and every list as "any of").
- Action and NotAction names are compared case-insensitively: IAM matches actions case-insensitively.
  Condition keys are case-insensitive too; Resource ARNs, Principal values and condition values are not.
- `Principal: "*"` is `{"AWS": "*"}` (IAM documents them as identical).
- A bare account id in an AWS principal is `arn:<partition>:iam::<id>:root` (IAM stores the ARN form).
  The partition is the one the other ARNs in the documents use (`aws` when there are none), so an
  account id matches its root ARN in aws, aws-cn, aws-us-gov, aws-iso, aws-iso-b, ... but
  `arn:aws:...:root` never equals `arn:aws-cn:...:root`.
- Condition scalars are compared as IAM reads them: `true` is `"true"`, `3600` is `"3600"`.
- Version: a document without Version is evaluated by IAM as 2008-10-17. The two versions differ only
  in policy variables: under 2012-10-17 `${aws:username}` is substituted, under 2008-10-17 it is a
  literal string. So a missing Version, 2008-10-17 and 2012-10-17 are treated as equal only when
  neither document contains `${`; with policy variables the version is a real difference.
- Sid: IAM stores Sids and returns them, and a user who renames a Sid expects the change to be
  applied, so a different (or added / removed) Sid is a difference. An empty Sid is the same as none.

What IAM refuses, checked here before any call (parse_policy with kind="permissions" or "trust"):
- Size, counted the way IAM counts it: the JSON text without whitespace outside strings
  (policy_length, the one such count in the collection). Quotas: a role's inline policies 10,240 in
  total, a managed policy 6,144, a trust policy 2,048 by default (Service Quotas "Role trust policy
  length", raisable to 4,096). No document of a kind may exceed that kind's largest quota.
- Depth: IAM's grammar nests at most 6 levels (document > Statement list > statement > Condition >
  operator > value list). Text and mappings are measured without recursion, so a document nested
  thousands deep is refused by name instead of crashing the parser.
- Statements: only the elements Sid, Effect, Principal, NotPrincipal, Action, NotAction, Resource,
  NotResource, Condition; Action/NotAction/Resource/NotResource a non-empty string or list of
  non-empty strings (an action is `service:Name` or `*`, a resource an ARN or `*`); Principal `*` or a
  mapping of AWS/Service/Federated/CanonicalUser to non-empty values; Condition a mapping of operator
  to mapping; Sids of letters and digits, unique in the document.
- A permissions policy (inline or managed) needs Resource or NotResource and names no Principal
  ("Policy document should not specify a principal"); a trust policy needs Principal or NotPrincipal,
  has no Resource ("Has prohibited field Resource") and grants only sts: actions.
Documents IAM returns (kind=None) are read leniently: structure and depth only, never their size
(AWS-managed policies such as ReadOnlyAccess are far larger than any customer quota).

Private to the collection: no stable API.
"""

from __future__ import annotations

import copy
import json
import re
from urllib.parse import unquote

from ansible_collections.keyless.aws.plugins.module_utils.aws import rules

VERSIONS = ("2012-10-17", "2008-10-17")
LIST_KEYS = ("Action", "NotAction", "Resource", "NotResource")
KINDS = ("permissions", "trust")
ELEMENTS = ("Sid", "Effect", "Principal", "NotPrincipal", "Action", "NotAction", "Resource", "NotResource",
            "Condition")
PRINCIPAL_TYPES = ("AWS", "Service", "Federated", "CanonicalUser")
# IAM's quotas, in characters as policy_length counts them.
INLINE_POLICIES_MAX_CHARS = 10240  # all inline policies of one role together
MANAGED_POLICY_MAX_CHARS = 6144
TRUST_POLICY_DEFAULT_QUOTA = 2048  # Service Quotas: IAM "Role trust policy length", default
TRUST_POLICY_MAX_QUOTA = 4096  # ... and the most it can be raised to
KIND_MAX_CHARS = {"permissions": INLINE_POLICIES_MAX_CHARS, "trust": TRUST_POLICY_MAX_QUOTA}
MAX_DEPTH = 6
_ARN_PARTITION = re.compile(r"arn:(aws[a-z-]*):")
_SID = re.compile(r"^[A-Za-z0-9]*$")
_ACTION = re.compile(r"^[A-Za-z0-9*?-]+:[^:]+$")
# JSON tokens for measuring text without parsing it: strings, whitespace, brackets, anything else.
_TOKEN = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"|[ \t\n\r]+|[^ \t\n\r"\[\]{}]+|.', re.S)
_EXAMPLES = {"Action": '"s3:GetObject" (or "*")', "NotAction": '"s3:DeleteObject"',
             "Resource": '"arn:aws:s3:::my-bucket/*" (or "*")', "NotResource": '"arn:aws:s3:::my-bucket/*"'}


class PolicyError(ValueError):
    """A policy document that cannot be used; the message names the option (and the statement)."""


def policy_length(doc):
    """A document's length as IAM counts it against its quotas: the JSON text without whitespace outside
    strings. It is the compact form of the text this collection sends (json.dumps, non-ASCII escaped)."""
    return len(json.dumps(doc, separators=(",", ":")))


def statements(doc):
    stmts = doc.get("Statement")
    return [stmts] if isinstance(stmts, dict) else list(stmts or [])


# ---- size and depth, measured without recursion -------------------------------------------------------

def _too_deep(option):
    return PolicyError("%s is nested more than %d levels deep: an IAM policy nests at most %d (document > Statement "
                       "list > statement > Condition > operator > value list); IAM refuses deeper documents"
                       % (option, MAX_DEPTH, MAX_DEPTH))


def _too_long(option, kind, length=None, over=None):
    size = ("%s characters" % format(length, ",") if length is not None else
            "more than %s characters" % format(over or KIND_MAX_CHARS[kind], ","))
    allowed = ("IAM allows 10,240 for all inline policies of a role together and 6,144 for a managed policy; split "
               "the statements over several managed policies" if kind == "permissions" else
               "IAM allows a trust policy 2,048 characters by default and 4,096 at most where the quota has been "
               "raised; shorten the trust policy")
    return PolicyError("%s is %s long as IAM counts them (JSON without whitespace outside strings): %s"
                       % (option, size, allowed))


def _measure_text(text, option, kind):
    """Refuse JSON text nested deeper than MAX_DEPTH, or (for a kind) several times longer than the kind allows,
    before parsing it; stops at the first limit crossed, so huge text costs no more than the limit. (Text up to
    that is parsed and then measured exactly by parse_policy.)"""
    depth = length = 0
    limit = KIND_MAX_CHARS[kind] * 4 if kind else None
    for match in _TOKEN.finditer(text):
        token = match.group()
        if token[0] in " \t\n\r":
            continue
        if token in ("[", "{"):
            depth += 1
            if depth > MAX_DEPTH:
                raise _too_deep(option)
        elif token in ("]", "}"):
            depth -= 1
        length += len(token)
        if limit is not None and length > limit:
            raise _too_long(option, kind, over=limit)


def _measure_tree(value, option, kind):
    """The same limits for a mapping (from YAML), walked with an explicit stack. Every value takes at least one
    character of JSON, so more values than the kind's limit is too long without counting further."""
    limit = KIND_MAX_CHARS.get(kind)
    stack, values = [(value, 1)], 0
    while stack:
        node, depth = stack.pop()
        values += 1
        if limit is not None and values > limit:
            raise _too_long(option, kind)
        if isinstance(node, dict):
            children = list(node.keys()) + list(node.values())
        elif isinstance(node, (list, tuple)):
            children = node
        else:
            continue
        if depth > MAX_DEPTH:
            raise _too_deep(option)
        stack.extend((child, depth + 1) for child in children)


def _decode(value, option, kind):
    """JSON text (or URL-encoded JSON text, as some IAM APIs return it) -> object."""
    text = value.strip()
    if "%" in text and not text.startswith(("{", "[")):
        text = unquote(text).strip()
    _measure_text(text, option, kind)
    try:
        return json.loads(text)
    except ValueError as exc:
        raise PolicyError("%s is not valid JSON (%s): give a mapping or a JSON object text" % (option, exc))


# ---- statements ------------------------------------------------------------------------------------------

def _where(option, stmt, index):
    sid = stmt.get("Sid") if isinstance(stmt, dict) else None
    return "%s: Statement[%d]%s" % (option, index, " (Sid %r)" % sid if isinstance(sid, str) and sid else "")


def _basic_problems(stmt):
    """What every reader of a statement needs (a statement that is not a mapping has no other problem)."""
    if not isinstance(stmt, dict):
        return ["is %r, not a mapping: each statement needs Effect and Action" % (stmt,)]
    problems = []
    if stmt.get("Effect") not in ("Allow", "Deny"):
        problems.append("has Effect=%s: use \"Allow\" or \"Deny\"" % _shown(stmt.get("Effect")))
    if "Action" not in stmt and "NotAction" not in stmt:
        problems.append("has neither Action nor NotAction: name the actions it allows or denies")
    for one, other in (("Action", "NotAction"), ("Resource", "NotResource"), ("Principal", "NotPrincipal")):
        if one in stmt and other in stmt:
            problems.append("has both %s and %s: use one of them" % (one, other))
    return problems


def _shown(value):
    return "null" if value is None else repr(value)


def _value_problems(stmt, key):
    """Action / NotAction / Resource / NotResource: a non-empty string or list of non-empty strings, well formed."""
    value = stmt[key]
    if value is None or value == "" or value == []:
        return ["has %s=%s: IAM refuses an empty %s; name at least one, e.g. %s"
                % (key, "null" if value is None else repr(value), key, _EXAMPLES[key])]
    if not isinstance(value, (str, list)):
        return ["has %s=%r: give a string or a list of strings, e.g. %s" % (key, value, _EXAMPLES[key])]
    problems = []
    for position, item in enumerate(value if isinstance(value, list) else [value]):
        label = "%s[%d]" % (key, position) if isinstance(value, list) else key
        if not isinstance(item, str) or not item:
            problems.append("has %s=%s: each entry is a non-empty string, e.g. %s" % (label, _shown(item), _EXAMPLES[key]))
        elif key in ("Action", "NotAction") and item != "*" and not _ACTION.match(item):
            problems.append("has %s=%r: an action is \"service:ActionName\" with one colon (wildcards allowed), "
                            "e.g. \"s3:GetObject\", or \"*\"" % (label, item))
        elif key in ("Resource", "NotResource") and item != "*" and not item.startswith("arn:"):
            problems.append("has %s=%r: a resource is an ARN (\"arn:...\") or \"*\"" % (label, item))
    return problems


def _principal_problems(stmt, key):
    value = stmt[key]
    example = '{"Service": "ec2.amazonaws.com"} or {"AWS": "arn:aws:iam::123456789012:root"}'
    if value == "*":
        return []
    if not isinstance(value, dict) or not value:
        return ["has %s=%s: give \"*\" or a mapping of principal type to principals, e.g. %s"
                % (key, _shown(value), example)]
    problems = []
    for kind, principals in value.items():
        if kind not in PRINCIPAL_TYPES:
            problems.append("has %s type %r: IAM knows %s" % (key, kind, ", ".join(PRINCIPAL_TYPES)))
            continue
        items = principals if isinstance(principals, list) else [principals]
        if not items or any(not isinstance(p, str) or not p for p in items):
            problems.append("has %s.%s=%s: name at least one principal, each a non-empty string, e.g. %s"
                            % (key, kind, _shown(principals), example))
    return problems


def _condition_problems(stmt):
    condition = stmt["Condition"]
    example = '{"StringEquals": {"aws:PrincipalOrgID": "o-exampleorgid"}}'
    if not isinstance(condition, dict):
        return ["has Condition=%s: give a mapping of operator to {key: values}, e.g. %s" % (_shown(condition), example)]
    return ["has Condition.%s=%s: each operator takes a mapping of condition key to values, e.g. %s"
            % (operator, _shown(clauses), example)
            for operator, clauses in condition.items() if not isinstance(clauses, dict)]


def _kind_problems(stmt, kind):
    if kind == "permissions":
        problems = ["has %s: a permissions policy applies to the role it is attached to and names no principal "
                    "(who may assume the role belongs in the trust policy, assume_role_policy_document)" % key
                    for key in ("Principal", "NotPrincipal") if key in stmt]
        if "Resource" not in stmt and "NotResource" not in stmt:
            problems.append("has neither Resource nor NotResource: IAM needs the resources a permissions statement "
                            "applies to, e.g. %s" % _EXAMPLES["Resource"])
        return problems
    problems = ["has %s: a trust policy names who may assume the role and has no %s" % (key, key)
                for key in ("Resource", "NotResource") if key in stmt]
    if "Principal" not in stmt and "NotPrincipal" not in stmt:
        problems.append("has no Principal: a trust policy names who may assume the role, e.g. "
                        "{\"Service\": \"ec2.amazonaws.com\"}")
    actions = stmt.get("Action") if isinstance(stmt.get("Action"), list) else [stmt.get("Action")]
    others = [a for a in actions if isinstance(a, str) and ":" in a and not a.lower().startswith("sts:")]
    if others:
        problems.append("has Action %s: a trust policy grants only sts: actions such as sts:AssumeRole, "
                        "sts:AssumeRoleWithWebIdentity, sts:AssumeRoleWithSAML, sts:TagSession" % ", ".join(others))
    return problems


def _statement_problems(doc, option, kind):
    """Every problem of every statement: the basic ones, and for a kind everything else IAM refuses."""
    problems, sids = [], set()
    for index, stmt in enumerate(statements(doc)):
        where = _where(option, stmt, index)
        found = _basic_problems(stmt)
        if kind is None or not isinstance(stmt, dict):
            problems.extend("%s %s" % (where, p) for p in found)
            continue
        found += ["has %r: a statement's elements are %s (case-sensitive)" % (key, ", ".join(ELEMENTS))
                  for key in stmt if key not in ELEMENTS]
        sid = stmt.get("Sid", "")
        if not isinstance(sid, str) or not _SID.match(sid):
            found.append("has Sid=%s: a Sid has only letters and digits (A-Z, a-z, 0-9)" % _shown(sid))
        elif sid and sid in sids:
            found.append("has Sid %r a second time: Sids must be unique in a policy" % sid)
        sids.add(sid)
        for key in LIST_KEYS:
            if key in stmt:
                found.extend(_value_problems(stmt, key))
        for key in ("Principal", "NotPrincipal"):
            if key in stmt:
                found.extend(_principal_problems(stmt, key))
        if "Condition" in stmt:
            found.extend(_condition_problems(stmt))
        found.extend(_kind_problems(stmt, kind))
        problems.extend("%s %s" % (where, p) for p in found)
    return problems


def parse_policy(value, option, kind=None):
    """A policy given as a dict, JSON text or URL-encoded JSON -> a new dict; PolicyError if unusable.

    kind=None reads a document IAM returned (structure and depth). kind="permissions" (inline or managed) or
    "trust" checks a document the user gives for that use against everything IAM would refuse in it (see the
    module docstring), and reports every problem at once; the caller checks its own quota with policy_length."""
    if kind is not None and kind not in KINDS:
        raise ValueError("kind must be one of %s, not %r" % (KINDS, kind))
    if isinstance(value, (bytes, bytearray)):
        value = value.decode("utf-8")
    if isinstance(value, str):
        doc = _decode(value, option, kind)
    else:
        _measure_tree(value, option, kind)
        doc = copy.deepcopy(value)
    if not isinstance(doc, dict):
        raise PolicyError("%s must be a JSON object (mapping) with Version and Statement, got %s"
                          % (option, type(doc).__name__))
    if "Statement" not in doc:
        raise PolicyError("%s has no Statement: a policy document needs a Statement list" % option)
    stmts = doc["Statement"]
    if not isinstance(stmts, (dict, list)) or not stmts:
        raise PolicyError("%s: Statement must be a non-empty list of statements (or one statement mapping)" % option)
    version = doc.get("Version")
    if version is not None and version not in VERSIONS:
        raise PolicyError("%s has Version=%r: use \"2012-10-17\" (or \"2008-10-17\")" % (option, version))
    problems = _statement_problems(doc, option, kind)
    if problems:
        raise PolicyError("; ".join(problems) if kind else problems[0])
    if kind is not None:
        length = policy_length(doc)
        if length > KIND_MAX_CHARS[kind]:
            raise _too_long(option, kind, length)
    return doc


def _scalar(value):
    """Condition values as IAM reads them: JSON true/false/numbers are their text."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return ""
    return str(value)


def as_list(value):
    if value is None:
        return []
    return list(value) if isinstance(value, (list, tuple, set)) else [value]


def _sorted_unique(values, fold_case=False):
    out = {(_scalar(v).lower() if fold_case else _scalar(v)) for v in values}
    return sorted(out)


def _principal_value(kind, value, partition):
    if kind == "AWS" and rules.is_account_id(value):
        return "arn:%s:iam::%s:root" % (partition, value)
    return value


def normalize_principal(principal, partition):
    if principal == "*" or principal == ["*"]:
        principal = {"AWS": "*"}
    if not isinstance(principal, dict):
        return principal
    return {kind: sorted({_principal_value(kind, _scalar(v), partition) for v in as_list(values)})
            for kind, values in principal.items()}


def _normalize_condition(condition):
    if not isinstance(condition, dict):
        return condition
    out = {}
    for operator, clauses in condition.items():
        if not isinstance(clauses, dict):
            out[operator] = clauses
            continue
        merged = out.setdefault(operator, {})
        for key, values in clauses.items():
            merged.setdefault(key.lower(), set()).update(_scalar(v) for v in as_list(values))
    return {op: ({k: sorted(v) for k, v in clauses.items()} if isinstance(clauses, dict) else clauses)
            for op, clauses in out.items()}


def _normalize_statement(stmt, partition):
    out = {}
    for key, value in stmt.items():
        if key == "Sid":
            if value not in (None, ""):
                out[key] = value
        elif key in ("Action", "NotAction"):
            out[key] = _sorted_unique(as_list(value), fold_case=True)
        elif key in LIST_KEYS:
            out[key] = _sorted_unique(as_list(value))
        elif key in ("Principal", "NotPrincipal"):
            out[key] = normalize_principal(value, partition)
        elif key == "Condition":
            out[key] = _normalize_condition(value)
        else:
            out[key] = value
    return out


def _find_partition(*docs):
    for doc in docs:
        match = _ARN_PARTITION.search(json.dumps(doc))
        if match:
            return match.group(1)
    return "aws"


def _version(doc):
    """2008-10-17 and 2012-10-17 differ only in policy variables; see the module docstring."""
    version = doc.get("Version") or "2008-10-17"
    if "${" not in json.dumps(doc.get("Statement")):
        return "2012-10-17"
    return version


def normalize_policy(doc, partition=None):
    """The canonical form of a policy document: equal canonical forms mean the same policy."""
    if isinstance(doc, (str, bytes, bytearray)):
        doc = parse_policy(doc, "policy")
    partition = partition or _find_partition(doc)
    stmts = [_normalize_statement(s, partition) for s in statements(doc)]
    unique = {json.dumps(s, sort_keys=True): s for s in stmts}
    out = {key: copy.deepcopy(value) for key, value in doc.items() if key not in ("Version", "Statement")}
    out["Version"] = _version(doc)
    out["Statement"] = [unique[key] for key in sorted(unique)]
    return out


def policies_equal(a, b, partition=None):
    """True when two policy documents (dicts or JSON text; None for absent) mean the same thing."""
    if a is None or b is None:
        return a is None and b is None
    try:
        if isinstance(a, (str, bytes, bytearray)):
            a = parse_policy(a, "policy")
        if isinstance(b, (str, bytes, bytearray)):
            b = parse_policy(b, "policy")
    except PolicyError:
        return a == b  # a document that does not parse can only be equal to the same text
    if not isinstance(a, dict) or not isinstance(b, dict):
        return a == b
    partition = partition or _find_partition(a, b)
    return normalize_policy(a, partition) == normalize_policy(b, partition)


def trust_policy_for_services(services):
    """A trust policy that lets these AWS services (e.g. ec2.amazonaws.com) assume the role."""
    services = list(services)
    return {
        "Version": "2012-10-17",
        "Statement": [{
            "Effect": "Allow",
            "Principal": {"Service": services[0] if len(services) == 1 else services},
            "Action": "sts:AssumeRole",
        }],
    }
