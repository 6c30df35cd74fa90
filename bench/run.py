#!/usr/bin/env python
"""keyless.aws fleet benchmark: wall time, API calls and peak RSS at 100 to 10,000 instances.

    make bench                                  # N = 100, 1000, 5000; baseline at 100; limiter at 1000
    .venv/bin/python -m bench.run --with-10k    # adds N = 10,000 (and the limiter at 10,000)
    .venv/bin/python -m bench.run --smoke       # CI: N = 100 only, small baseline, quick limiter run

For every N: seed a fresh moto server (its own process) with N uniform instances (running, no profile,
IMDS tokens optional: every instance needs both changes), then per fleet module -- ec2_profile_association
(BenchProfile) and ec2_metadata_options (http_tokens: required) -- measure --check, the first converge and
the converged rerun: playbook wall time, module task time, API calls and mutating calls counted at the
server, peak RSS of the module process. Side by side, in the same run: the endpoint floor (bench/floor.py)
on an identically seeded fleet, the per-instance baseline (one task per instance in a loop) and the
converge through AWS's per-API rate limiter (the strict layer's rate_limit, tests/support/strict/). Writes
bench/results/latest.{json,md} and a dated copy; exits non-zero only when something did not work
(a module failed, a fleet did not converge, a rerun changed something), never for a missed target
unless --strict.

The moto server serves through the strict-AWS layer (tests/support/strict/) with every behaviour on, at
AWS's own clock (x1), except rate_limit: the bulk, floor, baseline and whole-job rows measure the endpoint, so
AWS's buckets are switched on only for the limiter parts (bench/servers.py LimiterRun, at their time scale),
whose bound is computed per API: max over the APIs a run calls of (calls - capacity) / (refill x scale). The
floor runs with the layer off (it is the endpoint's cost). Fleets are seeded with the layer off
(tests/support/fleet_seed.py): they stand for fleets that existed before the run.
"""

from __future__ import annotations

import argparse
import pathlib
import sys
import tempfile
import time

from bench import floor, one_pass, organization, report, scale, waves
from bench.runner import (FLEET_APIS, GROUPS, OPEN_LIMITS, PROFILE, TAG, Runner, bulk_playbook, loop_playbook,
                          module_args, role_playbook, summary_of)
from bench.servers import LimiterRun, moto_server
from tests.support.fleet_seed import fleet_state, seed_fleet
from tests.support.moto_server import calls, reset_moto
from tests.support.strict import EC2_RATE_LIMITS, bound_seconds, rate_limit_of, strict_config, strict_off

ROOT = pathlib.Path(__file__).resolve().parents[1]

MODULES = ("ec2_profile_association", "ec2_metadata_options")
BUCKET = {"ec2_profile_association": "AssociateIamInstanceProfile",  # the API whose bucket bounds each module
          "ec2_metadata_options": "ModifyInstanceMetadataOptions"}
# The limiter speeds up AWS's clock, not the endpoint: moto takes about 4 s to render a page of 1,000
# instances (AWS about 1 s), and that time before the first mutating call is not scaled. N=1,000 runs on
# AWS's own clock (bound 180 s); N=10,000 at x2 (bound 990 s) keeps the unscaled observe of ten pages
# small against the bound. Faster clocks (--limiter) measure the observe cost instead of the pacing.
DEFAULT_LIMITER_SCALE = {1000: 1.0, 10000: 2.0}


def log(msg):
    sys.stderr.write("[bench %s] %s\n" % (time.strftime("%H:%M:%S"), msg))
    sys.stderr.flush()


def seed(url, n):
    reset_moto(url)
    start = time.monotonic()
    # batches of 250: a 1,000-instance RunInstances can pass botocore's 60 s read timeout on a busy machine
    fleet = seed_fleet(url, n, mix="uniform", prefix="bench", tag=TAG, correct_profile=PROFILE, seed=0, batch=250)
    log("seeded %d instances in %.1fs" % (n, time.monotonic() - start))
    return fleet


