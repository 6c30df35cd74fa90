"""ec2_fleet_info's launch sources under moto: a fleet whose instances Auto Scaling groups (pinned, $Latest,
$Default, a shared template, a launch configuration), an EKS node group and a Beanstalk environment own
(tests/support/launch_sources_seed.py), judged at the version each launches."""

from __future__ import annotations

import pytest
from moto import mock_aws

from ansible_collections.keyless.aws.plugins.modules import autoscaling_group_identity
from ansible_collections.keyless.aws.plugins.modules import ec2_fleet_info as module
from tests.support.launch_sources_seed import seed_launch_sources
from tests.support.module_runner import run_module

EXPECTED = {"http_tokens": "required"}


@pytest.fixture
def seeded():
    with mock_aws():
        yield seed_launch_sources(None, prefix="ls")


def by_name(result):
    return {(r["kind"], r["name"]): r for r in result["launch_sources"]}


def test_every_owner_is_judged_at_what_it_launches(seeded):
    result = run_module(module.main, {"tags": seeded["tag"], "expected": EXPECTED, "check_role_escalation": False})
    assert not result.failed, result
    rows = by_name(result)
    groups = ["ls-pinned", "ls-latest", "ls-default", "ls-shared-latest", "ls-shared-pinned", "ls-lc"]
    assert sorted(name for kind, name in rows if kind == "autoscaling") == sorted(groups)
    pinned = rows[("autoscaling", "ls-pinned")]
    # the group names version 1 while the default is 2: judged at 1
    assert [(t["version"], t["requested_version"]) for t in pinned["launch_templates"]] == [(1, "1")]
    assert pinned["findings"] == ["imdsv1_allowed"] and pinned["compliant"] is False
    assert pinned["instances"] == seeded["instances"]["ls-pinned"]
    assert "autoscaling_group_identity names=[ls-pinned]" in pinned["proposed_change"]["summary"]
    latest = rows[("autoscaling", "ls-latest")]
    assert [(t["version"], t["requested_version"]) for t in latest["launch_templates"]] == [(2, "$Latest")]
    assert [t["version"] for t in rows[("autoscaling", "ls-default")]["launch_templates"]] == [1]
    lc = rows[("autoscaling", "ls-lc")]
    assert lc["launch_templates"] == [] and lc["launch_specifications"][0]["findings"][0] == "launch_configuration"
    assert "convert_launch_configurations=true" in lc["proposed_change"]["summary"]
    node = rows[("eks", "ls-eks/general")]
    assert node["type"] == "custom launch template" and node["findings"] == ["imdsv1_allowed"]
    assert node["instances"] == seeded["instances"]["eks"]
    assert "eks_nodegroup_identity" in node["proposed_change"]["summary"]
    shop = rows[("elasticbeanstalk", "ls-shop")]
    assert shop["instances"] == seeded["instances"]["beanstalk"] and "DisableIMDSv1" in str(shop["proposed_change"])
    summary = result["summary"]["launch_sources"]
    assert summary["total"] == len(rows) == 8 and summary["non_compliant"] == 8
    assert summary["by_kind"] == {"autoscaling": 6, "eks": 1, "elasticbeanstalk": 1}

    # the groups converged: they launch compliant instances now, the owners' sources are still reported
    converged = run_module(autoscaling_group_identity.main, {"names": groups, "http_tokens": "required",
                                                             "convert_launch_configurations": True})
    assert not converged.failed, converged
    after = by_name(run_module(module.main, {"tags": seeded["tag"], "expected": EXPECTED,
                                             "check_role_escalation": False}))
    assert [name for (kind, name), r in after.items() if kind == "autoscaling" and not r["compliant"]] == []
    assert after[("autoscaling", "ls-lc")]["launch_specifications"] == []  # on a template now
    assert not after[("eks", "ls-eks/general")]["compliant"] and not after[("elasticbeanstalk", "ls-shop")]["compliant"]


def test_no_owner_no_read(seeded):
    """Instances nobody owns have no launch source to report; launch_sources=false reports none for owned ones."""
    del seeded
    result = run_module(module.main, {"tags": {"Fleet": "nobody"}, "expected": EXPECTED})
    assert result["launch_sources"] == [] and result["summary"]["launch_sources"]["total"] == 0
    off = run_module(module.main, {"tags": {"Fleet": "ls"}, "launch_sources": False, "check_role_escalation": False})
    assert off["launch_sources"] == []
