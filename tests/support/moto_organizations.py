"""AWS Organizations where moto 5.2.6 lacks it: the EC2 declarative policy type, its effective policy, and the
enforcement of an attached service control policy's IMDS conditions on RunInstances. Patches of moto's models and
response handlers, registered by tests/support/moto_server.fix_moto() (the moto server and in-process mock_aws alike).

    fix_organizations()   applies every patch below (idempotent through fix_moto)

Each patch cites the AWS documentation it follows. State lives on moto's backends, so a moto reset starts clean.
The SCP enforcement is here rather than in tests/support/strict/: deciding it needs the organization's state (the OU
tree, the attachments, the enabled policy types), which only moto's organizations backend holds; the strict layer
sees requests, not that state.
"""

from __future__ import annotations

import datetime
import fnmatch
import json

DECLARATIVE = "DECLARATIVE_POLICY_EC2"
# Organizations API reference, PolicySummary Arn / the ARN formats of "Resource types defined by AWS Organizations":
# arn:${Partition}:organizations::${Account}:policy/o-${OrganizationId}/declarative_policy_ec2/p-${PolicyId}
DECLARATIVE_ARN_FORMAT = "arn:{0}:organizations::{1}:policy/{2}/declarative_policy_ec2/{3}"
# EC2 API reference, "Error codes for the Amazon EC2 API": UnauthorizedOperation - "You are not authorized to perform
# this operation"; a request an SCP denies explicitly gets it (HTTP 403), with an encoded authorization message.
UNAUTHORIZED = ("You are not authorized to perform this operation. User is not authorized to perform: "
                "ec2:RunInstances on resource: %s with an explicit deny in a service control policy")


def declarative_policy_type():
    """CreatePolicy / ListPolicies / EnablePolicyType / ListPoliciesForTarget with Type DECLARATIVE_POLICY_EC2, which
    moto answers InvalidInputException. Organizations API reference, CreatePolicy Type: "DECLARATIVE_POLICY_EC2" is a
    valid value; EnablePolicyType PolicyType likewise; the policy's ARN uses declarative_policy_ec2 (above)."""
    from moto.organizations.models import FakePolicy, FakeRoot

    for cls in (FakePolicy, FakeRoot):
        if DECLARATIVE not in cls.SUPPORTED_POLICY_TYPES:
            cls.SUPPORTED_POLICY_TYPES.append(DECLARATIVE)
    original = FakePolicy.__init__
    if getattr(original, "keyless", False):
        return

    def init(self, organization, **kwargs):
        if kwargs.get("Type") != DECLARATIVE:
            return original(self, organization, **kwargs)
        original(self, organization, **dict(kwargs, Type="TAG_POLICY"))
        self.type = DECLARATIVE
        self._arn_format = DECLARATIVE_ARN_FORMAT
        return None

    init.keyless = True
    FakePolicy.__init__ = init


def _path(backend, target_id):
    """[root, OU, ..., target]: the objects whose policies an account or OU inherits, root first."""
    by_id = {o.id: o for o in backend.ou}
    by_id.update({a.id: a for a in backend.accounts})
    node = by_id.get(target_id)
    chain = []
    while node is not None:
        chain.append(node)
        parent = getattr(node, "parent_id", None)
        node = by_id.get(parent) if parent else None
    return list(reversed(chain))


def _merge(parent, child):
    """Inheritance of management policies (Organizations User Guide, "Policy syntax and inheritance for management
    policy types"): @@assign in a child replaces the inherited value; other keys are merged."""
    out = dict(parent)
    for key, value in child.items():
        if isinstance(value, dict) and "@@assign" not in value and isinstance(out.get(key), dict):
            out[key] = _merge(out[key], value)
        else:
            out[key] = value
    return out


def effective_declarative(backend, target_id):
    content, found = {}, False
    for node in _path(backend, target_id):
        for policy in getattr(node, "attached_policies", []):
            if policy.type == DECLARATIVE:
                found = True
                content = _merge(content, json.loads(policy.content))
    return content if found else None


