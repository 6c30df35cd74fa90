# -*- coding: utf-8 -*-
# Copyright: keyless.aws contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""CloudTrail event (eventSource, eventName) -> the IAM action(s) the call needed.

Most services record an API call under the name of the IAM action it needs, with the service's
IAM prefix as the first label of eventSource. The tables below hold the known exceptions: sources
whose IAM prefix differs (monitoring -> cloudwatch), event names that need another action
(S3 ListObjectsV2 -> s3:ListBucket), calls that need two actions (S3 CopyObject, KMS ReEncrypt),
Lambda's versioned names (ListFunctions20150331), and calls that need no permission at all
(sts:GetCallerIdentity). Pure: no I/O.

Private to the collection: no stable API.
"""

from __future__ import annotations

import re
from collections import namedtuple

# One action an event needed, and which resource of the event it applies to:
# "target" (the resource the call names) or "copy_source" (S3 CopyObject/UploadPartCopy source object).
Needed = namedtuple("Needed", ["action", "resource_role"])

# eventSource first label -> IAM prefix, where they differ.
SOURCE_PREFIX_OVERRIDES = {
    "monitoring": "cloudwatch",
    "email": "ses",
    "elasticfilesystem": "elasticfilesystem",
    "es": "es",
    "api.ecr": "ecr",
    "ecr-public": "ecr-public",
    "runtime.sagemaker": "sagemaker",
    "data.iot": "iot",
    "streams.dynamodb": "dynamodb",
    "bedrock-runtime": "bedrock",
    "execute-api": "execute-api",
    "apigateway": "apigateway",
    "tagging": "tag",
    "kinesisanalytics": "kinesisanalytics",
    "elasticmapreduce": "elasticmapreduce",
    "logs": "logs",
}

# Services whose eventSource first label is their IAM prefix and whose event names are action names
# (apart from the per-event exceptions below). Events from any other source are reported as unmapped
# rather than guessed.
KNOWN_SOURCES = frozenset((
    "acm", "apigateway", "athena", "autoscaling", "backup", "batch", "bedrock", "cloudformation",
    "cloudfront", "cloudtrail", "codeartifact", "codebuild", "codecommit", "codedeploy", "codepipeline",
    "cognito-identity", "cognito-idp", "config", "dynamodb", "ec2", "ec2messages", "ecr", "ecs", "eks",
    "elasticache", "elasticbeanstalk", "elasticfilesystem", "elasticloadbalancing", "elasticmapreduce",
    "es", "events", "firehose", "glue", "guardduty", "iam", "inspector2", "iot", "kafka", "kinesis",
    "kms", "lambda", "logs", "organizations", "rds", "rds-data", "redshift", "route53", "s3",
    "sagemaker", "scheduler", "secretsmanager", "securityhub", "ses", "sns", "sqs", "ssm",
    "ssmmessages", "states", "sts", "tag", "textract", "translate", "xray", "cloudwatch",
    "ecr-public", "execute-api", "kinesisanalytics", "pipes", "sso", "airflow", "appconfig", "appsync",
    "servicediscovery", "synthetics", "timestream", "transfer", "wafv2", "ds", "fsx", "geo", "mq",
    "rekognition", "comprehend", "polly", "ram", "shield", "storagegateway", "support",
))

# Per-service event name -> action names (without prefix), where the name is not the action.
EVENT_OVERRIDES = {
    "s3": {
        "ListObjects": ("ListBucket",),
        "ListObjectsV2": ("ListBucket",),
        "ListObjectVersions": ("ListBucketVersions",),
        "HeadObject": ("GetObject",),
        "HeadBucket": ("ListBucket",),
        "ListBuckets": ("ListAllMyBuckets",),
        "DeleteObjects": ("DeleteObject",),
        "CreateMultipartUpload": ("PutObject",),
        "UploadPart": ("PutObject",),
        "CompleteMultipartUpload": ("PutObject",),
        "ListMultipartUploads": ("ListBucketMultipartUploads",),
        "ListParts": ("ListMultipartUploadParts",),
        "SelectObjectContent": ("GetObject",),
        "GetObjectAttributes": ("GetObject", "GetObjectAttributes"),
        "GetBucketEncryption": ("GetEncryptionConfiguration",),
        "PutBucketEncryption": ("PutEncryptionConfiguration",),
        "DeleteBucketEncryption": ("PutEncryptionConfiguration",),
        "GetBucketLifecycle": ("GetLifecycleConfiguration",),
        "GetBucketLifecycleConfiguration": ("GetLifecycleConfiguration",),
        "PutBucketLifecycle": ("PutLifecycleConfiguration",),
        "PutBucketLifecycleConfiguration": ("PutLifecycleConfiguration",),
        "DeleteBucketLifecycle": ("PutLifecycleConfiguration",),
        "GetBucketReplication": ("GetReplicationConfiguration",),
        "PutBucketReplication": ("PutReplicationConfiguration",),
        "DeleteBucketReplication": ("PutReplicationConfiguration",),
        "GetBucketCors": ("GetBucketCORS",),
        "PutBucketCors": ("PutBucketCORS",),
        "DeleteBucketCors": ("PutBucketCORS",),
        "DeleteBucketTagging": ("PutBucketTagging",),
        "GetBucketNotificationConfiguration": ("GetBucketNotification",),
        "PutBucketNotificationConfiguration": ("PutBucketNotification",),
        "DeleteBucketWebsite": ("DeleteBucketWebsite",),
        "GetBucketOwnershipControls": ("GetBucketOwnershipControls",),
        "GetObjectLockConfiguration": ("GetBucketObjectLockConfiguration",),
        "PutObjectLockConfiguration": ("PutBucketObjectLockConfiguration",),
        "GetBucketAccelerateConfiguration": ("GetAccelerateConfiguration",),
        "PutBucketAccelerateConfiguration": ("PutAccelerateConfiguration",),
        "GetBucketAnalyticsConfiguration": ("GetAnalyticsConfiguration",),
        "GetBucketInventoryConfiguration": ("GetInventoryConfiguration",),
        "GetBucketMetricsConfiguration": ("GetMetricsConfiguration",),
        "GetBucketIntelligentTieringConfiguration": ("GetIntelligentTieringConfiguration",),
        "DeletePublicAccessBlock": ("PutBucketPublicAccessBlock",),
        "GetPublicAccessBlock": ("GetBucketPublicAccessBlock",),
        "PutPublicAccessBlock": ("PutBucketPublicAccessBlock",),
    },
    "lambda": {
        "Invoke": ("InvokeFunction",),
        "InvokeAsync": ("InvokeFunction",),
        "InvokeWithResponseStream": ("InvokeFunction",),
    },
    "sqs": {
        "SendMessageBatch": ("SendMessage",),
        "DeleteMessageBatch": ("DeleteMessage",),
        "ChangeMessageVisibilityBatch": ("ChangeMessageVisibility",),
    },
    "sns": {
        "PublishBatch": ("Publish",),
    },
    "kms": {
        "ReEncrypt": ("ReEncryptFrom", "ReEncryptTo"),
    },
    "secretsmanager": {
        # BatchGetSecretValue also needs GetSecretValue on every secret it returns.
        "BatchGetSecretValue": ("BatchGetSecretValue", "GetSecretValue"),
    },
    "dynamodb": {
        "TransactGetItems": ("GetItem",),
        "ExecuteStatement": ("PartiQLSelect",),
    },
    "logs": {
        "StartLiveTail": ("StartLiveTail",),
    },
}

# (service, eventName) -> actions with a resource role each (calls that touch two resources).
MULTI_RESOURCE = {
    ("s3", "CopyObject"): (Needed("s3:GetObject", "copy_source"), Needed("s3:PutObject", "target")),
    ("s3", "UploadPartCopy"): (Needed("s3:GetObject", "copy_source"), Needed("s3:PutObject", "target")),
}

# Calls every principal may make without any IAM permission.
NO_PERMISSION_NEEDED = frozenset((
    ("sts", "GetCallerIdentity"),
))

# Events that are not API calls a policy could allow or deny.
NOT_POLICY_EVENTS = frozenset(("AwsConsoleSignIn", "AwsServiceEvent", "AwsCloudTrailInsight",
                               "AwsVpceEvent"))

# errorCode values that mean "the caller was not allowed".
DENIED_CODES = frozenset((
    "AccessDenied", "AccessDeniedException", "Client.UnauthorizedOperation", "UnauthorizedOperation",
    "Client.AccessDenied", "UnauthorizedAccess", "AuthorizationError", "AuthorizationErrorException",
    "Forbidden", "403",
))

# Lambda records its versioned REST names: ListFunctions20150331, GetFunctionConfiguration20150331v2.
_LAMBDA_VERSION = re.compile(r"^(?P<name>[A-Za-z]+?)(?:20[0-9]{6})(?:v[0-9]+)?$")

# S3 actions evaluated against the object ARN (bucket/key) rather than the bucket ARN.
_S3_OBJECT_LEVEL = re.compile(r"^(?:(?:Get|Put|Delete|Restore)Object|AbortMultipartUpload$|ListMultipartUploadParts$"
                              r"|BypassGovernanceRetention$)")


def service_prefix(event_source):
    """IAM prefix for an eventSource ("s3.amazonaws.com" -> "s3"), or None when unknown."""
    if not isinstance(event_source, str) or not event_source.endswith(".amazonaws.com"):
        return None
    label = event_source[:-len(".amazonaws.com")]
    if label in SOURCE_PREFIX_OVERRIDES:
        return SOURCE_PREFIX_OVERRIDES[label]
    return label if label in KNOWN_SOURCES else None


def _base_name(prefix, event_name):
    if prefix == "lambda":
        match = _LAMBDA_VERSION.match(event_name)
        if match:
            return match.group("name")
    return event_name


def _s3_versioned(event_name, event):
    """GetObject/DeleteObject (and their Acl/Tagging calls) with a versionId need the *Version action."""
    params = (event or {}).get("requestParameters") or {}
    if not params.get("versionId"):
        return None
    versioned = {"GetObject": "GetObjectVersion", "DeleteObject": "DeleteObjectVersion",
                 "GetObjectAcl": "GetObjectVersionAcl", "PutObjectAcl": "PutObjectVersionAcl",
                 "GetObjectTagging": "GetObjectVersionTagging", "PutObjectTagging": "PutObjectVersionTagging",
                 "DeleteObjectTagging": "DeleteObjectVersionTagging", "HeadObject": "GetObjectVersion"}
    name = versioned.get(event_name)
    return (name,) if name else None


def map_event_name(event_source, event_name, event=None):
    """The actions one call needed: a tuple of Needed, () when it needs none, None when unknown.

    `event` (the whole record) refines the answer where request parameters matter (S3 versionId).
    """
    prefix = service_prefix(event_source)
    if prefix is None or not isinstance(event_name, str) or not event_name:
        return None
    if (prefix, event_name) in NO_PERMISSION_NEEDED:
        return ()
    if (prefix, event_name) in MULTI_RESOURCE:
        return MULTI_RESOURCE[(prefix, event_name)]
    name = _base_name(prefix, event_name)
    names = None
    if prefix == "s3":
        names = _s3_versioned(name, event)
    if names is None:
        names = EVENT_OVERRIDES.get(prefix, {}).get(name, (name,))
    return tuple(Needed("%s:%s" % (prefix, n), "target") for n in names)


def map_event(event):
    """Classify one CloudTrail record: dict(kind, actions, denied, reason).

    kind: "mapped" (actions needed), "no_permission" (the call needs none), "skipped" (not an API
    call a policy governs), "unmapped" (unknown source or name; reason says which).
    """
    event_type = event.get("eventType")
    if event_type in NOT_POLICY_EVENTS:
        return {"kind": "skipped", "actions": (), "denied": False, "reason": "eventType %s" % event_type}
    source, name = event.get("eventSource"), event.get("eventName")
    needed = map_event_name(source, name, event)
    denied = is_denied(event)
    if needed is None:
        reason = ("unknown event source %r" % source) if service_prefix(source) is None else "unknown event %r" % name
        return {"kind": "unmapped", "actions": (), "denied": denied, "reason": reason}
    if not needed:
        return {"kind": "no_permission", "actions": (), "denied": denied, "reason": "needs no permission"}
    return {"kind": "mapped", "actions": needed, "denied": denied, "reason": None}


def is_denied(event):
    """True when CloudTrail recorded the call as refused for lack of permission."""
    return (event.get("errorCode") or "") in DENIED_CODES


def s3_object_level(action):
    """True for S3 actions IAM evaluates against object ARNs (bucket/key), False for bucket ARNs."""
    prefix, _sep, name = action.partition(":")
    if prefix != "s3":
        return False
    return bool(_S3_OBJECT_LEVEL.match(name))


def s3_account_level(action):
    """S3 actions that take no bucket (Resource must be "*")."""
    return action in ("s3:ListAllMyBuckets", "s3:CreateJob", "s3:ListJobs", "s3:GetAccountPublicAccessBlock",
                      "s3:PutAccountPublicAccessBlock", "s3:ListAccessPoints")
