# -*- coding: utf-8 -*-
# Copyright: keyless.aws contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The one retry helper, its code sets, and the one way to wait. Private to the collection.

The retry stack, from the wire up; each kind of answer is retried by exactly one layer:

1. botocore (`retry_mode` standard or adaptive, `max_attempts` total attempts, 10 by default) retries
   throttling (THROTTLE_CODES: botocore's own list), transient errors (TRANSIENT_CODES, HTTP 500/502/503/504,
   connection errors) with jittered exponential backoff. It is the ONLY layer that retries a throttled or
   transient call; nothing here retries those again.
2. Client-side token buckets (rate_limit.py) make every HTTP attempt, botocore's retries included, take a
   token of the AWS bucket it draws from first, so a fleet runs at AWS's limit instead of bouncing off it;
   a throttled answer drains the bucket.
3. This helper (`call`, `paginate`) retries only answers that botocore cannot know are temporary, each
   under a named RetryPolicy that the caller picks for the call:
   - IAM is eventually consistent: NoSuchEntity for an entity created a moment ago, ConcurrentModification,
     DeleteConflict while detachments settle (IAM_NEW_ENTITY, IAM_SETTLING, IAM_DELETE);
   - EC2 does not know a just-created instance profile yet: InvalidParameterValue "Invalid IAM Instance
     Profile name" (PROFILE_PROPAGATION, as Terraform does: retry the call that needs the profile, for up to
     two minutes, instead of sleeping before it);
   - an association that our own disassociate left `disassociating` refuses a new one with IncorrectState
     (ASSOCIATION_SETTLING).
   Every other error becomes an AwsCallError at once.

Waiting (`poll`, `wait_consecutive`) polls a bulk read until nothing is pending or the time is up. Sleeping
lives here, in rate_limit.py (token waits) and in imds.py (which runs on instances, standard library only).

    call(client, operation, params=None, retry=None, resource=None, missing=()) -> response, or None when the
        error code is in `missing` (declared once per call: missing=NOT_FOUND reads "no such entity" as None)
    paginate(client, operation, key, params=None, retry=None, resource=None) -> [items]
    RetryPolicy(name, codes, message_mark="", timeout=15, first_delay=1, max_delay=8).within(seconds)
    poll(pending, check, timeout, first_delay=1, max_delay=10) -> set still pending
    wait_consecutive(read, ready, consecutive, timeout, delay=1, what=...) -> the last value read
    read_until_arn(read, timeout=120) -> an IAM structure whose Arn is an ARN (not the unique id)
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass, replace

from ansible_collections.keyless.aws.plugins.module_utils.aws.errors import AwsCallError, error_code, error_message

try:
    from botocore import xform_name
    from botocore.exceptions import BotoCoreError, ClientError
except ImportError:  # pragma: no cover - the sanity import test runs without botocore
    BotoCoreError = ClientError = Exception

    def xform_name(name):
        return re.sub(r"(?<=[a-z0-9])([A-Z])", r"_\1", name).lower()

# botocore's standard retry mode treats these as throttling (botocore/retries/standard.py); so do we, e.g.
# to drain a client-side bucket and to phrase the error after botocore's last attempt.
THROTTLE_CODES = frozenset((
    "Throttling", "ThrottlingException", "ThrottledException", "RequestThrottledException",
    "TooManyRequestsException", "ProvisionedThroughputExceededException", "TransactionInProgressException",
    "RequestLimitExceeded", "BandwidthLimitExceeded", "LimitExceededException", "RequestThrottled",
    "SlowDown", "PriorRequestNotComplete", "EC2ThrottledException",
))
# Transient: botocore retries these codes (and HTTP 5xx) itself; listed to phrase the last failure.
TRANSIENT_CODES = frozenset((
    "InternalError", "InternalFailure", "ServiceUnavailable", "Unavailable", "RequestTimeout",
    "RequestTimeoutException", "PriorRequestNotComplete",
))
PROPAGATION_MARK = "invalid iam instance profile"

