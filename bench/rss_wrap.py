"""Interpreter wrapper for the benchmark: run the real Python on the module, then record its peak RSS.

bench/run.py points ansible_python_interpreter at a two-line shell script that execs this file, so every
module process Ansible starts is a child of this one; RUSAGE_CHILDREN's ru_maxrss is then the module
process's own peak RSS (in KiB on Linux) and CPU time (user + system), appended as a JSON line to $KEYLESS_BENCH_RSS.
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys


def main():
    real = os.environ["KEYLESS_BENCH_REAL_PYTHON"]
    rc = subprocess.call([real] + sys.argv[1:])
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    module = os.path.basename(sys.argv[1]) if len(sys.argv) > 1 else "<stdin>"
    target = os.environ.get("KEYLESS_BENCH_RSS")
    if target:
        record = {"module": module, "peak_rss_kib": usage.ru_maxrss,
                  "cpu_seconds": round(usage.ru_utime + usage.ru_stime, 3)}
        with open(target, "a") as handle:
            handle.write(json.dumps(record) + "\n")
    return rc


if __name__ == "__main__":
    sys.exit(main())
