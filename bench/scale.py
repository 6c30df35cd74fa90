"""Scale: what a target costs the controller (issue 26, part 4), measured on whole runs of keyless.aws.converge.

A part of bench/run.py (--scale; --before REV measures the same rows on an older commit). Contract:

- Every row is one whole ansible-playbook run (`keyless.aws.converge` over an inventory of
  organization.write_inventory: one target per account and region, each member account reached through its
  assumed role, the modules' client-side buckets opened (runner.OPEN_LIMITS), ec2_identity_safe_rollout false),
  against the bench's moto server with the strict layer on and rate_limit off. No task name of the role is read:
  the rows hold whole runs only, so a role that adds plays or tasks is measured the same way.
- wall: seconds of the run. cpu: controller CPU seconds, user + system of ansible-playbook and every process it
  waited for (forks, module processes): the RUSAGE_CHILDREN delta around the run (organization.children_cpu),
  which leaves out the moto server (not a waited child of this process); moto_cpu: the moto server's own CPU
  delta (organization.process_cpu). cpu_per_target: cpu / targets (start-up included, amortized);
  marginal_per_target: (cpu - the start-up row's cpu) / targets.
- calls: API calls the moto server counted; per account (moto_server.CallCounter.by_account: the account the
  strict layer learnt from the AssumeRole answers, tests/support/strict/middleware.py ACCOUNT_ENVIRON) the IAM
  calls of each account of the run: max and mean over the run's accounts.
- Row groups (sizes from the command line): start-up (one debug task on localhost); single targets (one empty
  target, first run and rerun; one target of N instances, first converge and rerun, -f 1); per target over many
  (T empty targets, A accounts x R regions, first run and rerun; T targets of N instances, first converge and
  rerun; -f F); the organization (accounts x regions targets, instances in a few targets, first converge and
  rerun, -f F) and the same accounts' count with one region (IAM calls per account must not grow with its
  regions); a projection computed from the measured figures (labelled as such).
- Seeding (fleet_seed through organization.seed_accounts, strict layer off) is outside every measurement. Empty
  targets are not seeded: AssumeRole answers for any account id on the local endpoint.
- --before REV: the collection under test is REV, checked out as a git worktree outside the checkout
  (/tmp/keyless-before-REV); the bench, the moto server and tests/support stay this checkout's, so both sides are
  measured by the same code (before_collections).

    .venv/bin/python -m bench.run --n 0 --baseline-n 0 --floor-n 0 --limiter-n 0 --role-n 0 --role-limiter-n 0 \\
        --whole-job-n 0 --amazon-n 0 --org-n 0 --waves-n 0 --scale --name scale-after
"""

from __future__ import annotations

import json
import pathlib
import subprocess

from bench import organization, report
from bench.one_pass import bounds
from bench.runner import OPEN_LIMITS
from tests.support.moto_server import calls, mutating_calls

ROOT = pathlib.Path(__file__).resolve().parents[1]
REGIONS = ("us-east-1", "us-west-2", "eu-west-1", "eu-central-1", "ap-southeast-2", "ap-northeast-1", "us-east-2",
           "ca-central-1")
STARTUP_PLAYBOOK = ("- name: Start-up of ansible-playbook\n  hosts: localhost\n  gather_facts: false\n  tasks:\n"
                    "    - name: One debug task\n      ansible.builtin.debug:\n        msg: start-up\n")
# The targets (controller CPU seconds per target, start-up amortized over the run)
TARGET_EMPTY = 1.0
TARGET_CONVERGED_300 = 2.5
# AWS facts used by the projection
PROJECTION = {"accounts": 100, "regions": 17, "fleet_share": 0.05, "cores": 16}


