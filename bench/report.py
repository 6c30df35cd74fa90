"""The benchmark's machine facts, targets (pass/fail) and Markdown/JSON output."""

from __future__ import annotations

import datetime
import json
import math
import os
import platform
import subprocess


def now():
    return datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def loadavg():
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except OSError:
        return None


def machine():
    cpu = platform.processor() or "unknown"
    try:
        with open("/proc/cpuinfo") as handle:
            for line in handle:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    mem_gib = None
    try:
        with open("/proc/meminfo") as handle:
            for line in handle:
                if line.startswith("MemTotal:"):
                    mem_gib = round(int(line.split()[1]) / 1024.0 / 1024.0, 1)
    except OSError:
        pass
    return {"nproc": os.cpu_count(), "cpu": cpu, "memory_gib": mem_gib, "os": platform.platform(),
            "python": platform.python_version(), "loadavg_start": loadavg()}


def versions():
    out = {}
    for name in ("ansible-core", "boto3", "botocore", "moto"):
        try:
            from importlib.metadata import version
            out[name] = version(name)
        except Exception:  # pylint: disable=broad-except
            out[name] = None
    try:
        out["commit"] = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, check=False,
                                       cwd=os.path.dirname(os.path.abspath(__file__))).stdout.strip()
    except OSError:
        out["commit"] = None
    return out


def _rows(results, key, **match):
    return [r for r in results[key] if all(r.get(k) == v for k, v in match.items())]


def _one(results, key, **match):
    rows = _rows(results, key, **match)
    return rows[0] if rows else None


def _target(name, value, limit, passed, detail):
    return {"target": name, "value": value, "limit": limit, "pass": passed, "detail": detail}