def converged(url, ids, profile_arn):
    """Ids (of `ids`) that are not converged, read straight from moto."""
    state = fleet_state(url, ids)
    return sorted(i for i in ids if state.get(i, {}).get("profile_arn") != profile_arn
                  or state.get(i, {}).get("metadata", {}).get("HttpTokens") != "required")


def measure_bulk(runner, url, n, concurrency, problems, ops=("check", "converge", "rerun")):
    """--check, converge, rerun for each module on a fresh fleet of n."""
    fleet = seed(url, n)
    rows = []
    for module in MODULES:
        text = bulk_playbook(module, module_args(module, concurrency))
        for op, check in (("check", True), ("converge", False), ("rerun", False)):
            if op not in ops:
                continue
            res = runner.run(text, url, url, check=check)
            summ = summary_of(res)
            row = dict(res, n=n, module=module, op=op, summary=summ)
            rows.append(row)
            log("N=%d %s %s: %.1fs (task %.1fs), %d calls, %d mutating, rss %s MB, rc %d"
                % (n, module, op, res["wall"], res["task_seconds"], res["calls"], res["mutating"],
                   res["peak_rss_mb"], res["rc"]))
            if res["rc"] != 0:
                tail = (res.get("stdout_tail") or "")[-1500:]
                problems.append("N=%d %s %s failed (rc %d): %s" % (n, module, op, res["rc"], tail))
            if op in ("check", "rerun") and res["mutating"]:
                problems.append("N=%d %s %s made %d mutating calls" % (n, module, op, res["mutating"]))
            if op == "rerun" and summ.get("changed"):
                problems.append("N=%d %s rerun reported %s changed" % (n, module, summ.get("changed")))
    left = converged(url, fleet["all"], fleet["profiles"]["correct"])
    if left:
        problems.append("N=%d: %d instances not converged after the bulk run, e.g. %s" % (n, len(left), left[:5]))
    return rows


def measure_role(runner, url, n, problems):
    """The role (identity + fleet), when it exists: converge, rerun, --check on a fresh fleet."""
    seed(url, n)
    rows = []
    text = role_playbook({})
    for op, check in (("check", True), ("converge", False), ("rerun", False)):
        res = runner.run(text, url, url, check=check)
        rows.append(dict(res, n=n, module="role ec2_identity", op=op, summary={}))
        log("N=%d role %s: %.1fs, %d calls, %d mutating, rc %d"
            % (n, op, res["wall"], res["calls"], res["mutating"], res["rc"]))
        if res["rc"] != 0:
            problems.append("N=%d role %s failed (rc %d): %s" % (n, op, res["rc"], (res.get("stdout_tail") or "")[-1500:]))
    return rows


def measure_floor(url, n):
    seed(url, n)
    with strict_off(url):  # the floor is the endpoint's cost
        return _measure_floor(url, n)


def _measure_floor(url, n):
    rows = []
    for name, fn in (("ec2_profile_association", lambda: floor.associate_floor(url, TAG, PROFILE)),
                     ("ec2_metadata_options", lambda: floor.metadata_floor(url, TAG))):
        calls(url, reset=True)
        res = fn()
        counted = calls(url)
        rows.append({"n": n, "module": name, "seconds": round(res["seconds"], 3), "changed": res["changed"],
                     "calls": counted["total"], "mutating": counted["mutating"]})
        log("N=%d floor %s: %.1fs, %d calls" % (n, name, res["seconds"], counted["total"]))
    return rows


def measure_baseline(runner, url, n, problems):
    fleet = seed(url, n)
    ids = list(fleet["all"])
    rows = []
    for module in MODULES:
        res = runner.run(loop_playbook(module, module_args(module, None, ids=[])), url, url,
                         extra_vars={"bench_ids": ids}, measure_rss=False)
        rows.append(dict(res, n=n, module=module, op="converge"))
        log("N=%d baseline %s: %.1fs, %d calls, rc %d" % (n, module, res["wall"], res["calls"], res["rc"]))
        if res["rc"] != 0:
            problems.append("baseline N=%d %s failed: %s" % (n, module, (res.get("stdout_tail") or "")[-1500:]))
    return rows


