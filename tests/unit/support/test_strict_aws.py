"""The strict-AWS layer (tests/support/strict/): each behaviour shows AWS's answer through a real moto
server and boto3, the switches (KEYLESS_STRICT, the control endpoint, the script's flags) and reset."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError
from botocore.parsers import ResponseParserError

from tests.support import strict
from tests.support.aws_env import FAKE_ACCESS_KEY, FAKE_SECRET_KEY, ROOT
from tests.support.aws_proxy import AwsProxy
from tests.support.fake_clock import FakeClock
from tests.support.moto_server import MotoServer, calls, reset_moto
from tests.support.strict import (EC2_RATE_LIMITS, Call, Html5xx, StrictClock, TokenBucket, assumed_key_account,
                                  bound_seconds, parse_switches, rate_limit_of, retry_html_5xx, strict_config, strict_off,
                                  strict_restore, strict_stats)

NO_RETRY = Config(retries={"total_max_attempts": 1, "mode": "standard"})
MINE = ["html_5xx", "rate_limit", "filter_limit", "sts_region"]
DEFAULTS = {"html_5xx": {"rate": 0.02, "seed": 0}, "rate_limit": {"limits": {}},
            "sts_region": {"enabled_regions": {}, "deactivated_regions": {}}}


@pytest.fixture(scope="module")
def server():
    # no test here reads a managed policy: skip loading ~1,300 of them into every IAM backend moto builds
    saved = os.environ.get("MOTO_IAM_LOAD_MANAGED_POLICIES")
    os.environ["MOTO_IAM_LOAD_MANAGED_POLICIES"] = "false"
    try:
        with MotoServer() as running:  # the defaults: every behaviour on, x10
            yield running
    finally:
        if saved is None:
            os.environ.pop("MOTO_IAM_LOAD_MANAGED_POLICIES", None)
        else:
            os.environ["MOTO_IAM_LOAD_MANAGED_POLICIES"] = saved


@pytest.fixture
def url(server):
    """Only `MINE` switched on at x10 with their default parameters and no state (moto itself is not reset:
    the tests use names of their own); left as found."""
    defaults = strict_stats(server.url)
    strict_config(server.url, disable="all", enable=MINE, speed=10, reset=True, reset_stats=True, **DEFAULTS)
    calls(server.url, reset=True)
    yield server.url
    strict_restore(server.url, defaults)


def client(service, url, region="us-east-1", config=NO_RETRY, key=FAKE_ACCESS_KEY, secret=FAKE_SECRET_KEY, token=None):
    return boto3.client(service, region_name=region, endpoint_url=url, config=config, aws_access_key_id=key,
                        aws_secret_access_key=secret, aws_session_token=token)


def code(call, *args, **kwargs):
    """The AWS error code (and HTTP status) a call answers, or ("ok", 200)."""
    try:
        call(*args, **kwargs)
        return "ok", 200
    except ClientError as exc:
        return exc.response["Error"]["Code"], exc.response["ResponseMetadata"]["HTTPStatusCode"]


def assumed(url, account, region="us-east-1"):
    creds = client("sts", url, region).assume_role(RoleArn="arn:aws:iam::%s:role/deployer" % account,
                                                   RoleSessionName="s%f" % time.time())["Credentials"]
    return creds["AccessKeyId"], creds["SecretAccessKey"], creds["SessionToken"]


# -- filter_limit -------------------------------------------------------------------------------------------------
def test_filter_values_are_counted_over_every_filter(url):
    ec2 = client("ec2", url)
    ids = ["i-%017x" % n for n in range(201)]
    # 150 + 50 = 200 values over two filters: allowed
    assert code(ec2.describe_instances, Filters=[{"Name": "instance-id", "Values": ids[:150]},
                                                 {"Name": "tag:Team", "Values": ["t%d" % n for n in range(50)]}]) == ("ok", 200)
    # one more, in either filter: FilterLimitExceeded, before anything is read
    assert code(ec2.describe_instances, Filters=[{"Name": "instance-id", "Values": ids[:150]},
                                                 {"Name": "tag:Team", "Values": ["t%d" % n for n in range(51)]}]) == (
        "FilterLimitExceeded", 400)
    assert code(ec2.describe_iam_instance_profile_associations,
                Filters=[{"Name": "instance-id", "Values": ids}]) == ("FilterLimitExceeded", 400)
    assert code(ec2.describe_instances, MaxResults=4) == ("InvalidParameterValue", 400)
    assert code(ec2.describe_instances, MaxResults=1001) == ("InvalidParameterValue", 400)
    assert code(ec2.describe_instances, MaxResults=1000) == ("ok", 200)
    assert code(ec2.describe_instances, InstanceIds=ids[:1], MaxResults=5) == ("InvalidParameterCombination", 400)
    assert strict_stats(url)["stats"]["refused"]["filter_limit"] == {
        "ec2:DescribeInstances": 4, "ec2:DescribeIamInstanceProfileAssociations": 1}
    strict_config(url, disable=["filter_limit"])  # moto's own answer: no limit
    assert code(ec2.describe_instances, Filters=[{"Name": "instance-id", "Values": ids}]) == ("ok", 200)


# -- sts_region ---------------------------------------------------------------------------------------------------
def test_sts_in_an_opt_in_region_the_callers_account_has_not_enabled(url):
    role = "arn:aws:iam::222233334444:role/deployer"
    me_south = client("sts", url, "me-south-1")
    assert code(me_south.assume_role, RoleArn=role, RoleSessionName="xx") == ("InvalidClientTokenId", 403)
    with pytest.raises(ClientError, match="The security token included in the request is invalid."):
        me_south.get_caller_identity()
    assert code(client("sts", url, "us-east-1").assume_role, RoleArn=role, RoleSessionName="xx") == ("ok", 200)
    # the role's (target's) account enabling the region does not help: the caller's own account signs the call
    strict_config(url, sts_region={"enabled_regions": {"222233334444": ["me-south-1"]}})
    assert code(me_south.assume_role, RoleArn=role, RoleSessionName="xx") == ("InvalidClientTokenId", 403)
    key, secret, token = assumed(url, "222233334444")  # ... but that account's own sessions may use it
    assert code(client("sts", url, "me-south-1", key=key, secret=secret, token=token).get_caller_identity) == ("ok", 200)
    # the caller's account (here: its access key, learnt from no STS answer) enables it
    strict_config(url, sts_region={"enabled_regions": {FAKE_ACCESS_KEY: ["me-south-1"]}})
    assert code(me_south.assume_role, RoleArn=role, RoleSessionName="xx") == ("ok", 200)
    # STS deactivated in a region
    strict_config(url, sts_region={"deactivated_regions": ["eu-west-3"]})
    assert code(client("sts", url, "eu-west-3").get_caller_identity) == ("RegionDisabledException", 403)
    assert strict_stats(url)["stats"]["refused"]["sts_region"] == {"sts:AssumeRole": 2, "sts:GetCallerIdentity": 2}


# -- html_5xx -----------------------------------------------------------------------------------------------------
def test_html_503_is_a_response_parser_error_and_its_retry_passes(url):
    strict_config(url, html_5xx={"rate": 1.0})  # every first attempt of a mutating EC2/IAM request
    iam, name = client("iam", url), "Html%d" % time.time_ns()
    with pytest.raises(ResponseParserError):
        iam.create_role(RoleName=name + "R", AssumeRolePolicyDocument="{}")
    # the retry (the same body) passes; botocore's standard mode would not have retried: the caller must
    assert iam.create_role(RoleName=name + "R", AssumeRolePolicyDocument="{}")["Role"]["RoleName"] == name + "R"
    with pytest.raises(ResponseParserError):
        client("iam", url, config=Config(retries={"mode": "standard", "total_max_attempts": 5})).create_role(
            RoleName=name + "S", AssumeRolePolicyDocument="{}")
    # reads and STS are never answered so; a harness client that treats the page as the 503 it is survives
    assert code(client("ec2", url).describe_instances) == ("ok", 200)
    assert retry_html_5xx(client("iam", url, config=None)).create_role(
        RoleName=name + "T", AssumeRolePolicyDocument="{}")["Role"]["RoleName"] == name + "T"
    assert strict_stats(url)["stats"]["refused"]["html_5xx"] == {"iam:CreateRole": 3}
    assert calls(url)["counts"] == {"iam:CreateRole": 2, "ec2:DescribeInstances": 1}  # the refused never ran
    # behind the fault proxy the page is still the page (the proxy rewrites only moto's own crash page)
    with AwsProxy(url) as proxy:
        with pytest.raises(ResponseParserError):
            client("ec2", proxy.url).create_tags(Resources=["i-1"], Tags=[{"Key": "k", "Value": "v"}])


def test_html_5xx_picks_about_one_first_attempt_in_fifty_deterministically():
    behaviour, clock = Html5xx(), StrictClock(1)

    def answers(n, action="ReplaceIamInstanceProfileAssociation", service="ec2"):
        return [behaviour.before(Call(service, action, "us-east-1", body=b"AssociationId=iip-%d" % i), clock)
                is not None for i in range(n)]

    first = answers(4000)
    assert 0.012 < sum(first) / 4000.0 < 0.028
    assert sum(answers(4000)) == 0  # every retry passes
    behaviour.reset()
    assert answers(4000) == first  # a pure function of the body and how often it was seen
    assert sum(answers(500, "DescribeInstances")) == sum(answers(500, "AssumeRole", "sts")) == 0
    behaviour.configure(rate=0)
    behaviour.reset()
    assert sum(answers(4000)) == 0


# -- rate_limit ---------------------------------------------------------------------------------------------------
def test_each_api_has_its_own_bucket(url):
    """AWS's numbers: ReplaceIamInstanceProfileAssociation (mutating) 50, AssociateIamInstanceProfile 100. The
    clock runs at x0.001 so that nothing refills while the calls are made (at x1, 5 tokens a second would)."""
    strict_config(url, disable="all", enable=["rate_limit"], speed=0.001)
    ec2 = client("ec2", url)
    replace = [code(ec2.replace_iam_instance_profile_association, AssociationId="iip-assoc-%017x" % n,
                    IamInstanceProfile={"Name": "P"}) for n in range(51)]
    assert replace[:50] == [replace[0]] * 50 and replace[0][0] != "RequestLimitExceeded"  # moto's own answer
    assert replace[50] == ("RequestLimitExceeded", 503)
    # the other APIs still have their tokens: moto answers them (an unknown instance)
    assert code(ec2.associate_iam_instance_profile, InstanceId="i-0123456789abcdef0",
                IamInstanceProfile={"Name": "P"})[0] == "NoSuchEntity"
    assert code(ec2.disassociate_iam_instance_profile, AssociationId="iip-assoc-0")[0] != "RequestLimitExceeded"
    state = strict_stats(url)["behaviours"]["rate_limit"]["state"]["buckets"]
    assert state["%s/us-east-1/ReplaceIamInstanceProfileAssociation" % FAKE_ACCESS_KEY]["throttled"] == 1
    assert state["%s/us-east-1/AssociateIamInstanceProfile" % FAKE_ACCESS_KEY]["capacity"] == 100
    # another region of the same account, and another account, have buckets of their own
    assert code(client("ec2", url, "eu-west-1").replace_iam_instance_profile_association, AssociationId="iip-assoc-1",
                IamInstanceProfile={"Name": "P"})[0] != "RequestLimitExceeded"
    # limits are overridable per API; new limits start full
    strict_config(url, rate_limit={"limits": {"ReplaceIamInstanceProfileAssociation": [2, 5]}})
    again = [code(ec2.replace_iam_instance_profile_association, AssociationId="iip-assoc-9",
                  IamInstanceProfile={"Name": "P"})[0] for _n in range(3)]
    assert again[2] == "RequestLimitExceeded" and "RequestLimitExceeded" not in again[:2]
    assert strict_stats(url)["stats"]["refused"]["rate_limit"] == {"ec2:ReplaceIamInstanceProfileAssociation": 2}


def test_unfiltered_unpaginated_describe_instances_has_a_smaller_bucket(url):
    strict_config(url, disable="all", enable=["rate_limit"], speed=0.001)
    ec2 = client("ec2", url)
    assert [code(ec2.describe_instances)[0] for _n in range(51)][-2:] == ["ok", "RequestLimitExceeded"]  # 50
    assert code(ec2.describe_instances, Filters=[{"Name": "tag:A", "Values": ["b"]}]) == ("ok", 200)  # 100 / 20
    assert code(ec2.describe_instances, MaxResults=5) == ("ok", 200)


def test_buckets_are_per_account_for_every_session_of_an_assumed_role(url):
    """Two sessions of one assumed role (two module runs of one target) share their account's bucket, as on
    AWS; the caller's own account keeps its own."""
    strict_config(url, disable="all", enable=["rate_limit"], speed=0.001,
                  rate_limit={"limits": {"DescribeIamInstanceProfileAssociations": [2, 20]}})
    sessions = [client("ec2", url, key=k, secret=s, token=t) for k, s, t in
                (assumed(url, "222233334444"), assumed(url, "222233334444"))]
    assert code(sessions[0].describe_iam_instance_profile_associations) == ("ok", 200)
    assert code(sessions[1].describe_iam_instance_profile_associations) == ("ok", 200)
    assert code(sessions[1].describe_iam_instance_profile_associations) == ("RequestLimitExceeded", 503)
    assert code(client("ec2", url).describe_iam_instance_profile_associations) == ("ok", 200)
    assert "222233334444/us-east-1/DescribeIamInstanceProfileAssociations" in \
        strict_stats(url)["behaviours"]["rate_limit"]["state"]["buckets"]


