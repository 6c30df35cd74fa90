"""Token bucket math with a fake clock: exact AWS-like pacing."""

from __future__ import annotations

import pytest

from ansible_collections.keyless.aws.plugins.module_utils.aws import rate_limit as rl


class FakeClock:
    def __init__(self):
        self.now = 1000.0
        self.slept = []

    def __call__(self):
        return self.now

    def sleep(self, seconds):
        self.slept.append(seconds)
        self.now += seconds


def test_bucket_starts_full_then_paces_at_refill():
    clock = FakeClock()
    bucket = rl.TokenBucket(100, 5, clock, clock.sleep)
    waits = [bucket.acquire() for dummy in range(1000)]
    assert waits[:100] == [0.0] * 100
    # the whole run takes exactly (N - capacity) / refill, plus the constant latency guard
    assert clock.now - 1000.0 == pytest.approx((1000 - 100) / 5.0 + rl.GUARD_SECONDS)
    assert waits[100] == pytest.approx(0.2 + rl.GUARD_SECONDS)
    assert waits[101] == pytest.approx(0.2)  # the guard shifts the schedule once, it does not accumulate


def test_reservations_queue_without_sleeping_in_the_lock():
    clock = FakeClock()
    bucket = rl.TokenBucket(2, 1, clock, clock.sleep, guard=0.0)
    assert [bucket.reserve() for dummy in range(5)] == [0.0, 0.0, pytest.approx(1.0), pytest.approx(2.0), pytest.approx(3.0)]


def test_refill_is_continuous_and_capped():
    clock = FakeClock()
    bucket = rl.TokenBucket(10, 2, clock, clock.sleep, guard=0.0)
    for dummy in range(10):
        bucket.acquire()
    clock.now += 1.25  # 2.5 tokens back: two calls go now, the third waits for the missing half token
    assert [bucket.reserve() for dummy in range(3)] == [0.0, 0.0, pytest.approx(0.25)]
    clock.now += 100  # capped at the capacity: 10 calls free, the 11th waits a full token
    waits = [bucket.reserve() for dummy in range(11)]
    assert waits[:10] == [0.0] * 10 and waits[10] == pytest.approx(0.5)


def test_drain_on_throttle():
    clock = FakeClock()
    bucket = rl.TokenBucket(100, 5, clock, clock.sleep, guard=0.0)
    bucket.drain()
    assert bucket.reserve() == pytest.approx(0.2)  # empty: the next token is 1/5 s away


def test_bucket_rejects_nonsense():
    with pytest.raises(ValueError):
        rl.TokenBucket(0, 1)
    with pytest.raises(ValueError):
        rl.TokenBucket(1, 0)


def test_default_buckets_are_aws():
    limiter = rl.RateLimiter()
    modify = limiter.bucket_for("ec2", "ModifyInstanceMetadataOptions")
    assert (modify.capacity, modify.refill) == (100, 5)
    assoc = limiter.bucket_for("ec2", "AssociateIamInstanceProfile")
    assert (assoc.capacity, assoc.refill) == (100, 5) and assoc is not modify
    replace = limiter.bucket_for("ec2", "ReplaceIamInstanceProfileAssociation")
    assert replace is limiter.bucket_for("ec2", "DisassociateIamInstanceProfile")
    assert (replace.capacity, replace.refill) == (50, 5)
    describe = limiter.bucket_for("ec2", "DescribeInstances")
    assert describe is limiter.bucket_for("ec2", "DescribeIamInstanceProfileAssociations")
    assert (describe.capacity, describe.refill) == (100, 20)
    assert limiter.bucket_for("iam", "GetInstanceProfile") is None
    assert limiter.bucket_for("monitoring", "GetMetricData") is None


def test_overrides():
    limiter = rl.RateLimiter({"ModifyInstanceMetadataOptions": {"capacity": 10, "refill": 50},
                              "mutating": {"refill": 1}, "GetMetricData": {"capacity": 5, "refill": 1},
                              "ReplaceIamInstanceProfileAssociation": {"capacity": 3, "refill": 3}})
    modify = limiter.bucket_for("ec2", "ModifyInstanceMetadataOptions")
    assert (modify.capacity, modify.refill) == (10, 50)
    dis = limiter.bucket_for("ec2", "DisassociateIamInstanceProfile")
    assert (dis.capacity, dis.refill) == (50, 1)
    rep = limiter.bucket_for("ec2", "ReplaceIamInstanceProfileAssociation")
    assert rep is not dis and (rep.capacity, rep.refill) == (3, 3)
    cw = limiter.bucket_for("monitoring", "GetMetricData")
    assert (cw.capacity, cw.refill) == (5, 1)


