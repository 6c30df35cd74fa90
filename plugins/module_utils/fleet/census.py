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
    structure_errors(targets) / target_problems(entry, base) / validate_targets(targets, base)
        Pure. The list's own problems (no name, a name twice: the task fails) / one target's (its row's error) / all.
    probe(ec2, params) -> {complete, selected, skipped, missing, found}
        Whether the selector matches any instance, with as little read as possible (see PROBE_FIRST_PAGE).
    run_census(targets, base, workers) -> list[dict]
        One entry per target, in order: {name, region, account, counted, complete, selected, skipped, missing, idle,
        error}; the counts are exact when complete (every match read: at most a few instances), else None.
        account: the 12 digits of the target's assume_role_arn, else its `account` entry (the inventory's
        aws_account_id), else its credentials' (one GetCallerIdentity per context). An entry with count false is
        not counted (a target that converges no instance): only its account is found.
        One AwsContext per distinct connection (its region aside): the targets of one account share one
        AssumeRole, every context shares one model loader. One probe per target (the fleet modules' own filters and
        states). A target whose input is wrong, or whose calls fail, is an entry with `error` and idle false (the role
        then runs it fully and fails it with its own message); it never stops the others.

AWS facts relied on: DescribeInstances is regional and paginated (selection.py); the credentials of one
AssumeRole work in every region of the partition (connection.py); the idle verdict is a snapshot, like every
observe: an instance launched after the census is converged by the next run.
"""

from __future__ import annotations

from ansible.module_utils.common.validation import check_type_bool, check_type_list

from ansible_collections.keyless.aws.plugins.module_utils.aws import rules
from ansible_collections.keyless.aws.plugins.module_utils.aws.connection import (
    AwsContext, target_connection_problems, target_entry_spec, target_params,
)
from ansible_collections.keyless.aws.plugins.module_utils.aws.errors import AwsCallError, InputError
from ansible_collections.keyless.aws.plugins.module_utils.aws.module import entry_structure_errors
from ansible_collections.keyless.aws.plugins.module_utils.aws.parallel import Failure, guarded, parallel_map
from ansible_collections.keyless.aws.plugins.module_utils.aws.retries import call
from ansible_collections.keyless.aws.plugins.module_utils.fleet import selection

try:
    from botocore.exceptions import BotoCoreError, ClientError
except ImportError:  # pragma: no cover - the sanity import test runs without botocore
    BotoCoreError = ClientError = AwsCallError

SELECTOR = ("instance_ids", "filters", "tags", "all_instances")


def census_argument_spec():
    return target_entry_spec(
        selector=dict(type="dict", default={}),
        states=dict(type="list", elements="str", default=list(selection.DEFAULT_STATES)),
        count=dict(type="bool", default=True),
        account=dict(type="str"),
    )


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


def structure_errors(targets):
    """Pure: what makes the list itself unusable (a target without a name, a name twice): the task fails for them."""
    return entry_structure_errors(targets, "targets", "target", "the inventory host name of the target",
                                  ": each inventory host is one target")


def target_problems(entry, base):
    """Pure: the problems of one target's own input (its connection, account, selector), without its name. A target
    without a region here takes its profile's (AwsContext), as the role's modules do."""
    errors = target_connection_problems(entry, base)
    selector = entry.get("selector") or {}
    if "states" in selector:
        # the states are the target's own option: a selector's states would be silently replaced by them
        errors.append("selector option states is not a selector option: give the states as the target's states "
                      "(targets[].states)")
    unknown = sorted(set(selector) - set(SELECTOR) - {"states"})
    if unknown:
        errors.append("selector option(s) %s are not known: use %s" % (", ".join(unknown), ", ".join(SELECTOR)))
    if entry.get("account") and not rules.is_account_id(entry["account"]):
        errors.append("account=%r is not an account id: use its 12 digits" % (entry["account"],))
    if entry.get("count", True):
        problems = _selector_problems(entry)
        errors.extend(problems)
        if not problems:
            # the selector's checks, the states' too (states has 'x': choose from ...; states=[] selects nothing)
            errors.extend(selection.validate_selector(_selector(entry)))
    return errors


def validate_targets(targets, base):
    """Pure: every problem of every target, each prefixed with the target's name (the list's own problems first)."""
    errors = structure_errors(targets)
    for index, entry in enumerate(targets):
        label = "target %s" % entry["name"] if entry.get("name") else "targets[%d]" % index
        errors.extend("%s: %s" % (label, e) for e in target_problems(entry, base))
    return errors


# The probe of one target: DescribeInstances' smallest page first (MaxResults 5: little to read for a target with
# instances, which its fleet step reads in full anyway), then pages of 1,000 while a page comes back without a match
# but with a NextToken (EC2 filters a page after reading it, so an empty page does not mean no match); it stops at the
# first page with an instance. When no page is left (complete) the counts are exact.
PROBE_FIRST_PAGE = 5
PROBE_NEXT_PAGE = 1000


def probe(ec2, params):
    """{complete, selected, skipped, missing, found}: found is whether any instance matches the selector (in any
    state); selected/skipped/missing are exact when complete, else None. instance_ids beyond one call's filter values
    are not probed (found True: the fleet step reports them)."""
    ids = sorted(set(params.get("instance_ids") or []))
    filters = selection.build_filters(params)
    if ids:
        room = selection.FILTER_VALUES_MAX - sum(len(f["Values"]) for f in filters)
        if len(ids) > room:
            return {"complete": False, "selected": None, "skipped": None, "missing": None, "found": True}
        filters = filters + [{"Name": "instance-id", "Values": ids}]
    request = {"MaxResults": PROBE_FIRST_PAGE}
    if filters:
        request["Filters"] = filters
    while True:
        answer = call(ec2, "DescribeInstances", request)
        records = [selection.instance_record(raw) for reservation in answer.get("Reservations") or ()
                   for raw in reservation.get("Instances") or ()]
        token = answer.get("NextToken")
        if records or not token:
            break
        request = dict(request, MaxResults=PROBE_NEXT_PAGE, NextToken=token)
    if token:
        return {"complete": False, "selected": None, "skipped": None, "missing": None, "found": True}
    states = params.get("states") or selection.DEFAULT_STATES
    selected = sum(1 for rec in records if rec["state"] in states)
    missing = len(set(ids) - set(rec["instance_id"] for rec in records))
    return {"complete": True, "selected": selected, "skipped": len(records) - selected, "missing": missing,
            "found": bool(records)}


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
    errors = structure_errors(targets)
    if errors:
        raise InputError(errors)
    contexts, loader, work = {}, None, []
    for entry in targets:
        params = target_params(entry, base)
        problems = target_problems(entry, base)
        if problems:  # this target's input: its row says why, the others are counted
            work.append((entry, params, Failure(InputError(problems))))
            continue
        key = _context_key(params)
        if key not in contexts:
            # contexts are built here, in one thread (a boto3 session is not thread-safe; its clients are). A context
            # that cannot be built (a profile that is not in the config files) fails its targets only. Without a
            # region in the options, the profile's (AwsContext), as the role's modules take it.
            contexts[key] = guarded(lambda p: AwsContext(p, loader=loader, require_region=True), params)
            if loader is None and not isinstance(contexts[key], Failure):
                loader = contexts[key].loader()
        work.append((entry, params, contexts[key]))
    for index, (entry, params, ctx) in enumerate(work):  # the clients too, before the threads share the sessions
        if not isinstance(ctx, Failure):
            # creating a client resolves the credentials (a credential_process that fails): that target's error
            made = guarded(lambda c, p: c.client("ec2", region=p.get("region") or c.region), ctx, params)
            if isinstance(made, Failure):
                work[index] = (entry, params, made)

    def count(item):
        entry, params, ctx = item
        if isinstance(ctx, Failure):
            raise ctx.exc
        # the account: the role ARN's, else what the inventory says, else the credentials' own (GetCallerIdentity,
        # once per context)
        account = account_of(params) or entry.get("account") or ctx.account_id
        if not entry.get("count", True):
            return account, None
        return account, probe(ctx.client("ec2", region=params.get("region") or ctx.region), _selector(entry))

    out = []
    for (entry, params, ctx), found in zip(work, parallel_map(count, work, workers, outcomes=True)):
        region = params.get("region") or (ctx.region if not isinstance(ctx, Failure) else None)
        row = {"name": entry["name"], "region": region, "account": account_of(params) or entry.get("account"),
               "counted": bool(entry.get("count", True)), "complete": False, "selected": None, "skipped": None,
               "missing": None, "idle": False, "error": None}
        if isinstance(found, Failure):
            exc = found.exc
            row["error"] = (AwsCallError.from_exception(exc, "DescribeInstances").text()
                            if isinstance(exc, (AwsCallError, ClientError, BotoCoreError))
                            else "; ".join(exc.errors) if isinstance(exc, InputError)
                            else "%s: %s" % (exc.__class__.__name__, exc))
        else:
            row["account"], observed = found
            if observed is not None:
                row.update((key, observed[key]) for key in ("complete", "selected", "skipped", "missing"))
                row["idle"] = observed["complete"] and not observed["found"] and not observed["missing"]
        out.append(row)
    return out
