"""An instance metadata service (IMDS) emulator that serves real instance state from the moto server.

moto's own /latest/... endpoint ignores tokens and per-instance settings, so it cannot show IMDSv2
enforcement. This emulator reads, at request time and through boto3, the instance's MetadataOptions
(DescribeInstances), its active profile association (DescribeIamInstanceProfileAssociations) and the
role inside that profile (IAM GetInstanceProfile), and answers the way IMDS does:

- HttpEndpoint disabled -> 403 for every request, the token PUT included;
- PUT /latest/api/token needs X-aws-ec2-metadata-token-ttl-seconds in 1..21600 (else 400) and issues a
  token bound to that instance that expires after the TTL; a request with X-Forwarded-For gets 403;
- HttpTokens required -> 401 for a GET without a token; a bad or expired token -> 401 in either mode;
- /latest/meta-data/iam/security-credentials/ -> the role name (404 without a profile or role), and
  .../<role> -> credentials JSON with fake AccessKeyId/SecretAccessKey/Token (FAKE_SECRETS), Code
  Success, Expiration about 6 hours ahead;
- also instance-id, placement/region, placement/availability-zone, iam/info,
  dynamic/instance-identity/document, and tags/instance/ when InstanceMetadataTags is enabled.

One emulator serves many instances: a request for /<instance-id>/latest/... is answered for that
instance, and /latest/... for the default instance given at start. So a playbook can point each host
at `http://127.0.0.1:PORT/{{ instance_id }}` (imds_info keeps the path prefix of its endpoint).

Metrics (publish=True): like EC2, the emulator counts per instance the token-less GETs it answered
(MetadataNoToken) and the ones it refused because IMDSv2 was required (MetadataNoTokenRejected) and publishes them
to CloudWatch (AWS/EC2, dimension InstanceId) every `publish_every` seconds (PutMetricData at the time of the flush;
EC2 publishes every 5 minutes, or every minute with detailed monitoring: EC2 User Guide, "Instance metrics").
emu.metric_totals: {instance_id: {metric: count}} of everything counted. Imdsv1App is an application on an instance
that makes those calls.

In-process:
    with ImdsEmulator(moto_url, default_instance_id="i-...") as emu:
        emu.url                    # http://127.0.0.1:PORT (default instance)
        emu.url_for("i-...")       # http://127.0.0.1:PORT/i-...
        emu.requests               # [(method, path, with_token, status), ...]

As a script (stops on SIGTERM):
    python tests/support/imds_emulator.py --endpoint http://127.0.0.1:5000 --instance-id i-... \
        --port-file /tmp/imds.port [--port 0] [--region us-east-1]
or from Python as a separate process (for playbook tests, molecule, the demo):
    proc, url = spawn(moto_url, instance_id=None)    # ... proc.terminate(); proc.wait()
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import secrets
import signal
import subprocess
import sys
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import boto3

FAKE_ACCESS_KEY_ID = "ASIAKEYLESSIMDSFAKE01"
FAKE_SECRET_ACCESS_KEY = "keylessImdsFakeSecret+DoNotLeak/0123456789"
FAKE_SESSION_TOKEN = "keylessImdsFakeSessionToken//DoNotLeak+ZXhhbXBsZQ=="
FAKE_SECRETS = (FAKE_ACCESS_KEY_ID, FAKE_SECRET_ACCESS_KEY, FAKE_SESSION_TOKEN)
MAX_TTL = 21600
CREDENTIAL_LIFETIME = datetime.timedelta(hours=6)
_TIME = "%Y-%m-%dT%H:%M:%SZ"


class InstanceGone(Exception):
    pass


class MotoState:
    """Reads one instance's IMDS-relevant state from the moto server (no caching: always current)."""

    def __init__(self, endpoint_url, region="us-east-1"):
        kwargs = dict(region_name=region, endpoint_url=endpoint_url,
                      aws_access_key_id=os.environ.get("KEYLESS_IMDS_EMU_KEY", "AKIAKEYLESSTESTFAKE1"),
                      aws_secret_access_key=os.environ.get("KEYLESS_IMDS_EMU_SECRET", "keylessFakeSecretKeyForTestsOnly0000000x"))
        self.ec2 = boto3.client("ec2", **kwargs)
        self.iam = boto3.client("iam", **kwargs)
        self.cloudwatch = boto3.client("cloudwatch", **kwargs)
        self.region = region

    def instance(self, instance_id):
        try:
            reservations = self.ec2.describe_instances(InstanceIds=[instance_id])["Reservations"]
        except self.ec2.exceptions.ClientError as exc:
            raise InstanceGone("%s: %s" % (instance_id, exc))
        for reservation in reservations:
            for inst in reservation["Instances"]:
                return inst
        raise InstanceGone(instance_id)

    def profile_arn(self, instance_id):
        """The profile of the active association (moto's DescribeInstances goes stale after a Replace)."""
        assocs = self.ec2.describe_iam_instance_profile_associations(
            Filters=[{"Name": "instance-id", "Values": [instance_id]},
                     {"Name": "state", "Values": ["associated"]}])["IamInstanceProfileAssociations"]
        return assocs[0]["IamInstanceProfile"]["Arn"] if assocs else None

    def role_of(self, profile_arn):
        name = profile_arn.rsplit("/", 1)[-1]
        try:
            profile = self.iam.get_instance_profile(InstanceProfileName=name)["InstanceProfile"]
        except self.iam.exceptions.NoSuchEntityException:
            return None, None
        roles = profile.get("Roles") or []
        return profile.get("InstanceProfileId"), (roles[0]["RoleName"] if roles else None)