def scaled_limits(scale):
    """The fleet modules' rate_limits: AWS's per-API buckets on the limiter's clock (refill x scale, capacity
    unchanged: see strict.RateLimit), one entry per API they call, and the categories for the others."""
    limits = {}
    for api in FLEET_APIS:
        _name, capacity, refill = rate_limit_of(api)
        limits[api] = {"capacity": capacity, "refill": refill * scale}
    for group, category in GROUPS.items():
        capacity, refill = EC2_RATE_LIMITS[category]
        limits[group] = {"capacity": capacity, "refill": refill * scale}
    return limits


def measure_limiter(runner, moto_url, n, scale, concurrency, problems):
    fleet = seed(moto_url, n)
    rows = []
    with LimiterRun(moto_url, scale) as limiter:
        for module in MODULES:
            limiter.reset_stats()
            text = bulk_playbook(module, module_args(module, concurrency, rate_limits=scaled_limits(scale)))
            res = runner.run(text, limiter.url, moto_url)
            stats = limiter.stats()
            _name, capacity, refill = rate_limit_of(BUCKET[module])
            bound = bound_seconds(n, capacity, refill, scale)
            summ = summary_of(res)
            row = dict(res, n=n, module=module, op="limiter", scale=scale, bound=round(bound, 3),
                       throttled=stats["total_throttles"], throttles=stats["throttles"],
                       repeats=stats["total_repeats"], mutating_window=stats["mutating_window"],
                       failed_instances=summ.get("failed", 0 if res["rc"] == 0 else None), summary=summ)
            row["ratio_task"] = round(res["task_seconds"] / bound, 3) if bound else None
            row["ratio_wall"] = round(res["wall"] / bound, 3) if bound else None
            rows.append(row)
            log("N=%d limiter x%g %s: task %.1fs wall %.1fs bound %.1fs ratio %s, %d throttled, rc %d"
                % (n, scale, module, res["task_seconds"], res["wall"], bound, row["ratio_task"], row["throttled"],
                   res["rc"]))
            if res["rc"] != 0:
                problems.append("limiter N=%d %s failed: %s" % (n, module, (res.get("stdout_tail") or "")[-1500:]))
    left = converged(moto_url, fleet["all"], fleet["profiles"]["correct"])
    if left:
        problems.append("limiter N=%d: %d instances not converged" % (n, len(left)))
    return rows


def seed_mixed(url, n):
    """A mixed fleet (fleet_seed mix="realistic"): no profile, another profile running and stopped, hop limit 2,
    terminated instances, IMDSv1 callers."""
    reset_moto(url)
    start = time.monotonic()
    fleet = seed_fleet(url, n, mix="realistic", prefix="bench", tag=TAG, correct_profile=PROFILE, seed=0, batch=250)
    log("seeded a mixed fleet of %d instances in %.1fs" % (n, time.monotonic() - start))
    return fleet


def identity_task(res):
    """The ec2_instance_identity task of a role run: its seconds, summary and the module's phase timings."""
    for rec in res["tasks"]:
        if rec["action"] == "keyless.aws.ec2_instance_identity":
            return rec
    return {}


def headroom(stats):
    """The fewest tokens a call found on arrival, per limiter bucket ({bucket: tokens}; below 1 it was throttled).
    A paced client's lowest is usually the end of its opening burst (capacity calls at once), a token and what
    refilled while the burst was in flight; a figure under that points at calls arriving bunched up."""
    return {key.rsplit("/", 1)[-1]: state["low"] for key, state in sorted(stats.get("buckets", {}).items())}


