# -*- coding: utf-8 -*-
# Copyright: keyless.aws contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The frame every keyless.aws module runs in, and the one error boundary. Private to the collection.

Every module's main() is:

    module = aws_module(argument_spec(), ...)
    run_module(module, lambda progress: work(module, progress))

and work() follows the module shape: validate (pure) -> context(module, errors) (fails before any AWS
call when there is any error) -> observe -> plan (pure) -> apply_plan(..., progress) unless check mode ->
return the result dict. run_module() exits with it, or, for anything raised on the way (InputError,
PlanError, AwsCallError, any botocore exception), fails with one message shape: what failed (operation,
code, resource, what to do), and when something was changed before the failure, `changed: true`, the
changes made (`changes`) and those not made (`not_done`), with "rerun the task to finish". A second run
completes the job: plans start from what AWS has, not from what the first run meant to do.

    aws_module(argument_spec, **kwargs) -> AnsibleModule with the connection options
    context(module, errors=(), **kwargs) -> AwsContext (raises InputError listing every error)
    Progress: .expect(plan), .did(change), .mark_changed(), .partial (extra keys for a failure)
    run_module(module, work)
    Call(params, check_mode, warnings=(), diff=False), call_params(spec, given, label, mutually_exclusive=())
        -> (params, errors, warnings)
    entry_structure_errors(entries, option, label, why_name, twice="") -> list[str];
    prepare_entries(entries, structure, prepare_one, isolate) -> list
    run_entries(module, entries, prepare, work, fail_option) -> (rows, failed names);
    fail_for_entries(result, entries_key, failed, noun, fail)
        the shell of a module over many entries: their input checked before any call, their rows, warnings and
        failures in one shape (iam_identity, ec2_fleet_preview)
    run_entry(work, progress) -> (result, None) or (None, {msg, changed, changes, not_done, ...})
        one entry of a module that works on many (iam_identity: one per account): another module's engine called
        with its own argument spec's params (Call stands for the AnsibleModule: params, check_mode, warn), and the
        entry's failure in the shape run_module fails with, kept with the entry so that it never stops the others.
