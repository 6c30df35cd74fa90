# -*- coding: utf-8 -*-
# Copyright: keyless.aws contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Which guardrail rules are in force for an account (pure: no I/O), for organizations_guardrail state=info and the
audit. Private to the collection: no stable API.

    expected_rules(params) -> [rule]           the rules the options describe (the guardrail state=present would build)
    scp_rules(content, cap) -> {"rules", "hop_limit_cap", "exempt_principals", "conditional", "error"}
        which rules the Deny statements of one SCP implement, recognized by content (any SCP, ours or not)
    declarative_rules(content, cap, require_imdsv2) -> {"rules", "instance_metadata_defaults"}
        the effective EC2 declarative policy of an account
    account_entry(account, path, attached, declarative, params, management_id, enabled) -> the entry of one account:
        {"account", "name", "state", "path", "in_force", "missing", "expected", "policies", "declarative", "notes"}

Rules (the SCP statements of guardrail.scp_document, and the declarative policy):
    require_imdsv2            Deny ec2:RunInstances on the instance resource, StringNotEquals ec2:MetadataHttpTokens
                              "required"
    hop_limit_cap             Deny ec2:RunInstances on the instance resource, NumericGreaterThan
                              ec2:MetadataHttpPutResponseHopLimit n (NumericGreaterThanEquals n+1), n at most the cap
    deny_weakening            Deny ec2:ModifyInstanceMetadataOptions with each of the two conditions above (two
                              statements, as the guardrail writes them)
    deny_imdsv1_credentials   Deny every action ("*") on "*", NumericLessThan ec2:RoleDelivery v (1 < v <= 2)
    require_instance_profile  Deny ec2:RunInstances on the instance resource, Null ec2:InstanceProfile "true"
    declarative_imds_defaults the effective DECLARATIVE_POLICY_EC2 sets instance_metadata_defaults http_tokens
                              "required" (when require_imdsv2) and http_put_response_hop_limit at most the cap

A Deny statement implements a rule when its actions and resources cover the rule's (wildcards, NotAction and
NotResource evaluated) and its condition is the rule's condition alone, or with principal exemptions
(ArnNotLike / ArnNotEquals / StringNotLike / StringNotEquals on aws:PrincipalArn: the exempt principals are
reported). Any other condition narrows the Deny (IAM ANDs every condition of a statement): the statement is
reported as conditional and implements nothing. An Allow statement never implements a rule: in an SCP an Allow
only bounds what may be allowed. "...IfExists" operators match a request without the key, like the negated
operators above, so StringNotEqualsIfExists and NumericGreaterThanIfExists count as their plain form.

AWS facts: SCPs do not apply to the management account (Organizations User Guide, "Service control policies");
the SCPs in force for an account are those attached to the root, to every OU on its path and to the account
("SCP evaluation"; a Deny in any of them applies); with the policy type disabled on the root, none is attached.
"""

from __future__ import annotations

import fnmatch
import json

from ansible_collections.keyless.aws.plugins.module_utils.iam.documents import (
    PolicyError,
    normalize_policy,
    parse_policy,
)

SCP = "SERVICE_CONTROL_POLICY"
DECLARATIVE = "DECLARATIVE_POLICY_EC2"
SCP_RULES = ("require_imdsv2", "hop_limit_cap", "deny_weakening", "deny_imdsv1_credentials", "require_instance_profile")
DECLARATIVE_RULE = "declarative_imds_defaults"
RULES = SCP_RULES + (DECLARATIVE_RULE,)
RUN = "ec2:runinstances"
MODIFY = "ec2:modifyinstancemetadataoptions"
# a sample of the resource each rule is about, one per partition a pattern may name
INSTANCE_SAMPLES = tuple("arn:%s:ec2:us-east-1:123456789012:instance/i-0123456789abcdef0" % p
                         for p in ("aws", "aws-cn", "aws-us-gov"))
TOKENS = "ec2:metadatahttptokens"
HOP = "ec2:metadatahttpputresponsehoplimit"
ROLE_DELIVERY = "ec2:roledelivery"
PROFILE = "ec2:instanceprofile"
PRINCIPAL_ARN = "aws:principalarn"
EXEMPTIONS = ("ArnNotLike", "ArnNotEquals", "StringNotLike", "StringNotEquals")
# (action, condition fact) -> what a Deny of it implements (the hop caps are compared with the cap afterwards)
FACT_RULES = {(RUN, "tokens"): "require_imdsv2", (RUN, "profile"): "require_instance_profile",
              (MODIFY, "tokens"): "modify_tokens"}


def expected_rules(params):
    """The rules the options describe, in the order of RULES."""
    types = params.get("policy_types") or ["service_control_policy"]
    out = []
    if "service_control_policy" in types:
        wanted = {"require_imdsv2": params.get("require_imdsv2", True), "hop_limit_cap": True,
                  "deny_weakening": params.get("deny_weakening", True),
                  "deny_imdsv1_credentials": params.get("deny_imdsv1_credentials", True),
                  "require_instance_profile": params.get("require_instance_profile", False)}
        out.extend(rule for rule in SCP_RULES if wanted[rule])
    if "declarative_policy_ec2" in types:
        out.append(DECLARATIVE_RULE)
    return out


def _matches(patterns, value):
    return any(fnmatch.fnmatchcase(value, p) for p in patterns)


def _covers_action(stmt, action):
    """The statement's actions include `action` (lower case; Action is normalized to lower case)."""
    if "Action" in stmt:
        return _matches(stmt["Action"], action)
    if "NotAction" in stmt:
        return not _matches(stmt["NotAction"], action)
    return False


