# -*- coding: utf-8 -*-
# Copyright: keyless.aws contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The census of many account/region targets in one process: how many instances each target's selector selects.

Private to the collection. Used by ec2_fleet_census, which keyless.aws.converge runs once on the controller before
it converges the targets, so that a target whose selector selects nothing skips the fleet engine (and its module
process: ~0.6 s of CPU for Python, boto3, the EC2 model and an AssumeRole) and costs what its work costs.

    census_argument_spec() -> dict          the options of one entry of `targets`
    validate_targets(targets, base) -> list[str]
        Pure. Every problem of every entry (its name, connection options, selector), before any AWS call.
    run_census(targets, base, workers) -> list[dict]
        One entry per target, in order: {name, region, account, counted, selected, skipped, missing, idle, error}.
        account: the 12 digits of the target's assume_role_arn, else its `account` entry (the inventory's
        aws_account_id), else its credentials' (one GetCallerIdentity per context). An entry with count false is
        not counted (a target that converges no instance): only its account is found.
        One AwsContext per distinct connection (its region aside): the targets of one account share one
        AssumeRole, every context shares one model loader. One selection.observe_instances per target (the fleet
        modules' own selection: the same filters, states and instance-id chunks). A target that fails is an
        entry with `error` and idle false (the role then runs it fully and fails it with its own message); it never
        stops the others.

AWS facts relied on: DescribeInstances is regional and paginated (selection.py); the credentials of one
AssumeRole work in every region of the partition (connection.py); the idle verdict is a snapshot, like every
observe: an instance launched after the census is converged by the next run.
"""

from __future__ import annotations

from ansible.module_utils.common.validation import check_type_bool, check_type_list

from ansible_collections.keyless.aws.plugins.module_utils.aws import rules
from ansible_collections.keyless.aws.plugins.module_utils.aws.connection import AwsContext, validate_connection
from ansible_collections.keyless.aws.plugins.module_utils.aws.errors import AwsCallError, InputError
from ansible_collections.keyless.aws.plugins.module_utils.aws.parallel import Failure, guarded, parallel_map
from ansible_collections.keyless.aws.plugins.module_utils.fleet import selection

try:
    from botocore.exceptions import BotoCoreError, ClientError
except ImportError:  # pragma: no cover - the sanity import test runs without botocore
    BotoCoreError = ClientError = AwsCallError

# The connection options a target may set for itself (the role's __ec2_identity_connection); the module's own
# connection options are the default of each.
TARGET_CONNECTION = ("region", "profile", "endpoint_url", "assume_role_arn", "assume_role_session_name",
                     "assume_role_external_id", "validate_certs", "retry_mode", "max_attempts")
SELECTOR = ("instance_ids", "filters", "tags", "all_instances")


def census_argument_spec():
    return dict(
        name=dict(type="str", required=True),
        connection=dict(type="dict", default={}),
        selector=dict(type="dict", default={}),
        states=dict(type="list", elements="str", default=list(selection.DEFAULT_STATES)),
        count=dict(type="bool", default=True),
        account=dict(type="str"),
    )


def _connection(entry, base):
    params = dict((key, base.get(key)) for key in base)
    params.update((key, value) for key, value in (entry.get("connection") or {}).items() if value is not None)
    return params


# The selector is a raw dict (no argument spec of its own): its two typed options are converted here as the fleet
# modules' argument spec converts them (instance_ids: a list or "i-1,i-2"; all_instances: a boolean or "yes", "False"
# ... - a templated "False" must not select every instance of the region).
SELECTOR_TYPES = {"instance_ids": check_type_list, "all_instances": check_type_bool}


def _selector_problems(entry):
    """The selector options that do not convert to their type, as messages."""
    problems = []
    for key, convert in sorted(SELECTOR_TYPES.items()):
        value = (entry.get("selector") or {}).get(key)
        if value is None:
            continue
        try:
            convert(value)
        except (TypeError, ValueError) as exc:
            problems.append("selector option %s=%r: %s" % (key, value, exc))
    return problems


def _selector(entry):
    params = dict(entry.get("selector") or {})
    for key, convert in SELECTOR_TYPES.items():
        if params.get(key) is not None:
            try:
                params[key] = convert(params[key])
            except (TypeError, ValueError):
                pass  # validate_targets reports it (_selector_problems)
    # the target's states (an empty list stays empty: validate_selector refuses it, as the fleet modules do)
    states = entry.get("states")
    params["states"] = list(selection.DEFAULT_STATES) if states is None else states
    if params.get("all_instances") is None:
        params["all_instances"] = False
    return params


def validate_targets(targets, base):
    """Pure: every problem of every target, each prefixed with the target's name."""
    errors, seen = [], set()
    for index, entry in enumerate(targets):
        name = entry.get("name")
        label = "targets[%d]" % index if not name else "target %s" % name
        if not name:
            errors.append("targets[%d]: name is required (the inventory host name of the target)" % index)
        elif name in seen:
            errors.append("target %s is listed twice: each inventory host is one target" % name)
        seen.add(name)
        unknown = sorted(set(entry.get("connection") or {}) - set(TARGET_CONNECTION))
        if unknown:
            errors.append("%s: connection option(s) %s are not known: use %s"
                          % (label, ", ".join(unknown), ", ".join(TARGET_CONNECTION)))
        selector = entry.get("selector") or {}
        if "states" in selector:
            # the states are the target's own option: a selector's states would be silently replaced by them
            errors.append("%s: selector option states is not a selector option: give the states as the target's "
                          "states (targets[].states)" % label)
        unknown = sorted(set(selector) - set(SELECTOR) - {"states"})
        if unknown:
            errors.append("%s: selector option(s) %s are not known: use %s"
                          % (label, ", ".join(unknown), ", ".join(SELECTOR)))
        params = _connection(entry, base)
        if not params.get("region"):
            errors.append("%s: no region: a target is one account and one region (set region in its connection)"
                          % label)
        errors.extend("%s: %s" % (label, e) for e in validate_connection(params))
        if entry.get("account") and not rules.is_account_id(entry["account"]):
            errors.append("%s: account=%r is not an account id: use its 12 digits" % (label, entry["account"]))
        if entry.get("count", True):
            problems = _selector_problems(entry)
            errors.extend("%s: %s" % (label, e) for e in problems)
            if not problems:
                # the selector's checks, the states' too (states has 'x': choose from ...; states=[] selects nothing)
                errors.extend("%s: %s" % (label, e) for e in selection.validate_selector(_selector(entry)))
    return errors


def _context_key(params):
    """What makes two targets share a context: everything but the region."""
    return tuple((key, repr(params.get(key))) for key in sorted(params) if key != "region")


def account_of(params):
    """The 12-digit account a target's connection names (its assume_role_arn), or None."""
    arn = params.get("assume_role_arn") or ""
    account = arn.split(":")[4] if arn.count(":") >= 5 else ""
    return account if rules.is_account_id(account) else None


def run_census(targets, base, workers):
    """See the module docstring. `base` holds the module's connection options."""
    errors = validate_targets(targets, base)
    if errors:
        raise InputError(errors)
    contexts, loader, work = {}, None, []
    for entry in targets:
        params = _connection(entry, base)
        key = _context_key(params)
        if key not in contexts:
            # contexts are built here, in one thread (a boto3 session is not thread-safe; its clients are). A context
            # that cannot be built (a profile that is not in the config files) fails its targets only.
            contexts[key] = guarded(lambda p: AwsContext(p, loader=loader), params)
            if loader is None and not isinstance(contexts[key], Failure):
                loader = contexts[key].loader()
        work.append((entry, params, contexts[key]))
    for _entry, params, ctx in work:  # the clients too, before the threads share the sessions
        if not isinstance(ctx, Failure):
            ctx.client("ec2", region=params["region"])

    def count(item):
        entry, params, ctx = item
        if isinstance(ctx, Failure):
            raise ctx.exc
        # the account: the role ARN's, else what the inventory says, else the credentials' own (GetCallerIdentity,
        # once per context)
        account = account_of(params) or entry.get("account") or ctx.account_id
        if not entry.get("count", True):
            return account, None
        return account, selection.observe_instances(ctx.client("ec2", region=params["region"]), _selector(entry))

    out = []
    for (entry, params, _ctx), found in zip(work, parallel_map(count, work, workers, outcomes=True)):
        row = {"name": entry["name"], "region": params["region"], "account": account_of(params) or entry.get("account"),
               "counted": bool(entry.get("count", True)), "selected": 0, "skipped": 0, "missing": 0, "idle": False,
               "error": None}
        if isinstance(found, Failure):
            exc = found.exc
            row["error"] = (AwsCallError.from_exception(exc, "DescribeInstances").text()
                            if isinstance(exc, (AwsCallError, ClientError, BotoCoreError))
                            else "; ".join(exc.errors) if isinstance(exc, InputError)
                            else "%s: %s" % (exc.__class__.__name__, exc))
        else:
            row["account"], observed = found
            if observed is not None:
                row.update(selected=len(observed.instances), skipped=len(observed.skipped), missing=len(observed.missing))
                row["idle"] = not (row["selected"] or row["skipped"] or row["missing"])
        out.append(row)
    return out
