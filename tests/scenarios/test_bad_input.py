"""Bad input, table-driven: every case must fail in validation, before any AWS call.

All cases run as tasks of ONE ansible-playbook (ignore_errors + register; the role cases in
block/rescue), so the table costs one playbook start, not one per case. After every case task a
`set_fact` reads the moto server's call counter through a lookup (lookups run in the controller, so
they are cheap and reach no AWS API), which attributes every AWS call the server received to the case
that made it. Each case must then:
  - fail (a clean failure: no traceback),
  - with a message naming the option, the value and what is allowed,
  - with ZERO calls served by the moto server (reads included: validation comes before observe).

The modules get endpoint_url (and imds_info its `endpoint`) pointed at the moto server fixture, so a
module that forgot to validate first shows up in the counter rather than silently talking to AWS.
Cases a module does not meet yet are xfail (strict) with the owner named; do not loosen a case to
make it pass.
"""

from __future__ import annotations

import json
import pathlib
import tempfile

import pytest

from tests.support.moto_server import calls, reset_moto
from tests.support.playbook import run_playbook

pytestmark = [pytest.mark.integration, pytest.mark.xdist_group("bad_input")]

ACCOUNT = "123456789012"
ADMIN = {"Version": "2012-10-17",
         "Statement": [{"Sid": "Everything", "Effect": "Allow", "Action": "*", "Resource": "*"}]}
IAM_STAR = {"Version": "2012-10-17",
            "Statement": [{"Sid": "IamAll", "Effect": "Allow", "Action": "iam:*", "Resource": "*"}]}
NO_STATEMENT = {"Version": "2012-10-17"}
BROKEN_JSON = '{"Version": "2012-10-17", "Statement": [{"Effect": "Allow",'
TRUST_EVERYONE = {"Version": "2012-10-17",
                  "Statement": [{"Effect": "Allow", "Principal": "*", "Action": "sts:AssumeRole"}]}
TRUST_EVERY_AWS = {"Version": "2012-10-17",
                   "Statement": [{"Effect": "Allow", "Principal": {"AWS": "*"}, "Action": "sts:AssumeRole"}]}
ROLE_NAME_CHARS = ("+=,.@_-", "+ = , . @ _ -", "[\\w+=,.@-]", "A-Za-z0-9", "letters")
ONE_OF = ("one of", "must be", "use ")


class Case:
    """One invalid input. `value` and each entry of `allowed` are alternatives: one must appear."""

    def __init__(self, cid, module, args, option, value, allowed, xfail=None):
        self.cid, self.module, self.args, self.option = cid, module, args, option
        self.value = (value,) if isinstance(value, str) else tuple(value)
        self.allowed = [(a,) if isinstance(a, str) else tuple(a) for a in allowed]
        self.xfail = xfail

    def param(self):
        marks = [pytest.mark.xfail(reason=self.xfail, strict=True)] if self.xfail else []
        return pytest.param(self, id=self.cid, marks=marks)


def C(*a, **kw):
    return Case(*a, **kw)