def test_a_client_paced_by_retries_takes_the_bound(url):
    """Standard retries against the buckets at x20: 20 calls of a 10 / 0.5 bucket take the bound or longer."""
    strict_config(url, disable="all", enable=["rate_limit"], speed=20,
                  rate_limit={"limits": {"ModifyInstanceMetadataOptions": [10, 0.5]}})
    ec2 = client("ec2", url, config=Config(retries={"mode": "standard", "total_max_attempts": 50}))
    start = time.monotonic()
    for n in range(20):
        assert code(ec2.modify_instance_metadata_options, InstanceId="i-%017x" % n, HttpTokens="required")[0] == \
            "InvalidInstanceID.NotFound"
    assert time.monotonic() - start >= bound_seconds(20, 10, 0.5, 20) * 0.95
    assert strict_stats(url)["stats"]["refused"]["rate_limit"]["ec2:ModifyInstanceMetadataOptions"] > 0


def test_rate_limit_table_per_api():
    """The table's entries the collection depends on, as the EC2 throttling page gives them."""
    assert rate_limit_of("ReplaceIamInstanceProfileAssociation") == ("ReplaceIamInstanceProfileAssociation", 50, 5.0)
    assert rate_limit_of("DisassociateIamInstanceProfile")[1:] == (100, 5.0)
    assert rate_limit_of("AssociateIamInstanceProfile")[1:] == (100, 5.0)
    assert rate_limit_of("ModifyInstanceMetadataOptions")[1:] == (100, 5.0)
    assert rate_limit_of("DescribeIamInstanceProfileAssociations")[1:] == (100, 20.0)
    assert rate_limit_of("DescribeInstances")[1:] == (100, 20.0)
    assert rate_limit_of("DescribeInstances", unfiltered=True) == ("DescribeInstances:unfiltered", 50, 10.0)
    assert rate_limit_of("DescribeIamInstanceProfileAssociations", unfiltered=True)[1:] == (100, 20.0)
    assert rate_limit_of("RunInstances")[1:] == (5, 2.0)
    assert rate_limit_of("StopInstances")[1:] == (50, 5.0)
    assert rate_limit_of("GetInstanceMetadataDefaults")[1:] == (100, 20.0)
    assert rate_limit_of("ModifyInstanceMetadataDefaults")[1:] == (2, 2.0)
    assert all(v[0] >= 1 and v[1] > 0 for v in EC2_RATE_LIMITS.values())


