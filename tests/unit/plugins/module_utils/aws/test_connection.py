"""Connection options: pure validation, region and credential resolution, refreshable assume-role sessions."""

from __future__ import annotations

import datetime
import re
import threading

import boto3
import botocore.session
import pytest
from botocore.awsrequest import AWSResponse
from botocore.config import Config
from botocore.stub import Stubber

from ansible_collections.keyless.aws.plugins.module_utils.aws import connection
from ansible_collections.keyless.aws.plugins.module_utils.aws.connection import (
    AssumeRoleError,
    AwsContext,
    NoCredentialsFound,
    assumed_role_session,
    aws_argument_spec,
    validate_connection,
)
from ansible_collections.keyless.aws.plugins.module_utils.aws.errors import AwsCallError, InputError

ROLE = "arn:aws:iam::111122223333:role/Deployer"
T0 = datetime.datetime(2026, 3, 1, 8, 0, tzinfo=datetime.timezone.utc)


# ---------------------------------------------------------------- pure validation

@pytest.mark.parametrize("params", [
    {},
    {"region": "us-east-1", "max_attempts": 10},
    {"region": "us-gov-west-1", "endpoint_url": "https://ec2.us-gov-west-1.amazonaws.com"},
    {"access_key": "AKIAEXAMPLE", "secret_key": "s", "session_token": "t"},
    {"assume_role_arn": "arn:aws-cn:iam::123456789012:role/path/Deploy"},
    {"profile": "dev", "assume_role_arn": ROLE, "assume_role_duration": 900,
     "assume_role_session_name": "nightly.converge@ops", "assume_role_external_id": "ext-123:abc/def"},
    {"assume_role_arn": ROLE, "assume_role_duration": 43200},
])
def test_valid_connection_options(params):
    assert validate_connection(params) == []


@pytest.mark.parametrize("params, words", [
    ({"region": "moon-base-1!"}, ["region", "'moon-base-1!'", "us-east-1"]),
    ({"max_attempts": 0}, ["max_attempts", "0", "1 to 50"]),
    ({"access_key": "AKIAEXAMPLE"}, ["secret_key"]),
    ({"secret_key": "s"}, ["access_key"]),
    ({"session_token": "t"}, ["session_token", "access_key"]),
    ({"endpoint_url": "127.0.0.1:5000"}, ["endpoint_url", "http://"]),
    ({"assume_role_arn": "arn:aws:iam::123:user/bob"}, ["assume_role_arn", "role/"]),
    ({"profile": "dev", "access_key": "AKIAEXAMPLE", "secret_key": "s"},
     ["profile='dev' and access_key and secret_key cannot be used together", "AWS_PROFILE"]),
    ({"assume_role_arn": ROLE, "assume_role_duration": 899}, ["assume_role_duration=899", "900", "43200"]),
    ({"assume_role_arn": ROLE, "assume_role_duration": 43201}, ["assume_role_duration=43201", "MaxSessionDuration"]),
    ({"assume_role_arn": ROLE, "assume_role_session_name": "my session"},
     ["assume_role_session_name='my session'", "2 to 64"]),
    ({"assume_role_arn": ROLE, "assume_role_external_id": "x"}, ["assume_role_external_id", "2 to 1224"]),
    ({"assume_role_duration": 3600}, ["assume_role_duration needs assume_role_arn"]),
    ({"assume_role_external_id": "ext-123"}, ["assume_role_external_id needs assume_role_arn"]),
])
def test_invalid_connection_options_name_option_value_and_rule(params, words):
    errors = validate_connection(params)
    assert len(errors) == 1, errors
    for word in words:
        assert word in errors[0]


@pytest.mark.parametrize("keys", [["access_key"], ["secret_key"], ["session_token"]])
def test_profile_with_any_key_option_is_refused(keys):
    params = dict({"profile": "dev"}, **dict((k, "v") for k in keys))
    assert any(e.startswith("profile='dev' and %s cannot be used together" % keys[0]) for e in validate_connection(params))


