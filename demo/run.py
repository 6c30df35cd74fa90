"""The README's main job on an embedded AWS endpoint: `make demo` (or `.venv/bin/python -m demo.run` from the checkout).

Starts a moto server on 127.0.0.1 (AWS-managed policies loaded), seeds a realistic mixed fleet (no
profile, the wrong profile, stopped, terminated, IMDSv1 callers with MetadataNoToken datapoints,
containers at hop limit 2), writes CloudTrail activity of the demo role (log files under demo/out/) and
creates a launch template for the fleet that allows IMDSv1 and has no profile, runs
`ansible-playbook keyless.aws.converge` with the launch-template and activity steps on, prints where the
report is and its summary (with the suggested policy and the template fixed), runs converge again and
asserts changed=0, runs `keyless.aws.audit`, and stops the server.
Exits non-zero when any step fails or the second converge changed anything.
"""

from __future__ import annotations

import argparse
import json
import os
import pathlib
import re
import shutil
import subprocess
import sys
import time

from tests.support.activity_fixtures import write_log_files
from tests.support.aws_env import FAKE_ACCESS_KEY, FAKE_SECRET_KEY, aws_env, ensure_collection_link
from tests.support.fleet_seed import seed_fleet
from tests.support.moto_server import MotoServer, calls

ROOT = pathlib.Path(__file__).resolve().parents[1]

DEMO = ROOT / "demo"
OUT = DEMO / "out"
REPORTS = OUT / "reports"
TRAIL = OUT / "cloudtrail"
TARGET = "demo-us-east-1"
ACCOUNT = "123456789012"
REGION = "us-east-1"
ROLE_ARN = "arn:aws:iam::%s:role/ShopApp" % ACCOUNT
# The resources of the demo role's AppAccess policy, so the comparison shows real overlaps and gaps.
ACTIVITY_NAMES = {"bucket": "my-app-data", "queue": "my-app-queue", "secret": "my-app/db"}
TEMPLATE = "shop-asg"
# The converge-only steps (the audit entry point has no such variables).
CONVERGE_VARS = {"ec2_identity_manage_launch_templates": True, "ec2_identity_activity_report": True,
                 "ec2_identity_activity_source": "local", "ec2_identity_activity_local_path": str(TRAIL),
                 "ec2_identity_activity_days": 30}
RECAP = re.compile(r"^(\S+)\s+:\s+ok=(\d+)\s+changed=(\d+)\s+unreachable=(\d+)\s+failed=(\d+)", re.M)
# Lines worth showing live: batch progress, the report line, task failures and the recap.
SHOW = re.compile(r'"msg": "(batch \d+/\d+:.*|report: .*|audit: .*|launch templates: .*)"|^fatal:|^failed:|FAILED!|^\S+\s+: ok=')


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


def write_activity(days=7, seed=7):
    """The demo role's CloudTrail log files, as delivered, under demo/out/cloudtrail (fresh each run)."""
    shutil.rmtree(str(TRAIL), ignore_errors=True)
    written = write_log_files(str(TRAIL), None, ACCOUNT, REGION, ROLE_ARN, days=days, seed=seed, names=ACTIVITY_NAMES)
    return written


def ec2_client(url):
    import boto3
    return boto3.client("ec2", region_name=REGION, endpoint_url=url, aws_access_key_id=FAKE_ACCESS_KEY,
                        aws_secret_access_key=FAKE_SECRET_KEY)


def create_template(url):
    """A launch template of the fleet (tagged Fleet=shop) that allows IMDSv1 and launches without a profile."""
    ec2 = ec2_client(url)
    return ec2.create_launch_template(
        LaunchTemplateName=TEMPLATE,
        LaunchTemplateData={"ImageId": "ami-12c6146b", "InstanceType": "t3.small",
                            "MetadataOptions": {"HttpTokens": "optional", "HttpPutResponseHopLimit": 2,
                                                "HttpEndpoint": "enabled"}},
        TagSpecifications=[{"ResourceType": "launch-template", "Tags": [{"Key": "Fleet", "Value": "shop"}]}],
    )["LaunchTemplate"]["LaunchTemplateId"]