def measure_role_limiter(runner, moto_url, n, scale, problems):
    """The role over a mixed fleet through the limiter, AWS's buckets on both sides (one_pass.py)."""
    seed_mixed(moto_url, n)
    rows = []
    text = role_playbook({"ec2_identity_rate_limits": scaled_limits(scale), "ec2_identity_safe_rollout": False})
    with LimiterRun(moto_url, scale) as limiter:
        for op in ("converge", "rerun"):
            limiter.reset_stats()
            res = runner.run(text, limiter.url, moto_url)
            stats = limiter.stats()
            task = identity_task(res)
            bound, serial, per = one_pass.bounds(res["counts"], scale)
            row = dict(res, n=n, module="role ec2_identity", op="limiter %s" % op, scale=scale, bound=round(bound, 3),
                       sum_of_buckets=round(serial, 3), bucket_bounds={k: round(v, 3) for k, v in per.items()},
                       throttled=stats["total_throttles"], throttles=stats["throttles"],
                       headroom=headroom(stats), identity_seconds=task.get("seconds"),
                       identity_timings=task.get("timings"), summary=task.get("summary") or {},
                       failed_instances=(task.get("summary") or {}).get("failed"))
            row["ratio_wall"] = round(res["wall"] / bound, 3) if bound else None
            row["ratio_identity"] = round(task["seconds"] / bound, 3) if bound and task.get("seconds") else None
            rows.append(row)
            log("N=%d role limiter x%g %s: wall %.1fs, fleet task %ss, bound %.1fs (sum of buckets %.1fs), %d calls, "
                "%d throttled, rc %d; fewest tokens a call found: %s" % (
                    n, scale, op, res["wall"], task.get("seconds"), bound, serial, res["calls"], row["throttled"],
                    res["rc"], row["headroom"]))
            if res["rc"] != 0:
                problems.append("role limiter N=%d %s failed: %s" % (n, op, (res.get("stdout_tail") or "")[-1500:]))
            if op == "rerun" and res["mutating"]:
                problems.append("role limiter N=%d rerun made %d mutating calls" % (n, res["mutating"]))
    return rows


def measure_whole_job(runner, url, n, problems):
    """The role's whole job (IAM included) with the buckets opened, beside its one-thread floor."""
    rows = []
    fleet = seed(url, n)
    res = runner.run(role_playbook({"ec2_identity_rate_limits": OPEN_LIMITS, "ec2_identity_safe_rollout": False}),
                     url, url)
    task = identity_task(res)
    rows.append(dict(res, n=n, module="role ec2_identity", op="whole job", identity_seconds=task.get("seconds"),
                     identity_timings=task.get("timings"), summary=task.get("summary") or {}))
    log("N=%d role whole job: wall %.1fs (fleet task %ss), %d calls, rc %d"
        % (n, res["wall"], task.get("seconds"), res["calls"], res["rc"]))
    if res["rc"] != 0:
        problems.append("role whole job N=%d failed: %s" % (n, (res.get("stdout_tail") or "")[-1500:]))
    left = converged(url, fleet["all"], "arn:aws:iam::123456789012:instance-profile/BenchRole")
    if left:
        problems.append("role whole job N=%d: %d instances not converged" % (n, len(left)))
    seed(url, n)
    calls(url, reset=True)
    with strict_off(url):  # the floor is the endpoint's cost
        out = floor.whole_job_floor(url, TAG, "BenchFloorRole", "BenchFloorProfile")
    counted = calls(url)
    rows.append({"n": n, "module": "floor (one boto3 thread)", "op": "whole job", "wall": round(out["seconds"], 3),
                 "calls": counted["total"], "mutating": counted["mutating"], "counts": counted["counts"]})
    log("N=%d whole-job floor: %.1fs, %d calls" % (n, out["seconds"], counted["total"]))
    return rows


