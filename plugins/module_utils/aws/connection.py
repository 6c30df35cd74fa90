# -*- coding: utf-8 -*-
# Copyright: keyless.aws contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Connection options and one boto3 Session per module run.

Contract: botocore resolves credentials and the region exactly as the AWS CLI and the SDKs do; this
file passes the options on, refuses contradicting options before any call, turns "no credentials"
into a message that says what was tried and how to give some, and makes the credentials of
assume_role_arn refresh themselves (assumed_role_session); client_as_role gives a client in another
account for a short piece of work (the inventory plugin's one DescribeRegions per account).

Private to the collection: no stable API.

AWS facts relied on:
- botocore's credential chain: the AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY environment variables
  (skipped when a profile is named), the profile's role_arn with source_profile or credential_source,
  web identity, SSO, the shared credentials file, credential_process, the config file, container
  credentials, EC2 instance metadata. The region: AWS_REGION / AWS_DEFAULT_REGION, then the profile's
  region in the config file.
- STS AssumeRole: DurationSeconds 900 to 43200 (default 3600; the role's MaxSessionDuration caps it,
  and role chaining caps it at one hour); RoleSessionName 2 to 64 characters of letters, digits and
  _+=,.@-; ExternalId 2 to 1224 characters of letters, digits and _+=,.@:/-.
- STS endpoints are regional, and the session credentials from any of them work in every region (IAM user
  guide, "Manage AWS STS in an AWS Region"). An opt-in region (me-south-1, ap-east-1, ...) that the
  CALLER's account has not enabled answers 403 InvalidClientTokenId, and a region where the account
  deactivated STS answers RegionDisabledException: so AssumeRole goes to the region of the base
  credentials (AWS_REGION / AWS_DEFAULT_REGION / the profile's region), else the partition's global
  region, never to the target's region.
- Any HTTP 5xx answer is transient, whatever its body (AWS general reference, "Error retries and
  exponential backoff"). A load balancer or an overloaded front end may answer with an HTML page that is
  no AWS error; botocore then raises ResponseParserError, which no retry mode retries. Every client made
  here reads such a body as an empty 5xx answer (botocore's generic error for the status code), which
  botocore's retry modes retry like any 500/502/503/504.
"""

from __future__ import annotations

import datetime
import os
import threading

from ansible.module_utils.basic import env_fallback, missing_required_lib
from ansible.module_utils.common.validation import check_type_bool, check_type_int, check_type_str

try:
    import boto3
    import botocore.session
    from botocore.config import Config
    from botocore.credentials import CredentialProvider, CredentialResolver, DeferredRefreshableCredentials
    from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError, ProfileNotFound
    HAS_BOTO3 = True
    BOTO3_IMPORT_ERROR = None
except ImportError as exc:  # pragma: no cover - exercised by the sanity import test
    HAS_BOTO3 = False
    BOTO3_IMPORT_ERROR = exc
    CredentialProvider = DeferredRefreshableCredentials = object
    BotoCoreError = NoCredentialsError = Exception

from ansible_collections.keyless.aws.plugins.module_utils.aws import rules
from ansible_collections.keyless.aws.plugins.module_utils.aws.errors import AwsCallError, InputError
from ansible_collections.keyless.aws.plugins.module_utils.aws.retries import call

COLLECTION_VERSION = "0.1.0"
IAM_DEFAULT_REGION = "us-east-1"
STS_DEFAULT_SECONDS = 3600
ASSUME_ROLE_SECONDS = (900, 43200)
# STS for a session without any region: the partition's first region (AWS's global STS endpoint is us-east-1)
STS_FALLBACK_REGIONS = {"aws": "us-east-1", "aws-cn": "cn-north-1", "aws-us-gov": "us-gov-west-1"}


def aws_argument_spec():
    """The connection options every AWS module accepts (documented in doc_fragments/aws.py)."""
    return dict(
        region=dict(type="str", aliases=["aws_region"],
                    fallback=(env_fallback, ["AWS_REGION", "AWS_DEFAULT_REGION"])),
        profile=dict(type="str", aliases=["aws_profile"], fallback=(env_fallback, ["AWS_PROFILE"])),
        endpoint_url=dict(type="str", aliases=["aws_endpoint_url"],
                          fallback=(env_fallback, ["AWS_ENDPOINT_URL"])),
        access_key=dict(type="str", aliases=["aws_access_key_id"], no_log=True),
        secret_key=dict(type="str", aliases=["aws_secret_access_key"], no_log=True),
        session_token=dict(type="str", aliases=["aws_session_token"], no_log=True),
        validate_certs=dict(type="bool", default=True),
        aws_ca_bundle=dict(type="path", fallback=(env_fallback, ["AWS_CA_BUNDLE"])),
        retry_mode=dict(type="str", choices=["standard", "adaptive"], default="standard"),
        max_attempts=dict(type="int", default=10),
        assume_role_arn=dict(type="str"),
        assume_role_session_name=dict(type="str", default="keyless-aws"),
        assume_role_external_id=dict(type="str", no_log=True),
        assume_role_duration=dict(type="int"),
    )


def validate_connection(params):
    """Pure checks of the connection options; returns a list of error messages."""
    errors = []
    max_attempts = params.get("max_attempts")
    if max_attempts is not None and not 1 <= max_attempts <= 50:
        errors.append("max_attempts=%r is out of range: use a whole number from 1 to 50" % max_attempts)
    keys = [name for name in ("access_key", "secret_key", "session_token") if params.get(name)]
    if params.get("profile") and keys:
        errors.append("profile=%r and %s cannot be used together: the profile brings its own credentials and the "
                      "keys would silently replace them; give either the profile (option or AWS_PROFILE) or the "
                      "keys" % (params["profile"], " and ".join(keys)))
    if params.get("access_key") and not params.get("secret_key"):
        errors.append("access_key is set but secret_key is not: give both, or neither to use the credential chain")
    if params.get("secret_key") and not params.get("access_key"):
        errors.append("secret_key is set but access_key is not: give both, or neither to use the credential chain")
    if params.get("session_token") and not (params.get("access_key") and params.get("secret_key")):
        errors.append("session_token needs access_key and secret_key")
    region = params.get("region")
    if region and not rules.is_region(region):
        errors.append("region=%r is not an AWS region name: use a region name like us-east-1 "
                      "(letters, digits and hyphens)" % region)
    endpoint = params.get("endpoint_url")
    if endpoint and not endpoint.startswith(("http://", "https://")):
        errors.append("endpoint_url=%r is not a URL: it must start with http:// or https://" % endpoint)
    errors.extend(_validate_assume_role(params))
    return errors


# One target's own connection in a module that works on many targets at once (ec2_fleet_census, iam_identity,
# ec2_fleet_preview): the options a target may set for itself (the role's __ec2_identity_connection without the
# external id); the module's own connection options are the default of each, and the external id (a secret) is the
# target's own no_log option.
TARGET_CONNECTION = ("region", "profile", "endpoint_url", "assume_role_arn", "assume_role_session_name",
                     "validate_certs", "retry_mode", "max_attempts")


def target_entry_spec(**extra):
    """The options of one entry of a many-target module: its name, its own connection and its external id (a secret:
    its own no_log option, never in `connection`, which Ansible logs and returns as given), then the module's own."""
    spec = dict(
        name=dict(type="str", required=True),
        connection=dict(type="dict", default={}),
        assume_role_external_id=dict(type="str", no_log=True),
    )
    spec.update(extra)
    return spec


# A target's connection is a raw dict (templated inventory values: "5", "false"): its options are converted to their
# aws_argument_spec() types as AnsibleModule converts a module's own.
_CONVERT = {"str": check_type_str, "int": check_type_int, "bool": check_type_bool}


def _target_connection(entry):
    """(the entry's connection options that are not None, converted to their types; a message per option that
    does not convert)."""
    spec, out, errors = aws_argument_spec(), {}, []
    for key, value in (entry.get("connection") or {}).items():
        if value is None:
            continue
        convert = _CONVERT.get(spec[key].get("type", "str")) if key in spec else None
        if convert is None:
            out[key] = value
            continue
        try:
            out[key] = convert(value)
        except (TypeError, ValueError) as exc:
            errors.append("connection option %s=%r: %s" % (key, value, exc))
    return out, errors


def module_connection(params):
    """A many-target module's own connection options (every aws_argument_spec option, from its params): the
    `base` of target_params and target_connection_problems."""
    return dict((key, params.get(key)) for key in aws_argument_spec())


def target_params(entry, base):
    """The connection options of one target of a many-target module: `base` (the module's) updated with the
    entry's `connection` (its values that are not None, converted to their types) and its
    assume_role_external_id."""
    params = dict((key, base.get(key)) for key in base)
    params.update(_target_connection(entry)[0])
    if entry.get("assume_role_external_id") is not None:
        params["assume_role_external_id"] = entry["assume_role_external_id"]
    return params


def target_connection_problems(entry, base):
    """Pure: the problems of one target's connection (options it may not set, values that do not convert to their
    type, then validate_connection)."""
    errors = list(_target_connection(entry)[1])
    unknown = sorted(set(entry.get("connection") or {}) - set(TARGET_CONNECTION))
    if unknown:
        errors.append("connection option(s) %s are not known: use %s%s"
                      % (", ".join(unknown), ", ".join(TARGET_CONNECTION),
                         " (the external id is the target's own option assume_role_external_id, never logged)"
                         if "assume_role_external_id" in unknown else ""))
    return errors + validate_connection(target_params(entry, base))


def _validate_assume_role(params):
    errors = []
    role_arn = params.get("assume_role_arn")
    if role_arn and not rules.is_role_arn(role_arn):
        errors.append("assume_role_arn=%r is not a role ARN: expected arn:<partition>:iam::<12-digit account>:role/<name>"
                      % role_arn)
    duration = params.get("assume_role_duration")
    if duration is not None and not ASSUME_ROLE_SECONDS[0] <= duration <= ASSUME_ROLE_SECONDS[1]:
        errors.append("assume_role_duration=%r is out of range: use seconds from 900 (15 minutes) to 43200 (12 hours), "
                      "at most the role's MaxSessionDuration (1 hour unless raised)" % duration)
    name = params.get("assume_role_session_name")
    if name is not None and not rules.is_session_name(name):
        errors.append("assume_role_session_name=%r is not a session name: use 2 to 64 letters, digits or _+=,.@-"
                      % name)
    external_id = params.get("assume_role_external_id")
    if external_id is not None and not rules.is_external_id(external_id):  # no_log: never echo the value
        errors.append("assume_role_external_id is not an external id: use 2 to 1224 letters, digits or _+=,.@:/- "
                      "(the value is not shown)")
    for option in ("assume_role_external_id", "assume_role_duration"):
        if params.get(option) is not None and not role_arn:
            errors.append("%s needs assume_role_arn" % option)
    return errors


# ---------------------------------------------------------------- credentials

def _clock():
    """Now (timezone-aware); the refreshable credentials read the time through here, so tests can move it."""
    return datetime.datetime.now(datetime.timezone.utc)


class NoCredentialsFound(NoCredentialsError):
    """botocore's NoCredentialsError with the sources that were tried and how to give credentials."""

    fmt = "{message}"


class AssumeRoleError(BotoCoreError):
    """AssumeRole failed (at first use or at a refresh); a BotoCoreError, so the callers' handlers catch it."""

    fmt = "AssumeRole of {role_arn} failed: {detail}"


def no_credentials_message(core_session, profile=None):
    """What botocore tried (in its order) and the ways to give credentials."""
    files = "the shared credentials file %s and the config file %s" % (
        core_session.get_config_variable("credentials_file"), core_session.get_config_variable("config_file"))
    kinds = "keys, sso_session/sso_*, credential_process, or role_arn with source_profile or credential_source"
    if profile:
        tried = "profile %r in %s (%s; AWS_ACCESS_KEY_ID is not read when a profile is named)" % (profile, files, kinds)
    else:
        tried = ("the environment variables AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY and AWS_SESSION_TOKEN, web identity "
                 "(AWS_WEB_IDENTITY_TOKEN_FILE with AWS_ROLE_ARN), the default profile in %s (%s)" % (files, kinds))
    imds = " (disabled by AWS_EC2_METADATA_DISABLED)" if os.environ.get("AWS_EC2_METADATA_DISABLED", "").lower() == "true" else ""
    return ("no AWS credentials were found. Tried: %s; container credentials (AWS_CONTAINER_CREDENTIALS_RELATIVE_URI or "
            "AWS_CONTAINER_CREDENTIALS_FULL_URI); the EC2 instance metadata service%s. Give credentials with the profile "
            "option (or AWS_PROFILE) naming a profile that has them, the AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY "
            "environment variables, or the access_key and secret_key options; assume_role_arn needs such base "
            "credentials to call AssumeRole" % (tried, imds))


class _NoCredentials(CredentialProvider):
    """Last link of the chain: credentials that, when used, raise NoCredentialsFound (at the call, as botocore does)."""

    METHOD = "keyless-none"
    CANONICAL_NAME = "customKeylessNone"  # botocore: providers outside botocore start with "custom"

    def __init__(self, explain):
        super().__init__()
        self._explain = explain

    def load(self):
        def refuse():
            raise NoCredentialsFound(message=self._explain())
        return DeferredRefreshableCredentials(refuse, method=self.METHOD)


class _GivenCredentials(CredentialProvider):
    """The only link of an assumed-role session's credential chain."""

    METHOD = "keyless-assume-role"
    CANONICAL_NAME = "customKeylessAssumeRole"

    def __init__(self, credentials):
        super().__init__()
        self._credentials = credentials

    def load(self):
        return self._credentials


class _AssumedRoleCredentials(DeferredRefreshableCredentials):
    """Fetched at first use, refreshed before they expire, with refresh windows fitted to the session length.

    botocore refreshes 15 min (advisory) and 10 min (mandatory) before expiry; for a 15-minute session that
    would be an AssumeRole before every call, so the windows shrink to a third and a sixth of the session.
    """

    def __init__(self, refresh_using, duration):
        super().__init__(refresh_using, method="keyless-assume-role", time_fetcher=self._now)
        self._advisory_refresh_timeout = min(15 * 60, duration // 3)
        self._mandatory_refresh_timeout = min(10 * 60, duration // 6)

    @staticmethod
    def _now():
        return _clock()  # looked up at every call, so a test can move the time


def _assume_role_refresher(base_session, request, sts_kwargs):
    """The refresh function: one STS client made from the base session at first use, one AssumeRole per refresh."""
    clients = []

    def refresh():  # botocore calls it holding the credentials' refresh lock
        if not clients:
            clients.append(retry_any_5xx(base_session.client("sts", **sts_kwargs)))
        try:
            response = clients[0].assume_role(**request)
        except ClientError as exc:
            err = exc.response.get("Error", {})
            raise AssumeRoleError(role_arn=request["RoleArn"], detail="%s: %s; what to do: the base credentials need "
                                  "sts:AssumeRole on this role and its trust policy must trust them (with the external "
                                  "id, if it asks for one)" % (err.get("Code"), err.get("Message")))
        except NoCredentialsError as exc:
            if isinstance(exc, NoCredentialsFound):
                raise
            raise AssumeRoleError(role_arn=request["RoleArn"], detail="no base credentials to call AssumeRole with "
                                  "(give a profile, the AWS_* environment variables or keys): %s" % exc)
        creds = response["Credentials"]
        expiration = creds["Expiration"]
        arn = (response.get("AssumedRoleUser") or {}).get("Arn") or ""
        return {
            "access_key": creds["AccessKeyId"],
            "secret_key": creds["SecretAccessKey"],
            "token": creds["SessionToken"],
            "expiry_time": expiration.isoformat() if hasattr(expiration, "isoformat") else str(expiration),
            "account_id": arn.split(":")[4] if arn.count(":") >= 5 else None,
        }

    return refresh


def base_region(profile=None):
    """The region of the base credentials' own calls, as the controller's environment sets it without the
    module's region option: AWS_REGION, AWS_DEFAULT_REGION, else the profile's region; None when unset."""
    for name in ("AWS_REGION", "AWS_DEFAULT_REGION"):
        if os.environ.get(name):
            return os.environ[name]
    try:
        return botocore.session.Session(profile=profile).get_config_variable("region")
    except BotoCoreError:  # e.g. the profile is not there: the caller's own session reports that
        return None


def _is_xml_or_json(body):
    head = (body or b"").lstrip()[:1]
    return head in (b"<", b"{") and not (body or b"").lstrip()[:15].lower().startswith((b"<!doctype", b"<html"))


def read_any_5xx_as_retryable(response_dict=None, **kwargs):
    """botocore `before-parse`: a 5xx answer whose body is not an AWS error (an HTML page) becomes an empty
    5xx answer, which botocore parses as a generic error of that status and its retry modes retry."""
    if response_dict and response_dict.get("status_code", 0) >= 500 and \
            not _is_xml_or_json(response_dict.get("body")):
        response_dict["body"] = b""


def retry_any_5xx(target):
    """Register read_any_5xx_as_retryable on a botocore client (every client this file makes), or on a boto3
    Session for every client made from it afterwards. Returns `target`."""
    events = target.meta.events if hasattr(target, "meta") else target.events
    events.register("before-parse", read_any_5xx_as_retryable, unique_id="keyless-any-5xx")
    return target


def assumed_role_session(base_session, role_arn, session_name="keyless-aws", external_id=None, duration=None,
                         region=None, endpoint_url=None, verify=None, config=None, sts_region=None):
    """A boto3 Session acting as role_arn whose credentials refresh themselves (STS AssumeRole) before they expire.

    base_session's credentials (any botocore source, refreshable ones included) sign the AssumeRole calls;
    nothing is called before the first request of a client of the returned session. The STS client uses
    endpoint_url, verify and config like the caller's other clients. duration is DurationSeconds
    (900..43200; None: STS's default, one hour). region (the returned session's) defaults to base_session's
    region. sts_region is where AssumeRole goes (default: base_session's region, else the partition's
    global region): the base credentials' own region, never the target's (see the module docstring). A
    failed AssumeRole surfaces at the call that needed the credentials, as AssumeRoleError (a BotoCoreError).
    """
    if duration is not None and not ASSUME_ROLE_SECONDS[0] <= duration <= ASSUME_ROLE_SECONDS[1]:
        raise ValueError("duration=%r is out of range: DurationSeconds is 900 to 43200" % (duration,))
    region = region or base_session.region_name
    partition = role_arn.split(":")[1] if role_arn.count(":") >= 5 else "aws"
    sts_kwargs = {"region_name": sts_region or base_session.region_name or STS_FALLBACK_REGIONS.get(partition, "us-east-1"),
                  "endpoint_url": endpoint_url, "verify": verify, "config": config}
    request = {"RoleArn": role_arn, "RoleSessionName": session_name or "keyless-aws"}
    if external_id:
        request["ExternalId"] = external_id
    if duration:
        request["DurationSeconds"] = duration
    credentials = _AssumedRoleCredentials(_assume_role_refresher(base_session, request, sts_kwargs),
                                          duration or STS_DEFAULT_SECONDS)
    # the base's profile still applies (region, settings), its credentials do not
    profile = base_session.profile_name
    core = botocore.session.Session(profile=profile if profile in base_session.available_profiles else None)
    core.register_component("credential_provider", CredentialResolver(providers=[_GivenCredentials(credentials)]))
    # the base's model loader: a service model is read once per process, not once per session
    core.register_component("data_loader", base_session._session.get_component("data_loader"))  # pylint: disable=protected-access
    return boto3.session.Session(botocore_session=core, region_name=region)


# ---------------------------------------------------------------- the module's session

def _config_files(core_session):
    return "the AWS config file (%s)" % core_session.get_config_variable("config_file")


class AwsContext:
    """One boto3 Session for the whole module run, with cached, thread-safe clients.

    Region: the region option (or AWS_REGION / AWS_DEFAULT_REGION), else the profile's region as botocore
    reads it from the config file, else default_region (us-east-1 for IAM-only modules).
    """

    def __init__(self, params, default_region=None, require_region=False, max_pool_connections=10, loader=None):
        if not HAS_BOTO3:
            raise InputError(["%s (%s)" % (missing_required_lib("boto3 and botocore"), BOTO3_IMPORT_ERROR)])
        # the connection options (aws_argument_spec) -- a module's params, or the inventory plugin's options;
        # an AnsibleModule is taken for its params
        params = getattr(params, "params", params)
        self._lock = threading.Lock()
        self._clients = {}
        self._account_id = None
        self._partition = None
        self.endpoint_url = params.get("endpoint_url")
        self.verify = params.get("aws_ca_bundle") or params.get("validate_certs")
        self.config = Config(
            retries={"mode": params.get("retry_mode") or "standard",
                     "total_max_attempts": params.get("max_attempts") or 10},
            max_pool_connections=max_pool_connections,
            user_agent_extra="keyless.aws/%s" % COLLECTION_VERSION,
        )
        profile = params.get("profile") or None
        core = botocore.session.Session()
        if loader is not None:
            # a loader shared by the contexts of one process: each service model is read once (~0.12 s of CPU for
            # EC2's), not once per context (the census builds a context per account)
            core.register_component("data_loader", loader)
        try:
            if params.get("access_key"):
                self.session = boto3.session.Session(
                    botocore_session=core, region_name=params.get("region") or None,
                    aws_access_key_id=params["access_key"], aws_secret_access_key=params.get("secret_key"),
                    aws_session_token=params.get("session_token"))
            else:
                self.session = boto3.session.Session(botocore_session=core, profile_name=profile,
                                                     region_name=params.get("region") or None)
                core.get_component("credential_provider").providers.append(
                    _NoCredentials(lambda: no_credentials_message(core, profile)))
            session_region = self.session.region_name
        except ProfileNotFound as exc:
            raise InputError(["profile=%r was not found in the AWS config files: %s" % (profile, exc)])
        except BotoCoreError as exc:  # e.g. a config file that does not parse
            raise InputError(["reading the AWS configuration failed: %s" % exc])
        if session_region and not rules.is_region(session_region):
            raise InputError(["region %r (from profile %r in %s) is not an AWS region name: use a region name like "
                              "us-east-1" % (session_region, profile or "default", _config_files(core))])
        # Nothing names a region: a partition other than aws (an aws-cn / aws-us-gov role to assume) has its
        # own global region, which IAM and STS there need; us-east-1 is only aws's.
        partition = (params.get("assume_role_arn") or "").split(":")[1:2]
        partition_region = STS_FALLBACK_REGIONS.get(partition[0]) if partition and partition[0] != "aws" else None
        self.region = session_region or partition_region or default_region
        if require_region and not self.region:
            raise InputError(["region is required: set the region option, the AWS_REGION or AWS_DEFAULT_REGION "
                              "environment variable, or region in profile %r of %s"
                              % (profile or "default", _config_files(core))])
        # where this context's own AssumeRole calls go: the base credentials' region (see the module docstring)
        self.sts_region = base_region(profile) or partition_region or STS_FALLBACK_REGIONS["aws"]
        if params.get("assume_role_arn"):
            role_arn = params["assume_role_arn"]
            self.session = assumed_role_session(
                self.session, role_arn, session_name=params.get("assume_role_session_name"),
                external_id=params.get("assume_role_external_id"), duration=params.get("assume_role_duration"),
                region=self.region, endpoint_url=self.endpoint_url, verify=self.verify, config=self.config,
                sts_region=self.sts_region)

    def client(self, service, region=None, lane=None):
        """The cached client of `service` in `region` (default: the session's); `lane` names a client of its
        own (its own connection pool and botocore retry quota) for one lane of work."""
        region = region or self.region or IAM_DEFAULT_REGION
        key = (service, region, lane)
        with self._lock:
            if key not in self._clients:
                self._clients[key] = retry_any_5xx(self.session.client(
                    service, region_name=region, endpoint_url=self.endpoint_url,
                    verify=self.verify, config=self.config))
            return self._clients[key]

    def client_as_role(self, service, role_arn, session_name, external_id=None, region=None, resource=None):
        """A client of `service` acting as role_arn, for a short piece of work (one AssumeRole, in sts_region; its
        credentials are not refreshed: for work that may outlast them, build a context with assume_role_arn).

        The client comes from this context's session: a new session per role would load the service's model
        again (~0.12 s of CPU for EC2, against ~0.01 s for a client). A failed AssumeRole is an AwsCallError."""
        request = {"RoleArn": role_arn, "RoleSessionName": session_name or "keyless-aws"}
        if external_id:
            request["ExternalId"] = external_id
        answer = call(self.client("sts", region=self.sts_region), "AssumeRole", request,
                      resource=resource or role_arn)
        creds = answer["Credentials"]
        with self._lock:
            return retry_any_5xx(self.session.client(
                service, region_name=region or self.region or IAM_DEFAULT_REGION, endpoint_url=self.endpoint_url,
                verify=self.verify, config=self.config, aws_access_key_id=creds["AccessKeyId"],
                aws_secret_access_key=creds["SecretAccessKey"], aws_session_token=creds["SessionToken"]))

    def _identity(self):
        if self._account_id is None:
            try:
                ident = self.client("sts").get_caller_identity()
            except (ClientError, BotoCoreError) as exc:  # NoCredentialsFound and AssumeRoleError included
                raise AwsCallError.from_exception(exc, "GetCallerIdentity")
            self._account_id = ident["Account"]
            # arn:<partition>:sts::<account>:...
            self._partition = ident["Arn"].split(":")[1]
        return self._account_id, self._partition

    def loader(self):
        """This context's botocore data loader, to share with the next context of the same process."""
        return self.session._session.get_component("data_loader")  # pylint: disable=protected-access

    @property
    def account_id(self):
        return self._identity()[0]

    @property
    def partition(self):
        return self._identity()[1]