def before_collections(rev, log, base="/tmp"):
    """An ANSIBLE_COLLECTIONS_PATH whose keyless.aws is `rev` of this checkout: a git worktree outside the checkout
    (/tmp/keyless-before-<rev>; made with `git worktree add --detach` when missing, which leaves the checkout's HEAD
    and work tree alone) and its own .build/collections link. Returns (collections path, full commit, worktree)."""
    commit = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--verify", rev + "^{commit}"], capture_output=True,
                            text=True, check=True).stdout.strip()
    tree = pathlib.Path(base) / ("keyless-before-%s" % rev)
    if not tree.exists():
        log("adding worktree %s at %s" % (tree, commit[:12]))
        subprocess.run(["git", "-C", str(ROOT), "worktree", "add", "--detach", str(tree), commit], check=True,
                       capture_output=True, text=True)
    head = subprocess.run(["git", "-C", str(tree), "rev-parse", "HEAD"], capture_output=True, text=True,
                          check=True).stdout.strip()
    if head != commit:
        raise RuntimeError("%s is at %s, not %s (%s): remove it (git worktree remove) or pick another base"
                           % (tree, head[:12], commit[:12], rev))
    collections = tree / ".build" / "collections"
    link = collections / "ansible_collections" / "keyless" / "aws"
    if not link.exists():
        link.parent.mkdir(parents=True, exist_ok=True)
        link.symlink_to(tree, target_is_directory=True)
    return str(collections), commit, str(tree)