CASES = [
    # --- iam_role -----------------------------------------------------------------------------------
    C("iam_role-name-too-long", "iam_role", {"name": "r" * 65}, "name", "r" * 65, ["64"]),
    C("iam_role-name-bad-chars", "iam_role", {"name": "my role!"}, "name", "my role!", [ROLE_NAME_CHARS]),
    C("iam_role-session-too-short", "iam_role", {"name": "r1", "max_session_duration": 600},
      "max_session_duration", "600", ["3600", "43200"]),
    C("iam_role-session-too-long", "iam_role", {"name": "r1", "max_session_duration": 50000},
      "max_session_duration", "50000", ["3600", "43200"]),
    C("iam_role-session-not-int", "iam_role", {"name": "r1", "max_session_duration": "an hour"},
      "max_session_duration", "an hour", ["int"]),
    C("iam_role-state-unknown", "iam_role", {"name": "r1", "state": "gone"}, "state", "gone",
      ["present", "absent"]),
    C("iam_role-trust-broken-json", "iam_role", {"name": "r1", "assume_role_policy_document": BROKEN_JSON},
      "assume_role_policy_document", ("JSON", "json"), [("JSON", "json")]),
    C("iam_role-trust-no-statement", "iam_role", {"name": "r1", "assume_role_policy_document": NO_STATEMENT},
      "assume_role_policy_document", ("Statement",), ["Statement"]),
    C("iam_role-trust-everyone", "iam_role", {"name": "r1", "assume_role_policy_document": TRUST_EVERYONE},
      "assume_role_policy_document", ('"*"', "'*'", "*"), [("Principal", "everyone", "anyone")]),
    C("iam_role-trust-every-aws", "iam_role", {"name": "r1", "assume_role_policy_document": TRUST_EVERY_AWS},
      "assume_role_policy_document", ("*",), [("Principal", "everyone", "anyone")]),
    C("iam_role-trust-and-services", "iam_role",
      {"name": "r1", "assume_role_policy_document": {"Version": "2012-10-17", "Statement": []},
       "trusted_services": ["ec2.amazonaws.com"]},
      "trusted_services", ("assume_role_policy_document",), [("exclusive", "not both", "one of", "either")]),
    C("iam_role-admin-managed-arn", "iam_role",
      {"name": "r1", "managed_policies": ["arn:aws:iam::aws:policy/AdministratorAccess"]},
      "managed_policies", "AdministratorAccess", ["allow_admin"]),
    C("iam_role-poweruser-by-name", "iam_role", {"name": "r1", "managed_policies": ["PowerUserAccess"]},
      "managed_policies", "PowerUserAccess", ["allow_admin"]),
    C("iam_role-iamfull-managed", "iam_role",
      {"name": "r1", "managed_policies": ["arn:aws:iam::aws:policy/IAMFullAccess"]},
      "managed_policies", "IAMFullAccess", ["allow_admin"]),
    C("iam_role-inline-star", "iam_role", {"name": "r1", "inline_policies": {"Everything": ADMIN}},
      "inline_policies", "Everything", ["allow_admin"]),
    C("iam_role-inline-iam-star", "iam_role", {"name": "r1", "inline_policies": {"IamAll": IAM_STAR}},
      "inline_policies", ("IamAll", "iam:*"), ["allow_admin"]),
    C("iam_role-inline-broken-json", "iam_role", {"name": "r1", "inline_policies": {"Broken": BROKEN_JSON}},
      "inline_policies", "Broken", [("JSON", "json")]),
    C("iam_role-inline-no-statement", "iam_role", {"name": "r1", "inline_policies": {"Empty": NO_STATEMENT}},
      "inline_policies", "Empty", ["Statement"]),
    C("iam_role-managed-bad-arn", "iam_role", {"name": "r1", "managed_policies": ["arn:aws:iam:policy/Foo"]},
      "managed_policies", "arn:aws:iam:policy/Foo", [("arn:", "ARN")]),
    C("iam_role-boundary-bad-arn", "iam_role",
      {"name": "r1", "permissions_boundary": "arn:aws:iam::12345:policy/Boundary"},
      "permissions_boundary", "arn:aws:iam::12345:policy/Boundary", [("12-digit", "12 digit", "arn:<partition>")]),
    C("iam_role-path-no-slash", "iam_role", {"name": "r1", "path": "apps"}, "path", "apps", ["/"]),
    C("iam_role-tag-aws-prefix", "iam_role", {"name": "r1", "tags": {"aws:owner": "me"}}, "tags", "aws:owner",
      ["aws:"]),
    C("iam_role-wait-timeout-negative", "iam_role", {"name": "r1", "wait_timeout": -5}, "wait_timeout", "-5",
      [("0", "positive", "at least")]),
    # --- connection options (shared by every AWS module) --------------------------------------------
    C("conn-retry-mode-unknown", "iam_role_info", {"name": "r1", "retry_mode": "exponential"}, "retry_mode",
      "exponential", ["standard", "adaptive"]),
    C("conn-max-attempts-zero", "iam_role_info", {"name": "r1", "max_attempts": 0}, "max_attempts", "0",
      ["1", "50"]),
    C("conn-endpoint-not-url", "iam_role_info", {"name": "r1", "endpoint_url": "localhost:5000"},
      "endpoint_url", "localhost:5000", ["http://"]),
    C("conn-access-key-alone", "iam_role_info", {"name": "r1", "access_key": "AKIAKEYLESSTESTFAKE1"},
      "secret_key", "access_key", [("both", "give")]),
    C("conn-assume-role-bad-arn", "iam_role_info",
      {"name": "r1", "assume_role_arn": "arn:aws:iam::123:user/bob"},
      "assume_role_arn", "arn:aws:iam::123:user/bob", ["role/"]),
    C("conn-region-bad", "iam_role_info", {"name": "r1", "region": "moon-base-1!"}, "region", "moon-base-1!",
      [("us-east-1", "region name", "like ")]),
    # --- iam_role_info / iam_instance_profile_info ------------------------------------------------------
    C("iam_role_info-name-bad-chars", "iam_role_info", {"name": "a b"}, "name", "a b", [ROLE_NAME_CHARS]),
    C("iam_role_info-prefix-no-slash", "iam_role_info", {"path_prefix": "apps"}, "path_prefix", "apps", ["/"]),
    C("iam_instance_profile_info-prefix-no-slash", "iam_instance_profile_info", {"path_prefix": "apps/"},
      "path_prefix", "apps/", ["/"]),
    C("iam_instance_profile_info-name-too-long", "iam_instance_profile_info", {"name": "p" * 129}, "name",
      "p" * 129, ["128"]),
    # --- iam_managed_policy ----------------------------------------------------------------------------
    C("iam_managed_policy-name-too-long", "iam_managed_policy", {"name": "p" * 129, "policy": IAM_STAR},
      "name", "p" * 129, ["128"]),
    C("iam_managed_policy-broken-json", "iam_managed_policy", {"name": "p1", "policy": BROKEN_JSON}, "policy",
      ("JSON", "json"), [("JSON", "json")]),
    C("iam_managed_policy-no-statement", "iam_managed_policy", {"name": "p1", "policy": NO_STATEMENT},
      "policy", "Statement", ["Statement"]),
    C("iam_managed_policy-admin", "iam_managed_policy", {"name": "p1", "policy": ADMIN}, "policy",
      ("Everything", '"*"', "'*'"), ["allow_admin"]),
    C("iam_managed_policy-present-without-policy", "iam_managed_policy", {"name": "p1"}, "policy", "present",
      ["state"]),
    C("iam_managed_policy-path-no-slash", "iam_managed_policy",
      {"name": "p1", "policy": IAM_STAR, "allow_admin": True, "path": "/apps"}, "path", "/apps", ["/"]),
    # --- iam_instance_profile --------------------------------------------------------------------------
    C("iam_instance_profile-name-bad-chars", "iam_instance_profile", {"name": "web/profile"}, "name",
      "web/profile", [ROLE_NAME_CHARS]),
    C("iam_instance_profile-name-too-long", "iam_instance_profile", {"name": "p" * 129}, "name", "p" * 129,
      ["128"]),
    C("iam_instance_profile-role-bad-arn", "iam_instance_profile",
      {"name": "p1", "role": "arn:aws:iam::12:role/web"}, "role", "arn:aws:iam::12:role/web",
      [("12-digit", "12 digit", "role name", "arn:<partition>")]),
    C("iam_instance_profile-wait-not-bool", "iam_instance_profile", {"name": "p1", "wait": "maybe"}, "wait",
      "maybe", ["bool"]),
    # --- ec2_profile_association -----------------------------------------------------------------------
    C("ec2_profile_association-empty-selector", "ec2_profile_association", {"instance_profile": "p1"},
      "all_instances", ("instance_ids",), ["all_instances"]),
    C("ec2_profile_association-empty-id-list", "ec2_profile_association",
      {"instance_profile": "p1", "instance_ids": []}, "all_instances", ("instance_ids",), ["all_instances"]),
    C("ec2_profile_association-bad-instance-id", "ec2_profile_association",
      {"instance_profile": "p1", "instance_ids": ["i-xyz"]}, "instance_ids", "i-xyz", ["i-"]),
    C("ec2_profile_association-role-arn-not-profile", "ec2_profile_association",
      {"instance_profile": "arn:aws:iam::%s:role/web" % ACCOUNT, "instance_ids": ["i-0123456789abcdef0"]},
      "instance_profile", "arn:aws:iam::%s:role/web" % ACCOUNT, ["instance-profile"]),
    C("ec2_profile_association-present-without-profile", "ec2_profile_association",
      {"instance_ids": ["i-0123456789abcdef0"]}, "instance_profile", "present", ["state"]),
    C("ec2_profile_association-all-and-ids", "ec2_profile_association",
      {"instance_profile": "p1", "all_instances": True, "instance_ids": ["i-0123456789abcdef0"]},
      "all_instances", "instance_ids", [("exclusive", "not both", "either", "contradict", "do not combine")]),
    C("ec2_profile_association-concurrency-zero", "ec2_profile_association",
      {"instance_profile": "p1", "instance_ids": ["i-0123456789abcdef0"], "concurrency": 0}, "concurrency",
      "0", [("1", "at least", "positive")]),
    C("ec2_profile_association-state-choice", "ec2_profile_association",
      {"instance_profile": "p1", "instance_ids": ["i-0123456789abcdef0"], "states": ["exploded"]}, "states",
      "exploded", ["running", "stopped"]),
    C("ec2_profile_association-rate-negative", "ec2_profile_association",
      {"instance_profile": "p1", "instance_ids": ["i-0123456789abcdef0"],
       "rate_limits": {"AssociateIamInstanceProfile": -1}}, "rate_limits", ("-1", "AssociateIamInstanceProfile"),
      [("positive", "greater than", "> 0", "at least")]),
    # --- ec2_metadata_options ----------------------------------------------------------------------------
    C("ec2_metadata_options-hop-too-high", "ec2_metadata_options",
      {"instance_ids": ["i-0123456789abcdef0"], "http_put_response_hop_limit": 65},
      "http_put_response_hop_limit", "65", ["1", "64"]),
    C("ec2_metadata_options-hop-zero", "ec2_metadata_options",
      {"instance_ids": ["i-0123456789abcdef0"], "http_put_response_hop_limit": 0},
      "http_put_response_hop_limit", "0", ["1", "64"]),
    C("ec2_metadata_options-tokens-choice", "ec2_metadata_options",
      {"instance_ids": ["i-0123456789abcdef0"], "http_tokens": "mandatory"}, "http_tokens", "mandatory",
      ["optional", "required"]),
    C("ec2_metadata_options-empty-selector", "ec2_metadata_options", {"http_tokens": "required"},
      "all_instances", ("instance_ids",), ["all_instances"]),
    C("ec2_metadata_options-empty-tags", "ec2_metadata_options", {"http_tokens": "required", "tags": {}},
      "all_instances", ("tags", "instance_ids"), ["all_instances"]),
    C("ec2_metadata_options-nothing-to-set", "ec2_metadata_options", {"instance_ids": ["i-0123456789abcdef0"]},
      "http_tokens", ("http_endpoint", "http_put_response_hop_limit"), [("one of", "at least", "nothing")]),
    C("ec2_metadata_options-lookback-zero", "ec2_metadata_options",
      {"instance_ids": ["i-0123456789abcdef0"], "http_tokens": "required", "imdsv1_usage_check": True,
       "imdsv1_lookback_days": 0}, "imdsv1_lookback_days", "0", [("1", "at least", "positive")]),
    # --- ec2_instance_identity ---------------------------------------------------------------------------
    C("ec2_instance_identity-nothing-to-converge", "ec2_instance_identity", {"instance_ids": ["i-0123456789abcdef0"]},
      "instance_profile", ("http_tokens",), ["nothing"]),
    C("ec2_instance_identity-hop-too-high", "ec2_instance_identity",
      {"instance_ids": ["i-0123456789abcdef0"], "http_put_response_hop_limit": 65},
      "http_put_response_hop_limit", "65", ["1", "64"]),
    C("ec2_instance_identity-fail-percentage", "ec2_instance_identity",
      {"instance_ids": ["i-0123456789abcdef0"], "http_tokens": "required", "max_fail_percentage": 101},
      "max_fail_percentage", "101", ["100"]),
    # --- ec2_metadata_defaults ---------------------------------------------------------------------------
    C("ec2_metadata_defaults-hop-too-high", "ec2_metadata_defaults",
      {"regions": ["us-east-1"], "http_put_response_hop_limit": 100}, "http_put_response_hop_limit", "100",
      ["1", "64"]),
    C("ec2_metadata_defaults-bad-region", "ec2_metadata_defaults",
      {"regions": ["mars-1!"], "http_tokens": "required"}, "regions", "mars-1!", [("us-east-1", "region name", "like ")]),
    C("ec2_metadata_defaults-tokens-choice", "ec2_metadata_defaults",
      {"regions": ["us-east-1"], "http_tokens": "yes"}, "http_tokens", "yes", ["no-preference"]),
    # --- ec2_fleet_info ------------------------------------------------------------------------------------
    C("ec2_fleet_info-empty-selector", "ec2_fleet_info", {}, "all_instances", ("instance_ids",),
      ["all_instances"]),
    C("ec2_fleet_info-expected-unknown-key", "ec2_fleet_info",
      {"instance_ids": ["i-0123456789abcdef0"], "expected": {"http_tokens": "required", "colour": "blue"}},
      "expected", "colour", ["http_tokens"]),
    # --- ec2_fleet_census -----------------------------------------------------------------------------------
    C("ec2_fleet_census-name-twice", "ec2_fleet_census",
      {"targets": [{"name": "shop-us-east-1", "selector": {"tags": {"App": "shop"}}},
                   {"name": "shop-us-east-1", "selector": {"tags": {"App": "shop"}}}]},
      "target", "shop-us-east-1", ["listed twice", "each inventory host is one target"]),
    C("ec2_fleet_census-unknown-selector-key", "ec2_fleet_census",
      {"targets": [{"name": "shop", "selector": {"tags": {"App": "shop"}, "colour": "blue"}}]},
      "selector", "colour", ["instance_ids", "tags"]),
    C("ec2_fleet_census-empty-selector", "ec2_fleet_census", {"targets": [{"name": "shop"}]}, "all_instances",
      ("instance_ids",), ["all_instances"]),
    C("ec2_fleet_census-bad-role-arn", "ec2_fleet_census",
      {"targets": [{"name": "shop", "connection": {"assume_role_arn": "arn:aws:iam::123:role/x"}, "selector": {
          "tags": {"App": "shop"}}}]},
      "assume_role_arn", "arn:aws:iam::123:role/x", ["12-digit account"]),
    # --- iam_identity -----------------------------------------------------------------------------------------
    C("iam_identity-role-name-too-long", "iam_identity", {"accounts": [{"name": "shop", "role": {"name": "r" * 65}}]},
      "name", "r" * 65, ["64"]),
    C("iam_identity-role-state-absent", "iam_identity",
      {"accounts": [{"name": "shop", "role": {"name": "r1", "state": "absent"}}]},
      "state", "absent", ["keyless.aws.iam_role"]),
    C("iam_identity-name-twice", "iam_identity",
      {"accounts": [{"name": "shop", "role": {"name": "r1"}}, {"name": "shop", "role": {"name": "r2"}}]},
      "account entry", "shop", ["listed twice"]),
    # --- ec2_fleet_preview -----------------------------------------------------------------------------------
    C("ec2_fleet_preview-name-twice", "ec2_fleet_preview",
      {"targets": [{"name": "shop", "options": {"tags": {"App": "shop"}, "http_tokens": "required"}},
                   {"name": "shop", "options": {"tags": {"App": "shop"}, "http_tokens": "required"}}]},
      "target", "shop", ["listed twice"]),
    C("ec2_fleet_preview-connection-in-options", "ec2_fleet_preview",
      {"targets": [{"name": "shop", "options": {"tags": {"App": "shop"}, "http_tokens": "required",
                                                 "region": "eu-west-1"}}]},
      "options", "region", ["connection"]),
    C("ec2_fleet_preview-bad-tokens", "ec2_fleet_preview",
      {"targets": [{"name": "shop", "options": {"tags": {"App": "shop"}, "http_tokens": "sometimes"}}]},
      "http_tokens", "sometimes", ["required", "optional"]),
    C("ec2_fleet_preview-empty-selector", "ec2_fleet_preview",
      {"targets": [{"name": "shop", "options": {"http_tokens": "required"}}]}, "all_instances",
      ("instance_ids",), ["all_instances"]),
    # --- ec2_launch_template_identity ----------------------------------------------------------------------
    C("ec2_launch_template_identity-no-selector", "ec2_launch_template_identity", {"http_tokens": "required"},
      "all_templates", ("launch_template_names", "launch_template_ids"), ["all_templates"]),
    C("ec2_launch_template_identity-bad-id", "ec2_launch_template_identity",
      {"launch_template_ids": ["lt-zzz"], "http_tokens": "required"}, "launch_template_ids", "lt-zzz", ["lt-"]),
    C("ec2_launch_template_identity-hop-too-high", "ec2_launch_template_identity",
      {"launch_template_names": ["web"], "http_put_response_hop_limit": 70}, "http_put_response_hop_limit",
      "70", ["1", "64"]),
    # --- autoscaling_group_identity ------------------------------------------------------------------------
    C("autoscaling_group_identity-no-selector", "autoscaling_group_identity", {"http_tokens": "required"},
      "all_groups", ("names", "tags"), ["all_groups"]),
    C("autoscaling_group_identity-include-eks", "autoscaling_group_identity",
      {"names": ["web"], "http_tokens": "required", "include_owned": ["eks"]}, "include_owned", "eks",
      ["UpdateNodegroupVersion"]),
    C("autoscaling_group_identity-min-healthy-150", "autoscaling_group_identity",
      {"names": ["web"], "http_tokens": "required", "min_healthy_percentage": 150}, "min_healthy_percentage", "150",
      ["0", "100"]),
    # --- eks_nodegroup_identity ---------------------------------------------------------------------------
    C("eks_nodegroup_identity-bad-cluster-name", "eks_nodegroup_identity",
      {"clusters": ["-prod"], "http_tokens": "required"}, "clusters", "-prod", ["100"]),
    C("eks_nodegroup_identity-hop-1-cuts-pods-off", "eks_nodegroup_identity",
      {"clusters": ["prod"], "http_tokens": "required", "http_put_response_hop_limit": 1},
      "http_put_response_hop_limit", "1", ["allow_hop_limit_1"]),
    # --- iam_policy_from_activity ------------------------------------------------------------------------
    C("iam_policy_from_activity-days-zero", "iam_policy_from_activity", {"role": "r1", "days": 0}, "days", "0",
      ["1", "90"]),
    C("iam_policy_from_activity-days-over-lookup-window", "iam_policy_from_activity",
      {"role": "r1", "days": 400}, "days", "400", ["90"]),
    C("iam_policy_from_activity-s3-without-bucket", "iam_policy_from_activity", {"role": "r1", "source": "s3"},
      "s3_bucket", "s3", ["source"]),
    C("iam_policy_from_activity-source-choice", "iam_policy_from_activity", {"role": "r1", "source": "splunk"},
      "source", "splunk", ["lookup_events", "s3", "local"]),
    C("iam_policy_from_activity-bad-org", "iam_policy_from_activity",
      {"role": "r1", "source": "s3", "s3_bucket": "trail-logs", "organization_id": "org-1"}, "organization_id",
      "org-1", ["o-"]),
    # --- iam_access_key_info / iam_access_key (issue 24) -------------------------------------------------------
    C("iam_access_key_info-bad-user-name", "iam_access_key_info", {"user_names": ["app deploy"]}, "user_names",
      "app deploy", ["1 to 64", "+ = , . @ _ -"]),
    C("iam_access_key_info-activity-without-selector", "iam_access_key_info", {"activity": True}, "selector", "empty",
      ["instance_ids", "all_instances"]),
    C("iam_access_key_info-days-over-lookup-window", "iam_access_key_info",
      {"activity": True, "all_instances": True, "days": 120}, "days", "120", ["90"]),
    C("iam_access_key-bad-key-id", "iam_access_key", {"user": "app", "access_key_id": "AKIA1234"}, "access_key_id",
      "AKIA1234", ["AKIA...WXYZ", "16 upper-case"]),
    C("iam_access_key-quiet-days-negative", "iam_access_key",
      {"user": "app", "access_key_id": "AKIA...WXYZ", "quiet_days": -5}, "quiet_days", "-5", ["0 to 3650"]),
    C("iam_access_key-since-not-a-time", "iam_access_key",
      {"user": "app", "access_key_id": "AKIA...WXYZ", "source": "s3", "s3_bucket": "trail-logs", "since": "yesterday"},
      "since", "yesterday", ["ISO 8601"]),
    # --- imds_info (talks to the instance metadata service, here pointed at the moto server) ----------------
    C("imds_info-token-ttl-zero", "imds_info", {"token_ttl": 0}, "token_ttl", "0", ["1", "21600"]),
    C("imds_info-token-ttl-too-long", "imds_info", {"token_ttl": 30000}, "token_ttl", "30000", ["21600"]),
    C("imds_info-timeout-negative", "imds_info", {"timeout": -1}, "timeout", "-1", [("0", "positive")]),
    C("imds_info-retries-negative", "imds_info", {"retries": -1}, "retries", "-1", [("0", "negative")]),
    C("imds_info-endpoint-not-http", "imds_info", {"endpoint": "ftp://169.254.169.254"}, "endpoint",
      "ftp://169.254.169.254", ["http://"]),
    C("imds_info-credentials-unknown", "imds_info", {"credentials": "warn"}, "credentials", "warn",
      ["fail", "report", "off"]),
    C("imds_info-host-root-relative", "imds_info", {"host_root": "host"}, "host_root", "host", ["absolute"]),
    # --- report_files (an action on the controller: no endpoint, no AWS call) ---------------------------------
    C("report_files-name-with-directory", "report_files", {"dir": "/tmp/keyless-bad-input", "files": {"../x.md": "x"}},
      "files", "../x.md", ["plain file name"]),
    C("report_files-mode-not-octal", "report_files", {"dir": "/tmp/keyless-bad-input", "files": {"x.md": "x"},
                                                      "mode": "rw-r--r--"},
      "mode", "rw-r--r--", ["octal"]),
    C("organizations_guardrail-root-without-opt-in", "organizations_guardrail", {"targets": ["r-ab12"]}, "targets",
      "r-ab12", ["allow_root=true"]),
    C("organizations_guardrail_info-root", "organizations_guardrail_info", {"targets": ["r-ab12"]}, "targets",
      "r-ab12", ["all_accounts=true"]),
    # --- the ec2_identity role (argument spec + its validate.yml) -----------------------------------------------
    C("role-name-too-long", "role", {"ec2_identity_role_name": "r" * 65, "ec2_identity_manage_fleet": False},
      "ec2_identity_role_name", "r" * 65, ["64"]),
    C("role-session-out-of-range", "role",
      {"ec2_identity_role_name": "r1", "ec2_identity_max_session_duration": 60, "ec2_identity_manage_fleet": False},
      "ec2_identity_max_session_duration", "60", ["3600", "43200"]),
    C("role-empty-selector", "role", {"ec2_identity_role_name": "r1"}, "ec2_identity_all_instances",
      ("ec2_identity_instance_ids",), ["ec2_identity_all_instances"]),
    # every broken rule of validate.yml is named at once, not only the first
    C("role-several-rules-at-once", "role",
      {"ec2_identity_role_name": "r1", "ec2_identity_batch_size": 0, "ec2_identity_http_put_response_hop_limit": 65,
       "ec2_identity_manage_fleet": False},
      "ec2_identity_batch_size", "0", ["1 to 10000", "ec2_identity_http_put_response_hop_limit=65", "1 to 64"]),
    C("role-session-not-int", "role",
      {"ec2_identity_role_name": "r1", "ec2_identity_max_session_duration": "long", "ec2_identity_manage_fleet": False},
      "ec2_identity_max_session_duration", "long", ["int"]),
]

