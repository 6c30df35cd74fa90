"""Start the moto server and the call-counting proxy as their own processes (their own GIL and core), and switch
AWS's rate limiter (the strict layer's rate_limit on the moto server) on for the parts that measure pacing."""

from __future__ import annotations

import os
import pathlib
import subprocess
import sys
import tempfile
import time

from tests.support.aws_proxy import proxy_stats
from tests.support.strict import strict_config, strict_stats

ROOT = pathlib.Path(__file__).resolve().parents[1]


class Process:
    """A helper server started as `python -m <module> --port-file F ...` in the checkout; stopped by its own pid."""

    def __init__(self, module, *args):
        self.tmp = tempfile.mkdtemp(prefix="keyless-bench-")
        port_file = os.path.join(self.tmp, "port")
        env = dict(os.environ, MOTO_IAM_LOAD_MANAGED_POLICIES="true", PYTHONPATH=str(ROOT))
        self.log = open(os.path.join(self.tmp, "log"), "w")
        self.proc = subprocess.Popen([sys.executable, "-m", module, "--port-file", port_file] + list(args),
                                     cwd=str(ROOT), env=env, stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 60
        while not os.path.exists(port_file):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("%s did not start; see %s" % (module, self.log.name))
            time.sleep(0.05)
        with open(port_file) as handle:
            self.url = "http://127.0.0.1:%s" % handle.read().strip()

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()


def moto_server():
    """tests/support/moto_server.py (it pages associations like AWS and serves one call at a time), through the
    strict-AWS layer with every behaviour on, on AWS's own clock (x1): its windows are AWS's in the bench. The
    bench switches rate_limit off where it measures the endpoint and on, at the part's scale, in LimiterRun."""
    return Process("tests.support.moto_server", "--port", "0", "--strict-speed", "1")


class LimiterRun:
    """AWS's per-API EC2 buckets for one part of the bench: the strict layer's rate_limit on the moto server
    (`upstream`), switched on with fresh full buckets at time scale `scale` (its speed: refill x scale, capacity
    unchanged), seen through tests/support/aws_proxy.py with no faults of its own (it counts calls, repeats and
    the window of mutating calls). On exit rate_limit is off again and the layer back at x1.

        with LimiterRun(moto_url, scale) as limiter: ... limiter.url ... limiter.reset_stats(); limiter.stats()
    """

    def __init__(self, upstream, scale):
        self.upstream, self.scale = upstream, float(scale)
        strict_config(upstream, enable=["rate_limit"], speed=self.scale, rate_limit={"limits": {}}, reset_stats=True)
        try:
            self.proxy = Process("tests.support.aws_proxy", "--upstream", upstream, "--services", "ec2")
        except Exception:
            strict_config(upstream, disable=["rate_limit"], speed=1)
            raise
        self.url, self.proc = self.proxy.url, self.proxy.proc

    def reset_stats(self):
        proxy_stats(self.url, reset=True)
        strict_config(self.upstream, reset_stats=True)

    def stats(self):
        """The proxy's counts, with the throttles (per "ec2:Action") and each bucket's state from the strict layer:
        buckets {"account/region/bucket": {capacity, refill, tokens, low, taken, throttled}}."""
        out = proxy_stats(self.url)
        strict = strict_stats(self.upstream)
        throttles = dict(strict["stats"]["refused"].get("rate_limit", {}))
        out.update(throttles=throttles, total_throttles=sum(throttles.values()), scale=strict["speed"],
                   buckets=strict["behaviours"]["rate_limit"]["state"].get("buckets", {}))
        return out

    def stop(self):
        try:
            self.proxy.stop()
        finally:
            strict_config(self.upstream, disable=["rate_limit"], speed=1)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()