def targets(results, smoke=False):
    """Each target of the issue with its figure and pass/fail (None: not measured in this run)."""
    out = []
    sizes = sorted({r["n"] for r in results["bulk"]})
    n_rerun = 10000 if 10000 in sizes else (max(sizes) if sizes else None)
    for module in ("ec2_profile_association", "ec2_metadata_options"):
        row = _one(results, "bulk", n=n_rerun, module=module, op="rerun")
        if not row:
            continue
        limit = 2 * math.ceil(n_rerun / 1000.0) + 5
        ok = row["mutating"] == 0 and row["calls"] <= limit
        note = "" if n_rerun == 10000 else "; the target is at N=10,000 (--with-10k)"
        out.append(_target("converged rerun %s at N=10,000: 0 mutating, <= 2*ceil(N/1000)+5 calls" % module,
                           "%d calls, %d mutating" % (row["calls"], row["mutating"]), "<= %d calls, 0 mutating" % limit,
                           ok if n_rerun == 10000 else (ok if not smoke else None), "N=%d%s" % (n_rerun, note)))

    bulk = [_one(results, "bulk", n=1000, module=m, op="converge") for m in ("ec2_profile_association", "ec2_metadata_options")]
    base = [r for r in results["baseline"] if r["op"] == "converge"]
    if all(bulk) and len(base) >= 2:
        bn = base[0]["n"]
        bulk_per = sum(r["task_seconds"] for r in bulk) / 1000.0
        base_per = sum(r["task_seconds"] for r in base) / float(bn)
        speedup = base_per / bulk_per if bulk_per else None
        out.append(_target("first converge at N=1,000: >= 50x faster per instance than the per-instance baseline",
                           "%.1fx (%.2f ms vs %.0f ms per instance)" % (speedup, bulk_per * 1000, base_per * 1000),
                           ">= 50x", speedup >= 50, "baseline at N=%d, both modules, module task time" % bn))
    else:
        out.append(_target("first converge at N=1,000: >= 50x faster per instance than the baseline", None, ">= 50x",
                           None, "needs N=1000 and a baseline"))
    flo = _rows(results, "floor", n=1000)
    if all(bulk) and len(flo) == 2:
        ours = sum(r["task_seconds"] for r in bulk)
        ours_wall = sum(r["wall"] for r in bulk)
        theirs = sum(r["seconds"] for r in flo)
        out.append(_target("first converge at N=1,000: within 1.5x of the endpoint floor",
                           "%.2fx (%.1fs vs floor %.1fs; %.2fx with ansible-playbook start-up)"
                           % (ours / theirs, ours, theirs, ours_wall / theirs),
                           "<= 1.5x", ours / theirs <= 1.5, "module task time, both modules"))
    else:
        out.append(_target("first converge at N=1,000: within 1.5x of the floor", None, "<= 1.5x", None, "needs N=1000"))

    for n in (1000, 10000):
        rows = _rows(results, "limiter", n=n)
        if not rows:
            out.append(_target("limiter at N=%d: <= 1.05x the bound, 0 failed" % n, None, "<= 1.05x", None,
                               "not run" + (" (--with-10k)" if n == 10000 else "")))
            continue
        for row in rows:
            ok = row["ratio_task"] is not None and row["ratio_task"] <= 1.05 and row["failed_instances"] == 0
            out.append(_target("limiter at N=%d (x%g) %s: <= 1.05x the bound, 0 failed" % (n, row["scale"], row["module"]),
                               "%.3fx (%.1fs / bound %.1fs), %s failed, %d throttled"
                               % (row["ratio_task"] or 0, row["task_seconds"], row["bound"], row["failed_instances"],
                                  row["throttled"]), "<= 1.05x", ok,
                               "wall incl. ansible start-up %.3fx; %s" % (row["ratio_wall"] or 0, _phase(row))))
    out.extend(one_pass_targets(results))
    out.extend(organization_targets(results))
    rss = [r["peak_rss_mb"] for r in results["bulk"] if r["n"] == 10000 and r.get("peak_rss_mb")]
    rss += [r["peak_rss_mb"] for r in results.get("role_limiter", []) if r["n"] == 10000 and r.get("peak_rss_mb")]
    biggest = max(sizes) if sizes else None
    if rss:
        out.append(_target("peak RSS at N=10,000 <= 300 MB", "%.0f MB" % max(rss), "<= 300 MB", max(rss) <= 300, ""))
    else:
        other = [r["peak_rss_mb"] for r in results["bulk"] if r["n"] == biggest and r.get("peak_rss_mb")]
        out.append(_target("peak RSS at N=10,000 <= 300 MB", "%.0f MB at N=%s" % (max(other), biggest) if other else None,
                           "<= 300 MB", None, "N=10,000 not run (--with-10k)"))
    return out