def effective_policy():
    """DescribeEffectivePolicy, which moto does not implement. Organizations API reference: "Returns the contents of
    the effective policy for specified policy type and account. The effective policy is the aggregation of any
    policies of the specified type that the account inherits, plus any policy of that type that is directly attached
    to the account. This operation applies only to management policy types." TargetId defaults to the caller's
    account; no policy of the type -> EffectivePolicyNotFoundException; a service control policy type ->
    InvalidInputException. Answer: EffectivePolicy {PolicyContent, LastUpdatedTimestamp, TargetId, PolicyType}.
    Only DECLARATIVE_POLICY_EC2 is computed here (the type the collection writes)."""
    from moto.core.exceptions import JsonRESTError
    from moto.organizations.models import organizations_backends
    from moto.organizations.responses import OrganizationsResponse

    def describe_effective_policy(self):
        params = self.request_params
        policy_type = params.get("PolicyType")
        if policy_type != DECLARATIVE:
            raise JsonRESTError("InvalidInputException", "You provided a value that does not match the required "
                                                         "pattern.")
        target = params.get("TargetId") or self.current_account
        backend = _organization_backend(organizations_backends, self.current_account, self.partition)
        if backend is None:
            raise JsonRESTError("AWSOrganizationsNotInUseException", "Your account is not a member of an organization.")
        if not _path(backend, target):
            raise JsonRESTError("TargetNotFoundException", "We can't find a root, OU, account, or policy with the "
                                                           "TargetId that you specified.")
        content = effective_declarative(backend, target)
        if content is None:
            raise JsonRESTError("EffectivePolicyNotFoundException", "We can't find an effective policy of the type "
                                                                    "that you specified.")
        return json.dumps({"EffectivePolicy": {
            "PolicyContent": json.dumps(content), "TargetId": target, "PolicyType": policy_type,
            "LastUpdatedTimestamp": datetime.datetime.now(datetime.timezone.utc).timestamp()}})

    OrganizationsResponse.describe_effective_policy = describe_effective_policy


def _organization_backend(backends, account_id, partition="aws"):
    """The organizations backend of the management account of the organization `account_id` belongs to."""
    own = backends[account_id][partition]
    if own.org is not None:
        return own
    master = backends.master_accounts.get(account_id)
    if master is None:
        return None
    return backends[master[0]][master[1]]


# ---------------------------------------------------------------- SCP enforcement on RunInstances

def _as_list(value):
    return value if isinstance(value, list) else [value]


def _action_matches(patterns, action):
    return any(fnmatch.fnmatchcase(action.lower(), p.lower()) for p in _as_list(patterns))


def _condition_holds(condition, context):
    """The IAM condition operators the guardrail's SCP uses (IAM User Guide, "IAM JSON policy elements: Condition
    operators"): String(Not)Equals, Numeric(GreaterThan|LessThan), Null, Arn(Not)Like. A key missing from the request:
    the negated operators match, the others do not; Null "true" matches a missing key. Any other operator: the
    statement is taken not to apply (and is recorded, so a test sees it)."""
    for operator, keys in condition.items():
        for key, wanted in keys.items():
            have = context.get(key)
            wanted = _as_list(wanted)
            if operator == "StringEquals":
                ok = have is not None and str(have) in wanted
            elif operator == "StringNotEquals":
                ok = have is None or str(have) not in wanted
            elif operator == "NumericGreaterThan":
                ok = have is not None and float(have) > float(wanted[0])
            elif operator == "NumericLessThan":
                ok = have is not None and float(have) < float(wanted[0])
            elif operator == "Null":
                ok = (have is None) == (str(wanted[0]).lower() == "true")
            elif operator in ("ArnLike", "ArnNotLike"):
                like = have is not None and any(fnmatch.fnmatchcase(str(have), w) for w in wanted)
                ok = like if operator == "ArnLike" else (have is None or not like)
            else:
                UNEVALUATED.append(operator)
                return False
            if not ok:
                return False
    return True


UNEVALUATED = []


