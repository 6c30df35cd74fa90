"""The fault proxy (tests/support/aws_proxy.py) against a real moto server.

The server runs with the strict layer off (MotoServer(strict="none")): these tests count the proxy's own
faults, which the layer's html_5xx, throttling and propagation windows would blur. AWS's rate limiter (the
per-API token buckets) is the strict layer's rate_limit: tests/unit/support/test_strict_aws.py."""

from __future__ import annotations

import subprocess
import sys
import time
import urllib.request

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError, ConnectionClosedError

from tests.support.aws_env import FAKE_ACCESS_KEY, FAKE_SECRET_KEY, ROOT
from tests.support.aws_faults import FaultState
from tests.support.aws_proxy import AwsProxy, proxy_configure, proxy_stats
from tests.support.fixtures import TRUST
from tests.support.moto_server import MotoServer, calls, reset_moto
from tests.support.strict import draw

NO_RETRY = Config(retries={"total_max_attempts": 1, "mode": "standard"})


@pytest.fixture(scope="module")
def moto_url():
    with MotoServer(strict="none") as server:
        yield server.url


@pytest.fixture
def upstream(moto_url):
    reset_moto(moto_url)
    return moto_url


def client(service, url, config=NO_RETRY, key=FAKE_ACCESS_KEY):
    return boto3.client(service, region_name="us-east-1", endpoint_url=url, config=config,
                        aws_access_key_id=key, aws_secret_access_key=FAKE_SECRET_KEY)


def launch(url, n=3):
    ec2 = client("ec2", url)
    resp = ec2.run_instances(ImageId="ami-12c6146b", MinCount=n, MaxCount=n, InstanceType="t3.micro")
    return [i["InstanceId"] for i in resp["Instances"]]


def make_profile(iam, name):
    iam.create_role(RoleName=name + "Role", AssumeRolePolicyDocument=TRUST)
    iam.create_instance_profile(InstanceProfileName=name)
    iam.add_role_to_instance_profile(InstanceProfileName=name, RoleName=name + "Role")


def outcomes(url, n=40):
    """The error code (or 'ok' / 'dropped') of n identical-shaped but distinct DescribeInstances calls."""
    ec2 = client("ec2", url)
    seen = []
    for i in range(n):
        try:
            ec2.describe_instances(Filters=[{"Name": "tag:N", "Values": [str(i)]}])
            seen.append("ok")
        except ClientError as exc:
            seen.append(exc.response["Error"]["Code"])
        except ConnectionClosedError:
            seen.append("dropped")
    return seen


# -- pure parts ----------------------------------------------------------------------------------------------
def test_draw_is_a_pure_uniform_function():
    assert draw(1, "k", 0) == draw(1, "k", 0)
    assert draw(1, "k", 0) != draw(2, "k", 0) != draw(1, "k", 1)
    values = [draw(7, "key", i) for i in range(4000)]
    assert all(0.0 <= v < 1.0 for v in values)
    assert abs(sum(values) / len(values) - 0.5) < 0.03
    assert 0.08 < sum(v < 0.1 for v in values) / len(values) < 0.12


def test_configure_rejects_unknown_parameters():
    state = FaultState()
    with pytest.raises(ValueError, match="throttle_rte"):
        state.configure(throttle_rte=0.1)


# -- through a real moto server ------------------------------------------------------------------------------------
def test_passthrough_counts_calls(upstream):
    with AwsProxy(upstream) as proxy:
        ids = launch(proxy.url, 2)
        ec2 = client("ec2", proxy.url)
        assert len(ec2.describe_instances(InstanceIds=ids)["Reservations"][0]["Instances"]) == 2
        stats = proxy.stats()
        assert stats["calls"] == {"ec2:RunInstances": 1, "ec2:DescribeInstances": 1}
        assert stats["total_faults"] == 0
        assert calls(proxy.url)["counts"] == {"ec2:RunInstances": 1, "ec2:DescribeInstances": 1}  # passthrough
        assert proxy_stats(proxy.url, reset=True)["total_calls"] == 2
        assert proxy.stats()["total_calls"] == 0


