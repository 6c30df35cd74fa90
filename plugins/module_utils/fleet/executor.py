# -*- coding: utf-8 -*-
# Copyright: keyless.aws contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The fleet engine's back half: execution options, rate-limited clients, a bounded thread pool that
never lets one instance's failure stop the others, and bulk waits.

    execution_argument_spec() -> dict   concurrency, rate_limits, wait, wait_timeout, max_diff_instances
    validate_execution(params) -> list[str]
    FleetRun(ctx, params)               .client(service) -> a boto3 client whose every HTTP attempt takes a
                                        token from the per-API bucket (rate_limit.RateLimiter); .stats();
                                        .phase(name) / .timing_report() -> {observe, apply, wait, total} s
    run_parallel(items, fn, concurrency) -> [fn(item) ...] in input order; fn's exceptions are returned
                                        as Failure(exc) instead of raised
    call_with_throttle_retry(call, retries=4, delay=2.0, sleep=time.sleep)
                                        botocore already retried throttling (standard/adaptive mode); a
                                        throttle that exhausted those attempts is retried here a few more
                                        times after a pause (the bucket was drained, so pacing resyncs)
    describe_error(exc) -> str          one line for a per-instance failure reason
    wait_until(pending, check, timeout, clock=, sleep=, first_delay=1.0, max_delay=10.0) -> set
                                        polls check(pending) -> still-pending subset until empty or timeout;
                                        returns what is still pending
"""

from __future__ import annotations

import concurrent.futures
import time

from ansible_collections.keyless.aws.plugins.module_utils.aws.errors import AwsCallError, is_throttle
from ansible_collections.keyless.aws.plugins.module_utils.aws.rate_limit import RateLimiter, validate_rate_limits

try:
    from botocore.exceptions import BotoCoreError, ClientError
    from botocore.parsers import ResponseParserError
except ImportError:  # pragma: no cover - sanity import test runs without botocore
    BotoCoreError = ClientError = ResponseParserError = Exception

CONCURRENCY_RANGE = (1, 64)


def execution_argument_spec():
    return dict(
        concurrency=dict(type="int", default=10),
        rate_limits=dict(type="dict"),
        wait=dict(type="bool", default=True),
        wait_timeout=dict(type="int", default=300),
        max_diff_instances=dict(type="int", default=50),
    )


def validate_execution(params):
    errors = []
    low, high = CONCURRENCY_RANGE
    concurrency = params.get("concurrency")
    if concurrency is not None and not low <= concurrency <= high:
        errors.append("concurrency=%r: must be from %d to %d" % (concurrency, low, high))
    timeout = params.get("wait_timeout")
    if timeout is not None and timeout < 1:
        errors.append("wait_timeout=%r: must be at least 1 second" % (timeout,))
    max_diff = params.get("max_diff_instances")
    if max_diff is not None and max_diff < 0:
        errors.append("max_diff_instances=%r: must be 0 or more" % (max_diff,))
    errors.extend(validate_rate_limits(params.get("rate_limits")))
    return errors


class FleetRun:
    """Clients for one fleet module run, all paced by one RateLimiter."""

    def __init__(self, ctx, params, clock=time.monotonic, sleep=time.sleep):
        self.ctx = ctx
        self.limiter = RateLimiter(params.get("rate_limits"), clock=clock, sleep=sleep)
        self._clients = {}
        self.observe_calls = None
        self.clock = clock
        self._last = self._start = clock()
        self.timings = {}

    def phase(self, name):
        """Record the seconds since the previous phase ended under `name` (observe, apply, wait)."""
        now = self.clock()
        self.timings[name] = round(self.timings.get(name, 0.0) + now - self._last, 3)
        self._last = now

    def timing_report(self):
        report = dict(self.timings)
        report["total"] = round(self.clock() - self._start, 3)
        return report

    def client(self, service):
        if service not in self._clients:
            self._clients[service] = self.limiter.attach(self.ctx.client(service))
        return self._clients[service]

    def stats(self):
        return self.limiter.stats()


class Failure:
    """An exception raised by one item's work, kept as a value."""

    def __init__(self, exc):
        self.exc = exc

    def __repr__(self):
        return "Failure(%r)" % (self.exc,)


def _guard(fn, item):
    try:
        return fn(item)
    except Exception as exc:  # pylint: disable=broad-except  # one instance must never stop the others
        return Failure(exc)


def run_parallel(items, fn, concurrency):
    items = list(items)
    if not items:
        return []
    if concurrency <= 1 or len(items) == 1:
        return [_guard(fn, item) for item in items]
    with concurrent.futures.ThreadPoolExecutor(max_workers=min(concurrency, len(items))) as pool:
        return list(pool.map(lambda item: _guard(fn, item), items))


def call_with_throttle_retry(call, retries=4, delay=2.0, sleep=time.sleep):
    attempt = 0
    while True:
        try:
            return call()
        except (ClientError, ResponseParserError) as exc:
            # ResponseParserError: a 5xx with a body that is not AWS's (a proxy's HTML error page), which
            # botocore does not retry
            garbled = isinstance(exc, ResponseParserError) and not isinstance(exc, ClientError)
            if attempt >= retries or not (garbled or is_throttle(exc)):
                raise
        sleep(delay * (2 ** attempt))
        attempt += 1


def describe_error(exc, operation=None, resource=None):
    if isinstance(exc, AwsCallError):
        return exc.text()
    if isinstance(exc, ClientError) and hasattr(exc, "response"):
        return AwsCallError.from_client_error(exc, operation, resource).text()
    if isinstance(exc, BotoCoreError):
        return "%s failed: %s" % (operation or "AWS call", exc)
    return "%s failed: %s: %s" % (operation or "AWS call", type(exc).__name__, exc)


def wait_until(pending, check, timeout, clock=time.monotonic, sleep=time.sleep, first_delay=1.0, max_delay=10.0):
    """Poll in bulk until nothing is pending; the first poll happens right away."""
    pending = set(pending)
    deadline = clock() + timeout
    delay = first_delay
    while pending:
        pending = set(check(pending))
        if not pending or clock() + delay > deadline:
            break
        sleep(delay)
        delay = min(max_delay, delay * 1.5)
    return pending