class _Handler(BaseHTTPRequestHandler):
    server_version = "EC2ws"
    sys_version = ""

    def log_message(self, *args):  # quiet: tests read emulator.requests instead
        pass

    def do_PUT(self):  # noqa: N802 - http.server naming
        self.server.emulator.handle(self, "PUT")

    def do_GET(self):  # noqa: N802
        self.server.emulator.handle(self, "GET")


NO_TOKEN = "MetadataNoToken"
REJECTED = "MetadataNoTokenRejected"


class ImdsEmulator:
    def __init__(self, endpoint_url, default_instance_id=None, region="us-east-1", port=0, host="127.0.0.1",
                 publish=False, publish_every=1.0):
        self.state = MotoState(endpoint_url, region)
        self.publish = publish
        self.publish_every = publish_every
        self.metric_pending = {}  # instance id -> {metric: count} not published yet
        self.metric_totals = {}   # instance id -> {metric: count} ever counted
        self._flusher = None
        self._stopping = threading.Event()
        self.default_instance_id = default_instance_id
        self.tokens = {}  # token -> (instance_id, expires_at monotonic)
        self.requests = []
        self._lock = threading.Lock()
        self.server = ThreadingHTTPServer((host, port), _Handler)
        self.server.daemon_threads = True
        self.server.emulator = self
        self.host, self.port = self.server.server_address[:2]
        self.url = "http://%s:%d" % (self.host, self.port)
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def url_for(self, instance_id):
        return "%s/%s" % (self.url, instance_id)

    # --- lifecycle -------------------------------------------------------------------------------
    def start(self):
        self._thread.start()
        if self.publish:
            self._flusher = threading.Thread(target=self._flush_loop, daemon=True)
            self._flusher.start()
        return self

    def stop(self):
        self.server.shutdown()
        self.server.server_close()
        self._thread.join(timeout=10)
        if self._flusher:
            self._stopping.set()
            self._flusher.join(timeout=10)
            self.flush()

    # --- metrics ---------------------------------------------------------------------------------
    def _count(self, instance_id, metric):
        with self._lock:
            for table in (self.metric_pending, self.metric_totals):
                counts = table.setdefault(instance_id, {})
                counts[metric] = counts.get(metric, 0) + 1

    def flush(self):
        """Publish the counts since the last flush (one datapoint per instance and metric, stamped now)."""
        with self._lock:
            pending, self.metric_pending = self.metric_pending, {}
        now = datetime.datetime.now(datetime.timezone.utc)
        data = [{"MetricName": metric, "Dimensions": [{"Name": "InstanceId", "Value": iid}], "Timestamp": now,
                 "Value": float(n), "Unit": "Count"} for iid, counts in sorted(pending.items())
                for metric, n in sorted(counts.items())]
        for offset in range(0, len(data), 1000):
            self.state.cloudwatch.put_metric_data(Namespace="AWS/EC2", MetricData=data[offset:offset + 1000])

    def _flush_loop(self):
        while not self._stopping.wait(self.publish_every):
            try:
                self.flush()
            except Exception:  # pylint: disable=broad-except  # the next flush tries again
                pass

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    # --- request handling ------------------------------------------------------------------------
    def _split(self, raw_path):
        path = raw_path.split("?", 1)[0]
        parts = path.split("/", 2)
        if len(parts) > 2 and parts[1].startswith("i-"):
            return parts[1], "/" + parts[2]
        return self.default_instance_id, path

    def handle(self, req, method):
        instance_id, path = self._split(req.path)
        token = req.headers.get("X-aws-ec2-metadata-token")
        try:
            status, body, headers = self.answer(method, instance_id, path, token, req.headers)
        except Exception as exc:  # an emulator bug must show up as a 500, not a hung request
            status, body, headers = 500, "emulator error: %s" % exc, {}
        with self._lock:
            self.requests.append((method, path, bool(token), status))
        payload = body.encode()
        req.send_response(status)
        for key, value in dict({"Content-Type": "text/plain", "Content-Length": str(len(payload))}, **headers).items():
            req.send_header(key, value)
        req.end_headers()
        req.wfile.write(payload)

    def answer(self, method, instance_id, path, token, headers):
        if not instance_id:
            return 404, "no default instance: ask for /<instance-id>/latest/...", {}
        try:
            inst = self.state.instance(instance_id)
        except InstanceGone:
            return 404, "unknown instance", {}
        if inst["State"]["Name"] != "running":
            return 503, "instance is %s" % inst["State"]["Name"], {}
        options = inst.get("MetadataOptions") or {}
        if options.get("HttpEndpoint", "enabled") == "disabled":
            return 403, "Forbidden", {}
        if method == "PUT":
            return self._token(instance_id, path, headers)
        if token is not None:
            if not self._token_valid(token, instance_id):
                return 401, "Unauthorized", {}
        elif options.get("HttpTokens", "optional") == "required":
            self._count(instance_id, REJECTED)
            return 401, "Unauthorized", {}
        else:
            self._count(instance_id, NO_TOKEN)
        return self._metadata(inst, path)

    def _token(self, instance_id, path, headers):
        if path != "/latest/api/token":
            return 405, "Method Not Allowed", {}
        if headers.get("X-Forwarded-For"):
            return 403, "Forbidden", {}
        ttl = headers.get("X-aws-ec2-metadata-token-ttl-seconds")
        try:
            ttl = int(ttl)
        except (TypeError, ValueError):
            return 400, "Bad Request: X-aws-ec2-metadata-token-ttl-seconds is missing or not a number", {}
        if not 1 <= ttl <= MAX_TTL:
            return 400, "Bad Request: TTL must be 1..21600", {}
        token = secrets.token_urlsafe(42)
        with self._lock:
            self.tokens[token] = (instance_id, time.monotonic() + ttl)
        return 200, token, {"X-aws-ec2-metadata-token-ttl-seconds": str(ttl)}

    def _token_valid(self, token, instance_id):
        with self._lock:
            entry = self.tokens.get(token)
        return bool(entry) and entry[0] == instance_id and time.monotonic() < entry[1]

    def _metadata(self, inst, path):
        iid = inst["InstanceId"]
        az = inst.get("Placement", {}).get("AvailabilityZone") or (self.state.region + "a")
        region = az[:-1] if az[-1:].isalpha() else self.state.region
        simple = {
            "/latest/meta-data/instance-id": iid,
            "/latest/meta-data/placement/availability-zone": az,
            "/latest/meta-data/placement/region": region,
            "/latest/meta-data/instance-type": inst.get("InstanceType", ""),
            "/latest/meta-data/ami-id": inst.get("ImageId", ""),
        }
        if path in simple:
            return 200, simple[path], {}
        if path == "/latest/dynamic/instance-identity/document":
            return 200, json.dumps({"instanceId": iid, "region": region, "availabilityZone": az,
                                    "instanceType": inst.get("InstanceType"), "imageId": inst.get("ImageId"),
                                    "accountId": inst.get("OwnerId") or "123456789012"}), {}
        if path.startswith("/latest/meta-data/tags/instance"):
            return self._tags(inst, path)
        if path.startswith("/latest/meta-data/iam/"):
            return self._iam(iid, path)
        return 404, "Not Found", {}

    def _tags(self, inst, path):
        if (inst.get("MetadataOptions") or {}).get("InstanceMetadataTags") != "enabled":
            return 404, "Not Found", {}
        tags = dict((t["Key"], t["Value"]) for t in inst.get("Tags") or [])
        key = path[len("/latest/meta-data/tags/instance"):].strip("/")
        if not key:
            return 200, "\n".join(sorted(tags)), {}
        return (200, tags[key], {}) if key in tags else (404, "Not Found", {})

    def _iam(self, instance_id, path):
        profile_arn = self.state.profile_arn(instance_id)
        if not profile_arn:
            return 404, "Not Found", {}
        profile_id, role = self.state.role_of(profile_arn)
        now = datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0)
        if path == "/latest/meta-data/iam/info":
            return 200, json.dumps({"Code": "Success", "LastUpdated": now.strftime(_TIME),
                                    "InstanceProfileArn": profile_arn, "InstanceProfileId": profile_id}), {}
        prefix = "/latest/meta-data/iam/security-credentials/"
        if not path.startswith(prefix) or not role:
            return 404, "Not Found", {}
        asked = path[len(prefix):].strip("/")
        if not asked:
            return 200, role, {}
        if asked != role:
            return 404, "Not Found", {}
        return 200, json.dumps({
            "Code": "Success", "LastUpdated": now.strftime(_TIME), "Type": "AWS-HMAC",
            "AccessKeyId": FAKE_ACCESS_KEY_ID, "SecretAccessKey": FAKE_SECRET_ACCESS_KEY, "Token": FAKE_SESSION_TOKEN,
            "Expiration": (now + CREDENTIAL_LIFETIME).strftime(_TIME)}, indent=2), {}