def test_secret_values_are_never_echoed():
    errors = validate_connection({"secret_key": "SuperSecretValue", "profile": "p",
                                  "assume_role_external_id": "!SecretExternalId"})
    assert len(errors) == 4
    assert all("SuperSecretValue" not in e and "SecretExternalId" not in e for e in errors)


def test_every_option_is_documented_with_its_type():
    import yaml
    from ansible_collections.keyless.aws.plugins.doc_fragments.aws import ModuleDocFragment
    documented = yaml.safe_load(ModuleDocFragment.DOCUMENTATION)["options"]
    spec = aws_argument_spec()
    assert sorted(documented) == sorted(spec)
    for name, option in spec.items():
        assert documented[name]["type"] == option["type"], name
        assert documented[name].get("default") == option.get("default"), name
    assert all(spec[name].get("no_log") for name in ("access_key", "secret_key", "session_token",
                                                     "assume_role_external_id"))


# ---------------------------------------------------------------- refreshable assumed-role sessions

def _assume_role_response(n, issued, seconds=3600):
    return {
        "Credentials": {"AccessKeyId": "ASIAROLESESSION%05d" % n, "SecretAccessKey": "secret-%d" % n,
                        "SessionToken": "token-%d" % n, "Expiration": issued + datetime.timedelta(seconds=seconds)},
        "AssumedRoleUser": {"AssumedRoleId": "AROAEXAMPLE:nightly", "Arn": "arn:aws:sts::111122223333:assumed-role/Deployer/nightly"},
    }


class FakeBaseSession:
    """Stands for the user's session: hands out one stubbed STS client and records how it was asked for."""

    region_name = "eu-west-1"
    profile_name = "default"
    available_profiles = []

    def __init__(self):
        self.sts = botocore.session.get_session().create_client(
            "sts", region_name="eu-west-1", aws_access_key_id="AKIABASEEXAMPLE00001", aws_secret_access_key="base")
        self.stubber = Stubber(self.sts)
        self.client_calls = []
        # a boto3 Session's botocore session: the assumed-role session takes its model loader from it
        self._session = botocore.session.get_session()

    def client(self, service, **kwargs):
        self.client_calls.append((service, kwargs))
        return self.sts


class _Raw:
    def __init__(self, body):
        self.body = body

    def stream(self, **kwargs):
        yield self.body


_DESCRIBE_REGIONS = (b'<DescribeRegionsResponse xmlns="http://ec2.amazonaws.com/doc/2016-11-15/">'
                     b'<requestId>r</requestId><regionInfo/></DescribeRegionsResponse>')


def signing_keys(client):
    """Answer every request of client locally and record the access key that signed it."""
    keys = []

    def answer(request, **kwargs):
        keys.append(re.search(r"Credential=([A-Z0-9]+)/", request.headers["Authorization"].decode()).group(1))
        return AWSResponse(request.url, 200, {}, _Raw(_DESCRIBE_REGIONS))
    client.meta.events.register("before-send", answer)
    return keys