def test_token_bucket_burst_refill_and_no_token_for_a_throttled_call():
    clock = FakeClock(1000.0)
    bucket = TokenBucket(100, 5, clock=clock)
    assert sum(bucket.take() for _i in range(150)) == 100  # the burst is the capacity
    clock.now += 1.0
    assert sum(bucket.take() for _i in range(10)) == 5  # 5 per second; the 5 refused took nothing
    clock.now += 3600
    assert bucket.level() == 100  # never above capacity
    assert (bucket.taken, bucket.throttled) == (105, 55)


def test_the_strict_clock_scales_refill_not_capacity():
    """A bucket on the StrictClock at x20: capacity unchanged, refill 20 times faster; a speed change keeps
    AWS time continuous; N tokens take (N - capacity) / (refill * speed) real seconds."""
    real = FakeClock(1000.0)
    clock = StrictClock(20, clock=real)
    bucket = TokenBucket(100, 5, clock=clock.now)
    assert sum(bucket.take() for _i in range(500)) == 100
    real.now += 1.0
    assert sum(bucket.take() for _i in range(500)) == 100  # 5 * 20 per real second
    clock.set_speed(1)
    assert clock.now() == pytest.approx(20.0)
    real.now += 1.0
    assert sum(bucket.take() for _i in range(500)) == 5
    assert bound_seconds(1000, 100, 5) == 180.0 and bound_seconds(1000, 100, 5, 10) == 18.0
    assert bound_seconds(50, 100, 5) == 0.0


