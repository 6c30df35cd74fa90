"""A clock whose sleep() only moves time forward: retries and waits run instantly and are counted."""

from __future__ import annotations


class FakeClock:
    """`now` in seconds from `start`; calling the clock (or .clock()) reads it, .sleep(s) moves it on by s.
    `slept` lists the pauses as asked; `sleeps` the same rounded to the microsecond (exact comparisons)."""

    def __init__(self, start=0.0):
        self.now = float(start)
        self.slept = []

    def __call__(self):
        return self.now

    def clock(self):
        return self.now

    def sleep(self, seconds):
        self.slept.append(seconds)
        self.now += seconds

    @property
    def sleeps(self):
        return [round(seconds, 6) for seconds in self.slept]


def install(monkeypatch, clock=None):
    """Route module_utils/aws/retries.py's clock and sleep through a FakeClock; returns it."""
    from ansible_collections.keyless.aws.plugins.module_utils.aws import retries  # pylint: disable=import-outside-toplevel

    clock = clock or FakeClock()
    monkeypatch.setattr(retries, "_clock", clock)
    monkeypatch.setattr(retries, "_sleep", clock.sleep)
    return clock
