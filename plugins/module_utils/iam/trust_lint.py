# -*- coding: utf-8 -*-
# Copyright: keyless.aws contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The least-privilege judgement of role trust policies (lint.py judges permissions policies).

Contract (pure): judge_trust(doc, allow_admin) -> [lint.Refusal], refusing Allow statements that
- use NotPrincipal (trusts every principal but the ones named);
- trust Principal "*" / {"AWS": "*"} without a Condition that restricts the principal;
- trust a web identity (OIDC) provider for sts:AssumeRoleWithWebIdentity without a condition that names the
  subjects (`<provider>:sub`; Cognito identity pools may use `cognito-identity.amazonaws.com:aud` instead,
  Login with Amazon `www.amazon.com:user_id`, Facebook `graph.facebook.com:id`).
allow_admin=True accepts them all.

What counts as restricting (IAM User Guide: global condition keys; IAM Access Analyzer uses the same keys
to decide whether a trust policy grants public access):
- the key identifies the caller or its origin: aws:PrincipalOrgID, aws:PrincipalOrgPaths,
  aws:PrincipalAccount, aws:PrincipalArn, aws:SourceAccount, aws:SourceArn, aws:SourceOrgID,
  aws:SourceOrgPaths, aws:SourceOwner, aws:SourceVpc, aws:SourceVpce, aws:SourceIp, aws:userid, aws:username;
  sts:ExternalId does not count (it is shared with the third party and identifies no principal);
- the operator requires a match: StringEquals(IgnoreCase), StringLike, ArnEquals, ArnLike, IpAddress, also
  after ForAnyValue:. Not... operators, ...IfExists (passes when the key is absent), ForAllValues: (passes
  for an absent key), Null, Bool, dates and numbers restrict nothing;
- every value of the clause restricts: an account, organization or VPC id without wildcards, an ARN whose
  account field is a literal 12-digit id, an organization path whose organization id has no wildcard, a CIDR
  other than 0.0.0.0/0 and ::/0, a user name or id that is not only wildcards.