def measure_amazon_loop(runner, url, n, problems):
    """The same job with amazon.aws: iam_role, iam_instance_profile, ec2_instance per instance (one_pass.py)."""
    collections = one_pass.amazon_collections(log)
    fleet = seed(url, n)
    ids = list(fleet["all"])
    text = one_pass.amazon_loop_playbook("BenchAmazonProfile", "BenchAmazonRole")
    res = runner.run(text, url, url, extra_vars={"bench_ids": ids}, measure_rss=False,
                     extra_env={"ANSIBLE_COLLECTIONS_PATH": "%s:%s" % (collections, ROOT / ".build" / "collections")})
    log("N=%d amazon.aws loop: %.1fs, %d calls, rc %d" % (n, res["wall"], res["calls"], res["rc"]))
    if res["rc"] != 0:
        problems.append("amazon.aws loop N=%d failed: %s" % (n, (res.get("stdout_tail") or "")[-1500:]))
    return [dict(res, n=n, module="amazon.aws ec2_instance loop", op="whole job")]


def measure_organization(runner, moto, work, n, targets, scale, problems):
    """`targets` account targets of n instances at once vs one alone, through the limiter (organization.py)."""
    with LimiterRun(moto.url, scale) as limiter:
        servers = {"moto": moto.proc.pid, "proxy": limiter.proc.pid}
        return organization.measure(runner, limiter.url, moto.url, work, n, targets, scaled_limits(scale), log,
                                    problems, servers=servers)


def grid(text):
    """'4x4' -> (4, 4) accounts x regions; '16' -> (16, 1); '0' -> (0, 1) (skips that row group)."""
    accounts, _sep, regions = text.lower().partition("x")
    return int(accounts or 0), int(regions or 1)


def scale_options(args):
    return {"n": args.scale_n, "empty_targets": grid(args.scale_empty), "converged_targets": args.scale_converged,
            "forks": args.scale_forks, "org": grid(args.scale_org), "org_n": args.scale_org_n,
            "org_fleets": args.scale_org_fleets, "org_forks": args.scale_org_forks}


def ints(text):
    """'100,1000' -> [100, 1000]; '' or '0' -> [] (to skip a part of the run)."""
    return [int(x) for x in text.split(",") if x.strip() and int(x) > 0]