"""

from __future__ import annotations

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.common.arg_spec import ArgumentSpecValidator

from ansible_collections.keyless.aws.plugins.module_utils.aws.connection import (
    AwsContext,
    aws_argument_spec,
    module_connection,
    validate_connection,
)
from ansible_collections.keyless.aws.plugins.module_utils.aws.errors import AwsCallError, InputError, PlanError, TaskFailure
from ansible_collections.keyless.aws.plugins.module_utils.aws.parallel import workers_problems

try:
    from botocore.exceptions import BotoCoreError, ClientError
except ImportError:  # pragma: no cover - the sanity import test runs without botocore
    BotoCoreError = ClientError = AwsCallError


def aws_module(argument_spec, **kwargs):
    """An AnsibleModule with the shared connection options; check mode on unless told otherwise."""
    spec = aws_argument_spec()
    spec.update(argument_spec)
    kwargs.setdefault("supports_check_mode", True)
    return AnsibleModule(argument_spec=spec, **kwargs)


def context(module, errors=(), **kwargs):
    """Validate the connection options too, then build the AwsContext; raises InputError listing every
    problem, so bad input never reaches AWS."""
    errors = [e for e in list(errors) + validate_connection(module.params) if e]
    if errors:
        raise InputError(errors)
    return AwsContext(module.params, **kwargs)


class Progress:
    """What a run has changed so far, so that a failure can say what was done and what was not."""

    def __init__(self):
        self.done = []
        self.expected = []
        self.changed = False
        self.partial = {}

    def expect(self, plan):
        known = {id(c) for c in self.expected}
        self.expected.extend(c for c in plan if id(c) not in known)

    def did(self, change):
        self.done.append(change)
        self.changed = True

    def mark_changed(self):
        self.changed = True

    def not_done(self):
        return [c for c in self.expected if not any(c is d for d in self.done)]


def _describe(changes):
    return ", ".join("%s %s" % (c.operation, c.target) for c in changes)


def failure(exc, progress):
    """(message, extra return values) of a failure, the one shape every module fails with."""
    if isinstance(exc, InputError):
        return str(exc), {"errors": exc.errors}
    if isinstance(exc, (ClientError, BotoCoreError)) and not isinstance(exc, AwsCallError):
        exc = AwsCallError.from_exception(exc)
    extra = {}
    msg = exc.text() if isinstance(exc, AwsCallError) else str(exc)
    if isinstance(exc, AwsCallError):
        extra["error"] = exc.as_dict()
    if progress.done or progress.changed:
        left = progress.not_done()
        if progress.done:
            msg += "; already done: %s" % _describe(progress.done)
        if left:
            msg += "; not done: %s" % _describe(left)
        msg += "; rerun the task to finish (a rerun starts from what AWS has now)"
        extra["changes"] = [c.as_dict() for c in progress.done]
        extra["not_done"] = [c.as_dict() for c in left]
    extra.update(progress.partial)
    return msg, extra


def run_module(module, work):
    """The one error boundary: exit_json(**work(progress)), or fail_json in the one shape above (run_entry's)."""
    result, failed = run_entry(work, Progress())
    if failed is not None:
        module.fail_json(**failed)
    module.exit_json(**result)


class Call:
    """What an engine reads of its AnsibleModule (params, check_mode, _diff, warn), for one entry of a many-entry module."""

    def __init__(self, params, check_mode, warnings=(), diff=False):
        self.params = params
        self.check_mode = check_mode
        self.warnings = list(warnings)
        self._diff = diff  # AnsibleModule's name for the task's diff mode

    def warn(self, warning):
        self.warnings.append(warning)


def call_params(spec, given, label, mutually_exclusive=()):
    """Pure: (the params of `given` as AnsibleModule would make them with `spec` - types, defaults, aliases -, the
    errors, each prefixed with `label`, and the warnings AnsibleModule would give: an option given with its alias).
    Options given as None count as not given."""
    given = dict((key, value) for key, value in (given or {}).items() if value is not None)
    validator = ArgumentSpecValidator(spec, mutually_exclusive=list(mutually_exclusive) or None)
    result = validator.validate(given)
    warnings = ["%s: both option %s and its alias %s are set" % (label, w["option"], w["alias"])
                for w in result._warnings]  # pylint: disable=protected-access  # what AnsibleModule warns with
    return result.validated_parameters, ["%s: %s" % (label, msg) for msg in result.error_messages], warnings


def entry_structure_errors(entries, option, label, why_name, twice=""):
    """Pure: what makes a many-entry module's list itself unusable - an entry without a name, a name twice (the task
    fails for them, whatever its fail_on_*_error): "<option>[i]: name is required (<why_name>)", "<label> <name> is
    listed twice<twice>"."""
    errors, seen = [], set()
    for index, entry in enumerate(entries):
        name = entry.get("name")
        if not name:
            errors.append("%s[%d]: name is required (%s)" % (option, index, why_name))
        elif name in seen:
            errors.append("%s %s is listed twice%s" % (label, name, twice))
        seen.add(name)
    return errors


def prepare_entries(entries, structure, prepare_one, isolate):
    """Every named entry prepared: prepare_one(entry) -> (prepared, its problems). Raises InputError with the list's
    own problems (`structure`, entry_structure_errors') then every entry's, unless only entries' and `isolate` (each
    prepared entry keeps its own)."""
    errors, out = [], []
    for entry in entries:
        if not entry.get("name"):
            continue
        prepared, problems = prepare_one(entry)
        errors.extend(problems)
        out.append(prepared)
    if structure or (errors and not isolate):
        raise InputError(structure + errors)
    return out


def run_entries(module, entries, prepare, work, fail_option):
    """The shell of a module over many entries (iam_identity: accounts, ec2_fleet_preview: targets): every input
    problem - the module's `concurrency`, then prepare(entries, base, isolate)'s, which raises InputError - before any
    call; then work(prepared, concurrency) -> rows, each with `name`, `warnings` (given as the task's, prefixed with
    the name) and `error`. Returns (rows, the names of the failed rows). With `fail_option` true, an entry's bad input
    fails the task; false, prepare keeps it with its entry (isolate)."""
    params = module.params
    errors = workers_problems(params["concurrency"])
    prepared = []
    try:
        prepared = prepare(entries, module_connection(params), not params[fail_option])
    except InputError as exc:
        errors.extend(exc.errors)
    if errors:
        raise InputError(errors)
    rows = work(prepared, params["concurrency"])
    for row in rows:
        for warning in row["warnings"]:
            module.warn("%s: %s" % (row["name"], warning))
    return rows, [row["name"] for row in rows if row["error"]]


def fail_for_entries(result, entries_key, failed, noun, fail):
    """Raise TaskFailure with `result` when entries failed and `fail` (the module's fail_on_*_error) says so; the
    message names each failed entry of result[entries_key] (by name) with its error."""
    rows = result[entries_key]
    if failed and fail:
        raise TaskFailure("%d of %d %s(s) failed: %s" % (len(failed), len(rows), noun, "; ".join(
            "%s: %s" % (name, rows[name]["error"]) for name in failed)), result)


def run_entry(work, progress):
    """(work(progress), None), or (None, the failure: msg, changed and the extra values failure() gives) - what
    run_module fails with, and what a many-entry module keeps with one entry."""
    try:
        return work(progress), None
    except TaskFailure as exc:
        payload = dict(exc.payload)
        payload.setdefault("changed", progress.changed)
        return None, dict(payload, msg=str(exc))
    except (InputError, PlanError, AwsCallError, ClientError, BotoCoreError) as exc:
        msg, extra = failure(exc, progress)
        return None, dict(extra, msg=msg, changed=progress.changed)