A web-identity subject value restricts unless it is only wildcards or only a claim prefix before a wildcard
(`repo:*`, `system:serviceaccount:*`): `repo:my-org/*` and `system:serviceaccount:ns:*` name subjects.
"""

from __future__ import annotations

import re

from ansible_collections.keyless.aws.plugins.module_utils.aws import rules
from ansible_collections.keyless.aws.plugins.module_utils.iam.documents import as_list, normalize_principal, statements
from ansible_collections.keyless.aws.plugins.module_utils.iam.matching import ALLOW_ADMIN, Refusal, grants, statement_label

PRINCIPAL_KEYS = {
    "aws:principalorgid": "id", "aws:sourceorgid": "id", "aws:principalaccount": "id", "aws:sourceaccount": "id",
    "aws:sourceowner": "id", "aws:sourcevpc": "id", "aws:sourcevpce": "id",
    "aws:principalorgpaths": "org_path", "aws:sourceorgpaths": "org_path",
    "aws:principalarn": "arn", "aws:sourcearn": "arn",
    "aws:userid": "text", "aws:username": "text",
    "aws:sourceip": "cidr",
}
MATCHING_OPERATORS = ("stringequals", "stringequalsignorecase", "stringlike", "arnequals", "arnlike", "ipaddress")
WILDCARD_OPERATORS = ("stringlike", "arnequals", "arnlike")
SUBJECT_KEYS = {"cognito-identity.amazonaws.com": ("sub", "aud"), "www.amazon.com": ("user_id",),
                "graph.facebook.com": ("id",)}
CLAIM_PREFIXES = ("system:serviceaccount:",)
RESTRICT_HINT = ("StringEquals on aws:PrincipalOrgID, aws:PrincipalAccount or aws:SourceAccount, or ArnLike on "
                 "aws:PrincipalArn or aws:SourceArn naming an account")


def _operator(name):
    """The matching operator a condition operator applies (lower case), or None when it restricts nothing."""
    low = str(name).lower()
    if low.endswith("ifexists") or low.startswith("forallvalues:"):
        return None
    if low.startswith("foranyvalue:"):
        low = low[len("foranyvalue:"):]
    return low if low in MATCHING_OPERATORS else None


def _wild(text):
    return "*" in text or "?" in text


def _value_restricts(kind, value, wildcards):
    text = str(value).strip()
    if not text:
        return False
    if kind == "cidr":
        return text not in ("0.0.0.0/0", "::/0")
    if kind == "id":
        return not (wildcards and _wild(text))
    if kind == "org_path":
        head = text.split("/", 1)[0]
        return bool(head) and not (wildcards and _wild(head))
    if kind == "arn":
        fields = text.split(":", 5)
        return not wildcards or (len(fields) == 6 and rules.is_account_id(fields[4]))
    return not (wildcards and text.strip("*?") == "")


def _clauses(condition):
    """(operator, key, values) of a Condition block whose operator matches; keys in lower case."""
    for operator, clauses in (condition or {}).items() if isinstance(condition, dict) else ():
        matching = _operator(operator)
        if matching and isinstance(clauses, dict):
            for key, values in clauses.items():
                yield matching, str(key).lower(), as_list(values)


def restricts_principal(condition):
    """True when a Condition limits who may assume the role (see the module docstring)."""
    for operator, key, values in _clauses(condition):
        kind = PRINCIPAL_KEYS.get(key)
        if kind and values and all(_value_restricts(kind, v, operator in WILDCARD_OPERATORS) for v in values):
            return True
    return False


def _subject_restricts(value, wildcards):
    text = str(value).strip()
    if not text or not (wildcards and _wild(text)):
        return bool(text)
    literal = re.split(r"[*?]", text, 1)[0]
    if literal in CLAIM_PREFIXES or not literal:
        return False
    return not (literal.endswith(":") and literal.count(":") == 1)


def names_subjects(condition, provider):
    """True when the Condition names the web identities (the provider's subject claim) that may assume the role."""
    keys = set("%s:%s" % (provider.lower(), claim) for claim in SUBJECT_KEYS.get(provider.lower(), ("sub",)))
    for operator, key, values in _clauses(condition):
        if key in keys and operator.startswith("string") and values and \
                all(_subject_restricts(v, operator == "stringlike") for v in values):
            return True
    return False


def web_identity_providers(principal):
    """The OIDC providers (host/path, or the well-known names) of a Federated principal; SAML providers left out."""
    out = []
    federated = principal.get("Federated") if isinstance(principal, dict) else None
    for value in as_list(federated):
        value = str(value)
        if ":saml-provider/" in value:
            continue
        out.append(value.split(":oidc-provider/", 1)[1] if ":oidc-provider/" in value else value)
    return out


def _trusts_everyone(principal):
    principal = normalize_principal(principal, "aws")
    return isinstance(principal, dict) and "*" in principal.get("AWS", [])


def _judge_statement(stmt, index):
    label = statement_label(stmt, index)
    sid = stmt.get("Sid")
    if "NotPrincipal" in stmt:
        return [Refusal(index, sid, "not_principal",
                        "%s trusts every principal except %s (NotPrincipal with Allow): name the trusted principals; %s"
                        % (label, stmt["NotPrincipal"], ALLOW_ADMIN))]
    out = []
    condition = stmt.get("Condition")
    if _trusts_everyone(stmt.get("Principal")) and not restricts_principal(condition):
        how = "without a Condition" if not condition else \
            "with a Condition that restricts no principal (%s)" % condition
        out.append(Refusal(index, sid, "trust_everyone",
                           "%s trusts Principal '*' %s (anyone in any AWS account could assume the role): name the "
                           "trusted principals or restrict them with a Condition (%s); %s"
                           % (label, how, RESTRICT_HINT, ALLOW_ADMIN)))
    if grants(stmt, "sts:AssumeRoleWithWebIdentity"):
        for provider in web_identity_providers(stmt.get("Principal")):
            if not names_subjects(condition, provider):
                claim = SUBJECT_KEYS.get(provider.lower(), ("sub",))[0]
                out.append(Refusal(index, sid, "web_identity",
                                   "%s trusts the web identity provider %r without a condition on %s:%s that names "
                                   "the subjects (every identity the provider issues a token to, e.g. any GitHub "
                                   "repository, could assume the role): add StringEquals or StringLike on %s:%s "
                                   "(for GitHub: repo:my-org/my-repo:ref:refs/heads/main); %s"
                                   % (label, provider, provider, claim, provider, claim, ALLOW_ADMIN)))
    return out


def judge_trust(doc, allow_admin=False):
    """The refused Allow statements of a role trust policy, in statement order."""
    if allow_admin:
        return []
    out = []
    for index, stmt in enumerate(statements(doc)):
        if isinstance(stmt, dict) and stmt.get("Effect") == "Allow":
            out.extend(_judge_statement(stmt, index))
    return out
