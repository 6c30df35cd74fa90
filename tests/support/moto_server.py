"""A moto server on 127.0.0.1 that counts the API calls it serves.

Run as a module from the checkout's root (`python -m tests.support.moto_server --port 0 --port-file F`) or
start in-process with MotoServer(). Counts are per "service:Action" and per mutating/read-only (and per account
under "by_account", the account the strict layer learnt), served as JSON at
GET /_keyless/calls; POST /_keyless/calls/reset clears them. The demo, the tests and the benchmark all
use this one server, so "zero mutating calls on a rerun" is measured where the calls arrive.

It also answers the EC2 calls moto 5.2 lacks and the collection makes: Get/ModifyInstanceMetadataDefaults
(the account's IMDS defaults per region, AccountMetadataDefaults below).

Every server serves through the strict-AWS layer (tests/support/strict/) as its outermost layer:
StrictAws(CallCounter(moto)), every behaviour on unless KEYLESS_STRICT / --strict / MotoServer(strict=...)
switches some off, at KEYLESS_STRICT_SPEED / --strict-speed / MotoServer(strict_speed=...) AWS seconds per
second (default 10; the bench runs 1). A call the layer refuses never reaches the counter (AWS did not run it).
"""

from __future__ import annotations

import argparse
import io
import json
import os
import re
import signal
import sys
import threading
import urllib.parse
import urllib.request

READ_PREFIXES = ("Describe", "Get", "List", "Lookup")
# A reset drops every backend (a 1,000-instance fleet, IAM with the managed policies) and waits for
# requests in flight; on a loaded 2-core machine that took over 30 s (CI: reset timed out).
RESET_TIMEOUT = 180
_SCOPE = re.compile(r"Credential=[^/]+/[0-9]+/([^/]+)/([^/]+)/")


def action_of(environ, body):
    """(service, action) of one AWS request: query protocol (form Action=) or JSON (X-Amz-Target)."""
    auth = environ.get("HTTP_AUTHORIZATION", "")
    match = _SCOPE.search(auth)
    service = match.group(2) if match else "unknown"
    target = environ.get("HTTP_X_AMZ_TARGET")
    if target:
        return service, target.rsplit(".", 1)[-1]
    path = environ.get("PATH_INFO", "")
    if "/operation/" in path:  # smithy rpc-v2-cbor
        return service, path.rsplit("/", 1)[-1]
    query = urllib.parse.parse_qs(environ.get("QUERY_STRING", ""))
    if "Action" in query:
        return service, query["Action"][0]
    if body and environ.get("CONTENT_TYPE", "").startswith("application/x-www-form-urlencoded"):
        form = urllib.parse.parse_qs(body.decode("utf-8", "replace"))
        if "Action" in form:
            return service, form["Action"][0]
    return service, "%s %s" % (environ.get("REQUEST_METHOD"), path.split("?")[0])


def is_mutating(action):
    name = action.split(" ")[-1]
    return not name.startswith(READ_PREFIXES) and not action.startswith(("GET ", "HEAD "))


def region_of(environ):
    match = _SCOPE.search(environ.get("HTTP_AUTHORIZATION", ""))
    return match.group(1) if match else "us-east-1"


