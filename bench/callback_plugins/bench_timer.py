# -*- coding: utf-8 -*-
# Copyright: keyless.aws contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Benchmark callback: per-task wall time and the fleet modules' summaries, written as JSON lines.

Enabled only by bench/run.py (ANSIBLE_CALLBACK_PLUGINS=bench/callback_plugins,
ANSIBLE_CALLBACKS_ENABLED=bench_timer, KEYLESS_BENCH_TASKS=<file>), so the task time excludes the
ansible-playbook start-up that the playbook's own wall time includes.
"""

from __future__ import annotations

DOCUMENTATION = r"""
name: bench_timer
type: aggregate
short_description: record task durations and fleet summaries for the keyless.aws benchmark
description:
  - Appends one JSON line per finished task to the file named by E(KEYLESS_BENCH_TASKS).
requirements:
  - enable in configuration
"""

import json
import os
import time

from ansible.plugins.callback import CallbackBase


def _brief(result):
    """The parts of a module result the benchmark reports (never the per-instance list)."""
    out = {"changed": bool(result.get("changed")), "failed": bool(result.get("failed"))}
    for key in ("summary", "timings"):  # timings: the module's own seconds per phase (observe, apply, wait)
        if key in result:
            out[key] = result[key]
    if result.get("failed_instances"):
        out["failed_instances"] = result["failed_instances"][:20]
    for key in ("msg", "module_stderr", "exception"):
        if result.get(key) and (result.get("failed") or key != "msg"):
            out[key] = str(result[key])[-2000:]
    if "results" in result:  # a loop: count the items
        items = result["results"]
        out["items"] = len(items)
        out["items_changed"] = sum(1 for i in items if i.get("changed"))
        out["items_failed"] = sum(1 for i in items if i.get("failed"))
    return out


class CallbackModule(CallbackBase):
    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = "aggregate"
    CALLBACK_NAME = "bench_timer"
    CALLBACK_NEEDS_ENABLED = True

    def __init__(self):
        super().__init__()
        self._path = os.environ.get("KEYLESS_BENCH_TASKS")
        self._start = {}

    def _write(self, record):
        if self._path:
            with open(self._path, "a") as handle:
                handle.write(json.dumps(record, sort_keys=True) + "\n")

    def v2_playbook_on_task_start(self, task, is_conditional):
        self._start[task._uuid] = time.monotonic()

    def v2_runner_on_start(self, host, task):
        # per host: under the free strategy each target starts a task at its own time
        self._start[(task._uuid, host.get_name())] = time.monotonic()

    def _done(self, result, status):
        task = result._task
        host = result._host.get_name()
        started = self._start.get((task._uuid, host), self._start.get(task._uuid, time.monotonic()))
        record = {"task": task.get_name(), "action": task.action, "status": status, "host": host,
                  "seconds": round(time.monotonic() - started, 3), "ended": round(time.time(), 3)}
        record.update(_brief(result._result))
        self._write(record)

    def v2_runner_on_ok(self, result):
        self._done(result, "ok")

    def v2_runner_on_failed(self, result, ignore_errors=False):
        result._result.setdefault("failed", True)
        self._done(result, "failed")

    def v2_runner_on_skipped(self, result):
        self._done(result, "skipped")  # a skipped task still costs its `when` (templating on the controller)