def test_ec2_throttle_is_request_limit_exceeded_503(upstream):
    with AwsProxy(upstream, throttle_rate=1.0) as proxy:
        with pytest.raises(ClientError) as err:
            client("ec2", proxy.url).describe_instances()
    resp = err.value.response
    assert resp["Error"]["Code"] == "RequestLimitExceeded"
    assert resp["Error"]["Message"] == "Request limit exceeded."
    assert resp["ResponseMetadata"]["HTTPStatusCode"] == 503
    assert resp["ResponseMetadata"]["RequestId"]


def test_iam_throttle_is_throttling_400(upstream):
    with AwsProxy(upstream, throttle_rate=1.0) as proxy:
        with pytest.raises(ClientError) as err:
            client("iam", proxy.url).list_roles()
    resp = err.value.response
    assert resp["Error"]["Code"] == "Throttling"
    assert resp["Error"]["Message"] == "Rate exceeded"
    assert resp["ResponseMetadata"]["HTTPStatusCode"] == 400


def test_internal_error_is_500_for_both_services(upstream):
    with AwsProxy(upstream, error_rate=1.0) as proxy:
        for service, call in (("ec2", "describe_instances"), ("iam", "list_roles")):
            with pytest.raises(ClientError) as err:
                getattr(client(service, proxy.url), call)()
            assert err.value.response["Error"]["Code"] == "InternalError"
            assert err.value.response["ResponseMetadata"]["HTTPStatusCode"] == 500
        assert proxy.stats()["fault_totals"]["error"] == 2


def test_dropped_connection_before_forwarding(upstream):
    with AwsProxy(upstream, drop_rate=1.0) as proxy:
        with pytest.raises(ConnectionClosedError):
            client("ec2", proxy.url).run_instances(ImageId="ami-12c6146b", MinCount=1, MaxCount=1)
        assert proxy.stats()["fault_totals"]["drop"] == 1
    assert calls(upstream)["counts"] == {}  # the call never reached AWS


def test_dropped_response_after_the_call_took_effect(upstream):
    with AwsProxy(upstream, drop_after_rate=1.0) as proxy:
        with pytest.raises(ConnectionClosedError):
            client("ec2", proxy.url).run_instances(ImageId="ami-12c6146b", MinCount=1, MaxCount=1)
    assert calls(upstream)["counts"] == {"ec2:RunInstances": 1}  # applied, though the client never heard


def test_botocore_standard_retries_absorb_faults(upstream, monkeypatch):
    # the retries, not botocore's backoff sleeps, are under test
    monkeypatch.setattr("botocore.retries.standard.ExponentialBackoff.delay_amount", lambda self, ctx: 0.01)
    with AwsProxy(upstream, seed=3, throttle_rate=0.3, error_rate=0.1, drop_rate=0.1) as proxy:
        ec2 = client("ec2", proxy.url, config=Config(retries={"mode": "standard", "total_max_attempts": 20}))
        for i in range(20):
            ec2.describe_instances(Filters=[{"Name": "tag:N", "Values": [str(i)]}])
        stats = proxy.stats()
    assert stats["total_faults"] > 0
    assert stats["total_repeats"] == stats["total_faults"]  # every fault was answered by one identical retry
    assert stats["total_forwarded"] == 20


def test_faults_repeat_with_the_same_seed_and_differ_with_another(upstream):
    results = []
    for seed in (11, 11, 12):
        with AwsProxy(upstream, seed=seed, throttle_rate=0.2, error_rate=0.1, drop_rate=0.1) as proxy:
            results.append(outcomes(proxy.url))
    assert results[0] == results[1]
    assert results[0] != results[2]
    assert {"ok", "RequestLimitExceeded", "InternalError", "dropped"} <= set(results[0])
    faulted = sum(r != "ok" for r in results[0])
    assert 6 <= faulted <= 26  # ~40 % of 40


