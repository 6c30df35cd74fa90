# -*- coding: utf-8 -*-
# Copyright: keyless.aws contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The IAM role and instance profile of an EC2 identity in many accounts at once, in one process (iam_identity).
Private to the collection: no stable API.

keyless.aws.converge runs it once on the controller for the first target of each account (plugins/filter/
iam_leaders.py): a module process per account costs ~0.5 s of CPU before its first call (Python, boto3, the IAM
model, an AssumeRole), and two of them (iam_role, iam_instance_profile) per account were most of what an account
of empty regions cost the controller. Each entry is converged by the same engines as the two modules
(role_converge, profile_converge), so an entry's role and profile, its check-mode predictions, its diff and its
failure are those the two tasks would give.

    entry_spec() -> dict                              the options of one entry of `accounts`
    prepare(entries, base, check_mode, isolate=False) -> list[Entry]
        Pure. Raises InputError listing every problem of every entry (its name, connection, role, instance profile;
        a name twice) before any AWS call; with isolate, an entry's own problems stay with it (converge_all gives
        it a row with them as its error and makes no call for it) and only a missing or repeated name raises.
    converge_all(prepared, workers) -> list[dict]
        One row per entry, in order: {name, account, role_name, role_arn, instance_profile_name,
        instance_profile_arn, changed, role, instance_profile, changes, access_analyzer_findings, warnings, diff,
        error, not_done}. One AwsContext per entry (one AssumeRole each: IAM is global, an entry is an account),
        one botocore model loader for all; an entry whose calls fail is a row with `error` in run_module's shape
        (what was done, what was not, "rerun the task to finish") and never stops the others.