def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", maxsplit=1)[0])
    parser.add_argument("--n", default="100,1000,5000", help="fleet sizes, comma-separated (default %(default)s)")
    parser.add_argument("--with-10k", action="store_true", help="add N = 10,000 (bulk and limiter)")
    parser.add_argument("--baseline-n", default="100", help="fleet sizes for the per-instance baseline")
    parser.add_argument("--floor-n", help="fleet sizes for the endpoint floor (default: every N)")
    parser.add_argument("--limiter", type=float, help="limiter time scale for every limiter run "
                        "(default: x1 at N=1,000, x2 at N=10,000)")
    parser.add_argument("--limiter-n", help="fleet sizes run through the limiter (default 1000, +10000 with --with-10k)")
    parser.add_argument("--no-role", action="store_true", help="skip the ec2_identity role")
    parser.add_argument("--role-limiter-n", help="fleet sizes of the role through the limiter (default 1000, "
                        "+10000 with --with-10k; scale as --limiter)")
    parser.add_argument("--whole-job-n", help="fleet sizes of the whole job vs its floor (default 1000)")
    parser.add_argument("--amazon-n", help="fleet sizes of the amazon.aws ec2_instance loop (default 50)")
    parser.add_argument("--org-n", help="instances per target of the parallel-targets part (default 300; 0 skips it)")
    parser.add_argument("--org-targets", default="8", help="targets (accounts) run at once, comma-separated for several "
                        "runs (default %(default)s)")
    parser.add_argument("--org-scale", type=float, default=1.0, help="limiter time scale of that part (default x1)")
    parser.add_argument("--role-n", help="fleet sizes for the role (default: 1000 or the smallest N)")
    parser.add_argument("--waves-n", help="fleet sizes of the safe rollout's waves part (default 1000; smoke: none)")
    parser.add_argument("--waves-watch", type=int, default=None, help="seconds each wave is watched (default 5; smoke 1)")
    parser.add_argument("--scale", action="store_true", help="what a target costs (bench/scale.py): single targets, "
                        "per target over many, an organization, a projection (not in the default run nor the smoke run)")
    parser.add_argument("--scale-n", type=int, default=300, help="instances of a target with instances (default %(default)s)")
    parser.add_argument("--scale-empty", default="4x4", help="empty targets run at once, accounts x regions "
                        "(default %(default)s)")
    parser.add_argument("--scale-converged", type=int, default=6, help="targets of --scale-n instances run at once "
                        "(default %(default)s)")
    parser.add_argument("--scale-forks", type=int, default=4, help="forks of the per-target runs (default %(default)s)")
    parser.add_argument("--scale-org", default="20x5", help="the organization, accounts x regions (default %(default)s; "
                        "0 skips it)")
    parser.add_argument("--scale-org-n", type=int, default=100, help="instances per organization target that has "
                        "instances (default %(default)s)")
    parser.add_argument("--scale-org-fleets", type=int, default=4, help="organization targets with instances "
                        "(default %(default)s)")
    parser.add_argument("--scale-org-forks", type=int, default=8, help="forks of the organization runs (default %(default)s)")
    parser.add_argument("--before", metavar="REV", help="measure --scale on the collection at REV (a git worktree at "
                        "/tmp/keyless-before-REV; the bench itself stays this checkout's); results name scale-before")
    parser.add_argument("--concurrency", type=int, default=10)
    parser.add_argument("--ops", default="check,converge,rerun", help="bulk operations to measure (default %(default)s)")
    parser.add_argument("--smoke", action="store_true", help="CI smoke run: N=100, baseline 5, limiter 200 at x20, no role")
    parser.add_argument("--strict", action="store_true", help="exit 1 when a target is missed")
    parser.add_argument("--out", default=str(ROOT / "bench" / "results"))
    parser.add_argument("--name", help="results file stem (default latest, or smoke with --smoke)")
    args = parser.parse_args(argv)
    if args.smoke:
        # keep CI's smoke short: the role and big fleets only in full runs
        args.sizes, args.baseline, args.floor_sizes, args.role_sizes = [100], [5], [100], []
        args.limiter_sizes, args.limiter_scale = [200], {200: 20.0}
        args.role_limiter_sizes, args.whole_job_sizes, args.amazon_sizes = [], [], []
        args.org_sizes = []
        # the waves' figure is their watch (wall time by design): full runs only, unless asked for
        args.waves_sizes = ints(args.waves_n) if args.waves_n is not None else []
        args.waves_watch = 1 if args.waves_watch is None else args.waves_watch
        return args
    args.waves_sizes = ints(args.waves_n) if args.waves_n is not None else [1000]
    args.waves_watch = 5 if args.waves_watch is None else args.waves_watch
    args.org_sizes = ints(args.org_n) if args.org_n is not None else [300]
    args.org_targets = ints(args.org_targets)
    args.sizes = ints(args.n) + ([10000] if args.with_10k and 10000 not in ints(args.n) else [])
    args.baseline = ints(args.baseline_n)
    args.floor_sizes = ints(args.floor_n) if args.floor_n is not None else list(args.sizes)
    args.limiter_sizes = (ints(args.limiter_n) if args.limiter_n is not None
                          else [1000] + ([10000] if args.with_10k else []))
    args.limiter_scale = {n: args.limiter or DEFAULT_LIMITER_SCALE.get(n, 3.0) for n in args.limiter_sizes}
    args.role_sizes = (ints(args.role_n) if args.role_n is not None
                       else [1000 if 1000 in args.sizes else min(args.sizes)] if args.sizes else [])
    args.role_limiter_sizes = (ints(args.role_limiter_n) if args.role_limiter_n is not None
                               else [1000] + ([10000] if args.with_10k else []))
    for n in args.role_limiter_sizes:
        args.limiter_scale.setdefault(n, args.limiter or DEFAULT_LIMITER_SCALE.get(n, 3.0))
    args.whole_job_sizes = ints(args.whole_job_n) if args.whole_job_n is not None else [1000]
    args.amazon_sizes = ints(args.amazon_n) if args.amazon_n is not None else [50]
    if args.no_role:
        args.role_sizes, args.role_limiter_sizes, args.whole_job_sizes, args.org_sizes = [], [], [], []
    return args