class Imdsv1App:
    """An application on an instance that reads its instance id from IMDS without a token every `every` seconds
    (old SDKs, agents, curl in a script). since_required=True: it starts calling only once the instance requires
    IMDSv2 - a caller the lookback could not see (a weekly job, a code path a deployment takes), so the rollout
    requires the instance and the watch is what catches it. Use as a context manager; .calls / .refused count."""

    def __init__(self, emulator, instance_id, every=0.2, since_required=False):
        self.url = emulator.url_for(instance_id) + "/latest/meta-data/instance-id"
        self.state = emulator.state
        self.instance_id = instance_id
        self.every = every
        self.since_required = since_required
        self.calls = self.refused = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _required(self):
        try:
            options = self.state.instance(self.instance_id).get("MetadataOptions") or {}
        except InstanceGone:
            return False
        return options.get("HttpTokens") == "required"

    def _run(self):
        import urllib.error
        import urllib.request
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
        while not self._stop.wait(self.every):
            if self.since_required and not self._required():
                continue
            self.since_required = False  # once it runs, it keeps running
            try:
                opener.open(self.url, timeout=5).read()
                self.calls += 1
            except urllib.error.HTTPError as exc:
                self.refused += exc.code == 401
            except OSError:
                pass

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join(timeout=10)