def _covers_every_action(stmt):
    return "*" in stmt.get("Action", ())


def _covers_instances(stmt):
    if "Resource" in stmt:
        return any(_matches(stmt["Resource"], sample) for sample in INSTANCE_SAMPLES)
    if "NotResource" in stmt:
        return not any(_matches(stmt["NotResource"], sample) for sample in INSTANCE_SAMPLES)
    return False


def _number(value):
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def _clause(operator, key, values):
    """(fact, value) of one condition clause, ("exempt", [arns]) for a principal exemption, or None."""
    plain = operator[:-len("IfExists")] if operator.endswith("IfExists") else operator
    if key == PRINCIPAL_ARN and plain in EXEMPTIONS and operator == plain:
        return "exempt", list(values)
    if key == TOKENS and plain in ("StringNotEquals", "StringNotEqualsIgnoreCase") and \
            [v.lower() for v in values] == ["required"]:
        return "tokens", None
    if key == HOP and len(values) == 1 and _number(values[0]) is not None:
        limit = _number(values[0])
        if plain == "NumericGreaterThan":
            return "hop", int(limit)
        if plain == "NumericGreaterThanEquals":
            return "hop", int(limit) - 1
    if key == ROLE_DELIVERY and operator in ("NumericLessThan", "NumericLessThanEquals", "NumericEquals") and \
            len(values) == 1 and _number(values[0]) is not None:
        bound = _number(values[0])
        if (operator == "NumericLessThan" and 1.0 < bound <= 2.0) or \
                (operator == "NumericLessThanEquals" and 1.0 <= bound < 2.0) or \
                (operator == "NumericEquals" and bound == 1.0):
            return "role_delivery", None
    if key == PROFILE and operator == "Null" and [v.lower() for v in values] == ["true"]:
        return "profile", None
    return None


def _statement_fact(stmt):
    """(fact, value, exempt principals, narrowing clauses) of one normalized Deny statement; fact None when its
    condition is not one rule's condition (alone, or with principal exemptions)."""
    facts, exempt, narrowing = [], [], []
    for operator, clauses in sorted((stmt.get("Condition") or {}).items()):
        if not isinstance(clauses, dict):
            narrowing.append(operator)
            continue
        for key, values in sorted(clauses.items()):
            found = _clause(operator, key, values)
            if found is None:
                narrowing.append("%s %s" % (operator, key))
            elif found[0] == "exempt":
                exempt.extend(found[1])
            else:
                facts.append(found)
    if len(facts) != 1 or narrowing:
        return None, None, exempt, narrowing + ["%s" % f[0] for f in facts[1:]]
    return facts[0][0], facts[0][1], exempt, []