class Scale:
    """The runs of one scale measurement: one Runner, one moto server, one collection (this checkout's or --before's)."""

    def __init__(self, runner, moto, workdir, log, problems, collections=None):
        self.runner, self.moto, self.log, self.problems = runner, moto, log, problems
        self.workdir = pathlib.Path(workdir)
        self.env = {"ANSIBLE_COLLECTIONS_PATH": collections} if collections else {}
        self.startup_cpu = None
        self.count = 0

    def run(self, group, label, text, accounts=(), regions=("us-east-1",), forks=1, expect=None):
        """One measured run: `text` a playbook (YAML) or keyless.aws.converge over accounts x regions."""
        self.count += 1
        inventory, report_dir, args = None, None, ()
        targets = len(accounts) * len(regions)
        if accounts:
            report_dir = self.workdir / ("scale-reports-%d" % self.count)
            inventory = organization.write_inventory(self.workdir / ("scale-%d.json" % self.count), list(accounts),
                                                     OPEN_LIMITS, report_dir, regions=tuple(regions))
            args = ["-f", str(forks)]
        moto_before, cpu_before = organization.process_cpu(self.moto.proc.pid), organization.children_cpu()
        res = self.runner.run(text, self.moto.url, self.moto.url, inventory=inventory, args=args, measure_rss=False,
                              extra_env=self.env)
        cpu = organization.children_cpu() - cpu_before
        moto_cpu = organization.process_cpu(self.moto.proc.pid) - moto_before
        counted = calls(self.moto.url)  # the runner reset the counter before the run: this run's calls
        summary, failed = {}, []
        if report_dir and (report_dir / "summary.json").exists():
            loaded = json.loads((report_dir / "summary.json").read_text())
            summary = loaded.get("totals", {})
            failed = [{"target": e.get("target"), "status": e.get("status"), "error": str(e.get("error"))[:400]}
                      for e in loaded.get("targets", []) if e.get("status") != "ok"]
        iam = [sum(n for key, n in counted.get("by_account", {}).get(a, {}).items() if key.startswith("iam:"))
               for a in accounts]
        row = {"group": group, "label": label, "accounts": len(accounts), "regions": len(regions),
               "targets": targets, "forks": forks if accounts else None, "wall": res["wall"], "rc": res["rc"],
               "cpu": round(cpu, 2), "moto_cpu": round(moto_cpu, 2),
               "cpu_per_target": round(cpu / targets, 3) if targets else None,
               "marginal_per_target": (round((cpu - self.startup_cpu) / targets, 3)
                                       if targets and self.startup_cpu is not None else None),
               # mutating: what changes AWS (moto_server.mutating_calls: sts:AssumeRole only hands out credentials)
               "calls": res["calls"], "mutating": sum(mutating_calls(counted).values()), "counts": res["counts"],
               "iam_per_account": {"max": max(iam) if iam else None,
                                   "mean": round(sum(iam) / float(len(iam)), 2) if iam else None,
                                   "min": min(iam) if iam else None},
               "iam_by_account": dict(zip(accounts, iam)),
               "by_account": {a: counted.get("by_account", {}).get(a, {}) for a in accounts},
               "summary_totals": summary, "failed_targets": failed, "loadavg": report.loadavg(),
               "report_dir": str(report_dir) if report_dir else None}
        self.log("scale %s / %s: %d target(s) -f %s: wall %.1fs, CPU %.1fs (%s per target), moto %.1fs, %d calls "
                 "(%d mutating), IAM per account %s, summary %s, rc %d"
                 % (group, label, targets, row["forks"], res["wall"], cpu, row["cpu_per_target"], moto_cpu,
                    res["calls"], row["mutating"], row["iam_per_account"],
                    {k: summary.get(k) for k in ("targets", "targets_failed", "instances", "changed", "failed")},
                    res["rc"]))
        self.check(row, res, expect)
        return row

    def merge(self, label, report_dirs, one_run_dir):
        """keyless.aws.summarize over report_dirs; its summary against the one run's in one_run_dir (generated_at and
        the directories of the report paths aside)."""
        self.count += 1
        merged = self.workdir / ("scale-merged-%d" % self.count)
        cpu_before = organization.children_cpu()
        res = self.runner.run("keyless.aws.summarize", self.moto.url, self.moto.url, measure_rss=False,
                              extra_env=self.env, extra_vars={"keyless_report_dirs": list(report_dirs),
                                                              "ec2_identity_report_dir": str(merged)})
        cpu = organization.children_cpu() - cpu_before

        def comparable(path):
            try:
                loaded = json.loads(pathlib.Path(path, "summary.json").read_text())
            except (OSError, ValueError):
                return None
            loaded.pop("generated_at", None)
            for target in loaded.get("targets", []):
                target["report"] = target["report"].rsplit("/", 1)[-1] if target.get("report") else None
            return loaded

        mine, one = comparable(merged), comparable(one_run_dir)
        identical = mine is not None and mine == one
        row = {"group": "organization", "label": label, "accounts": 0, "regions": 0, "targets": len((mine or {}).get(
            "targets", [])), "forks": None, "wall": res["wall"], "rc": res["rc"], "cpu": round(cpu, 2), "moto_cpu": 0.0,
            "cpu_per_target": None, "marginal_per_target": None, "calls": res["calls"], "mutating": 0, "counts": {},
            "iam_per_account": {"max": None, "mean": None, "min": None}, "summary_totals": (mine or {}).get("totals", {}),
            "failed_targets": [], "loadavg": report.loadavg(), "report_dir": str(merged),
            "identical_to_one_run": identical}
        self.log("scale merge: %d targets from %d directories, identical to the one run: %s, rc %d"
                 % (row["targets"], len(report_dirs), identical, res["rc"]))
        if res["rc"] != 0 or not identical:
            self.problems.append("scale organization / %s: rc %d, identical to the one run's summary: %s"
                                 % (label, res["rc"], identical))
        return row

    def check(self, row, res, expect):
        where = "scale %s / %s" % (row["group"], row["label"])
        if res["rc"] != 0:
            self.problems.append("%s failed (rc %d): %s" % (
                where, res["rc"], "; ".join("%(target)s %(status)s: %(error)s" % f for f in row["failed_targets"][:5])
                or (res.get("stdout_tail") or "")[-1500:]))
            return
        if not row["targets"]:
            return
        totals = row["summary_totals"]
        if totals.get("targets") != row["targets"] or totals.get("targets_failed") or totals.get("failed"):
            self.problems.append("%s: the summary does not add up: %s" % (where, totals))
        if expect == "rerun" and (totals.get("changed") or row["mutating"]):
            self.problems.append("%s: a rerun changed %s instances, %d mutating calls"
                                 % (where, totals.get("changed"), row["mutating"]))