def test_assumed_role_credentials_are_renewed_when_the_first_ones_expire_mid_run(monkeypatch):
    now = [T0]
    monkeypatch.setattr(connection, "_clock", lambda: now[0])
    base = FakeBaseSession()
    expected = {"RoleArn": ROLE, "RoleSessionName": "nightly", "ExternalId": "ext-123", "DurationSeconds": 3600}
    base.stubber.add_response("assume_role", _assume_role_response(1, T0), expected)
    base.stubber.add_response("assume_role", _assume_role_response(2, T0 + datetime.timedelta(seconds=3300)), expected)
    config = Config(retries={"mode": "standard"})
    with base.stubber:
        session = assumed_role_session(base, ROLE, session_name="nightly", external_id="ext-123", duration=3600,
                                       endpoint_url="https://sts.example.test", verify="/etc/ca.pem", config=config)
        assert base.client_calls == []  # nothing is called before the first request
        ec2 = session.client("ec2", region_name="eu-west-1")
        keys = signing_keys(ec2)
        for seconds in (0, 1800, 3300, 3700, 5000):  # the first credentials expire at 3600
            now[0] = T0 + datetime.timedelta(seconds=seconds)
            ec2.describe_regions()
        base.stubber.assert_no_pending_responses()
    assert keys == ["ASIAROLESESSION00001"] * 2 + ["ASIAROLESESSION00002"] * 3
    assert base.client_calls == [("sts", {"region_name": "eu-west-1", "endpoint_url": "https://sts.example.test",
                                          "verify": "/etc/ca.pem", "config": config})]
    assert session.region_name == "eu-west-1"


def test_threads_at_the_refresh_point_share_one_assume_role(monkeypatch):
    now = [T0]
    monkeypatch.setattr(connection, "_clock", lambda: now[0])
    base = FakeBaseSession()
    base.stubber.add_response("assume_role", _assume_role_response(1, T0))
    base.stubber.add_response("assume_role", _assume_role_response(2, T0 + datetime.timedelta(seconds=3590)))
    with base.stubber:
        session = assumed_role_session(base, ROLE)
        ec2 = session.client("ec2", region_name="eu-west-1")
        keys = signing_keys(ec2)
        ec2.describe_regions()
        now[0] = T0 + datetime.timedelta(seconds=3590)  # 10 s before expiry: every thread must wait for new ones
        threads = [threading.Thread(target=ec2.describe_regions) for dummy in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        base.stubber.assert_no_pending_responses()
    assert keys == ["ASIAROLESESSION00001"] + ["ASIAROLESESSION00002"] * 8


def test_a_fifteen_minute_session_is_not_renewed_on_every_call(monkeypatch):
    now = [T0]
    monkeypatch.setattr(connection, "_clock", lambda: now[0])
    base = FakeBaseSession()
    base.stubber.add_response("assume_role", _assume_role_response(1, T0, 900),
                              {"RoleArn": ROLE, "RoleSessionName": "keyless-aws", "DurationSeconds": 900})
    base.stubber.add_response("assume_role", _assume_role_response(2, T0 + datetime.timedelta(seconds=700), 900))
    with base.stubber:
        ec2 = assumed_role_session(base, ROLE, duration=900).client("ec2", region_name="eu-west-1")
        keys = signing_keys(ec2)
        for seconds in (0, 10, 300, 599, 700, 900, 1000):
            now[0] = T0 + datetime.timedelta(seconds=seconds)
            ec2.describe_regions()
        base.stubber.assert_no_pending_responses()
    # botocore's default windows (15/10 min) would call AssumeRole before each of these 7 calls
    assert keys == ["ASIAROLESESSION00001"] * 4 + ["ASIAROLESESSION00002"] * 3


def test_a_refused_assume_role_names_the_role_and_what_to_do():
    base = FakeBaseSession()
    base.stubber.add_client_error("assume_role", "AccessDenied", "User: arn:aws:iam::123456789012:user/ci is not "
                                  "authorized to perform: sts:AssumeRole on resource: " + ROLE)
    with base.stubber:
        ec2 = assumed_role_session(base, ROLE).client("ec2", region_name="eu-west-1")
        with pytest.raises(AssumeRoleError) as failure:
            ec2.describe_regions()
    text = str(failure.value)
    assert text.startswith("AssumeRole of %s failed: AccessDenied: User: " % ROLE)
    assert "trust policy" in text and "external id" in text


def test_assumed_role_session_refuses_a_duration_sts_would_refuse():
    with pytest.raises(ValueError, match="900 to 43200"):
        assumed_role_session(FakeBaseSession(), ROLE, duration=60)


# ---------------------------------------------------------------- AwsContext against real botocore resolution

class Failed(Exception):
    pass


class FakeModule:
    def __init__(self, **params):
        self.params = dict((name, spec.get("default")) for name, spec in aws_argument_spec().items())
        self.params.update(params)

    def fail_json(self, msg, **kwargs):
        raise Failed(msg)


@pytest.fixture
def aws_files(tmp_path, monkeypatch):
    """No AWS_* in the environment; AWS_CONFIG_FILE / AWS_SHARED_CREDENTIALS_FILE point at files of the test."""
    import os
    for key in list(os.environ):
        if key.startswith("AWS_"):
            monkeypatch.delenv(key)
    config, credentials = tmp_path / "config", tmp_path / "credentials"
    config.write_text("")
    credentials.write_text("")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(config))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(credentials))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")

    def write(config_text="", credentials_text=""):
        config.write_text(config_text)
        credentials.write_text(credentials_text)
        return config
    return write


