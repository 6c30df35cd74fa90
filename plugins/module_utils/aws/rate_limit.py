# -*- coding: utf-8 -*-
# Copyright: keyless.aws contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Client-side token buckets that mirror AWS's own, so a fleet run stays under the account's limit
instead of bouncing off it.

EC2 meters API calls per account and region with token buckets: a bucket starts full at `capacity` and
refills continuously at `refill` tokens a second; a call takes one token or is answered
RequestLimitExceeded. Mirroring that exactly (start full, refill continuously, one token per HTTP
attempt, retries included) makes the k-th call wait max(0, (k - capacity) / refill) seconds: a
1,000-instance converge takes (1000 - 100) / 5 = 180 s and no more. Each API has its own bucket (EC2 evaluates
each API individually), so the calls of different APIs never wait for each other: a run takes the time of its
slowest API's bucket.

    TokenBucket(capacity, refill, clock=time.monotonic, sleep=time.sleep)
        .reserve() -> seconds to wait for the token just reserved (tokens may go negative: a queue;
                      near empty, GUARD_SECONDS of refill are set aside once against latency jitter)
        .acquire() -> seconds waited;  .drain(): the server said it is empty, so believe it
    RateLimiter(rate_limits=None, clock=..., sleep=...)
        .bucket_for(service, operation) -> TokenBucket or None
        .attach(client): every HTTP attempt of that client takes a token first (botocore
            `before-send`); a throttled answer drains the bucket (botocore `needs-retry`).
        .stats() -> {"by_operation": {op: attempts}, "total": n, "throttled": n, "waited_seconds": s}
    CATEGORY_LIMITS, DEFAULT_RATE_LIMITS, category_of(operation), validate_rate_limits(value) -> list[str],
    merged_limits(value) -> (per-API limits, per-category limits), limit_of(...) -> {capacity, refill} or None

Private to the collection: no stable API.
"""

from __future__ import annotations

import re
import threading
import time

from ansible_collections.keyless.aws.plugins.module_utils.aws.retries import THROTTLE_CODES

# EC2 meters each API action with its own token bucket per account and region ("each API is evaluated
# individually": EC2 developer guide, "Request throttling for the Amazon EC2 API"); an action's default bucket
# comes from its category, and some actions have published buckets of their own. One bucket per API here too,
# (capacity, refill per second) from that page:
CATEGORY_LIMITS = {
    "non_mutating": {"capacity": 100, "refill": 20.0},   # Describe*, Get*, List*, Search*
    "mutating": {"capacity": 50, "refill": 5.0},         # every other action without a bucket of its own
}
# Actions the collection calls whose published bucket differs from their category's default (the same page's
# table; ReplaceIamInstanceProfileAssociation is not in it: the mutating default).
DEFAULT_RATE_LIMITS = {
    "ModifyInstanceMetadataOptions": {"capacity": 100, "refill": 5.0},
    "AssociateIamInstanceProfile": {"capacity": 100, "refill": 5.0},
    "DisassociateIamInstanceProfile": {"capacity": 100, "refill": 5.0},
    "CreateLaunchTemplateVersion": {"capacity": 100, "refill": 5.0},
    "ModifyLaunchTemplate": {"capacity": 100, "refill": 5.0},
    "ModifyInstanceMetadataDefaults": {"capacity": 2, "refill": 2.0},
}
# Deprecated keys of the rate_limits option, kept working: before EC2's buckets were modelled per API, these
# named shared buckets. Each now overrides its category's default for every API of the category that has no
# entry of its own (each API still has its own bucket): "mutating" -> mutating, "describe" -> non-mutating.
GROUP_NAMES = ("mutating", "describe")
GROUP_CATEGORY = {"mutating": "mutating", "describe": "non_mutating"}
# The default buckets are EC2's; other services (IAM, CloudWatch, STS) get one only when asked.
DEFAULT_SERVICE = "ec2"
# EC2's non-mutating category: every read.
READ_PREFIXES = ("Describe", "Get", "List", "Search")
OPERATION_RE = re.compile(r"^[A-Z][A-Za-z0-9]{2,100}$")


def validate_rate_limits(value):
    """Pure checks of the rate_limits option; returns a list of error messages."""
    if value is None:
        return []
    if not isinstance(value, dict):
        return ["rate_limits=%r: must be a dict of API name -> {capacity: int, refill: float}" % (value,)]
    errors = []
    for name, spec in value.items():
        if name not in GROUP_NAMES and not OPERATION_RE.match(str(name)):
            errors.append("rate_limits key %r: use an AWS API name such as ModifyInstanceMetadataOptions (or the "
                          "deprecated 'mutating' / 'describe', the default of every EC2 API of that category)"
                          % (name,))
            continue
        if not isinstance(spec, dict) or set(spec) - {"capacity", "refill"} or not spec:
            errors.append("rate_limits[%r]=%r: must be {capacity: int >= 1, refill: number > 0}" % (name, spec))
            continue
        base = DEFAULT_RATE_LIMITS.get(name) or CATEGORY_LIMITS.get(GROUP_CATEGORY.get(name), {})
        capacity = spec.get("capacity", base.get("capacity"))
        refill = spec.get("refill", base.get("refill"))
        try:
            ok_cap = capacity is not None and int(capacity) == float(capacity) and int(capacity) >= 1
        except (TypeError, ValueError):
            ok_cap = False
        if not ok_cap:
            errors.append("rate_limits[%r].capacity=%r: must be a whole number >= 1" % (name, capacity))
        try:
            ok_refill = refill is not None and float(refill) > 0
        except (TypeError, ValueError):
            ok_refill = False
        if not ok_refill:
            errors.append("rate_limits[%r].refill=%r: must be a number of tokens per second > 0" % (name, refill))
    return errors


def category_of(operation):
    """EC2's throttling category of an API action: non_mutating (reads) or mutating."""
    return "non_mutating" if operation.startswith(READ_PREFIXES) else "mutating"