def one_pass_targets(results):
    """The role in one pass (issue 14): its bound through the limiter, the whole job against its floor, and
    against amazon.aws's per-instance loop."""
    out = []
    for row in [r for r in results.get("role_limiter", []) if r["op"] == "limiter converge"]:
        n, bound = row["n"], row["bound"]
        wall = row["wall"]
        if n == 1000:  # issue 20: AWS's per-API buckets and its windows (propagation, pending) at AWS's clock
            limit, ok = "wall <= 1.05 x bound + 20 s, 0 failed", wall <= 1.05 * bound + 20 and row["rc"] == 0 and \
                not row.get("failed_instances")
        else:
            limit, ok = "<= 1.05 x bound", row["ratio_identity"] is not None and row["ratio_identity"] <= 1.05 and \
                row["rc"] == 0 and not row["throttled"]
        out.append(_target("role at N=%d through the limiter (x%g), mixed fleet: the slowest bucket, not the sum"
                           % (n, row["scale"]),
                           "wall %.1fs, fleet task %ss (%sx) vs bound %.1fs; sum of buckets %.1fs; %d throttled, %s failed"
                           % (wall, row.get("identity_seconds"), row.get("ratio_identity"), bound, row["sum_of_buckets"],
                              row["throttled"], row.get("failed_instances")), limit, ok,
                           "bucket bounds %s" % row.get("bucket_bounds")))
    reruns = [r for r in results.get("role_limiter", []) if r["op"] == "limiter rerun"]
    for row in reruns:
        out.append(_target("role rerun at N=%d: changed=0, 0 mutating calls" % row["n"], "%d calls, %d mutating"
                           % (row["calls"], row["mutating"]), "0 mutating", row["mutating"] == 0 and row["rc"] == 0, ""))
    whole = {r["module"]: r for r in results.get("whole_job", [])}
    role, flo = whole.get("role ec2_identity"), whole.get("floor (one boto3 thread)")
    if role and flo:
        ratio = role["wall"] / flo["wall"] if flo["wall"] else None
        out.append(_target("whole job at N=%d (IAM included, buckets opened): within 1.5x of the fewest-calls floor"
                           % role["n"], "%.2fx (%.1fs vs floor %.1fs; %d vs %d calls)"
                           % (ratio, role["wall"], flo["wall"], role["calls"], flo["calls"]), "<= 1.5x",
                           ratio is not None and ratio <= 1.5, "ansible-playbook wall, start-up included"))
    amazon = (results.get("amazon_loop") or [None])[0]
    if role and amazon and amazon["rc"] == 0:
        ours = role["wall"] / role["n"]
        theirs = amazon["wall"] / amazon["n"]
        out.append(_target("whole job per instance vs amazon.aws ec2_instance looped per instance",
                           "%.0fx (%.1f ms vs %.0f ms per instance; amazon.aws at N=%d)"
                           % (theirs / ours, ours * 1000, theirs * 1000, amazon["n"]), ">= 50x", theirs / ours >= 50,
                           "ansible-playbook wall, IAM included on both sides"))
    return out


def organization_targets(results):
    """Parallel targets (issue 15): T targets at once within 1.2x of the slowest single target."""
    out = []
    for row in [r for r in results.get("organization", []) if r["part"] == "parallel" and r["targets"] == 8]:
        singles = [r for r in results["organization"] if r["part"] == "single" and r["n"] == row["n"]]
        out.append(_target("%d targets x %d instances with forks %d (limiter x1): within 1.2x of the slowest single target"
                           % (row["targets"], row["n"], row["targets"]),
                           "%.3fx (%.1fs vs %.1fs alone; fleet tasks %.1f-%.1fs vs %s alone)"
                           % (row["ratio"], row["wall"], row["slowest_single"],
                              min(row["fleet_task_seconds"].values() or [0]), row["slowest_fleet_task"] or 0,
                              "/".join(_f(r["slowest_fleet_task"]) for r in singles)),
                           "<= 1.2x", row["ratio"] <= 1.2 and row["rc"] == 0,
                           "ansible-playbook wall, summary play included"))
    return out


def _window(row):
    """(seconds before the first mutating call, apply-phase ratio) of a limiter row, from the proxy."""
    first, last = (row.get("mutating_window") or [None, None])[:2]
    if first is None or last is None or not row.get("bound"):
        return None, None
    return first, (last - first) / row["bound"]


def _observe(row):
    """The module's own observe seconds (DescribeInstances and association reads), when it reported them."""
    for task in row.get("tasks") or ():
        if (task.get("timings") or {}).get("observe") is not None:
            return task["timings"]["observe"]
    return None


def _phase(row):
    first, ratio = _window(row)
    if ratio is None:
        return "no mutating window recorded"
    return "apply phase (first to last mutating call) %.3fx the bound, after %.1fs of start-up and observe" % (ratio, first)


def _f(value, fmt="%.1f"):
    return "-" if value is None else fmt % value


def machine_line(results):
    """The machine, the versions and the commit of a results file, as its first line."""
    m, v = results["machine"], results["versions"]
    return ("%s; %s CPUs (%s), %s GiB; load average %s at start, %s at end; Python %s, ansible-core %s, boto3 %s, "
            "moto %s; commit %s; %.0fs in all."
            % (results["date"], m["nproc"], m["cpu"], m["memory_gib"], m.get("loadavg_start"), m.get("loadavg_end"),
               m["python"], v.get("ansible-core"), v.get("boto3"), v.get("moto"), v.get("commit"),
               results.get("seconds", 0)))