DEV = ("[profile dev]\nregion = eu-west-2\n", "[dev]\naws_access_key_id = AKIADEVEXAMPLE000001\n"
       "aws_secret_access_key = devsecret\n")


def test_region_only_in_the_profile_is_used(aws_files):
    aws_files(*DEV)
    ctx = AwsContext(FakeModule(profile="dev"), require_region=True)
    assert ctx.region == "eu-west-2"
    assert ctx.client("ec2").meta.region_name == "eu-west-2"


def test_the_default_profile_region_is_used_without_any_profile(aws_files):
    aws_files("[default]\nregion = ap-southeast-2\n")
    assert AwsContext(FakeModule(), require_region=True).region == "ap-southeast-2"


@pytest.mark.parametrize("option, default_region, expected", [
    (None, "us-east-1", "eu-west-2"),  # the profile's region beats an IAM module's default
    ("ap-south-1", "us-east-1", "ap-south-1"),  # the option (or AWS_REGION) beats the profile
    ("ap-south-1", None, "ap-south-1"),
])
def test_region_order(aws_files, option, default_region, expected):
    aws_files(*DEV)
    assert AwsContext(FakeModule(profile="dev", region=option), default_region=default_region).region == expected


def test_a_module_default_region_applies_when_nothing_else_gives_one(aws_files):
    aws_files("[profile dev]\n", DEV[1])
    assert AwsContext(FakeModule(profile="dev"), default_region="us-east-1").region == "us-east-1"


def test_no_region_anywhere_says_where_a_region_can_come_from(aws_files):
    config = aws_files("[profile dev]\n", DEV[1])
    with pytest.raises(InputError) as failure:
        AwsContext(FakeModule(profile="dev"), require_region=True)
    assert failure.value.errors[0] == (
        "region is required: set the region option, the AWS_REGION or AWS_DEFAULT_REGION environment variable, "
        "or region in profile 'dev' of the AWS config file (%s)" % config)


def test_a_malformed_region_in_the_config_file_is_refused(aws_files):
    aws_files("[default]\nregion = eu west 1\n")
    with pytest.raises(InputError, match=r"region 'eu west 1' \(from profile 'default' in the AWS config file"):
        AwsContext(FakeModule())


def test_an_unknown_profile_is_refused(aws_files):
    aws_files(*DEV)
    with pytest.raises(InputError, match=r"profile='prod' was not found in the AWS config files"):
        AwsContext(FakeModule(profile="prod"))


def test_a_role_profile_is_left_to_botocore_and_nothing_is_called_at_construction(aws_files):
    aws_files("[profile deploy]\nrole_arn = %s\nsource_profile = dev\nregion = eu-central-1\n" % ROLE
              + DEV[0], DEV[1])
    ctx = AwsContext(FakeModule(profile="deploy", endpoint_url="http://127.0.0.1:9"), require_region=True)
    assert ctx.region == "eu-central-1"
    assert ctx.session.get_credentials().method == "assume-role"  # botocore's provider, refreshable, not yet called


