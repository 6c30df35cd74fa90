# -*- coding: utf-8 -*-
# Copyright: keyless.aws contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Turn botocore errors into one clear message: operation, code, resource, what to do."""

from __future__ import annotations

THROTTLE_CODES = frozenset((
    "RequestLimitExceeded", "Throttling", "ThrottlingException", "TooManyRequestsException",
    "RequestThrottled", "RequestThrottledException", "SlowDown",
))
TRANSIENT_CODES = frozenset((
    "InternalError", "InternalFailure", "ServiceUnavailable", "Unavailable", "RequestTimeout",
    "RequestTimeoutException", "PriorRequestNotComplete",
))
# IAM is eventually consistent: these mean "try again shortly", not "you are wrong".
IAM_SETTLING_CODES = frozenset(("ConcurrentModification", "NoSuchEntity", "DeleteConflict"))

HINTS = {
    "AccessDenied": "the credentials lack this permission; grant it or use another profile/role",
    "AccessDeniedException": "the credentials lack this permission; grant it or use another profile/role",
    "UnauthorizedOperation": "the credentials lack this permission; grant it or use another profile/role",
    "InvalidClientTokenId": "the access key is not valid in this account/partition",
    "ExpiredToken": "the session token expired; refresh the credentials",
    "LimitExceeded": "an IAM quota was reached (an instance profile holds at most one role)",
    "EntityAlreadyExists": "a resource of that name exists already",
    "DeleteConflict": "the resource is still in use; detach it first",
    "MalformedPolicyDocument": "the policy document is not valid IAM policy grammar",
    "NoSuchEntity": "the resource does not exist (or IAM has not propagated it yet)",
    "InvalidInstanceID.NotFound": "the instance id does not exist in this region",
    "IncorrectInstanceState": "the instance is not in a state that allows this call",
}
for _code in THROTTLE_CODES:
    HINTS[_code] = "AWS throttled the call after every retry; lower the rate limits or raise max_attempts"


class AwsCallError(Exception):
    """A failed AWS call, already phrased for a person."""

    def __init__(self, operation, code, message, resource=None, hint=None):
        self.operation = operation
        self.code = code
        self.resource = resource
        self.message = message
        self.hint = hint if hint is not None else HINTS.get(code or "", "")
        super().__init__(self.text())

    @classmethod
    def from_client_error(cls, exc, operation=None, resource=None, hint=None):
        err = getattr(exc, "response", {}).get("Error", {})
        op = operation or getattr(exc, "operation_name", None) or "AWS call"
        return cls(op, err.get("Code"), err.get("Message") or str(exc), resource, hint)

    def text(self):
        parts = ["%s failed" % self.operation]
        if self.resource:
            parts[0] += " for %s" % self.resource
        if self.code:
            parts.append("%s: %s" % (self.code, self.message))
        else:
            parts.append(str(self.message))
        if self.hint:
            parts.append("what to do: %s" % self.hint)
        return "; ".join(parts)

    def as_dict(self):
        return {"operation": self.operation, "code": self.code, "message": self.message,
                "resource": self.resource}


def error_code(exc):
    """The AWS error code of a botocore ClientError, or None."""
    return getattr(exc, "response", {}).get("Error", {}).get("Code")


def is_throttle(exc):
    return error_code(exc) in THROTTLE_CODES


def is_transient(exc):
    code = error_code(exc)
    if code in TRANSIENT_CODES:
        return True
    status = getattr(exc, "response", {}).get("ResponseMetadata", {}).get("HTTPStatusCode") or 0
    return status >= 500


def is_retryable(exc):
    return is_throttle(exc) or is_transient(exc)


def fail_aws(module, exc, operation=None, resource=None, **extra):
    """module.fail_json with a clear message for a ClientError or AwsCallError."""
    if not isinstance(exc, AwsCallError):
        exc = AwsCallError.from_client_error(exc, operation, resource)
    module.fail_json(msg=exc.text(), error=exc.as_dict(), **extra)
