"""Start the moto server and the rate-limiting proxy as their own processes (their own GIL and core)."""

from __future__ import annotations

import os
import pathlib
import subprocess
import sys
import tempfile
import time

ROOT = pathlib.Path(__file__).resolve().parents[1]


class Process:
    """A helper server started as `python <script> --port-file F ...`; stopped by its own pid."""

    def __init__(self, script, *args):
        self.tmp = tempfile.mkdtemp(prefix="keyless-bench-")
        port_file = os.path.join(self.tmp, "port")
        env = dict(os.environ, MOTO_IAM_LOAD_MANAGED_POLICIES="true", PYTHONPATH=str(ROOT))
        self.log = open(os.path.join(self.tmp, "log"), "w")
        self.proc = subprocess.Popen([sys.executable, str(ROOT / script), "--port-file", port_file] + list(args),
                                     cwd=str(ROOT), env=env, stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 60
        while not os.path.exists(port_file):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("%s did not start; see %s" % (script, self.log.name))
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
    """tests/support/moto_server.py (it pages associations like AWS and serves one call at a time)."""
    return Process("tests/support/moto_server.py", "--port", "0")


def limiter_proxy(upstream, scale):
    return Process("tests/support/aws_proxy.py", "--upstream", upstream, "--limiter-scale", str(scale),
                   "--services", "ec2")