def _overlay(base, spec):
    return {"capacity": int(spec.get("capacity", base.get("capacity", 1))),
            "refill": float(spec.get("refill", base.get("refill", 1.0)))}


def merged_limits(value):
    """(per-API limits, per-category limits): the defaults overlaid with the rate_limits option (validated)."""
    categories = {k: dict(v) for k, v in CATEGORY_LIMITS.items()}
    limits = {k: dict(v) for k, v in DEFAULT_RATE_LIMITS.items()}
    for name, spec in (value or {}).items():
        if name in GROUP_CATEGORY:
            category = GROUP_CATEGORY[name]
            categories[category] = _overlay(categories[category], spec)
    for name, spec in (value or {}).items():
        if name not in GROUP_CATEGORY:
            limits[name] = _overlay(limits.get(name) or categories[category_of(name)], spec)
    return limits, categories


def limit_of(limits, categories, service, operation):
    """{capacity, refill} of one API's bucket, or None when the API is not paced (see RateLimiter)."""
    if operation in limits:
        return limits[operation]
    if service == DEFAULT_SERVICE:
        return categories[category_of(operation)]
    return None


# Our bucket starts when we reserve the first token; AWS's schedule starts when that first request
# arrives, one network latency later, and each later request travels a little faster or slower. A request
# that travels faster than those before it arrives early on AWS's schedule, and one that arrives when AWS's
# bucket holds less than a token is throttled. So a guard's worth of refill (GUARD_SECONDS * refill tokens)
# is set aside once, when the bucket first gets within that margin of empty (fewer than 1 + margin tokens),
# and comes back only when the bucket is full again: from then on every call leaves AWS's bucket at least
# the margin above ours, and the run still takes (N - capacity) / refill + GUARD_SECONDS, the guard does not
# accumulate. Measured through the simulated limiter at 10,000 instances (refill 10/s): adding the guard
# to each wait instead was refunded by the refill during that wait (one throttled call at guard 0.1 s);
# setting it aside only once the bucket was empty left the calls that took the last tokens on the way down
# with no margin at all (1 to 4 throttled calls in ~4,950 AssociateIamInstanceProfile, whose demand
# hovers around the refill rate, with guard 0.25 s and 1 s alike); setting it aside on the way down: 0.
# The guard is the jitter tolerated between our reservation and AWS's arrival (max latency - min latency,
# GIL and scheduler stalls included); one second costs at most one second per bucket per queue episode.
GUARD_SECONDS = 1.0


