# -*- coding: utf-8 -*-
# Copyright: keyless.aws contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""A role's CloudTrail events -> a least-privilege policy suggestion and a comparison with what it has.

Pure: events and policy documents in, plain data out. Resources are as narrow as the events show:
the ARNs CloudTrail lists, or ARNs built from request parameters (bucketName/key, queueUrl,
secretId, functionName, tableName, logGroupName, parameter names); S3 keys become key-prefix
wildcards (``bucket/logs/2026/*``) so the policy keeps working for the next object. The comparison
is by action: conditions, resource scopes, permission boundaries and SCPs are not evaluated, which
is why an AccessDenied seen in CloudTrail is reported on its own.

Private to the collection: no stable API.
"""

from __future__ import annotations

import re
from urllib.parse import unquote, urlparse

from ansible_collections.keyless.aws.plugins.module_utils.activity.action_map import (
    map_event,
    s3_account_level,
    s3_object_level,
)
from ansible_collections.keyless.aws.plugins.module_utils.aws.arns import parse_arn
from ansible_collections.keyless.aws.plugins.module_utils.iam.documents import as_list, normalize_policy, parse_policy, policy_length
from ansible_collections.keyless.aws.plugins.module_utils.iam.lint import judge_permissions

MAX_PREFIXES_PER_BUCKET = 10  # more distinct key prefixes than this collapse to their common prefix
MAX_RESOURCES_PER_TYPE = 20   # more ARNs of one service/region/account/type than this collapse likewise


# ---------------------------------------------------------------- resources of one event

def _region_account(event, account):
    return event.get("awsRegion") or "*", event.get("recipientAccountId") or account


def _listed(event, types=None):
    out = []
    for res in event.get("resources") or []:
        arn = res.get("ARN") or res.get("arn")
        if arn and (types is None or res.get("type") in types):
            out.append(arn)
    return out


def _s3_copy_source(params, partition):
    source = params.get("x-amz-copy-source") or params.get("copySource") or ""
    source = unquote(source.split("?", 1)[0]).lstrip("/")
    if "/" not in source:
        return []
    return ["arn:%s:s3:::%s" % (partition, source)]


def _s3_resources(event, action, role, partition):
    params = event.get("requestParameters") or {}
    if s3_account_level(action):
        return ["*"]
    if role == "copy_source":
        return _s3_copy_source(params, partition)
    bucket = params.get("bucketName")
    if s3_object_level(action):
        listed = _listed(event, ("AWS::S3::Object",))
        if listed:
            return listed
        if not bucket:
            return []
        keys = [params["key"]] if params.get("key") else []
        deleted = (params.get("delete") or {}).get("Object") if isinstance(params.get("delete"), dict) else None
        if isinstance(deleted, dict):
            deleted = [deleted]
        keys += [d.get("Key") for d in deleted or [] if isinstance(d, dict) and d.get("Key")]
        return ["arn:%s:s3:::%s/%s" % (partition, bucket, k) for k in keys] or ["arn:%s:s3:::%s/*" % (partition, bucket)]
    listed = _listed(event, ("AWS::S3::Bucket",))
    if listed:
        return listed
    return ["arn:%s:s3:::%s" % (partition, bucket)] if bucket else []


def _queue_arn(url, region, account, partition):
    path = [p for p in urlparse(url).path.split("/") if p]
    if len(path) < 2:
        return None
    return "arn:%s:sqs:%s:%s:%s" % (partition, region, path[0], path[1])


def _secret_arn(secret_id, region, account, partition):
    if secret_id.startswith("arn:"):
        return secret_id
    # AWS appends "-" and six random characters to every secret's ARN.
    return "arn:%s:secretsmanager:%s:%s:secret:%s-??????" % (partition, region, account, secret_id)


def _kms_arn(key_id, region, account, partition):
    if key_id.startswith("arn:") and ":key/" in key_id:
        return key_id
    if key_id.startswith("alias/") or ":alias/" in key_id:
        # An alias names no key: the key it points to is unknown, so allow the account's keys here.
        return "arn:%s:kms:%s:%s:key/*" % (partition, region, account)
    return "arn:%s:kms:%s:%s:key/%s" % (partition, region, account, key_id)


def _lambda_arn(name, region, account, partition):
    if name.startswith("arn:"):
        return name
    parts = name.split(":")
    if len(parts) >= 3 and parts[1] == "function":  # "<account>:function:<name>"
        return "arn:%s:lambda:%s:%s" % (partition, region, name)
    return "arn:%s:lambda:%s:%s:function:%s" % (partition, region, account, name)


def _ssm_arn(name, region, account, partition):
    if name.startswith("arn:"):
        return name
    return "arn:%s:ssm:%s:%s:parameter/%s" % (partition, region, account, name.lstrip("/"))


def _from_params(service, params, region, account, partition):
    """ARNs the request parameters name, for services whose events rarely list resources."""
    out = []
    if service == "sqs" and params.get("queueUrl"):
        out.append(_queue_arn(params["queueUrl"], region, account, partition))
    elif service == "sqs" and params.get("queueName"):
        out.append("arn:%s:sqs:%s:%s:%s" % (partition, region, account, params["queueName"]))
    elif service == "secretsmanager" and params.get("secretId"):
        out.append(_secret_arn(params["secretId"], region, account, partition))
    elif service == "secretsmanager" and params.get("secretIdList"):
        out.extend(_secret_arn(s, region, account, partition) for s in params["secretIdList"])
    elif service == "kms" and params.get("keyId"):
        out.append(_kms_arn(params["keyId"], region, account, partition))
    elif service == "lambda" and params.get("functionName"):
        out.append(_lambda_arn(params["functionName"], region, account, partition))
    elif service == "dynamodb" and params.get("tableName"):
        table = "arn:%s:dynamodb:%s:%s:table/%s" % (partition, region, account, params["tableName"])
        out.append(table + ("/index/%s" % params["indexName"] if params.get("indexName") else ""))
    elif service == "sns" and (params.get("topicArn") or params.get("targetArn")):
        out.append(params.get("topicArn") or params.get("targetArn"))
    elif service == "logs" and params.get("logGroupName"):
        out.append("arn:%s:logs:%s:%s:log-group:%s:*" % (partition, region, account, params["logGroupName"]))
    elif service == "ssm" and (params.get("name") or params.get("names") or params.get("path")):
        names = params.get("names") or [params.get("name") or params.get("path")]
        out.extend(_ssm_arn(n, region, account, partition) for n in names if isinstance(n, str))
    elif service == "sts" and params.get("roleArn"):
        out.append(params["roleArn"])
    return [arn for arn in out if arn]


def event_resources(event, needed, account, partition):
    """The resource ARNs one needed action of `event` applies to; ["*"] when the event shows none."""
    service = needed.action.split(":", 1)[0]
    region, account = _region_account(event, account)
    if service == "s3":
        return _s3_resources(event, needed.action, needed.resource_role, partition) or ["*"]
    params = event.get("requestParameters") or {}
    if not isinstance(params, dict):
        params = {}
    return _listed(event) or _from_params(service, params, region, account, partition) or ["*"]


# ---------------------------------------------------------------- narrowing resource lists

def _pattern_regex(pattern):
    return re.compile("^" + re.escape(pattern).replace(r"\*", ".*").replace(r"\?", ".") + "$", re.I)


def matches(pattern, value):
    """IAM-style wildcard match (* and ?), case-insensitive as IAM compares action names."""
    return bool(_pattern_regex(pattern).match(value))


def _common_dir(keys):
    """The longest common folder prefix ("a/b/") of S3 keys or key patterns."""
    first, last = min(keys), max(keys)
    size = 0
    while size < min(len(first), len(last)) and first[size] == last[size]:
        size += 1
    common = first[:size]
    return common[:common.rfind("/") + 1] if "/" in common else ""


def _s3_object_patterns(arns):
    """bucket/dir/file -> bucket/dir/* per bucket; too many prefixes collapse to their common folder."""
    by_bucket = {}
    for arn in arns:
        head, _sep, rest = arn.partition(":::")
        bucket, _sep, key = rest.partition("/")
        if "*" in key or "?" in key:
            pattern = key
        elif "/" in key:
            pattern = key[:key.rfind("/") + 1] + "*"
        else:
            pattern = key
        by_bucket.setdefault((head, bucket), set()).add(pattern)
    out = []
    for (head, bucket), patterns in sorted(by_bucket.items()):
        if len(patterns) > MAX_PREFIXES_PER_BUCKET:
            patterns = {_common_dir([p.rstrip("*") for p in patterns]) + "*"}
        out.extend("%s:::%s/%s" % (head, bucket, p) for p in patterns)
    return out


def _type_prefix(arn):
    """The group an ARN collapses with: arn:aws:logs:us-east-1:123456789012:log-group:x -> "...:log-group";
    a resource without a type (an SQS queue) groups by service, region and account."""
    parsed = parse_arn(arn)
    if parsed is None:
        return None
    return "arn:%s:%s:%s:%s:%s" % (parsed["partition"], parsed["service"], parsed["region"], parsed["account_id"],
                                   parsed["resource_type"] or "")


def _collapse_many(arns):
    """Groups of more than MAX_RESOURCES_PER_TYPE ARNs of one type become their common prefix + "*",
    so a role touching hundreds of queues or log groups still gets a policy that fits IAM's size limit."""
    groups = {}
    for arn in arns:
        groups.setdefault(_type_prefix(arn), []).append(arn)
    out = set()
    for prefix, members in groups.items():
        if prefix is None or len(members) <= MAX_RESOURCES_PER_TYPE:
            out.update(members)
            continue
        first, last = min(members), max(members)
        size = 0
        while size < min(len(first), len(last)) and first[size] == last[size]:
            size += 1
        out.add(first[:size].rstrip("*?") + "*")
    return out


def narrow_resources(arns):
    """A sorted, minimal resource list: "*" absorbs everything; S3 keys become prefix wildcards;
    many ARNs of one type collapse to a prefix wildcard; patterns covered by another are dropped."""
    arns = {a for a in arns if a}
    if not arns or "*" in arns:
        return ["*"]
    s3_objects = [a for a in arns if a.startswith("arn:") and ":s3:::" in a and "/" in a.split(":::", 1)[1]]
    rest = _collapse_many(arns.difference(s3_objects))
    candidates = sorted(rest.union(_s3_object_patterns(s3_objects)))
    kept = []
    for arn in candidates:
        covered = any(other != arn and ("*" in other or "?" in other) and matches(other, arn) for other in candidates)
        if not covered:
            kept.append(arn)
    return kept


# ---------------------------------------------------------------- usage from events

def summarize(events, account, partition):
    """Events -> (usage by action, unmapped event groups, counts).

    usage: {action: {calls, denied, resources (set), last_seen}}; an AccessDenied call counts as
    used (the application needs it) and as denied.
    """
    usage = {}
    unmapped = {}
    counts = {"mapped": 0, "unmapped": 0, "no_permission": 0, "skipped": 0, "denied": 0}
    for event in events:
        result = map_event(event)
        counts[result["kind"]] += 1
        if result["denied"]:
            counts["denied"] += 1
        if result["kind"] == "unmapped":
            key = (event.get("eventSource") or "", event.get("eventName") or "")
            group = unmapped.setdefault(key, {"event_source": key[0], "event_name": key[1], "count": 0,
                                              "reason": result["reason"], "denied": 0})
            group["count"] += 1
            group["denied"] += int(result["denied"])
            continue
        for needed in result["actions"]:
            entry = usage.setdefault(needed.action, {"calls": 0, "denied": 0, "resources": set(), "last_seen": None})
            entry["calls"] += 1
            entry["denied"] += int(result["denied"])
            entry["resources"].update(event_resources(event, needed, account, partition))
            when = event.get("eventTime")
            if isinstance(when, str) and (entry["last_seen"] is None or when > entry["last_seen"]):
                entry["last_seen"] = when
    groups = sorted(unmapped.values(), key=lambda g: (-g["count"], g["event_source"], g["event_name"]))
    return usage, groups, counts


# ---------------------------------------------------------------- the suggested document

def _sid(service, actions, total):
    """Sqs for a service's only statement, S3GetObject (service + first action) when it has several."""
    base = "".join(part.capitalize() for part in re.split(r"[^A-Za-z0-9]+", service) if part) or "Service"
    if total == 1:
        return base
    return base + re.sub(r"[^A-Za-z0-9]", "", actions[0].split(":", 1)[1])


def suggest_policy(usage, include_denied=False):
    """One statement per service and distinct resource list, actions sorted; None when nothing was used.

    Actions whose every call was denied are left out unless include_denied: the application tried
    them, but nobody has yet decided it should have them."""
    by_service = {}
    for action, entry in usage.items():
        if entry["calls"] == entry["denied"] and not include_denied:
            continue
        service = action.split(":", 1)[0]
        resources = tuple(narrow_resources(entry["resources"]))
        by_service.setdefault(service, {}).setdefault(resources, []).append(action)
    statements = []
    for service in sorted(by_service):
        groups = sorted(by_service[service].items(), key=lambda item: (sorted(item[1]), item[0]))
        for resources, actions in groups:
            statements.append({
                "Sid": _sid(service, sorted(actions), len(groups)),
                "Effect": "Allow",
                "Action": sorted(actions),
                "Resource": list(resources) if len(resources) > 1 else resources[0],
            })
    if not statements:
        return None
    return {"Version": "2012-10-17", "Statement": statements}


def withhold_escalations(policy, role_arn):
    """(policy, withheld): the suggestion without the actions lint.judge_permissions refuses (an escalation path
    on unscoped resources, or a write to the role's own policies or trust), never suggested whatever the
    activity shows; withheld lists each left-out action with its resources, path and the refusal."""
    if policy is None:
        return None, []
    parsed = parse_arn(role_arn) or {}
    own = (parsed["path"], parsed["name"]) if parsed.get("resource_type") == "role" else None
    statements, withheld = [], []
    for stmt in policy["Statement"]:
        refused = {}
        for refusal in judge_permissions({"Statement": [stmt]}, own_role=own):
            for action in refusal.actions:
                refused.setdefault(action.lower(), (refusal.paths, refusal.message))
        actions = as_list(stmt["Action"])
        keep = [a for a in actions if a.lower() not in refused]
        for action in actions:
            if action.lower() in refused:
                paths, message = refused[action.lower()]
                withheld.append({"action": action, "resources": as_list(stmt["Resource"]),
                                 "paths": paths, "reason": message})
        if len(keep) == len(actions):
            statements.append(stmt)
        elif keep:
            statements.append(dict(stmt, Action=keep))
    if not statements:
        return None, withheld
    return dict(policy, Statement=statements), withheld


# ---------------------------------------------------------------- comparison with the current policies

def grants_of(policies):
    """Allow/Deny action patterns of the role's policies.

    policies: [{name, type ("inline" | "managed"), arn (managed), document (dict or JSON text)}].
    Returns a list of {policy, effect, pattern, not_action, unconditional_all_resources}.
    """
    out = []
    for policy in policies:
        doc = normalize_policy(policy["document"])
        label = policy.get("arn") or policy.get("name")
        for stmt in doc.get("Statement") or []:
            effect = stmt.get("Effect")
            broad = stmt.get("Resource") == ["*"] and not stmt.get("Condition")
            if "NotAction" in stmt:
                out.append({"policy": label, "effect": effect, "pattern": "*", "not_action": stmt["NotAction"],
                            "unconditional_all_resources": broad})
                continue
            for pattern in stmt.get("Action") or []:
                out.append({"policy": label, "effect": effect, "pattern": pattern, "not_action": [],
                            "unconditional_all_resources": broad})
    return _restore_case(out, policies)


def _restore_case(grants, policies):
    """normalize_policy lower-cases actions; report them as the policy author wrote them."""
    spelled = {}
    for policy in policies:
        doc = policy["document"]
        if not isinstance(doc, dict):
            doc = parse_policy(doc, "policy")
        stmts = doc.get("Statement")
        for stmt in [stmts] if isinstance(stmts, dict) else stmts or []:
            for action in as_list(stmt.get("Action")) + as_list(stmt.get("NotAction")):
                if isinstance(action, str):
                    spelled.setdefault(action.lower(), action)
    for grant in grants:
        grant["pattern"] = spelled.get(grant["pattern"], grant["pattern"])
        grant["not_action"] = [spelled.get(a, a) for a in grant["not_action"]]
    return grants


def _grant_covers(grant, action):
    if grant["not_action"]:
        return not any(matches(p, action) for p in grant["not_action"])
    return matches(grant["pattern"], action)


def compare(usage, policies):
    """What the role is granted but never used, and what it used but is not granted.

    Returns dict(unused_granted_actions, used_not_granted, wildcard_grants, unused_by_policy): exact grants never used
    and wildcard grants that match no used action are unused; a wildcard grant that matches used
    actions is listed in wildcard_grants with the actions it was needed for (so s3:Get* used only
    for s3:GetObject shows as such).
    """
    grants = grants_of(policies)
    used = sorted(usage)
    allows = [g for g in grants if g["effect"] == "Allow"]
    denies = [g for g in grants if g["effect"] == "Deny"]
    unused, wildcards, by_policy = set(), [], {}
    for grant in allows:
        hits = [a for a in used if _grant_covers(grant, a)]
        wildcard = grant["not_action"] or "*" in grant["pattern"] or "?" in grant["pattern"]
        if not hits:
            label = grant["pattern"] if not grant["not_action"] else "NotAction:" + ",".join(grant["not_action"])
            unused.add(label)
            by_policy.setdefault(grant["policy"], set()).add(label)
        elif wildcard:
            wildcards.append({"pattern": grant["pattern"], "not_action": grant["not_action"],
                              "policy": grant["policy"], "used": hits})
    not_granted = []
    for action in used:
        entry = usage[action]
        base = {"action": action, "calls": entry["calls"], "denied": entry["denied"]}
        deny = next((g for g in denies if g["unconditional_all_resources"] and _grant_covers(g, action)), None)
        if deny:
            not_granted.append(dict(base, reason="explicitly denied by %s" % deny["policy"]))
        elif not any(_grant_covers(g, action) for g in allows):
            not_granted.append(dict(base, reason="no attached or inline policy allows it"))
        elif entry["denied"]:
            not_granted.append(dict(base, reason="CloudTrail recorded AccessDenied %d time(s): a resource scope, "
                                                 "condition, permission boundary or SCP limits it" % entry["denied"]))
    return {"unused_granted_actions": sorted(unused, key=str.lower), "used_not_granted": not_granted,
            "wildcard_grants": wildcards,
            "unused_by_policy": {name: sorted(labels, key=str.lower) for name, labels in sorted(by_policy.items())}}


# ---------------------------------------------------------------- one entry point

def analyze(events, policies, role_arn, include_denied=False):
    """Everything the module returns about activity, from events and the role's current policies."""
    parsed = parse_arn(role_arn) or {}
    partition, account = parsed.get("partition") or "aws", parsed.get("account_id") or "*"
    usage, unmapped, counts = summarize(events, account, partition)
    suggested, withheld = withhold_escalations(suggest_policy(usage, include_denied), role_arn)
    out = compare(usage, policies)
    out.update({
        "suggested_policy": suggested,
        "withheld_actions": withheld,
        "suggested_policy_size": policy_length(suggested) if suggested else 0,
        "used_actions": sorted(usage),
        "action_usage": [{"action": a, "calls": usage[a]["calls"], "denied": usage[a]["denied"],
                          "resources": narrow_resources(usage[a]["resources"]), "last_seen": usage[a]["last_seen"]}
                         for a in sorted(usage)],
        "unmapped_events": unmapped,
        "event_counts": counts,
    })
    return out
