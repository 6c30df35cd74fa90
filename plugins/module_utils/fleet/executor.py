# -*- coding: utf-8 -*-
# Copyright: keyless.aws contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The fleet engine's execution: options, rate-limited clients, and lanes of threads that drain AWS's
buckets at the same time. Private to the collection.

AWS meters each EC2 API with its own token bucket per account and region (AssociateIamInstanceProfile
100/5, ModifyInstanceMetadataOptions 100/5, DisassociateIamInstanceProfile 100/5,
ReplaceIamInstanceProfileAssociation 50/5). One
thread pool for every call would let threads waiting for one bucket's tokens hold up calls that another
bucket could serve now, so a fleet would converge in the sum of the buckets' times. Each lane here is the
pool of one bucket: the lanes run at the same time, and a fleet converges in the time of its slowest bucket.

    execution_argument_spec() -> dict   concurrency, rate_limits, wait, wait_timeout, max_diff_instances
    validate_execution(params) -> list[str]
    FleetRun(ctx, params)               .client(service, lane=None) -> a boto3 client whose every HTTP attempt
                                        takes a token from its API's bucket (rate_limit.RateLimiter); each lane
                                        has a client of its own, so a lane's retries draw on its own retry
                                        quota (botocore's standard mode: 500 tokens a client) and throttling
                                        in one lane never exhausts another's; .stats();
                                        .phase(name) / .timing_report() -> {observe, apply, wait, total} s
    Lanes(concurrency)                  .submit(lane, fn, *args) -> Future, from any thread (a task may submit
                                        the next step of its instance); .join() waits for every task,
                                        follow-ups included; exceptions stay in the futures (Failure(exc))
    Failure(exc)                        one instance's exception, kept as a value (aws/parallel.py)
"""

from __future__ import annotations

import concurrent.futures
import threading
import time

from ansible_collections.keyless.aws.plugins.module_utils.fleet.ownership import PROTECTED_KINDS
from ansible_collections.keyless.aws.plugins.module_utils.aws.parallel import WORKERS_RANGE, guarded, thread_pool
from ansible_collections.keyless.aws.plugins.module_utils.aws.rate_limit import RateLimiter, validate_rate_limits

# Lanes a fleet run may open at once: Associate, Replace, Disassociate, Modify, plus one spare.
MAX_LANES = 5


def execution_argument_spec():
    return dict(
        concurrency=dict(type="int", default=10),
        rate_limits=dict(type="dict"),
        wait=dict(type="bool", default=True),
        wait_timeout=dict(type="int", default=300),
        max_diff_instances=dict(type="int", default=50),
        include_owned=dict(type="list", elements="str", default=[], choices=list(PROTECTED_KINDS)),
    )


def validate_execution(params):
    errors = []
    low, high = WORKERS_RANGE
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


def connection_pool_size(params):
    """HTTP connections one client needs: every lane's threads, plus the bulk reads of the waits."""
    return MAX_LANES * (params.get("concurrency") or 10) + 4


class FleetRun:
    """Clients for one fleet module run, all paced by one RateLimiter."""

    def __init__(self, ctx, params, clock=time.monotonic):
        self.ctx = ctx
        self.limiter = RateLimiter(params.get("rate_limits"))
        self._clients = {}
        self._lock = threading.Lock()
        self.observe_calls = None
        self.owners = {}  # instance id -> its owner (ownership.owner_of), for every selected instance that has one
        self.stop_reason = None
        self.waves = []  # per wave of the rollout: what was enforced, watched, rolled back (rollout.Rollout)
        self.clock = clock
        self._last = self._start = clock()
        self.timings = {}

    def phase(self, name):
        """Record the seconds since the previous phase ended under `name` (observe, apply, wait, watch)."""
        now = self.clock()
        self.timings[name] = round(self.timings.get(name, 0.0) + now - self._last, 3)
        self._last = now

    def timing_report(self):
        report = dict(self.timings)
        report["total"] = round(self.clock() - self._start, 3)
        return report

    def client(self, service, lane=None):
        key = (service, lane)
        with self._lock:
            if key not in self._clients:
                self._clients[key] = self.limiter.attach(self.ctx.client(service, lane=lane))
            return self._clients[key]

    def stats(self):
        return self.limiter.stats()


class Lanes:
    """One thread pool per lane (aws/parallel.py's thread_pool: the collection's other parallel work is
    parallel_map over the same pool); every task's outcome (or Failure) is its future's result."""

    def __init__(self, concurrency):
        self.concurrency = max(1, concurrency)
        self._pools = {}
        self._futures = []
        self._lock = threading.Lock()

    def submit(self, lane, fn, *args):
        with self._lock:
            pool = self._pools.get(lane)
            if pool is None:
                pool = self._pools[lane] = thread_pool(self.concurrency, "keyless-%s" % lane)
            future = pool.submit(guarded, fn, *args)
            self._futures.append(future)
        return future

    def join(self):
        """Wait until every task (and every task those tasks submitted) is done."""
        seen = 0
        while True:
            with self._lock:
                batch = self._futures[seen:]
            if not batch:
                break
            concurrent.futures.wait(batch)
            seen += len(batch)
        with self._lock:
            pools = list(self._pools.values())
        for pool in pools:
            pool.shutdown(wait=True)