# Not a bad input: a valid read, run last, proving the counter sees a call that does reach the server
# (a zero-calls check that cannot fail would prove nothing).
CONTROL = Case("control-valid-read", "iam_role_info", {"name": "NoSuchRoleHere"}, "", "", [])
ALL = CASES + [CONTROL]
# The server's cumulative call counts, read from the controller (a lookup: no module, no AWS API).
COUNT = "{{ lookup('ansible.builtin.url', calls_url, split_lines=false) | from_json }}"


def _task(index, case, url):
    name = "Case %03d %s" % (index, case.cid)
    counter = {"name": "Count AWS calls after case %03d" % index,
               "ansible.builtin.set_fact": {"c%03d" % index: COUNT}}
    if case.module == "role":
        return [{"name": name, "block": [{"name": "Apply the role", "ansible.builtin.include_role": {
            "name": "keyless.aws.ec2_identity"}, "vars": case.args}],
            "rescue": [{"name": "Keep the failure", "ansible.builtin.set_fact": {
                "r%03d" % index: "{{ ansible_failed_result }}"}}]}, counter]
    args = dict(case.args)
    if case.module == "imds_info":
        args.setdefault("endpoint", url)
    elif case.module == "report_files":
        pass  # runs on the controller, talks to no endpoint
    else:
        args.setdefault("endpoint_url", url)
    return [{"name": name, "keyless.aws.%s" % case.module: args, "register": "r%03d" % index,
             "ignore_errors": True}, counter]


