"""The AWS API operations the collection's code can call, found by reading plugins/ (no code is run), and
the IAM actions they need: what policies/*.json must grant, no less and no more.

    client_services(root) -> {"ec2", "iam", ...}
        botocore service names of every client the code creates: the string given to `.client("ec2")` or
        `client_for("s3", region)`.
    operation_mentions(root) -> [Mention(path, line, service, operation, how), ...]
        Every place that names an operation of one of those services:
          how="attribute"  `iam.get_role(...)`, `iam.get_policy_version` passed as a function
          how="string"     "create_role" (plan actions applied with getattr(client, action)), "GetRole"
                           (operation names in error messages and rate-limit buckets), paginator names
          how="waiter"     `iam.get_waiter("role_exists")` -> the operation the waiter polls (GetRole)
          how="assumed"    `ctx.client_as_role("ec2", role_arn, ...)`: an STS AssumeRole before the client
        botocore's own service models say what an operation is (operation_names, xform_name), so a new
        call is found whatever form it takes, as long as it names the operation somewhere.
    needed_actions(root) -> {"iam:GetRole": [Mention, ...], ...}
        The IAM actions of those operations (activity.action_map: S3 ListObjectsV2 needs s3:ListBucket,
        sts:GetCallerIdentity needs none; IAM_PREFIXES for services it does not know), plus iam:PassRole for
        the calls AWS documents as needing it.
    granted_actions(policy) -> {"iam:GetRole", ...}   the actions its Allow statements name

The inventory plugins (plugins/inventory/, with their reads in plugins/plugin_utils/organizations.py) are
scanned apart (part="inventory"): they run with the controller's credentials, whose policy is
policies/organizations.json, and a service they create a client for must not make the modules' names count
as its calls (organizations CreatePolicy for IAM's).

Left out of the scan (NOT_CALLS): data tables that name operations the code never calls, activity/action_map.py
(CloudTrail event names: S3 "CopyObject", ...) and iam/escalation.py (the escalation catalogue:
"iam:CreateAccessKey", ...); the unit test checks that they create no client and call nothing.
"""

from __future__ import annotations

import ast
import collections
import pathlib

import botocore.session
from botocore import xform_name

ROOT = pathlib.Path(__file__).resolve().parents[2]
NOT_CALLS = ("plugins/module_utils/activity/action_map.py", "plugins/module_utils/iam/escalation.py")
# The inventory plugins and the code only they run (their AWS reads)
INVENTORY = ("plugins/inventory/", "plugins/plugin_utils/organizations.py")

# Calls that AWS authorizes with a second action on another resource: iam:PassRole on the role in the
# instance profile (EC2 User Guide, "Grant a user permission to pass an IAM role to an instance"; IAM API
# reference of AddRoleToInstanceProfile: "The caller of this operation must be granted the PassRole
# permission on the IAM role").
ALSO_NEEDS = {
    "ec2:AssociateIamInstanceProfile": ("iam:PassRole",),
    "ec2:ReplaceIamInstanceProfileAssociation": ("iam:PassRole",),
    "iam:AddRoleToInstanceProfile": ("iam:PassRole",),
    # EC2 Auto Scaling user guide, "Amazon EC2 Auto Scaling API permissions": creating or updating a group with a
    # launch template needs ec2:RunInstances, and iam:PassRole when the template specifies an instance profile
    "autoscaling:UpdateAutoScalingGroup": ("ec2:RunInstances", "iam:PassRole"),
    # Organizations API reference, CreatePolicy: "If the request includes tags, then the requester must have the
    # organizations:TagResource permission" (organizations_guardrail tags what it creates)
    "organizations:CreatePolicy": ("organizations:TagResource",),
}

# Services the CloudTrail table (activity.action_map) does not know, whose IAM actions are their operation
# names under this prefix (AWS Service Authorization Reference): botocore service name -> IAM prefix.
IAM_PREFIXES = {
    "accessanalyzer": "access-analyzer",
}

Mention = collections.namedtuple("Mention", "path line service operation how")

_SESSION = botocore.session.get_session()


def plugin_files(root=ROOT, part="modules"):
    """The files of one part: "modules" (everything the modules, actions and filters run, with the
    credentials of a target: policies/deployer.json) or "inventory" (the inventory plugins, with the
    controller's credentials: policies/organizations.json, plus what they call in a target account)."""
    root = pathlib.Path(root)
    files = [p for p in sorted((root / "plugins").rglob("*.py")) if p.relative_to(root).as_posix() not in NOT_CALLS]
    inventory = [p for p in files if p.relative_to(root).as_posix().startswith(INVENTORY)]
    return inventory if part == "inventory" else [p for p in files if p not in inventory]


def _trees(root, files=None):
    root = pathlib.Path(root)
    for path in files or plugin_files(root):
        yield path.relative_to(root).as_posix(), ast.parse(path.read_text(), str(path))


