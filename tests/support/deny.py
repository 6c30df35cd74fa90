"""AccessDenied as AWS answers it, from a WSGI middleware in front of the counting moto server (moto never refuses):
for STS AssumeRole of chosen role ARNs (a trust policy that does not trust the caller) and for chosen Organizations
actions (a caller without the permission). Used by the unit tests of the targets inventory and of the census.

    deny = Deny(server.server.app); server.server.app = deny; deny.roles.add(arn); deny.organizations.add("ListRoots")
    with denying_server(roles=[arn]) as (server, deny): ...   # a started MotoServer behind a Deny (the tests' way)
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import urllib.parse

from tests.support.moto_server import MotoServer


class Deny:
    """WSGI middleware in front of the counting moto server: AccessDenied as AWS answers it, for STS AssumeRole of
    the role ARNs in `roles` (a trust policy that does not trust the caller; moto never refuses an AssumeRole)
    and for the Organizations actions in `organizations` (a caller without the permission)."""

    def __init__(self, app):
        self.app = app
        self.roles = set()
        self.organizations = set()

    def __call__(self, environ, start_response):
        length = int(environ.get("CONTENT_LENGTH") or 0)
        body = environ["wsgi.input"].read(length) if length else b""
        environ["wsgi.input"] = io.BytesIO(body)
        target = environ.get("HTTP_X_AMZ_TARGET", "")
        if target.startswith("AWSOrganizations") and target.rsplit(".", 1)[-1] in self.organizations:
            text = json.dumps({"__type": "AccessDeniedException", "Message": "You don't have permissions to access "
                               "this resource."}).encode()
            start_response("400 Bad Request", [("Content-Type", "application/x-amz-json-1.1"),
                                               ("Content-Length", str(len(text)))])
            return [text]
        form = urllib.parse.parse_qs(body.decode("utf-8", "replace"))
        if form.get("Action") == ["AssumeRole"] and form.get("RoleArn", [""])[0] in self.roles:
            text = ('<ErrorResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><Error><Type>Sender</Type>'
                    "<Code>AccessDenied</Code><Message>User: arn:aws:iam::123456789012:user/ctl is not authorized "
                    "to perform: sts:AssumeRole on resource: %s</Message></Error><RequestId>x</RequestId>"
                    "</ErrorResponse>" % form["RoleArn"][0]).encode()
            start_response("403 Forbidden", [("Content-Type", "text/xml"), ("Content-Length", str(len(text)))])
            return [text]
        return self.app(environ, start_response)


@contextlib.contextmanager
def denying_server(roles=()):
    """A started MotoServer (strict layer on) behind a Deny refusing AssumeRole of `roles`; yields (server, deny).
    The AWS-managed policies are not loaded (MOTO_IAM_LOAD_MANAGED_POLICIES=false while it starts): each account's
    IAM backend would load them, ~0.7 s an account, and no test behind a Deny reads one."""
    saved = os.environ.get("MOTO_IAM_LOAD_MANAGED_POLICIES")
    os.environ["MOTO_IAM_LOAD_MANAGED_POLICIES"] = "false"
    server = MotoServer()
    deny = Deny(server.server.app)
    deny.roles.update(roles)
    server.server.app = deny
    try:
        server.start()
        yield server, deny
    finally:
        server.stop()
        if saved is None:
            os.environ.pop("MOTO_IAM_LOAD_MANAGED_POLICIES", None)
        else:
            os.environ["MOTO_IAM_LOAD_MANAGED_POLICIES"] = saved