def test_limiter_counts_and_drains():
    clock = FakeClock()
    limiter = rl.RateLimiter({"ModifyInstanceMetadataOptions": {"capacity": 1, "refill": 1}}, clock, clock.sleep)
    limiter.before_send("ec2", "ModifyInstanceMetadataOptions")
    limiter.before_send("ec2", "ModifyInstanceMetadataOptions")
    assert clock.slept == [pytest.approx(1.0 + rl.GUARD_SECONDS)]
    limiter.on_response("ec2", "ModifyInstanceMetadataOptions", "RequestLimitExceeded")
    limiter.on_response("ec2", "ModifyInstanceMetadataOptions", None)
    stats = limiter.stats()
    assert stats["by_operation"] == {"ModifyInstanceMetadataOptions": 2}
    assert stats["throttled"] == 1 and stats["total"] == 2 and stats["waited_seconds"] == 1.0 + rl.GUARD_SECONDS


@pytest.mark.parametrize("value, fragment", [
    ("fast", "must be a dict"),
    ({"not an api": {"capacity": 1, "refill": 1}}, "AWS API name"),
    ({"DescribeInstances": {"capacity": 0, "refill": 1}}, "capacity"),
    ({"DescribeInstances": {"capacity": 1.5, "refill": 1}}, "capacity"),
    ({"DescribeInstances": {"capacity": 1, "refill": 0}}, "refill"),
    ({"DescribeInstances": {"capacity": 1, "refill": "x"}}, "refill"),
    ({"DescribeInstances": {"capacity": 1, "refil": 1}}, "must be {capacity"),
    ({"NewApi": {"capacity": 1}}, "refill"),
])
def test_validate_rate_limits(value, fragment):
    errs = rl.validate_rate_limits(value)
    assert len(errs) == 1 and fragment in errs[0]


def test_validate_rate_limits_ok():
    assert rl.validate_rate_limits(None) == []
    assert rl.validate_rate_limits({"mutating": {"refill": 2}, "describe": {"capacity": 10, "refill": 2.5}}) == []


def test_attach_paces_every_http_attempt():
    """Against a real (local moto) HTTP endpoint: each attempt takes a token, once per attach."""
    import boto3
    from tests.support.moto_server import MotoServer
    clock = FakeClock()
    limiter = rl.RateLimiter({"describe": {"capacity": 1, "refill": 2}}, clock, clock.sleep)
    with MotoServer() as server:
        client = boto3.client("ec2", region_name="us-east-1", endpoint_url=server.url,
                              aws_access_key_id="AKIAKEYLESSTESTFAKE1", aws_secret_access_key="x" * 40)
        limiter.attach(client)
        limiter.attach(client)  # idempotent: one token per attempt, not two
        for dummy in range(3):
            client.describe_instances()
    assert limiter.stats()["by_operation"] == {"DescribeInstances": 3}
    # 1 token at start, then 2 more at 2/s (plus the guard once: the clock advanced in the first sleep)
    assert sum(clock.slept) == pytest.approx(1.0 + rl.GUARD_SECONDS)


@pytest.mark.parametrize("refill", [5.0, 10.0, 40.0])
def test_guard_shifts_the_queue_once_and_is_not_refunded(refill):
    """Past the burst, sends are exactly 1/refill apart, all shifted by the guard: no two calls go out together
    (adding the guard to each wait let the refill during the wait pay for the next call when refill*guard >= 1)."""
    clock = FakeClock()
    bucket = rl.TokenBucket(10, refill, clock, clock.sleep)
    sent = []
    for dummy in range(40):
        bucket.acquire()
        sent.append(clock.now - 1000.0)
    queued = sent[10:]
    assert queued[0] == pytest.approx(1.0 / refill + rl.GUARD_SECONDS)
    gaps = [b - a for a, b in zip(queued, queued[1:])]
    assert gaps == [pytest.approx(1.0 / refill)] * len(gaps)
    # idle until full again: a new burst, then the guard once more
    clock.now += 10 / refill + 1
    start = clock.now
    waits = [bucket.acquire() for dummy in range(11)]
    assert waits[:10] == [0.0] * 10 and waits[10] == pytest.approx(1.0 / refill + rl.GUARD_SECONDS)
    assert clock.now - start == pytest.approx(1.0 / refill + rl.GUARD_SECONDS)
