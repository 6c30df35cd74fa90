"""The role in one pass: its bound on AWS's buckets, the whole job against its floor, and amazon.aws's loop.

Three parts of bench/run.py, all on the same moto server:

- role_limiter: the ec2_identity role over a mixed fleet (tests/support/fleet_seed.py mix="realistic": no
  profile, another profile running and stopped, hop limit 2, terminated, IMDSv1 callers) through the
  simulated AWS limiter, with AWS's buckets on both sides (the role's rate_limits on the limiter's clock).
  The bound is computed from the calls the run made: max over the EC2 APIs it called of
  (calls - capacity) / (refill x scale), each API with its own bucket (tests/support/strict/rate_limit.py
  EC2_RATE_LIMITS, the limiter's own table); the "sum of buckets" figure is what running the buckets one after
  the other would take (the role before it converged both steps in one pass).
- whole_job: the role over a uniform fleet (every instance needs both changes), IAM included, with the
  client-side buckets opened so the endpoint is the limit, beside floor.whole_job_floor: the same calls
  from one boto3 thread (IAM role and profile, one describe, one association listing, one Associate and
  one ModifyInstanceMetadataOptions per instance).
- amazon_loop: the same job done the way users do it with amazon.aws today - iam_role, iam_instance_profile,
  then ec2_instance per instance in a loop (instance_ids: [item], iam_instance_profile, metadata_options).
  amazon.aws comes from the `ansible` package on PyPI, installed with --no-deps into bench/.amazon-aws/
  (gitignored) for this row only; nothing of it is used anywhere else.
"""

from __future__ import annotations

import json
import pathlib
import subprocess
import sys

from tests.support.fixtures import TRUST
from tests.support.strict import bound_seconds, rate_limit_of

ROOT = pathlib.Path(__file__).resolve().parents[1]
AMAZON_DIR = ROOT / "bench" / ".amazon-aws"
ANSIBLE_PACKAGE = "ansible>=12,<13"  # bundles amazon.aws 10.x, for ansible-core 2.19 on Python 3.11


def api_calls(counts):
    """{EC2 action: calls} of a moto call count ({"service:Action": n}): the calls that reached moto, each of
    which took a token of its API's bucket (a throttled call never reaches moto)."""
    out = {}
    for key, n in counts.items():
        service, _sep, action = key.partition(":")
        if service == "ec2":
            out[action] = out.get(action, 0) + n
    return out


def bounds(counts, scale, limits=None):
    """(max-API bound, sum-of-APIs bound, {API bucket: bound}) of the calls made, in seconds, with the limiter's
    per-API buckets (strict.EC2_RATE_LIMITS, or `limits`). Describe calls are taken as filtered or paginated
    (the larger bucket), as the fleet engine makes them."""
    per = {}
    for action, n in api_calls(counts).items():
        name, capacity, refill = rate_limit_of(action, limits=limits)
        per[name] = bound_seconds(n, capacity, refill, scale)
    return (max(per.values()) if per else 0.0), sum(per.values()), per


def role_vars(extra=None):
    out = {"ec2_identity_role_name": "BenchRole", "ec2_identity_instance_tags": {"Fleet": "bench"},
           "ec2_identity_report": False}
    out.update(extra or {})
    return out


def amazon_collections(log):
    """The ansible_collections directory holding amazon.aws (installed on first use)."""
    target = AMAZON_DIR / "ansible_collections" / "amazon" / "aws"
    if not target.exists():
        log("installing %s (amazon.aws) into %s for the amazon.aws baseline" % (ANSIBLE_PACKAGE, AMAZON_DIR))
        subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--target", str(AMAZON_DIR),
                        ANSIBLE_PACKAGE], check=True)
    return AMAZON_DIR


def amazon_loop_playbook(profile, role):
    """The whole job with amazon.aws: the role, the profile, then ec2_instance once per instance."""
    tasks = [
        {"name": "IAM role", "amazon.aws.iam_role": {
            "name": role, "assume_role_policy_document": TRUST, "create_instance_profile": False}},
        {"name": "Instance profile", "amazon.aws.iam_instance_profile": {"name": profile, "role": role}},
        {"name": "Per instance", "amazon.aws.ec2_instance": {
            "instance_ids": ["{{ item }}"], "state": "running", "iam_instance_profile": profile,
            "metadata_options": {"http_tokens": "required", "http_endpoint": "enabled"}},
         "loop": "{{ bench_ids }}"},
    ]
    return json.dumps([{"name": "amazon.aws baseline", "hosts": "localhost", "gather_facts": False, "tasks": tasks}])