def template_state(url, template_id):
    """(default version number, its IamInstanceProfile, HttpTokens, hop limit) read from EC2."""
    ec2 = ec2_client(url)
    version = ec2.describe_launch_template_versions(LaunchTemplateId=template_id, Versions=["$Default"])[
        "LaunchTemplateVersions"][0]
    data = version["LaunchTemplateData"]
    md = data.get("MetadataOptions") or {}
    profile = data.get("IamInstanceProfile") or {}
    return (version["VersionNumber"], profile.get("Name") or profile.get("Arn"), md.get("HttpTokens"),
            md.get("HttpPutResponseHopLimit"))


def policy_summary(policy):
    """One line per statement: the actions, briefly."""
    lines = []
    for statement in (policy or {}).get("Statement") or ():
        actions = statement["Action"]
        actions = [actions] if isinstance(actions, str) else actions
        resources = statement.get("Resource")
        resources = [resources] if isinstance(resources, str) else resources or []
        plural = "" if len(resources) == 1 else "s"
        lines.append("      %-15s %s  (%d resource%s)" % (statement.get("Sid", ""), ", ".join(actions), len(resources), plural))
    return lines


def print_extras(report_json, url, template_id, before):
    """The suggested policy and the launch template fix, from the JSON report and EC2."""
    result = json.loads(report_json.read_text())["result"]
    activity = result.get("activity") or {}
    failures = []
    if activity.get("suggested_policy"):
        window = activity["window"]
        print("\n    Suggested policy for ShopApp from %d CloudTrail events (%s .. %s), %d actions:" % (
            activity["event_count"], window["start"][:10], window["end"][:10], len(activity["used_actions"])))
        print("\n".join(policy_summary(activity["suggested_policy"])))
        print("      used but not granted: %s" % (", ".join(u["action"] for u in activity["used_not_granted"]) or "none"))
        print("      granted but never used: %d actions; unmapped events: %s" % (
            len(activity["unused_granted_actions"]),
            ", ".join("%s %s" % (u["event_source"], u["event_name"]) for u in activity["unmapped_events"]) or "none"))
        print("      written to %s" % pathlib.Path(activity["policy_file"]).relative_to(ROOT))
    else:
        failures.append("the report has no suggested policy")
    after = template_state(url, template_id)
    print("\n    Launch template %s (%s): default version %d -> %d" % (TEMPLATE, template_id, before[0], after[0]))
    print("      profile %s -> %s, http_tokens %s -> %s, hop limit %s -> %s" % (
        before[1], after[1], before[2], after[2], before[3], after[3]))
    if not (after[0] > before[0] and after[1] == "ShopApp" and after[2] == "required" and after[3] == before[3]):
        failures.append("the launch template was not fixed: %r -> %r" % (before, after))
    return failures


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

        step("Writing CloudTrail activity of the role and a launch template of the fleet")
        written = write_activity()
        template_id = create_template(server.url)
        template_before = template_state(server.url, template_id)
        print("    %d log files, %d events of ShopApp (%d in all) under %s" % (
            len(written["files"]), len(written["role_events"]), len(written["events"]), TRAIL.relative_to(ROOT)))
        print("    launch template %s (%s): default version %d, profile %s, http_tokens %s, hop limit %s" % (
            (TEMPLATE, template_id) + template_before))

        step("ansible-playbook keyless.aws.converge (first run)")
        calls(server.url, reset=True)
        rc, recap = playbook("converge", server.url, "converge-1.log", ["-e", json.dumps(CONVERGE_VARS)])
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
            failures.extend(print_extras(report_json, server.url, template_id, template_before))
        else:
            failures.append("no report at %s" % report_md)

        step("ansible-playbook keyless.aws.converge (second run: must change nothing)")
        rc, recap = playbook("converge", server.url, "converge-2.log", ["-e", json.dumps(CONVERGE_VARS)])
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
    print("OK: converged (fleet and launch template), policy suggested from activity, the second run changed "
          "nothing (changed=0, 0 mutating API calls), audit done.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