def test_no_credentials_says_what_was_tried_and_how_to_give_some(aws_files):
    config = aws_files("[default]\nregion = eu-west-1\n")
    ctx = AwsContext(FakeModule(endpoint_url="http://127.0.0.1:9"))  # nothing listens there: no call may go out
    with pytest.raises(NoCredentialsFound) as failure:
        ctx.client("ec2").describe_regions()
    text = str(failure.value)
    assert text.startswith("no AWS credentials were found. Tried: the environment variables AWS_ACCESS_KEY_ID, ")
    for words in ("the default profile in the shared credentials file %s and the config file %s"
                  % (config.parent / "credentials", config), "sso_session", "credential_process", "role_arn",
                  "container credentials", "the EC2 instance metadata service (disabled by AWS_EC2_METADATA_DISABLED)",
                  "the profile option (or AWS_PROFILE)", "access_key and secret_key options",
                  "assume_role_arn needs such base credentials"):
        assert words in text
    with pytest.raises(AwsCallError, match="no AWS credentials were found"):
        ctx.account_id


def test_no_credentials_under_assume_role_arn_is_the_same_message(aws_files):
    aws_files()
    ctx = AwsContext(FakeModule(assume_role_arn=ROLE, endpoint_url="http://127.0.0.1:9"), default_region="us-east-1")
    with pytest.raises(NoCredentialsFound, match="assume_role_arn needs such base credentials"):
        ctx.client("iam").list_roles()


def test_a_named_profile_without_credentials_says_which_profile(aws_files):
    aws_files("[profile empty]\nregion = eu-west-1\n")
    ctx = AwsContext(FakeModule(profile="empty", endpoint_url="http://127.0.0.1:9"))
    with pytest.raises(NoCredentialsFound, match=r"Tried: profile 'empty' in the shared credentials file"):
        ctx.client("ec2").describe_regions()


def test_explicit_keys_are_used_and_assume_role_arn_wraps_them(aws_files, monkeypatch):
    aws_files()
    ctx = AwsContext(FakeModule(access_key="AKIAOPTIONEXAMPLE001", secret_key="s", region="eu-west-1",
                                assume_role_arn=ROLE, assume_role_duration=1800))
    credentials = ctx.session.get_credentials()
    assert credentials.method == "keyless-assume-role"
    assert isinstance(ctx.session, boto3.session.Session) and ctx.session.region_name == "eu-west-1"
    calls = []
    monkeypatch.setattr(connection, "_assume_role_refresher", lambda base, request, kw: calls.append(request))
    AwsContext(FakeModule(access_key="AKIAOPTIONEXAMPLE001", secret_key="s", region="eu-west-1",
                          assume_role_arn=ROLE, assume_role_duration=1800, assume_role_session_name="nightly"))
    assert calls == [{"RoleArn": ROLE, "RoleSessionName": "nightly", "DurationSeconds": 1800}]


# ---- AssumeRole in the base credentials' region, never the target's (opt-in regions) ----------------------

def _sts_region(monkeypatch, **params):
    seen = []
    monkeypatch.setattr(connection, "_assume_role_refresher", lambda base, request, kw: seen.append(kw["region_name"]))
    ctx = AwsContext(FakeModule(access_key="AKIAOPTIONEXAMPLE001", secret_key="s", assume_role_arn=ROLE, **params))
    return seen[0], ctx.session.region_name


@pytest.mark.parametrize("env, config, expected", [
    ({"AWS_REGION": "eu-west-1"}, "", "eu-west-1"),
    ({"AWS_DEFAULT_REGION": "eu-central-1"}, "", "eu-central-1"),
    ({}, "[default]\nregion = ap-southeast-2\n", "ap-southeast-2"),
    ({}, "", "us-east-1"),  # nothing set: the partition's global region
])
def test_assume_role_goes_to_the_base_region_not_the_target_opt_in_region(aws_files, monkeypatch, env, config, expected):
    """me-south-1 is an opt-in region: STS there answers InvalidClientTokenId unless the CALLER's account enabled
    it. Session credentials from any regional STS endpoint work in every region, so AssumeRole goes to the base
    credentials' region while the target's clients use the target region."""
    aws_files(config)
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    assert _sts_region(monkeypatch, region="me-south-1") == (expected, "me-south-1")