def test_upstream_html_500_becomes_internal_error(upstream):
    """moto's own crash page (HTML) is answered as EC2 would answer a 500: parsed, retryable."""
    import http.server
    import threading

    class Crash(http.server.BaseHTTPRequestHandler):
        def do_POST(self):
            self.rfile.read(int(self.headers.get("Content-Length") or 0))
            body = b"<!doctype html>\n<html lang=en>\n<title>500 Internal Server Error</title>\n"
            self.send_response(500)
            self.send_header("Content-Type", "text/html")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    crash = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Crash)
    threading.Thread(target=crash.serve_forever, daemon=True).start()
    try:
        with AwsProxy("http://127.0.0.1:%d" % crash.server_address[1]) as proxy:
            with pytest.raises(ClientError) as err:
                client("ec2", proxy.url).describe_instances()
            assert err.value.response["Error"]["Code"] == "InternalError"
            assert proxy.stats()["upstream_errors"] == {"ec2:DescribeInstances": 1}
    finally:
        crash.shutdown()


def test_first_try_fault_hits_each_distinct_request_once(upstream):
    ids = launch(upstream, 1)
    with AwsProxy(upstream, first_try_faults={"DescribeInstances": "error"}) as proxy:
        ec2 = client("ec2", proxy.url)
        for kwargs in ({}, {"InstanceIds": ids}):
            with pytest.raises(ClientError) as err:
                ec2.describe_instances(**kwargs)
            assert err.value.response["Error"]["Code"] == "InternalError"
            ec2.describe_instances(**kwargs)  # the same request again (a retry): passes
        ec2.describe_instance_status()  # other actions: untouched
        assert proxy.stats()["fault_totals"]["error"] == 2


def test_latency_is_added(upstream):
    with AwsProxy(upstream, latency=0.2, latency_jitter=0.1) as proxy:
        ec2 = client("ec2", proxy.url)
        start = time.monotonic()
        ec2.describe_instances()
        elapsed = time.monotonic() - start
    # the lower bound is the point; the upper one only catches a runaway (loose: CI machines get busy)
    assert 0.2 <= elapsed < 10


def test_propagation_delay_after_profile_creation(upstream):
    with AwsProxy(upstream, propagation_delay=1.5) as proxy:
        iam, ec2 = client("iam", proxy.url), client("ec2", proxy.url)
        ids = launch(proxy.url, 2)
        make_profile(iam, "FreshProfile")
        arn = iam.get_instance_profile(InstanceProfileName="FreshProfile")["InstanceProfile"]["Arn"]
        with pytest.raises(ClientError) as err:
            ec2.associate_iam_instance_profile(InstanceId=ids[0], IamInstanceProfile={"Name": "FreshProfile"})
        assert err.value.response["Error"]["Code"] == "InvalidParameterValue"
        assert err.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
        assert err.value.response["Error"]["Message"] == (
            "Value (FreshProfile) for parameter iamInstanceProfile.name is invalid. Invalid IAM Instance Profile name")
        with pytest.raises(ClientError) as err:
            ec2.associate_iam_instance_profile(InstanceId=ids[0], IamInstanceProfile={"Arn": arn})
        assert "iamInstanceProfile.arn is invalid" in err.value.response["Error"]["Message"]
        time.sleep(1.6)
        ec2.associate_iam_instance_profile(InstanceId=ids[0], IamInstanceProfile={"Arn": arn})
        assert proxy.stats()["fault_totals"]["propagation"] == 2


def test_propagation_delay_from_first_use(upstream):
    with AwsProxy(upstream, propagation_delay=1.0, propagation_start="first_use") as proxy:
        iam, ec2 = client("iam", proxy.url), client("ec2", proxy.url)
        ids = launch(proxy.url, 1)
        make_profile(iam, "Late")
        time.sleep(1.1)  # longer than the delay, yet the first use still meets it
        with pytest.raises(ClientError) as err:
            ec2.associate_iam_instance_profile(InstanceId=ids[0], IamInstanceProfile={"Name": "Late"})
        assert err.value.response["Error"]["Code"] == "InvalidParameterValue"
        time.sleep(1.1)
        ec2.associate_iam_instance_profile(InstanceId=ids[0], IamInstanceProfile={"Name": "Late"})