AWS facts relied on: IAM is global to an account and its endpoint is us-east-1's in the aws partition (the
context's default region); the credentials of one AssumeRole serve every IAM call of the account; IAM's own
throttle is per account, so entries of different accounts do not share a bucket.
"""

from __future__ import annotations

from ansible_collections.keyless.aws.plugins.module_utils.aws.connection import (
    AwsContext, target_connection_problems, target_entry_spec, target_params,
)
from ansible_collections.keyless.aws.plugins.module_utils.aws.module import (
    Call, Progress, call_params, entry_structure_errors, prepare_entries, run_entry,
)
from ansible_collections.keyless.aws.plugins.module_utils.aws.parallel import Failure, entry_contexts, parallel_map
from ansible_collections.keyless.aws.plugins.module_utils.iam import profile_converge, role_converge, role_params

# what an entry may not set: the step converges (state present), and the profile's role is the entry's role
ROLE_FIXED = ("state",)
PROFILE_FIXED = ("state", "role", "force")


def entry_spec():
    return target_entry_spec(role=dict(type="dict", required=True), instance_profile=dict(type="dict", default={}))


def _spec(full, fixed):
    return dict((key, value) for key, value in full.items() if key not in fixed)


class Entry:
    """One account's work, checked: its name, connection options and the two engines' calls; or, kept apart
    (prepare's isolate), the problems of its input."""

    def __init__(self, name, params, role_call, desired, profile_call, errors=(), names=(None, None)):
        self.name = name
        self.params = params
        self.role_call = role_call
        self.desired = desired
        self.profile_call = profile_call
        self.errors = list(errors)
        self.role_name, self.profile_name = (
            (role_call.params["name"], profile_call.params["name"]) if role_call is not None else names)


def _prepare_one(entry, base, check_mode):
    label = "account entry %s" % entry.get("name")
    errors = ["%s: %s" % (label, e) for e in target_connection_problems(entry, base)]
    role_given, profile_given = entry.get("role") or {}, entry.get("instance_profile") or {}
    role_name = role_given.get("name") or role_given.get("role_name")
    for option, given, fixed in (("role", role_given, ROLE_FIXED), ("instance_profile", profile_given, PROFILE_FIXED)):
        errors.extend("%s: %s option %s=%r is not an option here (%s)"
                      % (label, option, key, given[key], "the profile's role is the entry's role" if key == "role"
                         else "this module converges: delete with keyless.aws.iam_role or "
                              "keyless.aws.iam_instance_profile state=absent")
                      for key in sorted(set(given) & set(fixed)) if given[key] is not None)
    role, problems, role_warnings = call_params(
        _spec(role_converge.argument_spec(), ROLE_FIXED),
        dict((k, v) for k, v in role_given.items() if k not in ROLE_FIXED), "%s: role" % label,
        role_converge.MUTUALLY_EXCLUSIVE)
    errors.extend(problems)
    desired = None
    if not problems:
        role["state"] = "present"
        desired, problems = role_params.role_desired(role)
        errors.extend("%s: role: %s" % (label, e) for e in problems)
    profile_given = dict((k, v) for k, v in profile_given.items() if k not in PROFILE_FIXED)
    # the profile is named after its role unless named
    if profile_given.get("name") is None:
        profile_given["name"] = role_name
    profile, problems, profile_warnings = call_params(_spec(profile_converge.argument_spec(), PROFILE_FIXED),
                                                      profile_given, "%s: instance_profile" % label)
    errors.extend(problems)
    if not problems:
        profile.update(state="present", role=role.get("name"), force=False)
        errors.extend("%s: instance_profile: %s" % (label, e) for e in profile_converge.validate(profile))
    if errors:
        return Entry(entry["name"], None, None, None, None, errors, (role_name, profile_given["name"])), errors
    return Entry(entry["name"], target_params(entry, base), Call(role, check_mode, role_warnings), desired,
                 Call(profile, check_mode, profile_warnings)), []


def prepare(entries, base, check_mode, isolate=False):
    """See the module docstring."""
    structure = entry_structure_errors(entries, "accounts", "account entry",
                                       "the target that converges the account's IAM role")
    return prepare_entries(entries, structure, lambda entry: _prepare_one(entry, base, check_mode), isolate)


def _context(params, loader):
    ctx = AwsContext(params, loader=loader, default_region="us-east-1")
    ctx.client("iam")
    ctx.client("sts")
    return ctx


def _converge(entry, ctx, progress):
    role = role_converge.converge(entry.role_call, ctx, entry.desired, progress)
    profile = profile_converge.converge(entry.profile_call, ctx, progress)
    return role, profile


def _label(diff, name, what):
    return dict(diff, before_header="%s: %s (before)" % (name, what), after_header="%s: %s (after)" % (name, what))


def converge_all(prepared, workers):
    """See the module docstring."""
    contexts = entry_contexts(prepared, lambda entry, loader: _context(entry.params, loader))

    def work(item):
        entry, ctx = item
        progress = Progress()

        def converge(step_progress):
            if isinstance(ctx, Failure):  # the context could not be built (a profile not in the config files)
                raise ctx.exc
            return _converge(entry, ctx, step_progress)

        return run_entry(converge, progress), progress

    rows = []
    for entry, outcome in zip(prepared, parallel_map(work, list(zip(prepared, contexts)), workers, outcomes=True)):
        if isinstance(outcome, Failure):  # not an AWS, input or plan error (run_entry's): a bug, kept with its entry
            outcome = ((None, {"msg": "%s: %s" % (outcome.exc.__class__.__name__, outcome.exc)}), Progress())
        (done, failed), progress = outcome
        role_name = entry.role_name
        row = {"name": entry.name, "account": None, "role_name": role_name, "role_arn": None,
               "instance_profile_name": entry.profile_name, "instance_profile_arn": None,
               "changed": progress.changed, "role": None, "instance_profile": None, "changes": [],
               "access_analyzer_findings": [],
               "warnings": entry.role_call.warnings + entry.profile_call.warnings if entry.role_call else [],
               "diff": [], "error": None, "not_done": []}
        if failed is not None:
            row.update(error=failed["msg"], changed=bool(failed.get("changed")), changes=failed.get("changes", []),
                       not_done=failed.get("not_done", []))
        else:
            role, profile = done
            row.update(role=role["role"], instance_profile=profile["instance_profile"],
                       role_arn=(role["role"] or {}).get("arn"),
                       instance_profile_arn=(profile["instance_profile"] or {}).get("arn"),
                       changed=role["changed"] or profile["changed"], changes=role["changes"] + profile["changes"],
                       access_analyzer_findings=role["access_analyzer_findings"],
                       diff=[_label(role["diff"], entry.name, "IAM role %s" % role_name),
                             _label(profile["diff"], entry.name, "instance profile %s" % row["instance_profile_name"])])
            row["account"] = (row["role_arn"] or "").split(":")[4] if (row["role_arn"] or "").count(":") >= 5 else None
        rows.append(row)
    return rows