def test_assume_role_in_another_partition_falls_back_to_its_global_region(aws_files, monkeypatch):
    aws_files()
    seen = []
    monkeypatch.setattr(connection, "_assume_role_refresher", lambda base, request, kw: seen.append(kw["region_name"]))
    AwsContext(FakeModule(access_key="AKIAOPTIONEXAMPLE001", secret_key="s", region="cn-northwest-1",
                          assume_role_arn="arn:aws-cn:iam::123456789012:role/deployer"))
    assert seen == ["cn-north-1"]


# ---- any 5xx is transient, whatever its body ------------------------------------------------------------

class _HtmlThenOk:
    """An endpoint whose first answers are a front end's HTML 503 page (not an AWS error)."""

    def __init__(self, html_answers):
        self.left = html_answers
        self.calls = 0

    def __call__(self, request, **kwargs):
        self.calls += 1
        if self.left:
            self.left -= 1
            return AWSResponse(request.url, 503, {"Content-Type": "text/html"},
                               _Raw(b"<!doctype html>\n<html lang=en>\n<title>503 Service Unavailable</title>\n"
                                    b"<h1>Service Unavailable</h1>\n<p>The server is overloaded.</p>\n"))
        return AWSResponse(request.url, 200, {}, _Raw(_DESCRIBE_REGIONS))


def test_an_html_5xx_page_is_retried_like_any_5xx(aws_files):
    aws_files()
    ctx = AwsContext(FakeModule(access_key="AKIAOPTIONEXAMPLE001", secret_key="s", region="eu-west-1"))
    ec2 = ctx.client("ec2")
    endpoint = _HtmlThenOk(2)
    ec2.meta.events.register("before-send", endpoint)
    assert "Regions" in ec2.describe_regions()
    assert endpoint.calls == 3


def test_without_the_hook_botocore_would_not_retry_it():
    """The AWS behaviour the hook answers: botocore raises ResponseParserError for such a page, and retries
    nothing (so a 1,000-instance converge lost calls to it)."""
    from botocore.parsers import ResponseParserError
    ec2 = boto3.client("ec2", region_name="eu-west-1", aws_access_key_id="a", aws_secret_access_key="b")
    endpoint = _HtmlThenOk(1)
    ec2.meta.events.register("before-send", endpoint)
    with pytest.raises(ResponseParserError):
        ec2.describe_regions()
    assert endpoint.calls == 1


def test_a_client_per_lane():
    """Each lane gets a client of its own (and so its own botocore retry quota)."""
    ctx = AwsContext(FakeModule(access_key="AKIAOPTIONEXAMPLE001", secret_key="s", region="eu-west-1"))
    assert ctx.client("ec2") is ctx.client("ec2")
    assert ctx.client("ec2", lane="ReplaceIamInstanceProfileAssociation") is not ctx.client("ec2")


def test_an_iam_only_module_in_another_partition_uses_that_partitions_region(aws_files):
    """No region anywhere, a role of aws-cn to assume: IAM and STS go to cn-north-1, not us-east-1."""
    aws_files()
    ctx = AwsContext(FakeModule(access_key="AKIAOPTIONEXAMPLE001", secret_key="s",
                                assume_role_arn="arn:aws-cn:iam::123456789012:role/deployer"), default_region="us-east-1")
    assert ctx.region == "cn-north-1"
    assert ctx.client("iam").meta.partition == "aws-cn"  # botocore: IAM's global endpoint of aws-cn
