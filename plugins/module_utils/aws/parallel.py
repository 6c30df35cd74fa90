# -*- coding: utf-8 -*-
# Copyright: keyless.aws contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The one way this collection runs work in parallel: a bounded thread pool. Private to the collection.

    parallel_map(fn, items, workers, outcomes=False) -> list
        fn(item) for every item, at most `workers` at a time, results in the items' order. Every item runs to
        its end; then the first exception (in the items' order) is raised in the caller's thread, or, with
        outcomes=True, each exception is returned in its item's place as Failure(exc).
    thread_pool(workers, name) -> concurrent.futures.ThreadPoolExecutor
        the pool itself, for a caller that submits work as it goes (the fleet executor's lanes, one per
        AWS bucket, are the only one).
    guarded(fn, *args) -> fn(*args), or Failure(exc) when it raised
    Failure(exc)        one item's exception, kept as a value: it never stops the others
    entry_contexts(entries, make) -> list
        one AwsContext (or Failure) per entry of a module over many entries, made in the caller's thread:
        make(entry, loader) with the first context's model loader; an entry with `errors` (its input, kept apart) is
        Failure(InputError(errors)), and a context that cannot be made fails its entry only
    WORKERS_RANGE; workers_problems(value, option="concurrency") -> list[str]
        the bound on a module's workers (its `concurrency` option), and the message when a value is outside it

Rate limits are not this module's business: an EC2 client of a fleet run is paced by the RateLimiter attached to
it (rate_limit.py), so whatever thread calls it draws from its API's bucket. boto3 clients are thread-safe;
create them in the caller's thread when a session is shared (boto3 sessions are not).
"""

from __future__ import annotations

import concurrent.futures

from ansible_collections.keyless.aws.plugins.module_utils.aws.errors import InputError

# every module's `concurrency` option: threads of one module process
WORKERS_RANGE = (1, 64)


def workers_problems(value, option="concurrency"):
    """Pure: [] or the one message saying `value` is outside WORKERS_RANGE."""
    low, high = WORKERS_RANGE
    return [] if low <= value <= high else ["%s=%r is out of range: use %d to %d" % (option, value, low, high)]


class Failure:
    """An exception raised by one item's work, kept as a value."""

    def __init__(self, exc):
        self.exc = exc

    def __repr__(self):
        return "Failure(%r)" % (self.exc,)


def guarded(fn, *args):
    try:
        return fn(*args)
    except Exception as exc:  # pylint: disable=broad-except  # one item must never stop the others
        return Failure(exc)


def thread_pool(workers, name="keyless"):
    return concurrent.futures.ThreadPoolExecutor(max_workers=max(1, workers), thread_name_prefix=name)


def parallel_map(fn, items, workers, outcomes=False):
    """See the module docstring."""
    items = list(items)
    if not items:
        return []
    with thread_pool(min(workers, len(items))) as pool:
        futures = [pool.submit(guarded, fn, item) for item in items]
    results = [future.result() for future in futures]
    if not outcomes:
        for value in results:
            if isinstance(value, Failure):
                raise value.exc
    return results


def entry_contexts(entries, make):
    """See the module docstring. Made here, in one thread: a boto3 session is not thread-safe (its clients are), and
    a service model loaded once serves every context. A context or client that cannot be made (a profile not in the
    config files, a credential_process that fails) is its entry's Failure."""
    contexts, loader = [], None
    for entry in entries:
        if entry.errors:  # its input (a prepare's isolate): its row says why, no call is made for it
            contexts.append(Failure(InputError(entry.errors)))
            continue
        ctx = guarded(make, entry, loader)
        if loader is None and not isinstance(ctx, Failure):
            loader = ctx.loader()
        contexts.append(ctx)
    return contexts