def scp_rules(content, cap):
    """Which rules the Deny statements of one SCP implement (see the module docstring). content: a dict or JSON text."""
    out = {"rules": [], "hop_limit_cap": None, "exempt_principals": [], "conditional": [], "error": None}
    try:
        doc = normalize_policy(parse_policy(content, "the service control policy"))
    except PolicyError as exc:
        out["error"] = str(exc)
        return out
    caps, found = {RUN: [], MODIFY: []}, set()
    exempt = set()
    for index, stmt in enumerate(doc["Statement"]):
        if stmt.get("Effect") != "Deny":
            continue
        fact, value, principals, narrowing = _statement_fact(stmt)
        label = stmt.get("Sid") or "statement %d" % index
        if fact is None:
            if narrowing and (_covers_action(stmt, RUN) or _covers_action(stmt, MODIFY) or _covers_every_action(stmt)):
                out["conditional"].append("%s: narrowed by %s" % (label, ", ".join(narrowing)))
            continue
        implemented = False
        if fact == "role_delivery":
            if _covers_every_action(stmt) and "*" in stmt.get("Resource", ()):
                found.add("deny_imdsv1_credentials")
                implemented = True
        elif _covers_instances(stmt):
            for action in (RUN, MODIFY):
                if not _covers_action(stmt, action):
                    continue
                implemented = True
                if fact == "hop":
                    caps[action].append(value)
                elif (action, fact) in FACT_RULES:
                    found.add(FACT_RULES[(action, fact)])
        if implemented:
            exempt.update(principals)
    if caps[RUN]:
        out["hop_limit_cap"] = min(caps[RUN])
        if min(caps[RUN]) <= cap:
            found.add("hop_limit_cap")
    if "modify_tokens" in found and caps[MODIFY] and min(caps[MODIFY]) <= cap:
        found.add("deny_weakening")
    out["rules"] = [rule for rule in SCP_RULES if rule in found]
    out["exempt_principals"] = sorted(exempt)
    return out


def _assigned(attributes, key):
    value = (attributes or {}).get(key)
    return value.get("@@assign") if isinstance(value, dict) else value


def declarative_rules(content, cap, require_imdsv2=True):
    """The effective EC2 declarative policy of an account (a dict, JSON text or None) against the options."""
    if not isinstance(content, dict):
        try:
            content = json.loads(content) if content else None
        except (TypeError, ValueError):
            content = None
    defaults = ((content or {}).get("ec2_attributes") or {}).get("instance_metadata_defaults") or {}
    shown = {key: _assigned(defaults, key) for key in sorted(defaults)}
    tokens = _assigned(defaults, "http_tokens")
    hop = _number(_assigned(defaults, "http_put_response_hop_limit"))
    in_force = bool(defaults) and (tokens == "required" or not require_imdsv2) and hop is not None and 1 <= hop <= cap
    return {"rules": [DECLARATIVE_RULE] if in_force else [], "instance_metadata_defaults": shown or None}


def _policy_entry(policy, attached_to, params):
    entry = {"id": policy["id"], "name": policy["name"], "type": policy["type"], "attached_to": attached_to,
             "inherited": attached_to["kind"] != "account", "ours": policy.get("ours", False), "rules": []}
    if policy["type"] == SCP:
        entry.update(scp_rules(policy["content"], params["hop_limit_cap"]))
    elif policy["type"] == DECLARATIVE:
        # what this policy alone sets; what is in force is the account's effective policy (inheritance merges them)
        entry["rules"] = declarative_rules(policy["content"], params["hop_limit_cap"],
                                           params.get("require_imdsv2", True))["rules"]
    return entry


def account_entry(account, path, attached, declarative, params, management_id, enabled):
    """One account's entry. path: [{"id", "kind" (root|ou|account), "name"}] from the root to the account;
    attached: {target id: [policy {"id", "name", "type", "content", "ours"}]}; declarative: the effective
    DECLARATIVE_POLICY_EC2 content, or None; enabled: the policy types enabled on the root."""
    expected = expected_rules(params)
    cap = params["hop_limit_cap"]
    entry = {"account": account["Id"], "name": account.get("Name"),
             "state": account.get("State") or account.get("Status") or "unknown",
             "path": [node["id"] for node in path], "expected": expected, "policies": [], "declarative": None,
             "notes": []}
    rules = set()
    is_management = account["Id"] == management_id
    for node in path:
        for policy in attached.get(node["id"]) or []:
            if policy["type"] not in enabled:
                continue
            item = _policy_entry(policy, {"id": node["id"], "kind": node["kind"], "name": node.get("name")}, params)
            if policy["type"] == SCP and is_management:
                item["rules"] = []
            entry["policies"].append(item)
            if policy["type"] == SCP:
                rules.update(item["rules"])
    if is_management:
        entry["notes"].append("the management account: service control policies do not apply to it")
    if SCP not in enabled:
        entry["notes"].append("service control policies are not enabled in this organization")
    if DECLARATIVE in enabled:
        judged = declarative_rules(declarative, cap, params.get("require_imdsv2", True))
        entry["declarative"] = judged["instance_metadata_defaults"]
        rules.update(judged["rules"])
    entry["in_force"] = [rule for rule in RULES if rule in rules]
    entry["missing"] = [rule for rule in expected if rule not in rules]
    return entry