def _playbook(url, out):
    tasks = [{"name": "Count AWS calls before the first case", "ansible.builtin.set_fact": {
        "c_start": COUNT}}]
    for index, case in enumerate(ALL):
        tasks += _task(index, case, url)
    keys = ["c_start"] + ["r%03d" % i for i in range(len(ALL))] + ["c%03d" % i for i in range(len(ALL))]
    content = "{{ {%s} | to_json }}" % ", ".join("'%s': %s | default(None)" % (k, k) for k in keys)
    tasks.append({"name": "Write every result", "ansible.builtin.copy": {"dest": str(out), "content": content,
                                                                         "mode": "0600"}})
    play = {"name": "Bad input", "hosts": "localhost", "gather_facts": False,
            "vars": {"calls_url": url + "/_keyless/calls"}, "tasks": tasks}
    return json.dumps([play], indent=1) + "\n"


@pytest.fixture(scope="module")
def outcomes(moto_server):
    """Run every case in one playbook; returns {cid: (result, aws_calls_made_by_that_case)}."""
    reset_moto(moto_server.url)
    with tempfile.TemporaryDirectory() as tmp:
        out = pathlib.Path(tmp) / "results.json"
        book = pathlib.Path(tmp) / "bad_input.yml"
        book.write_text(_playbook(moto_server.url, out))
        # Pipelining: one exec per module instead of mkdir + put + exec; ~10 % less per task here.
        run = run_playbook(book, moto_server.url, timeout=1200, env={"ANSIBLE_PIPELINING": "true"})
        assert out.exists(), run
        data = json.loads(out.read_text())
    total_after = calls(moto_server.url)["total"]
    results = {}
    before = data["c_start"]["counts"]
    for index, case in enumerate(ALL):
        after = data["c%03d" % index]["counts"]
        made = {k: n - before.get(k, 0) for k, n in after.items() if n - before.get(k, 0)}
        results[case.cid] = (data["r%03d" % index], made)
        before = after
    # The counter itself is not an AWS call, and nothing ran after the last case but the results file.
    results["_total_after"] = (None, total_after - data["c_start"]["total"])
    return results