THROTTLE_HINT = ("AWS throttled the call on every one of max_attempts attempts: lower the client-side "
                 "rate_limits, raise max_attempts, or run fewer tasks against this account and region at once")
# botocore's standard mode gives each client a retry quota (500 tokens, 5 a retry, 10 after a timeout, one back
# per success: botocore/retries/quota.py); once it is spent, a throttled call fails after ONE attempt whatever
# max_attempts says. Each lane of a fleet run has a client (and so a quota) of its own.
QUOTA_HINT = ("AWS throttled the call and botocore's retry quota of this client was spent (standard retry mode: "
              "500 tokens a client, 5 a retry), so it was not retried: something else calls this account and "
              "region heavily; lower the client-side rate_limits, run fewer tasks at once, or use "
              "retry_mode=adaptive")
TRANSIENT_HINT = "AWS answered with an internal error after every retry: rerun the task"


@dataclass(frozen=True)
class RetryPolicy:
    """Which answers mean "not yet" for one kind of call, and how long to keep asking."""
    name: str
    codes: frozenset
    message_mark: str = ""
    timeout: float = 15.0
    first_delay: float = 1.0
    max_delay: float = 8.0

    def matches(self, exc):
        if error_code(exc) not in self.codes:
            return False
        return not self.message_mark or self.message_mark in error_message(exc).lower()

    def within(self, seconds):
        """The same policy with another time budget (e.g. the propagation_timeout option)."""
        return replace(self, timeout=float(seconds))


IAM_SETTLING = RetryPolicy("IAM settling", frozenset(("ConcurrentModification",)))
# IAM propagation takes seconds, sometimes longer: Terraform waits up to 2 minutes (PropagationTimeout,
# terraform-provider-aws internal/service/iam) and retries NoSuchEntity "The role with name ... cannot be found"
# on AddRoleToInstanceProfile; so do we, paying only when IAM is actually behind. The retries stay 2 s apart
# at most: a doubling backoff to 10 s turned an 8 s propagation into a 15 s wait (measured through the strict
# layer at AWS's clock), and these are single IAM calls, not a fleet's.
IAM_NEW_ENTITY = RetryPolicy("a just-created IAM entity propagating", frozenset(("NoSuchEntity", "ConcurrentModification")),
                             timeout=120.0, max_delay=2.0)
IAM_DELETE = RetryPolicy("IAM detachments settling", frozenset(("DeleteConflict", "ConcurrentModification")))
PROFILE_PROPAGATION = RetryPolicy("EC2 learning a new instance profile", frozenset(("InvalidParameterValue",)),
                                  message_mark=PROPAGATION_MARK, timeout=120.0, max_delay=10.0)
ASSOCIATION_SETTLING = RetryPolicy("the previous association settling", frozenset(("IncorrectState",)),
                                   timeout=60.0, max_delay=10.0)

# Replaced in tests.
_clock = time.monotonic
_sleep = time.sleep


def retry_metadata(exc):
    """botocore's retry record of a failed call: {"attempts", "max_attempts_reached", "quota_reached"}."""
    meta = (getattr(exc, "response", None) or {}).get("ResponseMetadata") or {}
    return {"attempts": (meta.get("RetryAttempts") or 0) + 1,
            "max_attempts_reached": bool(meta.get("MaxAttemptsReached")),
            "quota_reached": bool(meta.get("RetryQuotaReached"))}


def _phrase(exc, operation, resource):
    code = error_code(exc) or ""
    retried = code in THROTTLE_CODES or code in TRANSIENT_CODES or code.isdigit()
    if retried and retry_metadata(exc)["quota_reached"]:
        hint = QUOTA_HINT
    elif code in THROTTLE_CODES:
        hint = THROTTLE_HINT
    elif code in TRANSIENT_CODES or (code[:1] == "5" and code.isdigit()):
        hint = TRANSIENT_HINT
    else:
        hint = None
    return AwsCallError.from_exception(exc, operation, resource, hint)