class TokenBucket:
    """An exact token bucket: full at start, continuous refill, reservations queue in arrival order."""

    def __init__(self, capacity, refill, clock=time.monotonic, sleep=time.sleep, guard=GUARD_SECONDS):
        if capacity < 1 or refill <= 0:
            raise ValueError("capacity must be >= 1 and refill > 0")
        self.capacity = float(capacity)
        self.refill = float(refill)
        self.clock = clock
        self.sleep = sleep
        self.tokens = float(capacity)
        self.stamp = clock()
        self.guard = guard
        self.shifted = False  # the guard is set aside (near empty); undone when the bucket is full again
        self.lock = threading.Lock()

    def _update(self, now):
        if now > self.stamp:
            self.tokens = min(self.capacity, self.tokens + (now - self.stamp) * self.refill)
            self.stamp = now
            if self.tokens >= self.capacity:
                self.shifted = False

    def reserve(self):
        """Take one token; return how long the caller must wait before using it (0 if available now)."""
        with self.lock:
            self._update(self.clock())
            margin = self.guard * self.refill
            # within the margin of empty (or, for a bucket smaller than the margin, below full): set it aside
            if not self.shifted and self.tokens < 1.0 + min(margin, self.capacity - 1.0):
                self.tokens -= margin
                self.shifted = True
            self.tokens -= 1.0
            if self.tokens >= 0:
                return 0.0
            return -self.tokens / self.refill

    def acquire(self):
        wait = self.reserve()
        if wait > 0:
            self.sleep(wait)
        return wait

    def drain(self):
        """AWS answered 'throttled': its bucket is empty now, whatever we computed."""
        with self.lock:
            self._update(self.clock())
            self.tokens = min(self.tokens, 0.0)


class RateLimiter:
    """One TokenBucket per AWS API, as AWS meters them, applied to botocore clients through events.

    EC2 APIs get their bucket by default (their published one, else their category's); an API of another
    service only when the rate_limits option names it."""

    def __init__(self, rate_limits=None, clock=time.monotonic, sleep=time.sleep):
        self.limits, self.categories = merged_limits(rate_limits)
        self.clock = clock
        self.sleep = sleep
        self.buckets = {}
        self.lock = threading.Lock()
        self.counts = {}
        self.throttled = 0
        self.waited = 0.0
        self._attached = set()

    def bucket_for(self, service, operation):
        with self.lock:
            bucket = self.buckets.get(operation)
            if bucket is None:
                spec = limit_of(self.limits, self.categories, service, operation)
                if spec is None:
                    return None
                bucket = self.buckets[operation] = TokenBucket(spec["capacity"], spec["refill"], self.clock,
                                                               self.sleep)
            return bucket

    def before_send(self, service, operation):
        """Count the attempt and wait for its token."""
        with self.lock:
            self.counts[operation] = self.counts.get(operation, 0) + 1
        bucket = self.bucket_for(service, operation)
        if bucket is not None:
            waited = bucket.acquire()
            if waited:
                with self.lock:
                    self.waited += waited

    def on_response(self, service, operation, code):
        if code in THROTTLE_CODES:
            with self.lock:
                self.throttled += 1
            bucket = self.bucket_for(service, operation)
            if bucket is not None:
                bucket.drain()

    def attach(self, client):
        """Route every HTTP attempt of `client` through the buckets (idempotent per client)."""
        if id(client) in self._attached:
            return client
        self._attached.add(id(client))
        service = client.meta.service_model.service_name
        service_id = client.meta.service_model.service_id.hyphenize()

        def before_send(event_name=None, **kwargs):
            self.before_send(service, event_name.rsplit(".", 1)[-1])
            return None  # never short-circuit the request

        def needs_retry(response=None, operation=None, **kwargs):
            if response is not None and operation is not None:
                code = (response[1] or {}).get("Error", {}).get("Code")
                self.on_response(service, operation.name, code)
            return None  # leave the retry decision to botocore

        client.meta.events.register("before-send.%s" % service_id, before_send)
        client.meta.events.register("needs-retry.%s" % service_id, needs_retry)
        return client

    def stats(self):
        with self.lock:
            counts = dict(self.counts)
            return {"by_operation": counts, "total": sum(counts.values()), "throttled": self.throttled,
                    "waited_seconds": round(self.waited, 3)}
