"""One playbook run of the bench and what it measured: the fleet modules' arguments, the playbooks (bulk, one
task per instance, the role), Runner (ansible-playbook with the task timer callback and the RSS wrapper) and
summary_of (a module's summary in a run's task records)."""

from __future__ import annotations

import json
import pathlib
import subprocess
import sys
import time

from tests.support.aws_env import aws_env
from tests.support.moto_server import calls

ROOT = pathlib.Path(__file__).resolve().parents[1]

TAG = {"Fleet": "bench"}
PROFILE = "BenchProfile"
# The EC2 APIs the fleet modules and the role call, each with its own bucket on AWS (and in their rate_limits)
FLEET_APIS = ("AssociateIamInstanceProfile", "ModifyInstanceMetadataOptions", "ReplaceIamInstanceProfileAssociation",
              "DisassociateIamInstanceProfile", "DescribeInstances", "DescribeIamInstanceProfileAssociations")
# The deprecated group keys of rate_limits: the default of every other API of the category
GROUPS = {"mutating": "mutating", "describe": "non_mutating"}
# On the local endpoint the client-side buckets (AWS's numbers by default) are opened up, so that the
# endpoint, not a 5-calls-a-second pacing meant for AWS, is the limit being measured; the limiter runs
# use AWS's buckets (scaled) on both sides.
OPEN_LIMITS = {name: {"capacity": 1000000, "refill": 1000000.0} for name in FLEET_APIS + tuple(GROUPS)}


def module_args(module, concurrency, rate_limits=OPEN_LIMITS, ids=None):
    args = {"instance_ids": ids} if ids is not None else {"tags": dict(TAG)}
    if module == "ec2_profile_association":
        args.update(instance_profile=PROFILE, state="present")
    else:
        args.update(http_tokens="required")
    if ids is None:
        args["concurrency"] = concurrency
    if rate_limits:
        args["rate_limits"] = rate_limits
    return args


def bulk_playbook(module, args):
    return ("- name: Bench %s\n  hosts: localhost\n  gather_facts: false\n  tasks:\n"
            "    - name: Bulk %s\n      keyless.aws.%s: %s\n" % (module, module, module, json.dumps(args)))


def loop_playbook(module, args):
    args = dict(args, instance_ids=["{{ item }}"])
    return ("- name: Baseline %s\n  hosts: localhost\n  gather_facts: false\n  tasks:\n"
            "    - name: Per instance %s\n      keyless.aws.%s: %s\n      loop: \"{{ bench_ids }}\"\n"
            % (module, module, module, json.dumps(args)))


def role_playbook(extra):
    role_vars = {"ec2_identity_role_name": "BenchRole", "ec2_identity_instance_tags": dict(TAG),
                 "ec2_identity_report": False}
    role_vars.update(extra or {})
    return ("- name: Bench role\n  hosts: localhost\n  gather_facts: false\n  tasks:\n"
            "    - name: Role ec2_identity\n      ansible.builtin.include_role:\n        name: keyless.aws.ec2_identity\n"
            "      vars: %s\n" % json.dumps(role_vars))


class Runner:
    """Runs one playbook against an endpoint and gathers its figures."""

    def __init__(self, workdir):
        self.workdir = pathlib.Path(workdir)
        self.wrapper = self.workdir / "rss_python"
        self.wrapper.write_text("#!/bin/sh\nexec %s %s \"$@\"\n" % (sys.executable, ROOT / "bench" / "rss_wrap.py"))
        self.wrapper.chmod(0o755)
        self.count = 0

    def run(self, text, endpoint_url, counter_url, check=False, extra_vars=None, measure_rss=True, timeout=7200,
            extra_env=None, inventory=None, args=()):
        """Run playbook `text` (YAML, or a collection playbook name such as keyless.aws.converge) on localhost,
        or on the hosts of `inventory` (a path) with the extra ansible-playbook `args` (e.g. -f 8)."""
        self.count += 1
        if text.startswith("keyless.aws."):
            pb = text
        else:
            pb = self.workdir / ("pb%d.yml" % self.count)
            pb.write_text(text)
        tasks, rss = self.workdir / ("tasks%d.jsonl" % self.count), self.workdir / ("rss%d.jsonl" % self.count)
        cmd = [str(pathlib.Path(sys.executable).parent / "ansible-playbook"), str(pb)]
        cmd += ["-i", str(inventory)] if inventory else ["-i", "localhost,", "-c", "local"]
        cmd += list(args)
        if extra_vars:
            varfile = self.workdir / ("vars%d.json" % self.count)
            varfile.write_text(json.dumps(extra_vars))
            cmd += ["-e", "@%s" % varfile]
        if check:
            cmd.append("--check")
        extra = {"ANSIBLE_CALLBACK_PLUGINS": str(ROOT / "bench" / "callback_plugins"),
                 "ANSIBLE_CALLBACKS_ENABLED": "bench_timer", "KEYLESS_BENCH_TASKS": str(tasks),
                 "KEYLESS_BENCH_RSS": str(rss), "KEYLESS_BENCH_REAL_PYTHON": sys.executable}
        if measure_rss:
            extra["ANSIBLE_PYTHON_INTERPRETER"] = str(self.wrapper)
        extra.update(extra_env or {})
        if counter_url:
            calls(counter_url, reset=True)
        start = time.monotonic()
        proc = subprocess.run(cmd, cwd=str(ROOT), env=aws_env(endpoint_url, extra=extra), capture_output=True,
                              text=True, timeout=timeout, check=False)
        wall = time.monotonic() - start
        counted = calls(counter_url) if counter_url else {"total": 0, "mutating": 0, "counts": {}}
        records = [json.loads(line) for line in tasks.read_text().splitlines()] if tasks.exists() else []
        peaks = [json.loads(line) for line in rss.read_text().splitlines()] if rss.exists() else []
        task_seconds = sum(r["seconds"] for r in records if r["action"].startswith("keyless.aws."))
        out = {"rc": proc.returncode, "wall": round(wall, 3), "task_seconds": round(task_seconds, 3),
               "calls": counted["total"], "mutating": counted["mutating"], "counts": counted["counts"],
               "peak_rss_mb": round(max([p["peak_rss_kib"] for p in peaks] or [0]) / 1024.0, 1) or None,
               "module_cpu_seconds": round(sum(p.get("cpu_seconds", 0) for p in peaks), 3) if peaks else None,
               "tasks": records}
        if proc.returncode != 0:
            out["stdout_tail"] = proc.stdout[-4000:]
            out["stderr_tail"] = proc.stderr[-2000:]
        return out


def summary_of(result):
    for rec in result["tasks"]:
        if rec.get("summary"):
            return rec["summary"]
    return {}
