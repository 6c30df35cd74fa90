"""The eventSource+eventName -> IAM action table, case by case."""

from __future__ import annotations

import pytest

from ansible_collections.keyless.aws.plugins.module_utils.activity.action_map import (
    Needed,
    is_denied,
    map_event,
    map_event_name,
    s3_account_level,
    s3_object_level,
    service_prefix,
)

S3 = "s3.amazonaws.com"

TABLE = [
    # S3 object and bucket operations whose names are not their actions
    (S3, "GetObject", ["s3:GetObject"]),
    (S3, "PutObject", ["s3:PutObject"]),
    (S3, "ListObjects", ["s3:ListBucket"]),
    (S3, "ListObjectsV2", ["s3:ListBucket"]),
    (S3, "ListObjectVersions", ["s3:ListBucketVersions"]),
    (S3, "HeadObject", ["s3:GetObject"]),
    (S3, "HeadBucket", ["s3:ListBucket"]),
    (S3, "ListBuckets", ["s3:ListAllMyBuckets"]),
    (S3, "CopyObject", ["s3:GetObject", "s3:PutObject"]),
    (S3, "UploadPartCopy", ["s3:GetObject", "s3:PutObject"]),
    (S3, "DeleteObjects", ["s3:DeleteObject"]),
    (S3, "GetObjectAcl", ["s3:GetObjectAcl"]),
    (S3, "PutObjectAcl", ["s3:PutObjectAcl"]),
    (S3, "CreateMultipartUpload", ["s3:PutObject"]),
    (S3, "UploadPart", ["s3:PutObject"]),
    (S3, "CompleteMultipartUpload", ["s3:PutObject"]),
    (S3, "ListParts", ["s3:ListMultipartUploadParts"]),
    (S3, "ListMultipartUploads", ["s3:ListBucketMultipartUploads"]),
    (S3, "GetBucketEncryption", ["s3:GetEncryptionConfiguration"]),
    (S3, "GetBucketLifecycleConfiguration", ["s3:GetLifecycleConfiguration"]),
    (S3, "DeleteBucketTagging", ["s3:PutBucketTagging"]),
    (S3, "GetBucketCors", ["s3:GetBucketCORS"]),
    (S3, "GetObjectAttributes", ["s3:GetObject", "s3:GetObjectAttributes"]),
    (S3, "GetBucketLocation", ["s3:GetBucketLocation"]),
    # Lambda's versioned REST names
    ("lambda.amazonaws.com", "ListFunctions20150331", ["lambda:ListFunctions"]),
    ("lambda.amazonaws.com", "GetFunctionConfiguration20150331v2", ["lambda:GetFunctionConfiguration"]),
    ("lambda.amazonaws.com", "UpdateFunctionCode20150331v2", ["lambda:UpdateFunctionCode"]),
    ("lambda.amazonaws.com", "Invoke", ["lambda:InvokeFunction"]),
    ("lambda.amazonaws.com", "GetFunction", ["lambda:GetFunction"]),
    # SQS batches need the single-message action
    ("sqs.amazonaws.com", "SendMessage", ["sqs:SendMessage"]),
    ("sqs.amazonaws.com", "SendMessageBatch", ["sqs:SendMessage"]),
    ("sqs.amazonaws.com", "DeleteMessageBatch", ["sqs:DeleteMessage"]),
    ("sqs.amazonaws.com", "ChangeMessageVisibilityBatch", ["sqs:ChangeMessageVisibility"]),
    ("sqs.amazonaws.com", "ReceiveMessage", ["sqs:ReceiveMessage"]),
    # KMS
    ("kms.amazonaws.com", "Decrypt", ["kms:Decrypt"]),
    ("kms.amazonaws.com", "GenerateDataKey", ["kms:GenerateDataKey"]),
    ("kms.amazonaws.com", "ReEncrypt", ["kms:ReEncryptFrom", "kms:ReEncryptTo"]),
    # STS: GetCallerIdentity needs no permission
    ("sts.amazonaws.com", "AssumeRole", ["sts:AssumeRole"]),
    ("sts.amazonaws.com", "GetCallerIdentity", []),
    # Secrets Manager
    ("secretsmanager.amazonaws.com", "GetSecretValue", ["secretsmanager:GetSecretValue"]),
    ("secretsmanager.amazonaws.com", "BatchGetSecretValue",
     ["secretsmanager:BatchGetSecretValue", "secretsmanager:GetSecretValue"]),
    # sources whose IAM prefix differs
    ("monitoring.amazonaws.com", "PutMetricData", ["cloudwatch:PutMetricData"]),
    ("email.amazonaws.com", "SendEmail", ["ses:SendEmail"]),
    ("api.ecr.amazonaws.com", "GetAuthorizationToken", ["ecr:GetAuthorizationToken"]),
    ("ec2.amazonaws.com", "DescribeInstances", ["ec2:DescribeInstances"]),
    ("ssm.amazonaws.com", "GetParameter", ["ssm:GetParameter"]),
    ("logs.amazonaws.com", "PutLogEvents", ["logs:PutLogEvents"]),
]