def measure(runner, moto, workdir, opts, log, problems, collections=None):
    """Every row group of the scale part; `opts`: {"n", "empty_targets" (accounts, regions), "converged_targets",
    "forks", "org" (accounts, regions), "org_n", "org_fleets", "org_forks"}."""
    s = Scale(runner, moto, workdir, log, problems, collections=collections)
    n, forks = opts["n"], opts["forks"]
    rows = []
    startup = s.run("start-up", "ansible-playbook, one debug task", STARTUP_PLAYBOOK)
    s.startup_cpu = startup["cpu"]
    rows.append(startup)

    # 1. one target alone (-f 1)
    empty, fleet = organization.account_ids(2, 410000000001)
    if n:
        organization.seed_accounts(moto.url, [fleet], n, log)
    rows.append(s.run("single", "no matching instance, first run", "keyless.aws.converge", [empty]))
    rows.append(s.run("single", "no matching instance, rerun", "keyless.aws.converge", [empty], expect="rerun"))
    if n:
        rows.append(s.run("single", "%d instances, first converge" % n, "keyless.aws.converge", [fleet]))
        rows.append(s.run("single", "%d instances, converged (rerun)" % n, "keyless.aws.converge", [fleet],
                          expect="rerun"))

    # 2. per target over many (-f forks)
    accounts_e, regions_e = opts["empty_targets"]
    if accounts_e:
        accounts = organization.account_ids(accounts_e, 420000000001)
        regions = REGIONS[:regions_e]
        label = "%d empty targets (%d accounts x %d regions)" % (accounts_e * regions_e, accounts_e, regions_e)
        rows.append(s.run("per target", label + ", first run", "keyless.aws.converge", accounts, regions, forks))
        rows.append(s.run("per target", label + ", rerun", "keyless.aws.converge", accounts, regions, forks,
                          expect="rerun"))
    if n and opts["converged_targets"]:
        accounts = organization.account_ids(opts["converged_targets"], 430000000001)
        organization.seed_accounts(moto.url, accounts, n, log)
        label = "%d targets of %d instances" % (len(accounts), n)
        rows.append(s.run("per target", label + ", first converge", "keyless.aws.converge", accounts, ["us-east-1"],
                          forks))
        rows.append(s.run("per target", label + ", converged (rerun)", "keyless.aws.converge", accounts,
                          ["us-east-1"], forks, expect="rerun"))

    # 3. an organization: accounts x regions, instances in a few targets; then one region per account
    org_accounts, org_regions = opts["org"]
    if org_accounts:
        accounts = organization.account_ids(org_accounts, 440000000001)
        regions = REGIONS[:org_regions]
        fleets = []  # (account, region): spread over accounts and regions
        for index in range(min(opts["org_fleets"], len(accounts) * len(regions))):
            account = accounts[(index * max(1, len(accounts) // max(1, opts["org_fleets"]))) % len(accounts)]
            fleets.append((account, regions[index % len(regions)]))
        if opts["org_n"]:
            for region in sorted(set(r for _a, r in fleets)):
                organization.seed_accounts(moto.url, [a for a, r in fleets if r == region], opts["org_n"], log,
                                           region=region)
        label = "%d accounts x %d regions, %d targets of %d instances" % (
            org_accounts, org_regions, len(fleets) if opts["org_n"] else 0, opts["org_n"])
        seeded = ["%s/%s" % f for f in fleets] if opts["org_n"] else []
        first = s.run("organization", label + ", first converge", "keyless.aws.converge", accounts, regions,
                      opts["org_forks"])
        rows.append(dict(first, fleets=seeded))
        if first["rc"] or first["summary_totals"].get("targets_failed"):
            # targets failed: one more run finishes them, so that the rerun below is a converged rerun
            rows.append(dict(s.run("organization", label + ", second run (after %s failed targets)" % (
                first["summary_totals"].get("targets_failed")), "keyless.aws.converge", accounts, regions,
                opts["org_forks"]), fleets=seeded))
        rerun = dict(s.run("organization", label + ", rerun", "keyless.aws.converge", accounts, regions,
                           opts["org_forks"], expect="rerun"), fleets=seeded)
        rows.append(rerun)
        # the same organization split in two runs (two controllers, or two AWX/AAP job slices: half the accounts
        # each, each with its own report directory), merged by keyless.aws.summarize: the rerun's summary again
        half = len(accounts) // 2
        if half:
            parts = [s.run("organization", label + ", split rerun %d/2" % (i + 1), "keyless.aws.converge", part,
                           regions, opts["org_forks"], expect="rerun")
                     for i, part in enumerate((accounts[:half], accounts[half:]))]
            rows.extend(dict(part, fleets=seeded) for part in parts)
            rows.append(dict(s.merge(label + ", the two split runs merged (keyless.aws.summarize)",
                                     [p["report_dir"] for p in parts], rerun["report_dir"]), fleets=seeded))
        if org_regions > 1:
            # the same count of accounts with one region each (fresh accounts, no instances): IAM per account
            one = organization.account_ids(org_accounts, 450000000001)
            label = "%d accounts x 1 region, no instances" % org_accounts
            rows.append(s.run("organization", label + ", first converge", "keyless.aws.converge", one, regions[:1],
                              opts["org_forks"]))
            rows.append(s.run("organization", label + ", rerun", "keyless.aws.converge", one, regions[:1],
                              opts["org_forks"], expect="rerun"))
    return {"rows": rows, "opts": opts, "projection": projection(rows, n)}


def _row(rows, group, label_part):
    for row in rows:
        if row["group"] == group and label_part in row["label"] and row["rc"] == 0:
            return row
    return None


def projection(rows, n):
    """100 accounts x 17 regions, instances (n each) in 5% of the targets, on a 16-core controller: computed from
    the measured marginal CPU per target (start-up taken once), not measured."""
    startup = _row(rows, "start-up", "")
    empty_first = _row(rows, "per target", "empty targets") or _row(rows, "single", "no matching instance, first")
    empty_rerun = _row(rows, "per target", "empty targets") and next(
        (r for r in rows if r["group"] == "per target" and "empty" in r["label"] and r["label"].endswith("rerun")
         and r["rc"] == 0), None)
    fleet_first = _row(rows, "per target", "first converge") or _row(rows, "single", "instances, first converge")
    fleet_rerun = _row(rows, "per target", "converged (rerun)") or _row(rows, "single", "converged (rerun)")
    single_first = _row(rows, "single", "instances, first converge")
    if not (startup and empty_first and empty_rerun and fleet_first and fleet_rerun):
        return None
    p = dict(PROJECTION)
    targets = p["accounts"] * p["regions"]
    with_fleet = int(round(targets * p["fleet_share"]))
    empty = targets - with_fleet
    out = {"assumptions": dict(p, targets=targets, targets_with_instances=with_fleet, instances_per_target=n,
                               forks=p["cores"]), "runs": {}}
    for op, e_row, f_row in (("first converge", empty_first, fleet_first), ("rerun", empty_rerun, fleet_rerun)):
        e, f = e_row["marginal_per_target"], f_row["marginal_per_target"]
        cpu = startup["cpu"] + empty * e + with_fleet * f
        out["runs"][op] = {"empty_target_cpu": e, "fleet_target_cpu": f, "cpu": round(cpu, 1),
                           "cpu_per_target": round(cpu / targets, 3), "cpu_bound_wall": round(cpu / p["cores"], 1),
                           "from": [e_row["label"], f_row["label"]]}
    if single_first and single_first.get("counts"):
        bound, _serial, per = bounds(single_first["counts"], 1.0)
        out["bucket_bound_per_target"] = {"seconds": round(bound, 1), "per_api": {k: round(v, 1) for k, v in per.items()},
                                          "from": single_first["label"]}
    out["iam_per_account"] = {}
    org = [r for r in rows if r["group"] == "organization"]  # a failed run's calls are counted all the same
    for op in ("first converge", "rerun"):
        by_regions = {r["regions"]: r["iam_per_account"]["max"] for r in org if r["label"].endswith(op)}
        if 1 in by_regions and len(by_regions) > 1:
            most = max(by_regions)
            slope = (by_regions[most] - by_regions[1]) / float(most - 1)
            out["iam_per_account"][op] = {"measured_max": {str(k): v for k, v in sorted(by_regions.items())},
                                          "per_extra_region": round(slope, 2),
                                          "projected_max_at_%d_regions" % p["regions"]:
                                          round(by_regions[1] + slope * (p["regions"] - 1), 1)}
    return out


def _f(value, fmt="%.1f"):
    return "-" if value is None else fmt % value


def _verdict(value, limit):
    if value is None:
        return "-"
    return "%.2f (limit %.2f: %s)" % (value, limit, "PASS" if value <= limit else "FAIL")


def markdown(results):
    """The scale part's own results file: the machine line, one table per row group, the projection."""
    scale = results["scale"]
    before = scale.get("before")
    lines = ["# keyless.aws scale: what a target costs the controller (issue 26)", "", report.machine_line(results), "",
             ("Collection measured: **%s** (%s, worktree %s; the bench and the moto server are the checkout's)."
              % ("before " + before["rev"], before["commit"][:12], before["worktree"]) if before
              else "Collection measured: the checkout itself (commit above, with its uncommitted changes)."), "",
             "CPU s: user + system of ansible-playbook and its forks and module processes (RUSAGE_CHILDREN); moto s: the "
             "moto server's own CPU. Per target: CPU / targets (start-up included); marginal: (CPU - start-up CPU) / "
             "targets. IAM/account: IAM calls made in each account of the run, max / mean over its accounts."]
    head = ("| run | targets | forks | wall s | CPU s | moto s | CPU s per target | marginal s per target | calls | "
            "mutating | IAM/account max / mean | summary targets / failed / instances / changed | issue target | rc | load 1m |")
    sep = "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|---|---|---:|---:|"
    titles = {"start-up": "Start-up of ansible-playbook (reference)",
              "single": "1. One target through keyless.aws.converge (-f 1, start-up included)",
              "per target": "2. Per target over many targets (start-up amortized)",
              "organization": "3. An organization at once"}
    for group in ("start-up", "single", "per target", "organization"):
        rows = [r for r in scale["rows"] if r["group"] == group]
        if not rows:
            continue
        lines += ["", "## " + titles[group], "", head, sep]
        for r in rows:
            t = r.get("summary_totals") or {}
            target = "-"
            if group == "per target" and "empty" in r["label"]:
                target = _verdict(r["cpu_per_target"], TARGET_EMPTY) + (" (rerun is the target's case)"
                                                                        if "first" in r["label"] else "")
            elif group == "per target" and "converged" in r["label"]:
                target = _verdict(r["cpu_per_target"], TARGET_CONVERGED_300)
            elif "identical_to_one_run" in r:
                target = "identical to the one run's summary: %s" % ("yes" if r["identical_to_one_run"] else "NO")
            elif group == "organization" and r["label"].endswith("rerun"):
                fleets = len(r.get("fleets") or [])
                limit = (TARGET_EMPTY * (r["targets"] - fleets) + TARGET_CONVERGED_300 * fleets) / r["targets"]
                target = _verdict(r["cpu_per_target"], limit) + " (1.0 per empty, 2.5 per target with instances)"
                target += "; changed %s (must be 0)" % t.get("changed")
            iam = r.get("iam_per_account") or {}
            lines.append("| %s | %d | %s | %s | %s | %s | %s | %s | %d | %d | %s | %s | %s | %d | %s |" % (
                r["label"], r["targets"], r["forks"] or "-", _f(r["wall"]), _f(r["cpu"]), _f(r["moto_cpu"]),
                _f(r["cpu_per_target"], "%.2f"), _f(r["marginal_per_target"], "%.2f"), r["calls"], r["mutating"],
                "%s / %s" % (iam.get("max", "-"), iam.get("mean", "-")) if r["accounts"] else "-",
                "%s / %s / %s / %s" % (t.get("targets"), t.get("targets_failed"), t.get("instances"), t.get("changed"))
                if t else "-", target, r["rc"], (r.get("loadavg") or ["-"])[0]))
    org = [r for r in scale["rows"] if r["group"] == "organization"]
    if org:
        lines += ["", "IAM calls per account, 1 region vs more (must not grow with the account's regions):", ""]
        lines += ["- %d region(s), %s: max %s, mean %s, min %s%s" % (
            r["regions"], r["label"].rsplit(", ", 1)[-1], r["iam_per_account"]["max"], r["iam_per_account"]["mean"],
            r["iam_per_account"]["min"], " (rc %d)" % r["rc"] if r["rc"] else "") for r in org if r["accounts"]]
        failed = [(r["label"], f) for r in org for f in r.get("failed_targets") or []]
        if failed:
            lines += ["", "Failed targets:", ""] + ["- %s: %s %s: %s" % (label, f["target"], f["status"],
                                                                         f["error"].replace("\n", " ")[:300])
                                                    for label, f in failed]
        fleets = org[0].get("fleets")
        if fleets:
            lines += ["", "Targets with instances: %s." % ", ".join(fleets)]
    p = projection(scale["rows"], scale["opts"]["n"]) if scale.get("rows") else None  # recomputed from the rows
    if p:
        a = p["assumptions"]
        lines += ["", "## 4. Projection (computed from the rows above, not measured)", "",
                  "%d accounts x %d regions = %d targets, %d of them (%.0f%%) with %d instances each, on a %d-core "
                  "controller with -f %d. Assumptions: controller CPU = start-up once + marginal CPU per target (the "
                  "per-target rows) x targets; the work spreads over every core (CPU-bound wall = CPU / cores: forks "
                  ">= cores, ansible-playbook's own strategy process not the bottleneck, no AWS latency or throttling "
                  "waits, the moto server's CPU left out: on AWS that is AWS's); a target with instances costs what a "
                  "%d-instance target costs here." % (
                      a["accounts"], a["regions"], a["targets"], a["targets_with_instances"], 100 * a["fleet_share"],
                      a["instances_per_target"], a["cores"], a["forks"], a["instances_per_target"]), "",
                  "| run | empty target CPU s | target with instances CPU s | controller CPU s | CPU s per target | "
                  "CPU-bound wall s (/%d) |" % a["cores"], "|---|---:|---:|---:|---:|---:|"]
        for op, r in p["runs"].items():
            lines.append("| %s | %.2f | %.2f | %.0f | %.3f | %.0f |" % (
                op, r["empty_target_cpu"], r["fleet_target_cpu"], r["cpu"], r["cpu_per_target"], r["cpu_bound_wall"]))
        b = p.get("bucket_bound_per_target")
        if b:
            lines += ["", "AWS's bucket bound of one %d-instance target's first converge (EC2 buckets are per account "
                      "and Region, so targets do not share them): %.1f s (per API: %s; from the calls of \"%s\"); the "
                      "run cannot end before its slowest target's bound, whatever the cores." % (
                          a["instances_per_target"], b["seconds"],
                          ", ".join("%s %.1f" % kv for kv in sorted(b["per_api"].items())), b["from"])]
        for op, i in sorted(p.get("iam_per_account", {}).items()):
            key = "projected_max_at_%d_regions" % a["regions"]
            lines += ["", "IAM calls per account, %s: measured max %s by regions per account; %s more per extra region, "
                      "so %s per account at %d regions (x %d accounts = %s IAM calls; IAM is global per account, so "
                      "an account's IAM calls should be its 1-region figure whatever its regions)." % (
                          op, ", ".join("%s region(s): %s" % kv for kv in i["measured_max"].items()),
                          i["per_extra_region"], i[key], a["regions"], a["accounts"], _f(i[key] * a["accounts"], "%.0f"))]
    if results.get("problems"):
        lines += ["", "## Problems", ""] + ["- " + x.replace("\n", " ")[:500] for x in results["problems"]]
    return "\n".join(lines) + "\n"


def write_markdown(paths, results, alone):
    """Rewrite (the scale part alone) or extend (with other parts) the .md files report.write wrote."""
    text = markdown(results)
    for path in paths:
        if str(path).endswith(".md"):
            path.write_text(text if alone else path.read_text() + "\n" + text.split("\n", 1)[1].replace("\n# ", "\n## "))
    return text
