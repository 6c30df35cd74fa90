"""ec2_profile_association in-process under moto.mock_aws."""

from __future__ import annotations

import pytest
from moto import mock_aws

from ansible_collections.keyless.aws.plugins.modules import ec2_profile_association as module
from tests.support.fixtures import MockFleet
from tests.support.module_runner import run_module


@pytest.fixture
def aws():
    with mock_aws():
        yield MockFleet()


def by_id(res):
    return {r["instance_id"]: r for r in res["instances"]}


def test_converges_every_combination(aws):
    none_run, legacy_run, app_run, legacy_stop, gone = aws.launch(5)
    aws.associate(legacy_run, "Legacy")
    aws.associate(app_run, "App")
    aws.associate(legacy_stop, "Legacy")
    aws.ec2.stop_instances(InstanceIds=[legacy_stop])
    aws.ec2.terminate_instances(InstanceIds=[gone])
    other_fleet = aws.launch(1, fleet="other")[0]

    res = run_module(module.main, {"tags": {"Fleet": "app"}, "instance_profile": "App"}, diff=True)
    assert not res.failed, res
    rows = by_id(res)
    assert rows[none_run]["action"] == "associate" and rows[none_run]["status"] == "changed"
    assert rows[legacy_run]["action"] == "replace"
    assert rows[legacy_stop]["action"] == "disassociate_associate"
    assert rows[app_run]["status"] == "unchanged" and rows[app_run]["action"] == "none"
    assert rows[gone]["status"] == "skipped" and "terminated" in rows[gone]["reason"]
    assert other_fleet not in rows
    assert res["summary"]["by_action"] == {"associate": 1, "replace": 1, "disassociate_associate": 1}
    assert res["instance_profile"] == {"name": "App", "arn": aws.arns["App"]}
    assert res["diff"]["after"][none_run] == {"instance_profile": aws.arns["App"]}
    for iid in (none_run, legacy_run, app_run, legacy_stop):
        assert aws.profile_of(iid) == "App"
    assert aws.profile_of(other_fleet) is None

    again = run_module(module.main, {"tags": {"Fleet": "app"}, "instance_profile": aws.arns["App"]})
    assert not again.changed and again["summary"]["unchanged"] == 4


def test_check_mode_changes_nothing_and_predicts(aws):
    iid, legacy = aws.launch(2)
    aws.associate(legacy, "Legacy")
    res = run_module(module.main, {"instance_ids": [iid, legacy], "instance_profile": "App"}, check_mode=True)
    assert res.changed and res["summary"]["changed"] == 2
    assert by_id(res)[legacy]["after"] == {"instance_profile": aws.arns["App"]}
    assert aws.profile_of(iid) is None and aws.profile_of(legacy) == "Legacy"


def test_check_mode_tolerates_a_profile_created_later_in_the_run(aws):
    iid = aws.launch(1)[0]
    res = run_module(module.main, {"instance_ids": [iid], "instance_profile": "NotYet"}, check_mode=True)
    assert not res.failed, res
    assert res["instance_profile"]["arn"].endswith(":instance-profile/NotYet")
    assert by_id(res)[iid]["action"] == "associate"


def test_missing_profile_fails_clearly(aws):
    iid = aws.launch(1)[0]
    res = run_module(module.main, {"instance_ids": [iid], "instance_profile": "NotYet"})
    assert res.failed and "NotYet does not exist" in res["msg"]


def test_profile_without_role_fails(aws):
    aws.profile("Empty", role=False)
    iid = aws.launch(1)[0]
    res = run_module(module.main, {"instance_ids": [iid], "instance_profile": "Empty"})
    assert res.failed and "holds no role" in res["msg"]
    assert aws.profile_of(iid) is None


def test_absent_disassociates(aws):
    a, b = aws.launch(2)
    aws.associate(a, "Legacy")
    res = run_module(module.main, {"instance_ids": [a, b], "state": "absent"})
    assert res.changed and by_id(res)[a]["action"] == "disassociate" and by_id(res)[b]["status"] == "unchanged"
    assert aws.profile_of(a) is None
    assert not run_module(module.main, {"instance_ids": [a, b], "state": "absent"}).changed


def test_unknown_instance_id_fails_after_converging_the_rest(aws):
    iid = aws.launch(1)[0]
    res = run_module(module.main, {"instance_ids": [iid, "i-0000000000000dead"], "instance_profile": "App"})
    assert res.failed and "i-0000000000000dead" in res["msg"] and "not found" in res["msg"]
    assert res["failed_instances"][0]["instance_id"] == "i-0000000000000dead"
    assert aws.profile_of(iid) == "App"


@pytest.mark.parametrize("args, fragment", [
    ({"instance_profile": "App"}, "selector is empty"),
    ({"all_instances": True}, "instance_profile is required"),
    ({"instance_ids": ["i-12"], "instance_profile": "App"}, "instance_ids has invalid ids"),
    ({"tags": {"a": "b"}, "instance_profile": "not a name"}, "instance_profile='not a name'"),
    ({"tags": {"a": "b"}, "instance_profile": "App", "concurrency": 0}, "concurrency=0"),
    ({"tags": {"a": "b"}, "instance_profile": "App", "rate_limits": {"mutating": {"capacity": 0}}}, "capacity"),
])
def test_validation_before_any_call(args, fragment):
    # no mock_aws: any AWS call would fail differently (no credentials / endpoint)
    res = run_module(module.main, dict(args, endpoint_url="http://127.0.0.1:9"))
    assert res.failed and fragment in res["msg"], res["msg"]