def scp_denies(statements_, action, resource, context):
    """True when a Deny statement of an SCP covers the action on the resource with its condition met."""
    for stmt in statements_:
        if stmt.get("Effect") != "Deny" or not _action_matches(stmt.get("Action", []), action):
            continue
        if not any(fnmatch.fnmatchcase(resource, r) for r in _as_list(stmt.get("Resource", "*"))):
            continue
        if _condition_holds(stmt.get("Condition") or {}, context):
            return True
    return False


def applying_scps(backend, account_id):
    """The SCPs in force for a member account: those attached to it, its OUs and the root; none for the management
    account (Organizations User Guide: "SCPs don't affect users or roles in the management account")."""
    if backend is None or account_id == backend.org.master_account_id:
        return []
    root = next((o for o in backend.ou if o.id == backend.org.root_id), None)
    enabled = {t["Type"] for t in getattr(root, "policy_types", [])}
    if "SERVICE_CONTROL_POLICY" not in enabled:
        return []
    out = []
    for node in _path(backend, account_id):
        for policy in getattr(node, "attached_policies", []):
            if policy.type == "SERVICE_CONTROL_POLICY":
                out.append(json.loads(policy.content))
    return out


def _launch_context(response):
    """The condition keys of a RunInstances request (Service Authorization Reference, EC2 RunInstances, instance
    resource): ec2:MetadataHttpTokens, ec2:MetadataHttpPutResponseHopLimit, ec2:InstanceProfile, from the request,
    else from the launch template version it names (request parameters override the template's)."""
    data = {}
    template = response._get_param("LaunchTemplate", {}) or {}
    if template:
        backend = response.ec2_backend
        lt = backend.get_launch_template(template["LaunchTemplateId"]) if template.get("LaunchTemplateId") else \
            backend.get_launch_template_by_name(template["LaunchTemplateName"])
        data = dict(lt.get_version(template.get("Version") or "$Default").data)
    options = dict(data.get("MetadataOptions") or {})
    options.update(response._get_param("MetadataOptions", {}) or {})
    profile = response._get_param("IamInstanceProfile.Arn") or response._get_param("IamInstanceProfile.Name") or \
        (data.get("IamInstanceProfile") or {}).get("Arn") or (data.get("IamInstanceProfile") or {}).get("Name")
    context = {"ec2:MetadataHttpTokens": options.get("HttpTokens"),
               "ec2:MetadataHttpPutResponseHopLimit": options.get("HttpPutResponseHopLimit"),
               "ec2:InstanceProfile": profile}
    return {k: v for k, v in context.items() if v not in (None, "")}


def enforce_scps_on_run_instances():
    """RunInstances in a member account under an attached SCP that denies it is refused with UnauthorizedOperation
    before anything launches, as AWS evaluates SCPs before the request (Organizations User Guide, "SCP
    evaluation": an explicit Deny in any SCP that applies to the account wins). Only the IMDS and instance profile
    condition keys of the instance resource are evaluated: what the guardrail's launch statements use."""
    from moto.ec2.exceptions import EC2ClientError
    from moto.ec2.responses.instances import InstanceResponse
    from moto.organizations.models import organizations_backends

    original = InstanceResponse.run_instances
    if getattr(original, "keyless", False):
        return

    def run_instances(self):
        account = self.current_account
        backend = _organization_backend(organizations_backends, account, self.partition)
        scps = applying_scps(backend, account) if backend is not None and backend.org is not None else []
        if scps:
            resource = "arn:%s:ec2:%s:%s:instance/*" % (self.partition, self.region, account)
            context = _launch_context(self)
            for doc in scps:
                if scp_denies(_as_list(doc.get("Statement", [])), "ec2:RunInstances", resource, context):
                    raise EC2ClientError("UnauthorizedOperation", UNAUTHORIZED % resource)
        return original(self)

    run_instances.keyless = True
    InstanceResponse.run_instances = run_instances


def fix_organizations():
    declarative_policy_type()
    effective_policy()
    enforce_scps_on_run_instances()