def test_assumed_key_account_reads_sts_answers():
    body = (b"<AssumeRoleResponse><AssumeRoleResult><Credentials><AccessKeyId>ASIAEXAMPLE</AccessKeyId>"
            b"</Credentials><AssumedRoleUser><Arn>arn:aws:sts::222233334444:assumed-role/deployer/run-1</Arn>"
            b"</AssumedRoleUser></AssumeRoleResult></AssumeRoleResponse>")
    assert assumed_key_account(body) == ("ASIAEXAMPLE", "222233334444")
    assert assumed_key_account(b"<ErrorResponse/>") == (None, None)


# -- switches and reset -------------------------------------------------------------------------------------------
def test_switch_specs():
    names = ["a", "b", "c"]
    assert parse_switches("all", names) == parse_switches(None, names) == names
    assert parse_switches("none", names) == parse_switches("", names) == []
    assert parse_switches("-a,-c", names) == ["b"]
    assert parse_switches("c,a", names) == ["a", "c"]
    assert parse_switches("none,+b", names) == ["b"]
    with pytest.raises(ValueError, match="filtr_limit"):
        parse_switches("-filtr_limit", names)


def test_env_var_and_speed_when_the_server_is_built(monkeypatch):
    monkeypatch.setenv("KEYLESS_STRICT", "-filter_limit,-rate_limit")
    monkeypatch.setenv("KEYLESS_STRICT_SPEED", "2.5")
    with MotoServer() as running:
        state = strict_stats(running.url)
        assert "filter_limit" not in state["enabled"] and "rate_limit" not in state["enabled"]
        assert "html_5xx" in state["enabled"] and "iam_propagation" in state["available"]
        assert state["speed"] == 2.5
        assert state["behaviours"]["rate_limit"]["source"].startswith("EC2 developer guide")
    with MotoServer(strict="none", strict_speed=1) as running:
        assert strict_stats(running.url)["enabled"] == [] and strict_stats(running.url)["speed"] == 1.0