def markdown(results):
    lines = ["# keyless.aws fleet benchmark", "", machine_line(results), "",
             "## Bulk modules (uniform fleet: every instance needs the change)", "",
             "| N | module | op | wall s | module s | module CPU s | ms/instance | API calls | mutating | peak RSS MB | changed |",
             "|---:|---|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for r in results["bulk"] + results["role"]:
        lines.append("| %d | %s | %s | %s | %s | %s | %s | %d | %d | %s | %s |" % (
            r["n"], r["module"], r["op"], _f(r["wall"]), _f(r["task_seconds"]), _f(r.get("module_cpu_seconds")),
            _f(1000.0 * r["task_seconds"] / r["n"], "%.2f"), r["calls"], r["mutating"], _f(r.get("peak_rss_mb"), "%.0f"),
            (r.get("summary") or {}).get("changed", "-")))
    if results["floor"]:
        lines += ["", "## Endpoint floor (boto3, one thread, no waits) vs first converge", "",
                  "| N | module | floor s | floor calls | module s | module calls | ratio |", "|---:|---|---:|---:|---:|---:|---:|"]
        for f in results["floor"]:
            b = _one(results, "bulk", n=f["n"], module=f["module"], op="converge")
            lines.append("| %d | %s | %s | %d | %s | %s | %s |" % (
                f["n"], f["module"], _f(f["seconds"]), f["calls"], _f(b and b["task_seconds"]), b and b["calls"] or "-",
                _f(b and f["seconds"] and b["task_seconds"] / f["seconds"], "%.2fx")))
    if results["baseline"]:
        lines += ["", "## Per-instance baseline (one task per instance in a loop)", "",
                  "| N | module | wall s | s/instance | API calls | bulk s/instance at N | speedup per instance "
                  "| bulk s at the same N | speedup in total |",
                  "|---:|---|---:|---:|---:|---|---:|---:|---:|"]
        for b in results["baseline"]:
            per = b["task_seconds"] / b["n"]
            refs = sorted(_rows(results, "bulk", module=b["module"], op="converge"), key=lambda r: abs(r["n"] - 1000))
            ref = refs[0] if refs else None
            refper = ref["task_seconds"] / ref["n"] if ref else None
            same = _one(results, "bulk", n=b["n"], module=b["module"], op="converge")
            lines.append("| %d | %s | %s | %.3f | %d | %s | %s | %s | %s |" % (
                b["n"], b["module"], _f(b["wall"]), per, b["calls"],
                "%.4f (N=%d)" % (refper, ref["n"]) if ref else "-", _f(refper and per / refper, "%.0fx"),
                _f(same and same["task_seconds"]),
                _f(same and same["task_seconds"] and b["task_seconds"] / same["task_seconds"], "%.0fx")))
    if results["limiter"]:
        lines += ["", "## Through the simulated AWS rate limiter (bound = (N - capacity) / (refill x scale))", "",
                  "| N | scale | module | bound s | module s | ratio | s before 1st mutating | of which observe "
                  "| apply-phase ratio | wall s | throttled | failed |",
                  "|---:|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
        for r in results["limiter"]:
            first, phase = _window(r)
            lines.append("| %d | x%g | %s | %s | %s | %s | %s | %s | %s | %s | %d | %s |" % (
                r["n"], r["scale"], r["module"], _f(r["bound"]), _f(r["task_seconds"]), _f(r["ratio_task"], "%.3f"),
                _f(first), _f(_observe(r)), _f(phase, "%.3f"), _f(r["wall"]), r["throttled"], r["failed_instances"]))
    if results.get("role_limiter"):
        lines += ["", "## The role in one pass, through the simulated limiter (mixed fleet, AWS's buckets on both sides)", "",
                  "| N | scale | op | wall s | fleet task s | bound s (max bucket) | sum of buckets s | ratio | calls | "
                  "mutating | throttled | failed | fewest tokens a call found (AWS's side) |",
                  "|---:|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|"]
        for r in results["role_limiter"]:
            low = ", ".join("%s %.2f" % (k, v) for k, v in sorted((r.get("headroom") or {}).items())
                            if k != "non_mutating") or "-"
            lines.append("| %d | x%g | %s | %s | %s | %s | %s | %s | %d | %d | %d | %s | %s |" % (
                r["n"], r["scale"], r["op"], _f(r["wall"]), _f(r.get("identity_seconds")), _f(r["bound"]),
                _f(r["sum_of_buckets"]), _f(r.get("ratio_identity"), "%.3f"), r["calls"], r["mutating"], r["throttled"],
                r.get("failed_instances"), low))
    if results.get("whole_job") or results.get("amazon_loop"):
        lines += ["", "## The whole job (IAM included) beside its floor and amazon.aws's loop", "",
                  "| N | what | wall s | per instance ms | calls | mutating |", "|---:|---|---:|---:|---:|---:|"]
        for r in results.get("whole_job", []) + results.get("amazon_loop", []):
            lines.append("| %d | %s | %s | %s | %d | %d |" % (
                r["n"], r["module"], _f(r["wall"]), _f(1000.0 * r["wall"] / r["n"]), r["calls"], r["mutating"]))
    if results.get("organization"):
        lines += ["", "## Parallel targets: one playbook run over many accounts (limiter keyed per account)", "",
                  "| part | targets x N | forks | wall s | fleet task s (each target) | fleet apply phase s | "
                  "ratio to slowest single | CPU s (ansible / moto / proxy) | calls | "
                  "summary: instances / compliant / changed / failed |", "|---|---|---:|---:|---|---|---:|---|---:|---|"]
        for r in results["organization"]:
            t = r.get("summary_totals") or {}
            cpu = r.get("cpu_seconds") or {}
            applies = sorted((v or {}).get("apply", 0) for v in (r.get("fleet_timings") or {}).values())
            lines.append("| %s | %d x %d | %d | %s | %s | %s | %s | %s / %s / %s | %d | %s / %s / %s / %s |" % (
                r["part"], r["targets"], r["n"], r["targets"], _f(r["wall"]),
                ", ".join(_f(v) for v in sorted(r["fleet_task_seconds"].values())),
                ", ".join(_f(v) for v in applies) or "-", _f(r.get("ratio"), "%.3f"),
                cpu.get("ansible", "-"), cpu.get("moto", "-"), cpu.get("proxy", "-"),
                r["calls"], t.get("instances"), t.get("compliant"), t.get("changed"), t.get("failed")))
    if results.get("waves"):
        from bench.waves import markdown as waves_markdown
        lines += waves_markdown(results["waves"])
    lines += ["", "## Targets", "", "| target | figure | limit | result |", "|---|---|---|---|"]
    for t in results["targets"]:
        verdict = {True: "PASS", False: "FAIL", None: "n/a"}[t["pass"]]
        detail = (" (%s)" % t["detail"]) if t["detail"] else ""
        lines.append("| %s | %s | %s | %s%s |" % (t["target"], t["value"] or "-", t["limit"], verdict, detail))
    if results.get("problems"):
        lines += ["", "## Problems", ""] + ["- " + p.replace("\n", " ")[:500] for p in results["problems"]]
    return "\n".join(lines) + "\n"


def write(results, out_dir, smoke=False, name=None):
    out_dir.mkdir(parents=True, exist_ok=True)
    stem = name or ("smoke" if smoke else "latest")
    stamp = results["date"].replace(":", "").replace("-", "")
    paths = []
    for name in ([stem] if smoke else [stem, "run-%s" % stamp]):
        jpath, mpath = out_dir / (name + ".json"), out_dir / (name + ".md")
        jpath.write_text(json.dumps(results, indent=1, sort_keys=True, default=str) + "\n")
        mpath.write_text(markdown(results))
        paths += [jpath, mpath]
    return paths