def test_propagation_delay_restarts_when_the_profile_gets_its_role(upstream):
    with AwsProxy(upstream, propagation_delay=30) as proxy:
        iam, ec2 = client("iam", proxy.url), client("ec2", proxy.url)
        ids = launch(proxy.url, 1)
        proxy.configure(propagation_delay=0)
        make_profile(iam, "Quick")  # created while the delay was 0: usable at once
        ec2.associate_iam_instance_profile(InstanceId=ids[0], IamInstanceProfile={"Name": "Quick"})
        proxy.configure(propagation_delay=30)
        iam.create_role(RoleName="Other", AssumeRolePolicyDocument="{}")
        iam.remove_role_from_instance_profile(InstanceProfileName="Quick", RoleName="QuickRole")
        iam.add_role_to_instance_profile(InstanceProfileName="Quick", RoleName="Other")
        assoc = ec2.describe_iam_instance_profile_associations()["IamInstanceProfileAssociations"][0]
        with pytest.raises(ClientError) as err:
            ec2.replace_iam_instance_profile_association(AssociationId=assoc["AssociationId"],
                                                         IamInstanceProfile={"Name": "Quick"})
        assert err.value.response["Error"]["Code"] == "InvalidParameterValue"


def test_always_failing_instance(upstream):
    with AwsProxy(upstream) as proxy:
        ids = launch(proxy.url, 2)
        iam, ec2 = client("iam", proxy.url), client("ec2", proxy.url)
        make_profile(iam, "P")
        ec2.associate_iam_instance_profile(InstanceId=ids[1], IamInstanceProfile={"Name": "P"})
        proxy.configure(fail_instances={ids[0]: "UnauthorizedOperation", ids[1]: "IncorrectInstanceState"})
        with pytest.raises(ClientError) as err:
            ec2.modify_instance_metadata_options(InstanceId=ids[0], HttpTokens="required")
        assert err.value.response["Error"]["Code"] == "UnauthorizedOperation"
        assert err.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403
        # a call naming the instance only through its association id is caught too
        assoc = ec2.describe_iam_instance_profile_associations(
            Filters=[{"Name": "instance-id", "Values": [ids[1]]}])["IamInstanceProfileAssociations"][0]
        with pytest.raises(ClientError) as err:
            ec2.disassociate_iam_instance_profile(AssociationId=assoc["AssociationId"])
        assert err.value.response["Error"]["Code"] == "IncorrectInstanceState"
        # reads of that instance pass
        assert ec2.describe_instances(InstanceIds=[ids[0]])["Reservations"]
        assert proxy.stats()["fault_totals"]["instance_rule"] == 2


def test_control_endpoint_and_script_mode(upstream, tmp_path):
    port_file = tmp_path / "port"
    proc = subprocess.Popen([sys.executable, "-m", "tests.support.aws_proxy", "--upstream", upstream,
                             "--port-file", str(port_file), "--throttle-rate", "1.0", "--seed", "5"],
                            cwd=str(ROOT), stdout=subprocess.DEVNULL)
    try:
        for _i in range(100):
            if port_file.exists():
                break
            time.sleep(0.05)
        url = "http://127.0.0.1:%s" % port_file.read_text()
        with pytest.raises(ClientError):
            client("ec2", url).describe_instances()
        assert proxy_configure(url, throttle_rate=0.0)["throttle_rate"] == 0.0
        client("ec2", url).describe_instances()
        stats = proxy_stats(url)
        assert stats["calls"] == {"ec2:DescribeInstances": 2}
        assert stats["throttles"] == {"ec2:DescribeInstances": 1}
        bad = urllib.request.Request(url + "/_proxy/config", data=b'{"nope": 1}', method="POST")
        with pytest.raises(urllib.error.HTTPError) as err:
            urllib.request.urlopen(bad)
        assert err.value.code == 400
    finally:
        proc.terminate()
        proc.wait(timeout=10)