def test_control_endpoint(url):
    state = strict_config(url, disable=["filter_limit"], speed=3, html_5xx={"rate": 0.5})
    assert "filter_limit" not in state["enabled"] and state["speed"] == 3.0
    assert state["behaviours"]["html_5xx"]["params"]["rate"] == 0.5
    for bad in ({"disable": ["nope"]}, {"nope": {}}, {"html_5xx": {"rte": 1}}, {"speed": 0},
                {"rate_limit": {"limits": {"X": [0, 1]}}}):
        with pytest.raises(ValueError):
            strict_config(url, **bad)
    assert strict_stats(url)["speed"] == 3.0  # nothing of a refused change applied
    everything = strict_stats(url)
    params = {name: b["params"] for name, b in everything["behaviours"].items()}
    assert {name: b["params"] for name, b in strict_restore(url, everything)["behaviours"].items()} == params
    with strict_off(url, ["html_5xx", "rate_limit"]) as off:
        assert off == ["html_5xx", "rate_limit"]
        assert strict_stats(url)["enabled"] == ["sts_region"]
    assert strict_stats(url)["enabled"] == ["html_5xx", "rate_limit", "sts_region"]
    with strict_off(url) as off:
        assert strict_stats(url)["enabled"] == []
    assert strict_stats(url)["enabled"] == ["html_5xx", "rate_limit", "sts_region"]


