"""Parallel targets at their own limits: many account targets converged in one run of keyless.aws.converge.

A part of bench/run.py (--org-targets, --org-n). AWS's EC2 buckets are per account and region, so targets
must not wait on each other: a run over T targets with forks T should take about as long as its slowest
target alone. Measured on one moto server with AWS's per-API buckets on (the strict layer's rate_limit,
tests/support/strict/rate_limit.py, which keys its buckets by account, learnt from the AssumeRole answers: every
assumed-role session of one account draws from that account's buckets), seen through the counting proxy:

- single: the playbook over one target, alone (two targets, one after the other, each on a fresh fleet:
  the slowest of them is "the slowest single target");
- parallel: the playbook over T targets (T member accounts reached through their assumed role, each with
  its own mixed fleet of N instances seeded with the same mix) with -f T, the free strategy of the playbook.

The figure is parallel wall time / slowest single wall time (issue target: <= 1.2 for 8 targets of 300).
Each target's fleet task time and the run summary's totals are reported too, so a target that waited
on another shows up.
"""

from __future__ import annotations

import json
import os
import pathlib
import resource
import time

from tests.support import fleet_seed

DEPLOYER = "keyless-deployer"
PROFILE = "BenchProfile"
TAG = {"Fleet": "org-bench"}


def account_ids(count, first):
    return ["%012d" % (first + i) for i in range(count)]


def seed_accounts(url, accounts, n, log, region="us-east-1"):
    start = time.monotonic()
    fleets = {}
    for account in accounts:
        with fleet_seed.as_role(url, "arn:aws:iam::%s:role/%s" % (account, DEPLOYER)):
            fleets[account] = fleet_seed.seed_fleet(url, n, region=region, mix="realistic", prefix="org", tag=TAG,
                                                    correct_profile=PROFILE, seed=0, batch=250)
    log("seeded %d accounts x %d instances (%s) in %.1fs" % (len(accounts), n, region, time.monotonic() - start))
    return fleets


def write_inventory(path, accounts, rate_limits, report_dir, regions=("us-east-1",)):
    """An inventory of one target per account and region (host acct<account>-<region>), each reached through the
    account's assumed role."""
    hosts = {"acct%s-%s" % (account, region): {"aws_region": region, "aws_account_id": account,
                                               "aws_assume_role_arn": "arn:aws:iam::%s:role/%s" % (account, DEPLOYER)}
             for account in accounts for region in regions}
    group_vars = {"ansible_connection": "local", "ansible_python_interpreter": "{{ ansible_playbook_python }}",
                  "ec2_identity_role_name": "BenchRole", "ec2_identity_instance_profile_name": PROFILE,
                  "ec2_identity_instance_tags": TAG, "ec2_identity_rate_limits": rate_limits,
                  "ec2_identity_safe_rollout": False, "ec2_identity_report_dir": str(report_dir)}
    path.write_text(json.dumps({"aws_targets": {"hosts": hosts, "vars": group_vars}}))
    return path


def fleet_tasks(res):
    """{target: seconds of its ec2_instance_identity task}."""
    return {r["host"]: r["seconds"] for r in res["tasks"] if r["action"] == "keyless.aws.ec2_instance_identity"}


def fleet_timings(res):
    """{target: the fleet module's own seconds per phase (observe, apply, wait)}: a target whose apply phase
    took longer than alone waited on something shared; a longer observe is the machine's CPU."""
    return {r["host"]: r.get("timings") for r in res["tasks"] if r["action"] == "keyless.aws.ec2_instance_identity"}


def process_cpu(pid):
    """User + system CPU seconds of a running process (Linux /proc), or 0.0."""
    try:
        fields = pathlib.Path("/proc/%d/stat" % pid).read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / float(os.sysconf("SC_CLK_TCK"))


def children_cpu():
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def measure(runner, proxy_url, moto_url, workdir, n, targets, rate_limits, log, problems, servers=None):
    """Rows: two single-target runs, then one run over `targets` targets (an int or a list of ints) with -f targets,
    each on its own accounts. Each row also has the
    CPU seconds spent: by ansible-playbook and everything it ran (forks, modules), and by the servers
    (moto, the limiter proxy), since on a small machine CPU, not the buckets, can set the pace."""
    servers = servers or {}
    workdir = pathlib.Path(workdir)
    sizes = sorted(set(targets)) if isinstance(targets, (list, tuple)) else [targets]
    singles = account_ids(2, 310000000001)
    groups = [account_ids(size, 320000000001 + 1000 * index) for index, size in enumerate(sizes)]
    seed_accounts(moto_url, singles + [a for group in groups for a in group], n, log)
    rows = []
    for label, accounts in [("single", [a]) for a in singles] + [("parallel", group) for group in groups]:
        report_dir = workdir / ("org-reports-%s-%s" % (label, accounts[0]))
        inv = write_inventory(workdir / ("org-%s-%s.json" % (label, accounts[0])), accounts, rate_limits, report_dir)
        cpu_before = dict({name: process_cpu(pid) for name, pid in servers.items()}, ansible=children_cpu())
        res = runner.run("keyless.aws.converge", proxy_url, moto_url, inventory=inv, args=["-f", str(len(accounts))],
                         measure_rss=False)
        cpu = dict({name: process_cpu(pid) for name, pid in servers.items()}, ansible=children_cpu())
        cpu = {name: round(cpu[name] - cpu_before[name], 1) for name in cpu}
        per_target = fleet_tasks(res)
        summary_path = report_dir / "summary.json"
        summary = json.loads(summary_path.read_text()) if summary_path.exists() else {}
        totals = summary.get("totals", {})
        row = {"part": label, "targets": len(accounts), "n": n, "wall": res["wall"], "rc": res["rc"],
               "calls": res["calls"], "mutating": res["mutating"], "fleet_task_seconds": per_target,
               "slowest_fleet_task": max(per_target.values()) if per_target else None,
               "summary_totals": totals, "cpu_seconds": cpu,
               "fleet_timings": fleet_timings(res),
               "tasks": [[r.get("host"), r["task"], r["seconds"], r.get("ended")] for r in res["tasks"]]}
        rows.append(row)
        log("org %s: %d target(s) x %d: wall %.1fs, fleet tasks %s, CPU s %s, summary %s, rc %d"
            % (label, len(accounts), n, res["wall"], sorted(per_target.values()), cpu, totals, res["rc"]))
        if res["rc"] != 0:
            problems.append("org %s run failed: %s" % (label, (res.get("stdout_tail") or "")[-1500:]))
        elif totals.get("targets") != len(accounts) or totals.get("failed") or totals.get("targets_failed"):
            problems.append("org %s: the summary does not add up: %s" % (label, totals))
    slowest_single = max(r["wall"] for r in rows if r["part"] == "single")
    for row in rows:
        if row["part"] == "parallel":
            row["slowest_single"] = slowest_single
            row["ratio"] = round(row["wall"] / slowest_single, 3)
    return rows
