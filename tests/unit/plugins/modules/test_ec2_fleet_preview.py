"""ec2_fleet_preview: what ec2_instance_identity would do on many targets, in one process (module_utils/fleet/
preview.py), in-process under moto.mock_aws.

Bad input of any entry fails the task before any call (or stays with its entry with fail_on_target_error=false);
each target's result is ec2_instance_identity's check-mode result for the same options, and nothing is changed; a
converged fleet's result is what the module returns outside check mode (its timings aside); a target whose fleet has
failed instances is a row with the module's failure message and never stops the others.
"""

from __future__ import annotations

import pytest
from moto import mock_aws

from ansible_collections.keyless.aws.plugins.modules import ec2_fleet_preview as mod
from ansible_collections.keyless.aws.plugins.modules import ec2_instance_identity
from tests.support.fixtures import MockFleet
from tests.support.module_runner import run_module

OPEN = {"capacity": 100000, "refill": 100000.0}
BUCKETS = ("AssociateIamInstanceProfile", "ModifyInstanceMetadataOptions", "mutating", "describe")
FAST = {"rate_limits": {name: dict(OPEN) for name in BUCKETS}}
# what differs between two runs of the same plan (how long they took, the calls the waits made) and what Ansible adds
# (the task's warnings: in-process, what earlier runs of the test session warned too)
RUN_OWN = ("timings", "api_calls", "invocation", "warnings", "deprecations")


@pytest.fixture
def aws():
    with mock_aws():
        yield MockFleet(hop=1)


def options(fleet, **extra):
    return dict(FAST, tags={"Fleet": fleet}, instance_profile="App", http_tokens="required", **extra)


def target(name, fleet, region="us-east-1", **extra):
    return {"name": name, "connection": {"region": region}, "options": options(fleet, **extra)}


def same(a, b):
    return dict((k, v) for k, v in a.items() if k not in RUN_OWN) == dict((k, v) for k, v in b.items() if k not in RUN_OWN)


def test_bad_input_of_any_entry_fails_before_any_call(aws, api_calls):
    result = run_module(mod.main, {"targets": [
        target("a", "app"),
        target("a", "app"),
        {"name": "b", "options": {"tags": {"Fleet": "app"}, "http_tokens": "sometimes"}},
        {"name": "c", "options": {"instance_profile": "App"}},
        {"name": "d", "options": dict(options("app"), region="eu-west-1", colour="blue")},
        {"name": "e", "connection": {"region": "us-east-1", "max_attempts": "many"}, "options": options("app")},
        {"name": "f", "options": {"http_tokens": "required"}},
    ], "concurrency": 65, "region": "us-east-1"})
    assert result.failed, result
    msg = result["msg"]
    for fragment in ("target a is listed twice", "target b: options: value of "
                     "http_tokens must be one of", "target c:", "target d: options region are connection options",
                     "target d: options: colour", "target e: connection option max_attempts",
                     "target f:", "concurrency=65 is out of range"):
        assert fragment in msg, (fragment, msg)
    assert api_calls == []


def test_each_target_is_the_modules_check_mode_and_a_converged_one_its_real_run(aws, api_calls):
    changes = aws.launch(3, fleet="changes")
    done = aws.launch(2, fleet="done")
    for iid in done:
        aws.associate(iid, "App")
    aws.ec2.modify_instance_metadata_options(InstanceId=done[0], HttpTokens="required")
    aws.ec2.modify_instance_metadata_options(InstanceId=done[1], HttpTokens="required")
    args = {"targets": [target("changes", "changes"), target("done", "done"),
                        target("nothing", "nobody"), target("west", "changes", region="eu-west-1")],
            "region": "us-east-1"}

    del api_calls[:]
    preview = run_module(mod.main, args)
    assert not preview.failed and not preview.changed, preview
    assert preview["converged"] == ["done", "nothing", "west"]
    assert preview["failed_targets"] == []
    rows = preview["targets"]
    assert list(rows) == ["changes", "done", "nothing", "west"]
    assert not rows["changes"]["converged"] and rows["changes"]["result"]["changed"]
    assert rows["changes"]["result"]["summary"]["changed"] == 3
    # nothing was changed: reads only
    assert [op for op in api_calls if not op.startswith(("Describe", "Get", "List"))] == []
    assert aws.profile_of(changes[0]) is None and aws.options_of(changes[0])["HttpTokens"] == "optional"
    # the module's own check-mode result, for every target
    for name, fleet in (("changes", "changes"), ("done", "done"), ("nothing", "nobody")):
        checked = run_module(ec2_instance_identity.main, dict(options(fleet), region="us-east-1"), check_mode=True)
        assert same(rows[name]["result"], dict(checked)), name
    # a converged fleet's preview is the module's real run
    real = run_module(ec2_instance_identity.main, dict(options("done"), region="us-east-1"))
    assert not real.changed and same(rows["done"]["result"], dict(real))
    assert rows["done"]["result"]["summary"]["unchanged"] == 2


def test_a_target_that_fails_is_its_row_and_never_stops_the_others(aws):
    aws.launch(1, fleet="done")
    gone = "i-0123456789abcdef0"
    args = {"targets": [{"name": "missing", "options": dict(FAST, instance_ids=[gone], http_tokens="required")},
                        target("app", "done")], "region": "us-east-1"}
    failed = run_module(mod.main, args)
    assert failed.failed and "1 of 2 target(s) failed: missing:" in failed["msg"], failed
    assert gone in failed["targets"]["missing"]["error"]
    assert failed["targets"]["missing"]["result"] is None and not failed["targets"]["missing"]["converged"]
    assert failed["targets"]["app"]["error"] is None and failed["targets"]["app"]["result"]["summary"]["changed"] == 1

    kept = run_module(mod.main, dict(args, fail_on_target_error=False))
    assert not kept.failed and kept["failed_targets"] == ["missing"]


def test_bad_input_stays_with_its_entry_when_targets_do_not_fail_the_task(aws, api_calls):
    aws.launch(1, fleet="app")
    result = run_module(mod.main, {"targets": [
        {"name": "bad", "options": {"tags": {"Fleet": "app"}, "http_tokens": "sometimes"}},
        target("good", "app")], "region": "us-east-1", "fail_on_target_error": False})
    assert not result.failed, result
    assert "http_tokens" in result["targets"]["bad"]["error"] and result["targets"]["bad"]["result"] is None
    assert result["targets"]["good"]["result"]["summary"]["total"] == 1
    assert result["failed_targets"] == ["bad"]


def test_an_owners_instance_left_to_it_is_held_so_the_fleet_is_not_converged(aws):
    # an EKS node with another profile: its profile is EKS's (held by the profile step), IMDSv2 already required; the
    # role judges held instances (ec2_identity_fail_on_held), so the target must run its steps, not take the preview
    node = aws.launch(1, fleet="eks")[0]
    aws.ec2.create_tags(Resources=[node], Tags=[{"Key": "eks:cluster-name", "Value": "prod"},
                                                {"Key": "eks:nodegroup-name", "Value": "ng"}])
    aws.associate(node, "Legacy")
    aws.ec2.modify_instance_metadata_options(InstanceId=node, HttpTokens="required")
    preview = run_module(mod.main, {"targets": [target("eks", "eks")], "region": "us-east-1"})
    row = preview["targets"]["eks"]
    assert not row["result"]["changed"] and row["result"]["summary"]["held"] == 1, row
    assert len(row["result"]["owned_instances"]) == 1
    assert not row["converged"] and preview["converged"] == []