def _message(result):
    msg = result.get("msg") or ""
    errors = result.get("argument_errors") or result.get("errors") or []
    return " ".join([str(msg)] + [str(e) for e in errors])


def test_table_is_big_enough():
    assert len(CASES) >= 40
    assert len({c.cid for c in CASES}) == len(CASES)
    modules = {c.module for c in CASES}
    present = {p.stem for p in pathlib.Path(__file__).resolve().parents[2].joinpath("plugins", "modules").glob("*.py")}
    assert present <= modules, "modules without a bad-input case: %s" % sorted(present - modules)


@pytest.mark.parametrize("case", [c.param() for c in CASES])
def test_bad_input_fails_in_validation(outcomes, case):
    result, made = outcomes[case.cid]
    assert result, "case %s left no result (did the playbook stop early?)" % case.cid
    msg = _message(result)
    assert result.get("failed"), "%s was accepted: %s" % (case.cid, json.dumps(result)[:800])
    assert not made, "%s made AWS calls before failing: %s (message: %s)" % (case.cid, made, msg)
    # ansible-core 2.19 puts exception='(traceback unavailable)' on every fail_json; a crash shows as
    # MODULE FAILURE with module_stderr instead.
    crashed = "module_stderr" in result or "MODULE FAILURE" in msg or "Traceback" in msg
    assert not crashed, "%s crashed: %s" % (case.cid, (msg + str(result.get("module_stderr", "")))[:800])
    assert case.option in msg, "%s: message does not name option %r: %s" % (case.cid, case.option, msg)
    assert any(v in msg for v in case.value), "%s: message does not show the value %r: %s" % (case.cid, case.value, msg)
    for alternatives in case.allowed:
        assert any(a in msg for a in alternatives), \
            "%s: message does not say what is allowed (%r): %s" % (case.cid, alternatives, msg)


def test_the_counter_sees_a_call_that_reaches_the_server(outcomes):
    result, made = outcomes[CONTROL.cid]
    assert sum(made.values()) >= 1, (result, made)
    assert any(key.startswith("iam:") for key in made), made


def test_every_call_is_attributed_to_a_case(outcomes):
    """The per-case counts add up to what the server saw in total: no call escaped the attribution."""
    attributed = sum(sum(made.values()) for key, (result, made) in outcomes.items() if key != "_total_after")
    assert outcomes["_total_after"][1] == attributed