class AccountMetadataDefaults:
    """GetInstanceMetadataDefaults / ModifyInstanceMetadataDefaults, which moto 5.2 answers with a 500 page.

    As the EC2 API reference documents them: one set of defaults per region (one account here); Get
    leaves a field out of accountLevel while the account has no preference and reports managedBy=account;
    Modify changes only the fields the request carries, `no-preference` (hop limit -1) clears one, values
    outside the documented ones are InvalidParameterValue, and it answers return=true.
    """

    FIELDS = (  # API name, allowed values (None: the hop limit, 1-64 or -1)
        ("HttpTokens", ("optional", "required")),
        ("HttpPutResponseHopLimit", None),
        ("HttpEndpoint", ("disabled", "enabled")),
        ("InstanceMetadataTags", ("disabled", "enabled")),
        ("HttpTokensEnforced", ("disabled", "enabled")),
    )
    ACTIONS = ("GetInstanceMetadataDefaults", "ModifyInstanceMetadataDefaults")

    def __init__(self):
        self.by_region = {}
        self.lock = threading.Lock()

    def reset(self):
        with self.lock:
            self.by_region.clear()

    def handle(self, action, region, form, start_response):
        if action == "GetInstanceMetadataDefaults":
            with self.lock:
                current = dict(self.by_region.get(region, {}))
            fields = "".join("<%s>%s</%s>" % (self._xml_name(k), current[k], self._xml_name(k))
                             for k, _allowed in self.FIELDS if k in current)
            return self._answer(start_response, 200, action, "<accountLevel>%s<managedBy>account</managedBy>"
                                                             "</accountLevel>" % fields)
        changes = {}
        for key, allowed in self.FIELDS:
            if key not in form:
                continue
            value = form[key][0]
            if allowed is None:
                try:
                    number = int(value)
                except ValueError:
                    number = 0
                if number != -1 and not 1 <= number <= 64:
                    return self._error(start_response, "InvalidParameterValue",
                                       "Value (%s) for parameter %s is invalid. Valid values are -1 and 1-64."
                                       % (value, key))
                changes[key] = None if number == -1 else str(number)
            elif value == "no-preference":
                changes[key] = None
            elif value in allowed:
                changes[key] = value
            else:
                return self._error(start_response, "InvalidParameterValue",
                                   "Value (%s) for parameter %s is invalid." % (value, key))
        with self.lock:
            current = self.by_region.setdefault(region, {})
            for key, value in changes.items():
                if value is None:
                    current.pop(key, None)
                else:
                    current[key] = value
        return self._answer(start_response, 200, action, "<return>true</return>")

    @staticmethod
    def _xml_name(key):
        return key[0].lower() + key[1:]

    @staticmethod
    def _answer(start_response, status, action, inner):
        body = ('<?xml version="1.0" encoding="UTF-8"?><%sResponse xmlns="http://ec2.amazonaws.com/doc/2016-11-15/">'
                "<requestId>keyless-%s</requestId>%s</%sResponse>" % (action, action.lower(), inner, action)).encode()
        start_response("%d OK" % status, [("Content-Type", "text/xml"), ("Content-Length", str(len(body)))])
        return [body]

    @staticmethod
    def _error(start_response, code, message):
        body = ('<?xml version="1.0" encoding="UTF-8"?><Response><Errors><Error><Code>%s</Code><Message>%s</Message>'
                "</Error></Errors><RequestID>keyless-error</RequestID></Response>" % (code, message)).encode()
        start_response("400 Bad Request", [("Content-Type", "text/xml"), ("Content-Length", str(len(body)))])
        return [body]