# What `missing=` usually names: IAM's answer for an entity that does not exist (read as None).
NOT_FOUND = ("NoSuchEntity",)


def retrying(fn, retry, operation, resource=None, retry_if=None, missing=()):
    """fn() until it succeeds, or the error is not one `retry` (or retry_if(exc)) says is temporary, or
    the policy's time is up. An error whose code is in `missing` means "there is none": None is returned.
    Every other botocore error leaves as an AwsCallError."""
    deadline = _clock() + (retry.timeout if retry else 0.0)
    delay = retry.first_delay if retry else 0.0
    while True:
        try:
            return fn()
        except (ClientError, BotoCoreError) as exc:
            temporary = retry is not None and (retry.matches(exc) or (retry_if is not None and retry_if(exc)))
            if not temporary or _clock() + delay > deadline:
                if missing and error_code(exc) in missing:
                    return None  # still missing once the policy's time is up: there is none
                raise _phrase(exc, operation, resource) from exc
        _sleep(delay)
        delay = min(retry.max_delay, delay * 2)


def call(client, operation, params=None, retry=None, resource=None, retry_if=None, missing=()):
    """client.<operation>(**params), with `operation` as AWS names it (CreateRole, DescribeInstances); None when
    the answer's error code is in `missing` (e.g. NOT_FOUND: the read of an entity that does not exist)."""
    method = getattr(client, xform_name(operation))
    return retrying(lambda: method(**(params or {})), retry, operation, resource, retry_if, missing)


def paginate(client, operation, key, params=None, retry=None, resource=None, page_size=None):
    """Every item under `key` of every page of botocore's paginator for `operation`."""
    def run():
        kwargs = dict(params or {})
        if page_size:
            kwargs["PaginationConfig"] = {"PageSize": page_size}
        items = []
        for page in client.get_paginator(xform_name(operation)).paginate(**kwargs):
            items.extend(page.get(key) or ())
        return items
    return retrying(run, retry, operation, resource)


def poll(pending, check, timeout, first_delay=1.0, max_delay=10.0):
    """check(pending) -> the subset still pending, right away and then with growing pauses, until nothing
    is pending or the next pause would pass `timeout` seconds. Returns what is still pending."""
    pending = set(pending)
    deadline = _clock() + timeout
    delay = first_delay
    while pending:
        pending = set(check(pending))
        if not pending or _clock() + delay > deadline:
            break
        _sleep(delay)
        delay = min(max_delay, delay * 1.5)
    return pending


def read_until_arn(read, timeout=IAM_NEW_ENTITY.timeout, what="the IAM entity", operation="read"):
    """read() -> an IAM structure with "Arn" (or None) until its Arn is an ARN: right after CreateRole /
    CreateInstanceProfile, IAM may answer with the entity's unique id (AROA... / AIPA...) in Arn
    (terraform-provider-aws documents this); such an answer is read again, never trusted."""
    return wait_consecutive(read, lambda raw: raw is None or str(raw.get("Arn") or "").startswith("arn:"), 1,
                            timeout, 1.0, "%s (an ARN, not its unique id)" % what, operation)


def wait_consecutive(read, ready, consecutive, timeout, delay=1.0, what="the resource", operation="wait"):
    """read() until ready(value) holds on `consecutive` reads in a row (a read that is not ready starts the
    count again): IAM is eventually consistent, and one good read may be followed by a stale one.
    Returns the last value; raises AwsCallError (WaiterTimeout) when `timeout` seconds pass first."""
    deadline = _clock() + timeout
    streak = 0
    value = None
    while True:
        value = read()
        streak = streak + 1 if ready(value) else 0
        if streak >= consecutive:
            return value
        if _clock() + delay > deadline:
            raise AwsCallError(operation, "WaiterTimeout", "%s was not ready on %d reads in a row within %ss"
                               % (what, consecutive, timeout), None, "raise wait_timeout, or check it in the console")
        _sleep(delay)
