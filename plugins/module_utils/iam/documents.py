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

Private to the collection: no stable API.
"""

from __future__ import annotations

import copy
import json
import re
from urllib.parse import unquote

VERSIONS = ("2012-10-17", "2008-10-17")
LIST_KEYS = ("Action", "NotAction", "Resource", "NotResource")
_ARN_PARTITION = re.compile(r"arn:(aws[a-z-]*):")
_ACCOUNT_ID = re.compile(r"^[0-9]{12}$")


class PolicyError(ValueError):
    """A policy document that cannot be used; the message names the option."""


def _statements(doc):
    stmts = doc.get("Statement")
    return [stmts] if isinstance(stmts, dict) else list(stmts or [])


def _check_statement(stmt, index, option):
    where = "%s: Statement[%d]" % (option, index)
    if not isinstance(stmt, dict):
        raise PolicyError("%s is %r, not a mapping: each statement needs Effect and Action" % (where, stmt))
    if stmt.get("Effect") not in ("Allow", "Deny"):
        raise PolicyError("%s has Effect=%r: use \"Allow\" or \"Deny\"" % (where, stmt.get("Effect")))
    if "Action" not in stmt and "NotAction" not in stmt:
        raise PolicyError("%s has neither Action nor NotAction: name the actions it allows or denies" % where)
    if "Action" in stmt and "NotAction" in stmt:
        raise PolicyError("%s has both Action and NotAction: use one of them" % where)
    if "Resource" in stmt and "NotResource" in stmt:
        raise PolicyError("%s has both Resource and NotResource: use one of them" % where)
    if "Principal" in stmt and "NotPrincipal" in stmt:
        raise PolicyError("%s has both Principal and NotPrincipal: use one of them" % where)


def _decode(value, option):
    """JSON text (or URL-encoded JSON text, as some IAM APIs return it) -> object."""
    text = value.strip()
    try:
        return json.loads(text)
    except ValueError as exc:
        first_error = exc
    if "%" in text:
        try:
            return json.loads(unquote(text))
        except ValueError:
            pass
    raise PolicyError("%s is not valid JSON (%s): give a mapping or a JSON object text" % (option, first_error))


def parse_policy(value, option):
    """A policy given as a dict, JSON text or URL-encoded JSON -> a new dict; PolicyError if unusable."""
    if isinstance(value, (bytes, bytearray)):
        value = value.decode("utf-8")
    doc = _decode(value, option) if isinstance(value, str) else copy.deepcopy(value)
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
    for index, stmt in enumerate(_statements(doc)):
        _check_statement(stmt, index, option)
    return doc


def _scalar(value):
    """Condition values as IAM reads them: JSON true/false/numbers are their text."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return ""
    return str(value)


def _as_list(value):
    if value is None:
        return []
    return list(value) if isinstance(value, (list, tuple, set)) else [value]


def _sorted_unique(values, fold_case=False):
    out = {(_scalar(v).lower() if fold_case else _scalar(v)) for v in values}
    return sorted(out)


def _principal_value(kind, value, partition):
    if kind == "AWS" and _ACCOUNT_ID.match(value):
        return "arn:%s:iam::%s:root" % (partition, value)
    return value


def _normalize_principal(principal, partition):
    if principal == "*" or principal == ["*"]:
        principal = {"AWS": "*"}
    if not isinstance(principal, dict):
        return principal
    return {kind: sorted({_principal_value(kind, _scalar(v), partition) for v in _as_list(values)})
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
            merged.setdefault(key.lower(), set()).update(_scalar(v) for v in _as_list(values))
    return {op: ({k: sorted(v) for k, v in clauses.items()} if isinstance(clauses, dict) else clauses)
            for op, clauses in out.items()}


def _normalize_statement(stmt, partition):
    out = {}
    for key, value in stmt.items():
        if key == "Sid":
            if value not in (None, ""):
                out[key] = value
        elif key in ("Action", "NotAction"):
            out[key] = _sorted_unique(_as_list(value), fold_case=True)
        elif key in LIST_KEYS:
            out[key] = _sorted_unique(_as_list(value))
        elif key in ("Principal", "NotPrincipal"):
            out[key] = _normalize_principal(value, partition)
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
    stmts = [_normalize_statement(s, partition) for s in _statements(doc)]
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