class CallCounter:
    """WSGI middleware: count every AWS call, then hand it to moto."""

    def __init__(self, app):
        self.app = app
        self.lock = threading.Lock()
        self.serial = threading.Lock()
        self.counts = {}
        # {account: {"service:Action": n}}. The account is the strict layer's (StrictAws, the outer layer, puts it
        # in environ["keyless.account"]: the account of the assumed role whose AssumeRole answer issued the
        # call's access key, else the access key itself); "-" when no layer is in front.
        self.by_account = {}
        self.metadata_defaults = AccountMetadataDefaults()

    def snapshot(self):
        with self.lock:
            counts = dict(self.counts)
            by_account = {account: dict(per) for account, per in self.by_account.items()}
        mutating = sum(n for k, n in counts.items() if is_mutating(k.split(":", 1)[1]))
        return {"counts": counts, "total": sum(counts.values()), "mutating": mutating, "by_account": by_account}

    def reset(self):
        with self.lock:
            self.counts.clear()
            self.by_account.clear()

    def __call__(self, environ, start_response):
        path = environ.get("PATH_INFO", "")
        if path.startswith("/_keyless/calls"):
            if environ.get("REQUEST_METHOD") == "POST":
                self.reset()
            payload = json.dumps(self.snapshot()).encode()
            start_response("200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(payload)))])
            return [payload]
        if path.startswith("/moto-api"):
            if path.startswith("/moto-api/reset"):
                self.metadata_defaults.reset()
            return self.app(environ, start_response)
        length = int(environ.get("CONTENT_LENGTH") or 0)
        body = environ["wsgi.input"].read(length) if length else b""
        environ["wsgi.input"] = io.BytesIO(body)
        service, action = action_of(environ, body)
        with self.lock:
            key = "%s:%s" % (service, action)
            self.counts[key] = self.counts.get(key, 0) + 1
            per = self.by_account.setdefault(environ.get("keyless.account", "-"), {})
            per[key] = per.get(key, 0) + 1
        if service == "ec2" and action in AccountMetadataDefaults.ACTIONS:
            form = urllib.parse.parse_qs(body.decode("utf-8", "replace"))
            return self.metadata_defaults.handle(action, region_of(environ), form, start_response)
        # moto's backends are not thread-safe (its association dict changes size under concurrent
        # Associate calls and it answers an HTML crash page); AWS is. Serve one call at a time, as moto
        # effectively does anyway under the GIL, so clients may use real concurrency.
        with self.serial:
            return list(self.app(environ, start_response))


def page_associations_like_aws():
    """moto 5.2 pages DescribeIamInstanceProfileAssociations at 100 whatever MaxResults says (it reads
    a MaxItems parameter the API does not have); AWS honours MaxResults up to 1,000. Without this the
    local endpoint would cost 10x the calls AWS does for the same read."""
    from moto.core.responses import ActionResult
    from moto.ec2.responses.iam_instance_profiles import IamInstanceProfiles

    def describe_iam_instance_profile_associations(self):
        association_ids = self._get_param("AssociationIds", [])
        filters = self._filters_from_querystring()
        max_results = self._get_param("MaxResults") or 100
        next_token = self._get_param("NextToken")
        associations, next_token = self.ec2_backend.describe_iam_instance_profile_associations(
            association_ids, filters, max_results, next_token)
        return ActionResult({"IamInstanceProfileAssociations": associations, "NextToken": next_token})

    IamInstanceProfiles.describe_iam_instance_profile_associations = describe_iam_instance_profile_associations


def page_instances_like_aws():
    """AWS counts DescribeInstances MaxResults in instances (5 to 1,000 a page); moto 5.2 counts it in
    reservations, so one "1,000" page of a fleet launched 100 at a time held every instance (10,000 at
    once: minutes to render, past botocore's read timeout). Page by instances, splitting a reservation
    across pages where needed; without MaxResults, return everything as AWS does. (What AWS refuses -- MaxResults
    outside 5-1000 or with InstanceIds -- is the strict layer's filter_limit.)"""
    import copy
    from moto.core.responses import ActionResult
    from moto.ec2.responses.instances import InstanceResponse

    def describe_instances(self):
        self.error_on_dryrun()
        filters = self._filters_from_querystring()
        instance_ids = self._get_param("InstanceIds", [])
        if instance_ids:
            reservations = self.ec2_backend.get_reservations_by_instance_ids(instance_ids, filters=filters)
        else:
            reservations = self.ec2_backend.describe_instances(filters=filters)
        pairs = [(r, i) for r in reservations for i in r.instances]
        start = int(self._get_param("NextToken") or 0)
        max_results = self._get_param("MaxResults")
        end = len(pairs) if max_results is None else start + int(max_results)
        page = []
        for reservation, instance in pairs[start:end]:
            if not page or page[-1].id != reservation.id:
                page.append(copy.copy(reservation))
                page[-1].instances = []
            page[-1].instances.append(instance)
        next_token = str(end) if end < len(pairs) else None
        return ActionResult({"Reservations": page, "NextToken": next_token})

    InstanceResponse.describe_instances = describe_instances


def look_tags_up_by_id():
    """moto finds an EC2 resource's tags by scanning every tag in the region (describe_tags with a
    resource-id filter), once per instance rendered or filtered: DescribeInstances grows with N^2
    (4 s at 1,000 instances, minutes at 10,000). Read the resource's own entry instead; AWS answers
    in about a second whatever the fleet size."""
    from moto.ec2.models.core import TaggedEC2Resource
    from moto.ec2.utils import EC2_PREFIX_TO_RESOURCE, get_prefix

    def get_tags(self):
        if not self.id:
            return []
        kind = EC2_PREFIX_TO_RESOURCE.get(get_prefix(self.id), "")
        return [{"resource_id": self.id, "key": key, "value": value, "resource_type": kind}
                for key, value in self.ec2_backend.tags.get(self.id, {}).items()]

    TaggedEC2Resource.get_tags = get_tags


def find_instances_without_copies():
    """moto's get_instance (every Associate, Replace and ModifyInstanceMetadataOptions) copies every
    reservation and runs an empty filter over every instance to find one id: each call costs O(N), so
    the endpoint served 5,000 Associates at 45/s against ~100/s at 1,000. Walk the reservations instead."""
    from moto.ec2.exceptions import InvalidInstanceIdError
    from moto.ec2.models.instances import InstanceBackend

    def get_instance(self, instance_id):
        for reservation in self.reservations.values():
            for instance in reservation.instances:
                if instance.id == instance_id:
                    return instance
        raise InvalidInstanceIdError(instance_id)

    InstanceBackend.get_instance = get_instance


def filter_instance_profiles_by_path():
    """ListInstanceProfiles takes PathPrefix on AWS; moto 5.2 ignores it and lists every profile."""
    from moto.core.responses import ActionResult
    from moto.iam.responses import IamResponse

    def list_instance_profiles(self):
        prefix = self._get_param("PathPrefix") or "/"
        profiles = [p for p in self.backend.get_instance_profiles() if (p.path or "/").startswith(prefix)]
        return ActionResult({"InstanceProfiles": profiles})

    IamResponse.list_instance_profiles = list_instance_profiles


def merge_launch_template_source_version():
    """CreateLaunchTemplateVersion with SourceVersion: AWS starts from that version's data and overrides the
    top-level parameters the request gives; moto 5.2 ignores SourceVersion (the new version holds only what
    was sent). AWS also returns the version a ClientToken already created instead of making another."""
    import copy
    from moto.ec2.responses.launch_templates import LaunchTemplates

    original = LaunchTemplates.create_launch_template_version
    created = {}

    def create_launch_template_version(self):
        name = self._get_param("LaunchTemplateName")
        template_id = self._get_param("LaunchTemplateId")
        template = (self.ec2_backend.get_launch_template(template_id) if template_id
                    else self.ec2_backend.get_launch_template_by_name(name))
        token = self._get_param("ClientToken")
        if token and (template.id, token) in created:
            version = created[(template.id, token)]
        else:
            source = self._get_param("SourceVersion")
            data = self._get_param("LaunchTemplateData", {})
            if source:
                merged = copy.deepcopy(template.get_version(source).data)
                merged.update(data)
                data = merged
            self.error_on_dryrun()
            version = template.create_version(data, self._get_param("VersionDescription"))
            if token:
                created[(template.id, token)] = version
        from moto.core.responses import ActionResult
        return ActionResult({"LaunchTemplateVersion": {
            "CreateTime": version.create_time, "CreatedBy": "arn:%s:iam::%s:root" % (self.partition, self.current_account),
            "DefaultVersion": template.is_default(version), "LaunchTemplateData": version.data,
            "LaunchTemplateId": template.id, "LaunchTemplateName": template.name,
            "VersionDescription": version.description, "VersionNumber": version.number}})

    create_launch_template_version.original = original
    LaunchTemplates.create_launch_template_version = create_launch_template_version


_FIXED = []


def fix_moto():
    """Make moto act like AWS where our code and our figures depend on it (idempotent). Applies to the
    moto server and to in-process mock_aws alike: the fixes replace moto's response handlers."""
    if _FIXED:
        return
    page_associations_like_aws()
    page_instances_like_aws()
    look_tags_up_by_id()
    find_instances_without_copies()
    filter_instance_profiles_by_path()
    merge_launch_template_source_version()
    __import__("tests.support.moto_eks", fromlist=["fix_eks_nodegroups"]).fix_eks_nodegroups()
    __import__("tests.support.moto_autoscaling", fromlist=["fix_autoscaling"]).fix_autoscaling()
    __import__("tests.support.moto_cloudwatch", fromlist=["fix_cloudwatch"]).fix_cloudwatch()
    __import__("tests.support.moto_iam_keys", fromlist=["fix_iam_keys"]).fix_iam_keys()
    __import__("tests.support.moto_organizations", fromlist=["fix_organizations"]).fix_organizations()
    _FIXED.append(True)


def build_app(strict=None, strict_speed=None):
    """StrictAws(CallCounter(moto)): `strict` is a KEYLESS_STRICT spec ("all", "none", "-html_5xx", ...) and
    `strict_speed` the layer's speed; None reads KEYLESS_STRICT / KEYLESS_STRICT_SPEED (defaults: all, 10)."""
    from moto.server import DomainDispatcherApplication, create_backend_app
    from tests.support.strict import StrictAws, settings_from_env
    fix_moto()
    env_spec, env_speed = settings_from_env()
    return StrictAws(CallCounter(DomainDispatcherApplication(create_backend_app)),
                     speed=env_speed if strict_speed is None else float(strict_speed),
                     enabled=env_spec if strict is None else strict)


class MotoServer:
    """In-process threaded moto server with call counting behind the strict layer; use as a context manager.
    strict / strict_speed: see build_app()."""

    def __init__(self, port=0, host="127.0.0.1", strict=None, strict_speed=None):
        # moto reads this from os.environ whenever it builds an IAM backend. Set it only while this
        # server lives (stop() restores it): left behind, it made every later in-process mock_aws in
        # the same pytest worker load ~1,300 AWS-managed policies (≈0.4 s -> ≈3-8 s per test).
        self._saved_env = os.environ.get("MOTO_IAM_LOAD_MANAGED_POLICIES")
        if self._saved_env is None:
            os.environ["MOTO_IAM_LOAD_MANAGED_POLICIES"] = "true"
        from werkzeug.serving import make_server, WSGIRequestHandler

        class QuietHandler(WSGIRequestHandler):
            def log_request(self, *args, **kwargs):
                pass

        self.app = build_app(strict=strict, strict_speed=strict_speed)
        self.server = make_server(host, port, self.app, threaded=True, request_handler=QuietHandler)
        self.host, self.port = self.server.server_address[:2]
        self.url = "http://%s:%d" % (self.host, self.port)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def start(self):
        self.thread.start()
        return self

    def stop(self):
        self.server.shutdown()
        self.thread.join(timeout=10)
        if self._saved_env is None:
            os.environ.pop("MOTO_IAM_LOAD_MANAGED_POLICIES", None)
        else:
            os.environ["MOTO_IAM_LOAD_MANAGED_POLICIES"] = self._saved_env

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()


def calls(url, reset=False):
    """Read (and optionally reset) the call counts of a running server."""
    req = urllib.request.Request(url.rstrip("/") + "/_keyless/calls", method="POST" if reset else "GET")
    with urllib.request.urlopen(req, timeout=RESET_TIMEOUT) as resp:
        return json.loads(resp.read())


def mutating_calls(counts):
    """{service:Action: n} of the calls that change AWS state, from calls(url) (AssumeRole only hands out
    credentials)."""
    return {key: n for key, n in counts["counts"].items()
            if key != "sts:AssumeRole" and is_mutating(key.split(":", 1)[-1])}


def reset_moto(url):
    req = urllib.request.Request(url.rstrip("/") + "/moto-api/reset", method="POST")
    urllib.request.urlopen(req, timeout=RESET_TIMEOUT).read()
    calls(url, reset=True)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--port-file", help="write the bound port here once listening")
    parser.add_argument("--strict", help="strict-AWS behaviours: all (default, or $KEYLESS_STRICT), none, "
                        "names to run only those, -name to switch one off (comma-separated; write --strict=-name,...)")
    parser.add_argument("--strict-speed", type=float, help="AWS seconds per real second of the strict layer "
                        "(default $KEYLESS_STRICT_SPEED or 10; 1 is AWS's own clock)")
    args = parser.parse_args(argv)
    server = MotoServer(port=args.port, strict=args.strict, strict_speed=args.strict_speed)
    if args.port_file:
        with open(args.port_file + ".tmp", "w") as handle:
            handle.write(str(server.port))
        os.replace(args.port_file + ".tmp", args.port_file)
    print("moto server listening on %s (strict: %s at x%g)" % (
        server.url, ",".join(sorted(server.app.enabled)) or "none", server.app.clock.speed), flush=True)
    signal.signal(signal.SIGTERM, lambda *a: sys.exit(0))
    try:
        server.server.serve_forever()
    except (KeyboardInterrupt, SystemExit):
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
