"""Peak RSS of the fleet modules at N instances without moto: a canned EC2/IAM endpoint.

On a busy machine moto can need more than botocore's 60 s read timeout for one 1,000-instance
DescribeInstances page of a 10,000-instance fleet, and seeding takes many minutes. Memory does not
depend on the endpoint's speed, so this endpoint answers DescribeInstances pages of N synthetic instances
(moto's own XML for one instance, repeated with distinct ids: running, no profile, tokens optional),
no associations, and GetInstanceProfile; each module then runs in --check mode (observe, plan, report
of N instances; no calls to apply) under bench/rss_wrap.py:

    .venv/bin/python -m bench.canned_fleet --n 10000
"""

from __future__ import annotations

import argparse
import http.server
import json
import pathlib
import sys
import tempfile
import threading
import urllib.parse

from bench.runner import Runner, bulk_playbook, module_args

ROOT = pathlib.Path(__file__).resolve().parents[1]

INSTANCE = (
    "<item><instanceId>{iid}</instanceId><imageId>ami-12c6146b</imageId><instanceState><code>16</code>"
    "<name>running</name></instanceState><privateDnsName>ip-10-0-0-1.ec2.internal</privateDnsName>"
    "<instanceType>t3.micro</instanceType><launchTime>2026-12-01T09:55:14.000Z</launchTime>"
    "<placement><availabilityZone>us-east-1a</availabilityZone><tenancy>default</tenancy></placement>"
    "<subnetId>subnet-b45e998934a3ac083</subnetId><vpcId>vpc-6a7ce628bd4dc39b8</vpcId>"
    "<privateIpAddress>10.0.0.1</privateIpAddress><architecture>x86_64</architecture>"
    "<blockDeviceMapping><item><deviceName>/dev/sda1</deviceName><ebs><attachTime>2026-12-01T09:55:14.000Z"
    "</attachTime><deleteOnTermination>true</deleteOnTermination><status>attached</status><volumeId>"
    "vol-{num:017x}</volumeId></ebs></item></blockDeviceMapping><networkInterfaceSet><item>"
    "<networkInterfaceId>eni-{num:017x}</networkInterfaceId><subnetId>subnet-b45e998934a3ac083</subnetId>"
    "<vpcId>vpc-6a7ce628bd4dc39b8</vpcId><description>Primary network interface</description>"
    "<privateIpAddress>10.0.0.1</privateIpAddress><status>in-use</status></item></networkInterfaceSet>"
    "<rootDeviceName>/dev/sda1</rootDeviceName><rootDeviceType>ebs</rootDeviceType>"
    "<tagSet><item><key>Fleet</key><value>bench</value></item><item><key>Name</key>"
    "<value>bench-none-optional</value></item></tagSet><virtualizationType>hvm</virtualizationType>"
    "<metadataOptions><state>applied</state><httpTokens>optional</httpTokens><httpPutResponseHopLimit>1"
    "</httpPutResponseHopLimit><httpEndpoint>enabled</httpEndpoint><httpProtocolIpv6>disabled"
    "</httpProtocolIpv6><instanceMetadataTags>disabled</instanceMetadataTags></metadataOptions></item>")
PROFILE_XML = (
    "<GetInstanceProfileResponse xmlns=\"https://iam.amazonaws.com/doc/2010-05-08/\"><GetInstanceProfileResult>"
    "<InstanceProfile><InstanceProfileId>AIPACANNED000000001</InstanceProfileId><Roles><member><Path>/</Path>"
    "<RoleName>BenchProfileRole</RoleName><RoleId>AROACANNED000000001</RoleId>"
    "<Arn>arn:aws:iam::123456789012:role/BenchProfileRole</Arn><CreateDate>2026-12-01T09:55:14Z</CreateDate>"
    "<AssumeRolePolicyDocument>%7B%7D</AssumeRolePolicyDocument></member></Roles>"
    "<InstanceProfileName>BenchProfile</InstanceProfileName><Path>/</Path>"
    "<Arn>arn:aws:iam::123456789012:instance-profile/BenchProfile</Arn>"
    "<CreateDate>2026-12-01T09:55:14Z</CreateDate></InstanceProfile></GetInstanceProfileResult>"
    "<ResponseMetadata><RequestId>canned</RequestId></ResponseMetadata></GetInstanceProfileResponse>")
STS_XML = (
    "<GetCallerIdentityResponse xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\"><GetCallerIdentityResult>"
    "<Arn>arn:aws:iam::123456789012:user/bench</Arn><UserId>AIDACANNED</UserId><Account>123456789012</Account>"
    "</GetCallerIdentityResult><ResponseMetadata><RequestId>canned</RequestId></ResponseMetadata>"
    "</GetCallerIdentityResponse>")


class Canned(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    n = 0
    counts = {}

    def log_message(self, *args):
        pass

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0)).decode()
        params = {k: v[0] for k, v in urllib.parse.parse_qs(body).items()}
        action = params.get("Action", "?")
        Canned.counts[action] = Canned.counts.get(action, 0) + 1
        if action == "DescribeInstances":
            payload = self.instances(params)
        elif action == "DescribeIamInstanceProfileAssociations":
            payload = ("<DescribeIamInstanceProfileAssociationsResponse xmlns=\"http://ec2.amazonaws.com/doc/"
                       "2016-11-15\"><iamInstanceProfileAssociationSet/><requestId>canned</requestId>"
                       "</DescribeIamInstanceProfileAssociationsResponse>")
        elif action == "GetInstanceProfile":
            payload = PROFILE_XML
        elif action == "GetCallerIdentity":
            payload = STS_XML
        else:
            self.send_response(400)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        data = payload.encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/xml")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def instances(self, params):
        # like AWS: MaxResults counts instances; the token is the offset of the next page
        start = int(params.get("NextToken") or 0)
        end = min(Canned.n, start + int(params.get("MaxResults") or 1000))
        items = "".join(INSTANCE.format(iid="i-%017x" % k, num=k) for k in range(start, end))
        token = "<nextToken>%d</nextToken>" % end if end < Canned.n else ""
        return ("<DescribeInstancesResponse xmlns=\"http://ec2.amazonaws.com/doc/2016-11-15\"><requestId>canned"
                "</requestId><reservationSet><item><reservationId>r-canned</reservationId><ownerId>123456789012"
                "</ownerId><groupSet/><instancesSet>%s</instancesSet></item></reservationSet>%s"
                "</DescribeInstancesResponse>" % (items, token))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", maxsplit=1)[0])
    parser.add_argument("--n", type=int, default=10000)
    args = parser.parse_args(argv)
    Canned.n = args.n
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Canned)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = "http://127.0.0.1:%d" % server.server_address[1]
    out = {}
    with tempfile.TemporaryDirectory(prefix="keyless-canned-") as work:
        runner = Runner(work)
        for module in ("ec2_profile_association", "ec2_metadata_options"):
            Canned.counts = {}
            res = runner.run(bulk_playbook(module, module_args(module, 10)), url, None, check=True)
            summary = next((t.get("summary") for t in res["tasks"] if t.get("summary")), {})
            out[module] = {"n": args.n, "rc": res["rc"], "peak_rss_mb": res["peak_rss_mb"],
                           "task_seconds": res["task_seconds"], "calls": dict(Canned.counts),
                           "would_change": summary.get("changed")}
    server.shutdown()
    print(json.dumps(out, indent=1, sort_keys=True))
    return 0 if all(v["rc"] == 0 for v in out.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
