# -*- coding: utf-8 -*-
# Copyright: keyless.aws contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""One message shape for every failure: operation, code, resource, what to do. Private to the collection.

    AwsCallError(operation, code, message, resource=None, hint=None)
        A failed AWS call, already phrased for a person. `.text()` is the message, `.as_dict()` the
        `error` return value. `AwsCallError.from_exception(exc, operation, resource)` phrases any
        botocore ClientError or BotoCoreError (no credentials, endpoint unreachable, timeouts, ...).
    InputError(errors)   bad input, found before any AWS call: each error names the option, the value and
                         what is allowed.
    PlanError(message)   the declared state cannot be reached from the observed one (an immutable field,
                         a profile still in use, ...): the message says what to do instead.
    TaskFailure(msg, payload)  the task did what it could and fails with `payload` as its return values.
    error_code(exc), error_message(exc)

aws/module.py's run_module() is the one place that turns these into fail_json; nothing else catches them
to phrase them again. The code sets that decide retries live in retries.py.
"""

from __future__ import annotations

PERMISSION_HINT = "the credentials lack this permission; grant it (see the module's notes) or use another profile/role"
HINTS = {
    "AccessDenied": PERMISSION_HINT,
    "AccessDeniedException": PERMISSION_HINT,
    "UnauthorizedOperation": PERMISSION_HINT,
    "AuthFailure": "AWS rejected the credentials: check the access key, the session token and the clock",
    "InvalidClientTokenId": "the access key is not valid in this account/partition",
    "ExpiredToken": "the session token expired; refresh the credentials",
    "ExpiredTokenException": "the session token expired; refresh the credentials",
    "LimitExceeded": "an IAM quota was reached (an instance profile holds at most one role)",
    "EntityAlreadyExists": "a resource of that name exists already",
    "DeleteConflict": "the resource is still in use; detach it first",
    "MalformedPolicyDocument": "the policy document is not valid IAM policy grammar",
    "NoSuchEntity": "the resource does not exist (or IAM has not propagated it yet)",
    "InvalidInstanceID.NotFound": "the instance id does not exist in this region",
    "InvalidInstanceID.Malformed": "the instance id is not an instance id (i- followed by hex digits)",
    "IncorrectInstanceState": "the instance is not in a state that allows this call",
    "OptInRequired": "the account is not subscribed to this service in this region (opt-in region?)",
    "UnrecognizedClientException": "the credentials are not valid for this service/endpoint",
}
# botocore exceptions that are not answers from AWS: (class name, hint).
BOTOCORE_HINTS = {
    "NoCredentialsError": "no AWS credentials were found: give a profile, the AWS_* environment variables, "
                          "access_key/secret_key, or run where an instance or container role is available",
    "PartialCredentialsError": "the credentials are incomplete: give both the access key and the secret key",
    "ProfileNotFound": "the profile is not in the AWS config or credentials file: check its name and "
                       "AWS_CONFIG_FILE / AWS_SHARED_CREDENTIALS_FILE",
    "NoRegionError": "no region: set the region option, AWS_REGION, or a region in the profile",
    "EndpointConnectionError": "the AWS endpoint could not be reached: check the network, a proxy, the region "
                               "and endpoint_url",
    "ConnectTimeoutError": "the AWS endpoint did not accept the connection in time: check the network or proxy",
    "ReadTimeoutError": "AWS did not answer in time after every retry; rerun the task",
    "SSOTokenLoadError": "the SSO session expired or was never started: run `aws sso login --profile <name>`",
    "UnauthorizedSSOTokenError": "the SSO session expired: run `aws sso login --profile <name>`",
    "CredentialRetrievalError": "the credential_process or credential source of the profile failed",
    "ParamValidationError": "botocore refused a parameter before sending it; this is a bug in keyless.aws, "
                            "please report it with the task",
}


def error_code(exc):
    """The AWS error code of a botocore ClientError (or AwsCallError), or None."""
    if isinstance(exc, AwsCallError):
        return exc.code
    return (getattr(exc, "response", None) or {}).get("Error", {}).get("Code")


def error_message(exc):
    if isinstance(exc, AwsCallError):
        return exc.message or ""
    return (getattr(exc, "response", None) or {}).get("Error", {}).get("Message") or ""


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
    def from_exception(cls, exc, operation=None, resource=None, hint=None):
        """Any ClientError or BotoCoreError (or an AwsCallError, returned as it is)."""
        if isinstance(exc, AwsCallError):
            return exc
        op = operation or getattr(exc, "operation_name", None) or "AWS call"
        response = getattr(exc, "response", None)
        if isinstance(response, dict) and response.get("Error"):
            code = response["Error"].get("Code")
            return cls(op, code, response["Error"].get("Message") or str(exc), resource, hint)
        name = type(exc).__name__
        return cls(op, None, "%s: %s" % (name, exc), resource, hint if hint is not None else BOTOCORE_HINTS.get(name, ""))

    def text(self):
        head = "%s failed" % self.operation
        if self.resource:
            head += " for %s" % self.resource
        parts = [head, "%s: %s" % (self.code, self.message) if self.code else str(self.message)]
        if self.hint:
            parts.append("what to do: %s" % self.hint)
        return "; ".join(parts)

    def as_dict(self):
        return {"operation": self.operation, "code": self.code, "message": self.message, "resource": self.resource}


class InputError(Exception):
    """Bad input found before any AWS call; `errors` is the list of messages."""

    def __init__(self, errors):
        self.errors = [e for e in errors if e]
        super().__init__("invalid input: " + "; ".join(self.errors))


class PlanError(Exception):
    """The declared state cannot be reached as asked; the message says why and what to do."""


class TaskFailure(Exception):
    """The task did all it could and fails with this message and these return values (for instance a fleet
    run where some instances failed: every other instance was converged, and the result lists them all)."""

    def __init__(self, msg, payload):
        super().__init__(msg)
        self.payload = payload