@pytest.mark.parametrize("source,name,expected", TABLE, ids=["%s:%s" % (t[0].split(".")[0], t[1]) for t in TABLE])
def test_table(source, name, expected):
    assert [n.action for n in map_event_name(source, name)] == expected


def test_copy_object_applies_get_to_source_and_put_to_target():
    assert map_event_name(S3, "CopyObject") == (Needed("s3:GetObject", "copy_source"), Needed("s3:PutObject", "target"))


@pytest.mark.parametrize("name,expected", [
    ("GetObject", "s3:GetObjectVersion"), ("DeleteObject", "s3:DeleteObjectVersion"),
    ("HeadObject", "s3:GetObjectVersion"), ("GetObjectAcl", "s3:GetObjectVersionAcl"),
    ("PutObject", "s3:PutObject"),
])
def test_s3_version_id_needs_the_version_action(name, expected):
    event = {"requestParameters": {"bucketName": "b", "key": "k", "versionId": "v1"}}
    assert [n.action for n in map_event_name(S3, name, event)] == [expected]


@pytest.mark.parametrize("source", ["ec2-instance-connect.amazonaws.com", "signin.amazonaws.com", "not-a-source", None])
def test_unknown_sources_are_not_guessed(source):
    assert map_event_name(source, "Something") is None
    assert service_prefix(source) is None


def test_map_event_classifies():
    assert map_event({"eventSource": S3, "eventName": "GetObject"})["kind"] == "mapped"
    assert map_event({"eventSource": "sts.amazonaws.com", "eventName": "GetCallerIdentity"})["kind"] == "no_permission"
    assert map_event({"eventSource": "signin.amazonaws.com", "eventName": "ConsoleLogin",
                      "eventType": "AwsConsoleSignIn"})["kind"] == "skipped"
    unmapped = map_event({"eventSource": "ec2-instance-connect.amazonaws.com", "eventName": "SendSSHPublicKey"})
    assert unmapped["kind"] == "unmapped" and "ec2-instance-connect" in unmapped["reason"]
    empty = map_event({"eventSource": S3, "eventName": ""})
    assert empty["kind"] == "unmapped" and "unknown event" in empty["reason"]


@pytest.mark.parametrize("code,denied", [
    ("AccessDenied", True), ("AccessDeniedException", True), ("Client.UnauthorizedOperation", True),
    ("NoSuchKey", False), ("ResourceNotFoundException", False), (None, False),
])
def test_denied_codes(code, denied):
    event = {"eventSource": S3, "eventName": "GetObject"}
    if code:
        event["errorCode"] = code
    assert is_denied(event) is denied
    assert map_event(event)["denied"] is denied


@pytest.mark.parametrize("action,level", [
    ("s3:GetObject", "object"), ("s3:PutObject", "object"), ("s3:DeleteObjectVersion", "object"),
    ("s3:GetObjectAcl", "object"), ("s3:AbortMultipartUpload", "object"), ("s3:ListMultipartUploadParts", "object"),
    ("s3:ListBucket", "bucket"), ("s3:GetBucketObjectLockConfiguration", "bucket"),
    ("s3:ListBucketMultipartUploads", "bucket"), ("s3:ListAllMyBuckets", "account"), ("sqs:GetObject", "other"),
])
def test_s3_resource_levels(action, level):
    got = "account" if s3_account_level(action) else "object" if s3_object_level(action) else (
        "bucket" if action.startswith("s3:") else "other")
    assert got == level
