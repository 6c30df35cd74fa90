"""The README's main job on an embedded AWS endpoint: `make demo` (or `.venv/bin/python demo/run.py`).

Starts a moto server on 127.0.0.1 (AWS-managed policies loaded), seeds a realistic mixed fleet (no
profile, the wrong profile, stopped, terminated, IMDSv1 callers with MetadataNoToken datapoints,
containers at hop limit 2), runs `ansible-playbook keyless.aws.converge`, prints where the report is and
its summary, runs converge again and asserts changed=0, runs `keyless.aws.audit`, and stops the server.
Exits non-zero when any step fails or the second converge changed anything.
"""

from __future__ import annotations

import argparse
import json
import os
import pathlib
import re
import subprocess
import sys
import time

ROOT = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.support.aws_env import aws_env, ensure_collection_link  # noqa: E402
from tests.support.fleet_seed import seed_fleet  # noqa: E402
from tests.support.moto_server import MotoServer, calls  # noqa: E402

DEMO = ROOT / "demo"
OUT = DEMO / "out"
REPORTS = OUT / "reports"
TARGET = "demo-us-east-1"
RECAP = re.compile(r"^(\S+)\s+:\s+ok=(\d+)\s+changed=(\d+)\s+unreachable=(\d+)\s+failed=(\d+)", re.M)
# Lines worth showing live: batch progress, the report line, task failures and the recap.
SHOW = re.compile(r'"msg": "(batch \d+/\d+:.*|report: .*|audit: .*)"|^fatal:|^failed:|FAILED!|^\S+\s+: ok=')


def step(text):
    print("\n==> %s" % text, flush=True)


def playbook(name, url, log_name, extra=()):
    """Run `ansible-playbook keyless.aws.<name>` on the demo inventory; stream the interesting lines."""
    cmd = [str(pathlib.Path(sys.executable).parent / "ansible-playbook"), "keyless.aws.%s" % name,
           "-i", str(DEMO / "inventory.yml"), "-e", "@%s" % (DEMO / "vars.yml"),
           "-e", json.dumps({"ec2_identity_report_dir": str(REPORTS)})] + list(extra)
    log = OUT / log_name
    start = time.time()
    with open(log, "w") as handle:
        proc = subprocess.Popen(cmd, cwd=str(ROOT), env=aws_env(url), stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT, text=True)
        text = []
        for line in proc.stdout:
            handle.write(line)
            text.append(line)
            match = SHOW.search(line)
            if match:
                # group 1 is a debug msg, still JSON-escaped as the callback printed it
                print("    " + (match.group(1).replace('\\"', '"') if match.group(1) else line.strip()), flush=True)
        proc.wait()
    recap = {m.group(1): {"ok": int(m.group(2)), "changed": int(m.group(3)), "failed": int(m.group(5)) + int(m.group(4))}
             for m in RECAP.finditer("".join(text))}
    print("    (%.1fs, rc=%d, full log: %s)" % (time.time() - start, proc.returncode, log.relative_to(ROOT)), flush=True)
    return proc.returncode, recap


def summary_section(markdown):
    """The report's top part (up to the batch table) for the terminal."""
    keep = []
    for line in markdown.splitlines():
        if line.startswith("## Batches"):
            break
        keep.append(line)
    return "\n".join(keep).strip()


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=300, help="instances in the seeded fleet (default 300)")
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args(argv)
    started = time.time()
    OUT.mkdir(parents=True, exist_ok=True)
    REPORTS.mkdir(parents=True, exist_ok=True)
    ensure_collection_link()
    failures = []

    step("Starting a moto server on 127.0.0.1 (AWS-managed policies loaded)")
    os.environ["MOTO_IAM_LOAD_MANAGED_POLICIES"] = "true"
    with MotoServer() as server:
        print("    endpoint %s" % server.url)

        step("Seeding a mixed fleet of %d instances (+5 outside the selector)" % args.count)
        t = time.time()
        fleet = seed_fleet(server.url, args.count, prefix="shop", seed=args.seed, correct_profile="ShopApp",
                           other_profile="LegacyProfile", control_group=5)
        print("    %s (%.1fs)" % (", ".join("%d %s" % (len(fleet[k]), k.replace("_", " ")) for k in (
            "running", "stopped", "terminated", "no_profile", "other_profile", "correct_profile", "hop_limit_2",
            "required_already", "imdsv1_callers")), time.time() - t))

        step("ansible-playbook keyless.aws.converge (first run)")
        calls(server.url, reset=True)
        rc, recap = playbook("converge", server.url, "converge-1.log")
        first_calls = calls(server.url)
        calls(server.url, reset=True)
        if rc != 0:
            failures.append("the first converge failed (rc=%d)" % rc)
        report_md = REPORTS / ("%s-ShopApp.md" % TARGET)
        report_json = REPORTS / ("%s-ShopApp.json" % TARGET)
        print("    API calls: %d (%d mutating)" % (first_calls["total"], first_calls["mutating"]))
        if report_md.exists():
            step("Report: %s (and %s)" % (report_md.relative_to(ROOT), report_json.name))
            print(summary_section(report_md.read_text()))
        else:
            failures.append("no report at %s" % report_md)

        step("ansible-playbook keyless.aws.converge (second run: must change nothing)")
        rc, recap = playbook("converge", server.url, "converge-2.log")
        second_calls = calls(server.url)
        changed = sum(h["changed"] for h in recap.values())
        print("    changed=%d, API calls: %d (%d mutating)" % (changed, second_calls["total"], second_calls["mutating"]))
        if rc != 0 or not recap:
            failures.append("the second converge failed (rc=%d)" % rc)
        elif changed != 0 or second_calls["mutating"] != 0:
            failures.append("the second converge was not idempotent: changed=%d, %d mutating calls %s" % (
                changed, second_calls["mutating"],
                {k: v for k, v in second_calls["counts"].items() if not k.split(":", 1)[1].startswith(("Describe", "Get", "List"))}))

        step("ansible-playbook keyless.aws.audit (read-only)")
        rc = playbook("audit", server.url, "audit.log")[0]
        if rc != 0:
            failures.append("the audit failed (rc=%d)" % rc)
        audit_md = REPORTS / ("%s-ShopApp-audit.md" % TARGET)
        if audit_md.exists():
            print("    audit report: %s" % audit_md.relative_to(ROOT))

        step("Stopping the moto server")
    print("\nDemo finished in %.0fs." % (time.time() - started))
    if failures:
        for failure in failures:
            print("FAILED: " + failure)
        return 1
    print("OK: converged, the second run changed nothing (changed=0, 0 mutating API calls), audit done.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