def main(argv=None):
    args = parse_args(argv)
    problems = []
    results = {"args": {k: v for k, v in vars(args).items() if k not in ("limiter_scale",)},
               "limiter_scale": {str(k): v for k, v in args.limiter_scale.items()},
               "machine": report.machine(), "versions": report.versions(), "date": report.now(),
               "bulk": [], "floor": [], "baseline": [], "limiter": [], "role": [], "role_limiter": [],
               "whole_job": [], "amazon_loop": [], "organization": [], "waves": [], "scale": {}}
    collections = None
    if args.scale and args.before:
        collections, commit, tree = scale.before_collections(args.before, log)
        results["scale"]["before"] = {"rev": args.before, "commit": commit, "worktree": tree}
    role_exists = (ROOT / "roles" / "ec2_identity" / "tasks" / "main.yml").exists() and not args.no_role
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="keyless-bench-") as work, moto_server() as moto:
        # AWS's buckets only where pacing is measured (LimiterRun); the other behaviours stay on
        strict_config(moto.url, disable=["rate_limit"])
        results["strict"] = {k: v for k, v in strict_config(moto.url).items() if k in ("enabled", "speed")}
        runner = Runner(work)
        for n in args.sizes:
            results["bulk"].extend(measure_bulk(runner, moto.url, n, args.concurrency, problems,
                                                ops=args.ops.split(",")))
            if n in args.floor_sizes:
                results["floor"].extend(measure_floor(moto.url, n))
        for n in args.baseline:
            results["baseline"].extend(measure_baseline(runner, moto.url, n, problems))
        for n in args.waves_sizes:
            results["waves"].extend(waves.measure(runner, moto.url, n, args.waves_watch, seed, log, problems))
        if role_exists:
            for n in args.role_sizes:
                results["role"].extend(measure_role(runner, moto.url, n, problems))
            for n in args.whole_job_sizes:
                results["whole_job"].extend(measure_whole_job(runner, moto.url, n, problems))
        for n in args.amazon_sizes:
            results["amazon_loop"].extend(measure_amazon_loop(runner, moto.url, n, problems))
        for n in args.limiter_sizes:  # last: the longest part, mostly waiting on the limiter's clock
            results["limiter"].extend(measure_limiter(runner, moto.url, n, args.limiter_scale[n], args.concurrency,
                                                      problems))
        if role_exists:
            for n in args.role_limiter_sizes:
                results["role_limiter"].extend(measure_role_limiter(runner, moto.url, n, args.limiter_scale[n],
                                                                    problems))
        if args.scale:
            results["scale"].update(scale.measure(runner, moto, work, scale_options(args), log, problems,
                                                  collections=collections))
        if role_exists:
            for n in args.org_sizes:
                results["organization"].extend(measure_organization(runner, moto, work, n, args.org_targets,
                                                                    args.org_scale, problems))
    results["seconds"] = round(time.monotonic() - started, 1)
    results["machine"]["loadavg_end"] = report.loadavg()
    results["targets"] = report.targets(results, smoke=args.smoke)
    results["problems"] = problems
    name = args.name or ("scale-before" if args.scale and args.before else None)
    paths = report.write(results, pathlib.Path(args.out), smoke=args.smoke, name=name)
    if args.scale:
        others = [results[k] for k in ("bulk", "floor", "baseline", "limiter", "role", "role_limiter", "whole_job",
                                       "amazon_loop", "organization", "waves")]
        sys.stdout.write(scale.write_markdown(paths, results, alone=not any(others)))
    else:
        sys.stdout.write(report.markdown(results))
    sys.stdout.write("\nwritten: %s\n" % ", ".join(str(p) for p in paths))
    if problems:
        sys.stdout.write("\nPROBLEMS:\n" + "\n".join("- " + p for p in problems) + "\n")
        return 1
    if args.strict and any(t["pass"] is False for t in results["targets"]):
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
