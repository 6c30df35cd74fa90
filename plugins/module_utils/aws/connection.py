# -*- coding: utf-8 -*-
# Copyright: keyless.aws contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Connection options and one boto3 Session per module run.

Private to the collection: no stable API.
"""

from __future__ import annotations

import re
import threading

from ansible.module_utils.basic import env_fallback, missing_required_lib

try:
    import boto3
    import botocore
    from botocore.config import Config
    HAS_BOTO3 = True
    BOTO3_IMPORT_ERROR = None
except ImportError as exc:  # pragma: no cover - exercised by the sanity import test
    HAS_BOTO3 = False
    BOTO3_IMPORT_ERROR = exc

from ansible_collections.keyless.aws.plugins.module_utils.aws.errors import AwsCallError

COLLECTION_VERSION = "0.1.0"
IAM_DEFAULT_REGION = "us-east-1"


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
    )


def validate_connection(params):
    """Pure checks of the connection options; returns a list of error messages."""
    errors = []
    max_attempts = params.get("max_attempts")
    if max_attempts is not None and not 1 <= max_attempts <= 50:
        errors.append("max_attempts=%r is out of range: use a whole number from 1 to 50" % max_attempts)
    if params.get("access_key") and not params.get("secret_key"):
        errors.append("access_key is set but secret_key is not: give both, or neither to use the credential chain")
    if params.get("secret_key") and not params.get("access_key"):
        errors.append("secret_key is set but access_key is not: give both, or neither to use the credential chain")
    if params.get("session_token") and not (params.get("access_key") and params.get("secret_key")):
        errors.append("session_token needs access_key and secret_key")
    region = params.get("region")
    # botocore's own rule for a region name; checked here so the message says what is allowed
    if region and not re.match(r"^[a-zA-Z0-9](?:[a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?$", region):
        errors.append("region=%r is not an AWS region name: use a region name like us-east-1 "
                      "(letters, digits and hyphens)" % region)
    endpoint = params.get("endpoint_url")
    if endpoint and not endpoint.startswith(("http://", "https://")):
        errors.append("endpoint_url=%r is not a URL: it must start with http:// or https://" % endpoint)
    role_arn = params.get("assume_role_arn")
    if role_arn and not re.match(r"^arn:aws[a-z-]*:iam::[0-9]{12}:role/[\w+=,.@/-]{1,512}$", role_arn):
        errors.append("assume_role_arn=%r is not a role ARN: expected arn:<partition>:iam::<12-digit account>:role/<name>"
                      % role_arn)
    return errors


class AwsContext:
    """One boto3 Session for the whole module run, with cached, thread-safe clients."""

    def __init__(self, module, default_region=None, require_region=False, max_pool_connections=10):
        if not HAS_BOTO3:
            module.fail_json(msg=missing_required_lib("boto3 and botocore"), exception=str(BOTO3_IMPORT_ERROR))
        self.module = module
        params = module.params
        self.region = params.get("region") or default_region
        if require_region and not self.region:
            module.fail_json(msg="region is required: set the region option or AWS_REGION")
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
        session_kwargs = {}
        if params.get("profile") and not params.get("access_key"):
            session_kwargs["profile_name"] = params["profile"]
        if params.get("access_key"):
            session_kwargs.update(aws_access_key_id=params["access_key"],
                                  aws_secret_access_key=params.get("secret_key"),
                                  aws_session_token=params.get("session_token"))
        try:
            self.session = boto3.session.Session(region_name=self.region, **session_kwargs)
        except botocore.exceptions.ProfileNotFound as exc:
            module.fail_json(msg="profile=%r was not found in the AWS config files: %s" % (params.get("profile"), exc))
        if params.get("assume_role_arn"):
            self.session = self._assumed_session(params)

    def _assumed_session(self, params):
        """A session with the credentials of assume_role_arn (one account/region target per host)."""
        kwargs = {"RoleArn": params["assume_role_arn"], "RoleSessionName": params.get("assume_role_session_name") or "keyless-aws"}
        if params.get("assume_role_external_id"):
            kwargs["ExternalId"] = params["assume_role_external_id"]
        sts = self.session.client("sts", region_name=self.region or IAM_DEFAULT_REGION,
                                  endpoint_url=self.endpoint_url, verify=self.verify, config=self.config)
        try:
            creds = sts.assume_role(**kwargs)["Credentials"]
        except botocore.exceptions.ClientError as exc:
            self.module.fail_json(msg=AwsCallError.from_exception(exc, "AssumeRole", params["assume_role_arn"]).text())
        except botocore.exceptions.NoCredentialsError as exc:
            self.module.fail_json(msg="AssumeRole needs base credentials to start from: %s" % exc)
        return boto3.session.Session(aws_access_key_id=creds["AccessKeyId"], aws_secret_access_key=creds["SecretAccessKey"],
                                     aws_session_token=creds["SessionToken"], region_name=self.region)

    def client(self, service, region=None):
        region = region or self.region or IAM_DEFAULT_REGION
        key = (service, region)
        with self._lock:
            if key not in self._clients:
                self._clients[key] = self.session.client(
                    service, region_name=region, endpoint_url=self.endpoint_url,
                    verify=self.verify, config=self.config)
            return self._clients[key]

    def _identity(self):
        if self._account_id is None:
            try:
                ident = self.client("sts").get_caller_identity()
            except botocore.exceptions.NoCredentialsError as exc:
                raise AwsCallError("GetCallerIdentity", None, "no AWS credentials were found: set access_key/secret_key, "
                                   "profile, or the AWS_* environment variables (%s)" % exc)
            except botocore.exceptions.ClientError as exc:
                raise AwsCallError.from_exception(exc, "GetCallerIdentity")
            self._account_id = ident["Account"]
            # arn:<partition>:sts::<account>:...
            self._partition = ident["Arn"].split(":")[1]
        return self._account_id, self._partition

    @property
    def account_id(self):
        return self._identity()[0]

    @property
    def partition(self):
        return self._identity()[1]