def spawn(endpoint_url, instance_id=None, region="us-east-1", port=0, timeout=30):
    """Start the emulator as a child process; returns (Popen, base URL) once it listens."""
    workdir = tempfile.mkdtemp(prefix="imds-emu-")
    port_file = os.path.join(workdir, "port")
    cmd = [sys.executable, os.path.abspath(__file__), "--endpoint", endpoint_url, "--region", region,
           "--port", str(port), "--port-file", port_file]
    if instance_id:
        cmd += ["--instance-id", instance_id]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + timeout
    while not os.path.exists(port_file):
        if proc.poll() is not None:
            raise RuntimeError("IMDS emulator exited with %s: %s" % (proc.returncode, proc.stderr.read().decode()))
        if time.monotonic() > deadline:
            proc.kill()
            raise RuntimeError("IMDS emulator did not start within %s s" % timeout)
        time.sleep(0.05)
    with open(port_file) as handle:
        return proc, "http://127.0.0.1:%s" % handle.read().strip()


def main(argv=None):
    parser = argparse.ArgumentParser(description="IMDS emulator backed by a moto server")
    parser.add_argument("--endpoint", required=True, help="the moto server URL")
    parser.add_argument("--instance-id", help="the instance answered for /latest/... (others: /<id>/latest/...)")
    parser.add_argument("--region", default="us-east-1")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--port-file", help="write the bound port here once listening")
    args = parser.parse_args(argv)
    emulator = ImdsEmulator(args.endpoint, args.instance_id, region=args.region, port=args.port)
    if args.port_file:
        with open(args.port_file + ".tmp", "w") as handle:
            handle.write(str(emulator.port))
        os.replace(args.port_file + ".tmp", args.port_file)
    print("IMDS emulator listening on %s" % emulator.url, flush=True)
    signal.signal(signal.SIGTERM, lambda *a: sys.exit(0))
    try:
        emulator.server.serve_forever()
    except (KeyboardInterrupt, SystemExit):
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