def test_a_moto_reset_resets_every_behaviour(url):
    reset_moto(url)
    strict_config(url, html_5xx={"rate": 1.0}, speed=0.001,
                  rate_limit={"limits": {"DescribeIamInstanceProfileAssociations": [1, 1]}})
    ec2 = client("ec2", url)
    with pytest.raises(ResponseParserError):
        ec2.create_tags(Resources=["i-1"], Tags=[{"Key": "k", "Value": "v"}])
    assert code(ec2.create_tags, Resources=["i-1"], Tags=[{"Key": "k", "Value": "v"}])[0] == "InvalidID"  # retry: moto
    assert code(ec2.describe_iam_instance_profile_associations) == ("ok", 200)
    assert code(ec2.describe_iam_instance_profile_associations)[0] == "RequestLimitExceeded"
    reset_moto(url)
    assert strict_stats(url)["stats"] == {"refused": {}, "rewritten": {}}
    with pytest.raises(ResponseParserError):  # the body is new again
        ec2.create_tags(Resources=["i-1"], Tags=[{"Key": "k", "Value": "v"}])
    assert code(ec2.describe_iam_instance_profile_associations) == ("ok", 200)  # a full bucket


def test_script_flags(tmp_path):
    port_file = tmp_path / "port"
    env = dict(os.environ, PYTHONPATH="", KEYLESS_STRICT="all")
    proc = subprocess.Popen([sys.executable, "-m", "tests.support.moto_server", "--port-file", str(port_file),
                             "--strict=-html_5xx,-sts_region", "--strict-speed", "1"],
                            cwd=str(ROOT), env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 60
        while not port_file.exists() and time.monotonic() < deadline and proc.poll() is None:
            time.sleep(0.05)
        state = strict_stats("http://127.0.0.1:%s" % port_file.read_text().strip())
        assert state["speed"] == 1.0
        assert "html_5xx" not in state["enabled"] and "sts_region" not in state["enabled"]
        assert "rate_limit" in state["enabled"]
    finally:
        proc.terminate()
        proc.wait(timeout=20)


def test_strict_layer_is_the_outermost_layer(server):
    assert isinstance(server.app, strict.StrictAws)
    assert type(server.app.app).__name__ == "CallCounter"