def client_services(root=ROOT, files=None, trees=None):
    """botocore service names passed as a literal to `<x>.client(...)`, `client_for(...)` or
    `client_as_role(...)`."""
    services = set()
    for _rel, tree in trees if trees is not None else _trees(root, files):
        for node in ast.walk(tree):
            if not isinstance(node, ast.Call) or not node.args:
                continue
            func = node.func
            name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", None)
            first = node.args[0]
            if name in ("client", "client_for", "client_as_role") and isinstance(first, ast.Constant) and isinstance(first.value, str):
                services.add(first.value)
    return services


class _Operations:
    """Snake and CamelCase operation names and waiter names of some services, from botocore's models."""

    def __init__(self, services):
        self.snake, self.camel, self.waiters = {}, {}, {}
        for service in sorted(services):
            model = _SESSION.get_service_model(service)
            for operation in model.operation_names:
                self.snake.setdefault(xform_name(operation), []).append((service, operation))
                self.camel.setdefault(operation, []).append((service, operation))
            try:
                waiter_model = _SESSION.get_waiter_model(service)
            except Exception:  # pylint: disable=broad-except  # a service without waiters
                continue
            for name in waiter_model.waiter_names:
                self.waiters.setdefault(xform_name(name), []).append(
                    (service, waiter_model.get_waiter(name).operation))


def _file_services(rel, tree, services):
    """The services a file is about: those it creates clients of, and its package's when that names a service
    (module_utils/iam/ -> iam). An operation name several services share (iam and autoscaling DeletePolicy) counts
    for these only, when any of them has it."""
    own = client_services(files=None, trees=[(rel, tree)])
    package = rel.split("/")[-2] if rel.count("/") >= 2 else ""
    return {s for s in own | {package} if s in services}


def _narrowed(pairs, scope):
    inside = [(s, o) for s, o in pairs if s in scope]
    return inside if len(pairs) > 1 and inside else pairs


def operation_mentions(root=ROOT, files=None, services=None):
    """Every place in plugins/ that names an operation of a service the code creates a client for."""
    services = services or client_services(root, files)
    ops = _Operations(services)
    found = []
    for rel, tree in _trees(root, files):
        scope = _file_services(rel, tree, services)
        for node in ast.walk(tree):
            if isinstance(node, ast.Attribute) and node.attr in ops.snake:
                found.extend(Mention(rel, node.lineno, s, o, "attribute") for s, o in _narrowed(ops.snake[node.attr], scope))
            elif isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "get_waiter":
                arg = node.args[0] if node.args else None
                if isinstance(arg, ast.Constant) and arg.value in ops.waiters:
                    found.extend(Mention(rel, node.lineno, s, o, "waiter") for s, o in ops.waiters[arg.value])
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and \
                    node.func.attr == "client_as_role":  # AwsContext.client_as_role: an AssumeRole first
                found.append(Mention(rel, node.lineno, "sts", "AssumeRole", "assumed"))
            if isinstance(node, ast.Constant) and isinstance(node.value, str):
                for table in (ops.snake, ops.camel):
                    found.extend(Mention(rel, node.lineno, s, o, "string")
                                 for s, o in _narrowed(table.get(node.value, ()), scope))
    return found


def actions_of(service, operation):
    """The IAM actions one operation needs (() when none), with the collection's own event -> action map."""
    from ansible_collections.keyless.aws.plugins.module_utils.activity.action_map import map_event_name

    source = "%s.amazonaws.com" % _SESSION.get_service_model(service).endpoint_prefix
    needed = map_event_name(source, operation)
    if needed is not None:
        actions = [n.action for n in needed]
    elif service in IAM_PREFIXES:
        actions = ["%s:%s" % (IAM_PREFIXES[service], operation)]
    else:
        raise ValueError("no IAM action known for %s %s (event source %s): add the service to IAM_PREFIXES"
                         % (service, operation, source))
    for action in list(actions):
        actions.extend(ALSO_NEEDS.get(action, ()))
    return tuple(dict.fromkeys(actions))


def needed_actions(root=ROOT, mentions=None, part="modules"):
    """{IAM action: [Mention, ...]} for every operation the code of that part (plugin_files) names."""
    needed = {}
    if mentions is None:
        mentions = operation_mentions(root, files=plugin_files(root, part))
    for mention in mentions:
        for action in actions_of(mention.service, mention.operation):
            needed.setdefault(action, []).append(mention)
    return needed


def _as_list(value):
    return [value] if isinstance(value, str) else list(value or ())


def granted_actions(policy, effect="Allow"):
    """The actions the statements with this Effect name (exactly as written)."""
    statements = policy.get("Statement")
    statements = [statements] if isinstance(statements, dict) else statements or []
    return {a for s in statements if s.get("Effect") == effect for a in _as_list(s.get("Action"))}


def call_actions(counts):
    """{IAM action: calls} of the moto server's call counts ({"ec2:DescribeInstances": 3, ...}, keyed by the
    signing name of the request: "monitoring" for CloudWatch)."""
    from ansible_collections.keyless.aws.plugins.module_utils.activity.action_map import map_event_name

    actions = collections.Counter()
    for key, count in counts.items():
        source, _sep, operation = key.partition(":")
        needed = map_event_name("%s.amazonaws.com" % source, operation)
        if needed is None:
            raise ValueError("no IAM action known for the call %s" % key)
        for n in needed:
            actions[n.action] += count
    return actions
