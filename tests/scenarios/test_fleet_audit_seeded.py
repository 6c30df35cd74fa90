"""ec2_fleet_info through ansible-playbook against the moto server with a seeded mixed fleet.

Every count is derived from what the seeding created (tests/support/fleet_seed.py), and each row is
compared with the ground truth read straight from EC2 (fleet_state), not with the module's own report.
The run must be read-only (zero mutating calls at the server) and cost a bounded number of calls.
"""

from __future__ import annotations

import json
import math

import pytest

from tests.support.fleet_seed import fleet_state, seed_fleet
from tests.support.moto_server import MotoServer, calls, reset_moto
from tests.support.playbook import run_playbook

COUNT = 400
CORRECT = "AppProfile"

PLAYBOOK = """
- name: Audit the seeded fleet
  hosts: localhost
  gather_facts: false
  tasks:
    - name: Audit against the documented setup
      keyless.aws.ec2_fleet_info:
        tags: {Fleet: app}
        expected:
          instance_profile: %(correct)s
          http_tokens: required
        imdsv1_usage: true
      register: audit
    - name: Audit the hop limit only
      keyless.aws.ec2_fleet_info:
        tags: {Fleet: app}
        expected:
          min_hop_limit: 2
      register: hops
    - name: Keep the results for the test
      ansible.builtin.copy:
        content: "{{ {'audit': audit, 'hops': hops} | to_json }}"
        dest: "{{ out }}"
        mode: "0600"
""" % {"correct": CORRECT}


class _Server:
    def __init__(self, url):
        self.url = url

    def calls(self, reset=False):
        return calls(self.url, reset=reset)


@pytest.fixture(scope="module")
def moto():
    """A moto server of this module's own, seeded once: every test here only reads (and checks that it
    did), and xdist may interleave other files' tests, which reset the shared server."""
    with MotoServer() as server:
        yield _Server(server.url)


@pytest.fixture(scope="module")
def seeded(moto):
    # moto's backends are global to the process: a fleet left by an earlier test file in this xdist
    # worker (same Fleet tag, other server) would be selected too, so start from an empty account.
    reset_moto(moto.url)
    fleet = seed_fleet(moto.url, COUNT, correct_profile=CORRECT, control_group=5, seed=7)
    assert fleet["imdsv1_callers"], "the seed should create IMDSv1 callers"
    return fleet


def test_audit_counts_match_the_seeded_fleet(moto, seeded, tmp_path):
    out = tmp_path / "audit.json"
    moto.calls(reset=True)
    result = run_playbook(PLAYBOOK, moto.url, extra_vars={"out": str(out)})
    assert result.rc == 0, result
    calls = moto.calls()
    data = json.loads(out.read_text())
    audit, hops = data["audit"], data["hops"]

    selected = set(seeded["running"]) | set(seeded["stopped"])
    terminated = set(seeded["terminated"])
    optional = set(seeded["optional"]) | set(seeded["hop_limit_2"])
    correct = set(seeded["correct_profile"])
    callers = set(seeded["imdsv1_callers"])
    rows = dict((r["instance_id"], r) for r in audit["instances"])

    # selection: every running/stopped fleet instance, no control-group instance, terminated ones skipped
    assert set(rows) == selected
    assert not set(rows) & set(seeded["control_group"])
    assert set(s["instance_id"] for s in audit["skipped"]) == terminated
    assert all(s["reason"] == "instance is terminated" for s in audit["skipped"])

    expected_findings = {
        "no_profile": len(set(seeded["no_profile"]) & selected),
        "wrong_profile": len(set(seeded["other_profile"]) & selected),
        "imdsv1_allowed": len(optional & selected),
        "imdsv1_in_use": len(callers),
    }
    compliant = (correct & set(seeded["required_already"]) & selected) - callers
    summary = audit["summary"]
    assert summary["total"] == len(selected)
    assert summary["by_state"] == {"running": len(seeded["running"]), "stopped": len(seeded["stopped"])}
    assert summary["by_finding"] == dict((k, v) for k, v in expected_findings.items() if v)
    assert summary["compliant"] == len(compliant) and summary["non_compliant"] == len(selected) - len(compliant)
    assert summary["skipped"] == len(terminated) and summary["missing"] == 0
    assert set(i for i, r in rows.items() if r["compliant"]) == compliant

    # IMDSv1 usage: the seeded MetadataNoToken sums, and zero for everyone else
    for iid, row in rows.items():
        assert row["imdsv1_calls"] == seeded["imdsv1_counts"].get(iid, 0), iid
        assert ("imdsv1_in_use" in row["findings"]) is (iid in callers)

    # every row agrees with the ground truth read directly from EC2
    truth = fleet_state(moto.url, list(rows))
    roles = {CORRECT: CORRECT + "Role", "LegacyProfile": "LegacyProfileRole"}
    for iid, row in rows.items():
        t = truth[iid]
        assert row["state"] == t["state"]
        assert row["instance_profile_arn"] == t["profile_arn"]
        if t["profile_arn"]:
            name = t["profile_arn"].rsplit("/", 1)[-1]
            assert row["instance_profile_name"] == name and row["role_name"] == roles[name]
        else:
            assert row["instance_profile_name"] is None and row["role_name"] is None
        assert row["metadata_options"]["http_tokens"] == t["metadata"]["HttpTokens"]
        assert row["metadata_options"]["http_put_response_hop_limit"] == t["metadata"]["HttpPutResponseHopLimit"]
        assert row["metadata_options"]["http_endpoint"] == t["metadata"]["HttpEndpoint"]
        assert row["name"].startswith("app-")

    # the hop-limit audit: exactly the hop-1 instances (optional and required_already variants)
    hop1 = (set(seeded["optional"]) | set(seeded["required_already"])) & selected
    assert hops["summary"]["by_finding"] == {"hop_limit_below_minimum": len(hop1)}
    assert set(r["instance_id"] for r in hops["instances"] if not r["compliant"]) == hop1

    # read-only, and a bounded number of calls for the two audits together
    assert calls["mutating"] == 0, calls
    counts = calls["counts"]
    pages = math.ceil((COUNT + 5) / 1000)
    # against a non-AWS endpoint the first page is a small probe (moto counts MaxResults in reservations)
    assert counts.get("ec2:DescribeInstances", 0) <= 2 * (pages + 1), counts
    # association lookups are chunked at 200 instance ids (EC2's filter limit); moto pages them at 100
    assert counts.get("ec2:DescribeIamInstanceProfileAssociations", 0) <= 2 * math.ceil(len(selected) / 100), counts
    # one GetInstanceProfile per distinct profile per task, never one per instance
    assert counts.get("iam:GetInstanceProfile", 0) == 2 * 2, counts
    assert counts.get("monitoring:GetMetricData", 0) <= math.ceil(len(selected) / 500), counts
    assert calls["total"] <= 30, calls


def test_check_mode_and_fail_on_findings(moto, seeded):
    playbook = """
- name: Gate on compliance
  hosts: localhost
  gather_facts: false
  tasks:
    - name: Fail when the fleet is not compliant
      keyless.aws.ec2_fleet_info:
        tags: {Fleet: app}
        expected: {instance_profile: %s}
        fail_on_findings: true
""" % CORRECT
    moto.calls(reset=True)
    result = run_playbook(playbook, moto.url, check=True)
    assert result.rc != 0 and result.failed == 1
    non_compliant = len((set(seeded["no_profile"]) | set(seeded["other_profile"])))
    assert "%d of %d instances are not compliant" % (
        non_compliant, len(seeded["running"]) + len(seeded["stopped"])) in result.stdout
    assert moto.calls()["mutating"] == 0
