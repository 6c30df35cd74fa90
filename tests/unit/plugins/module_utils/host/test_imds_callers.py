"""host/imds_callers: connections to IMDS and their processes, and SDK versions against AWS's IMDSv2 minimums."""

from __future__ import annotations

import ipaddress
import json

import pytest

from ansible_collections.keyless.aws.plugins.module_utils.host import imds_callers
from tests.support import instance_root as ir


def test_decode_address_of_the_kernel_format():
    assert ir.hex_address("169.254.169.254") == "FEA9FEA9"  # the form proc(5) shows
    assert imds_callers.decode_address("FEA9FEA9:0050") == (ipaddress.ip_address("169.254.169.254"), 80)
    assert imds_callers.decode_address("0100007F:1F90") == (ipaddress.ip_address("127.0.0.1"), 8080)
    v6 = ir.hex_address("fd00:ec2::254")
    assert len(v6) == 32 and imds_callers.decode_address(v6 + ":0050") == (ipaddress.ip_address("fd00:ec2::254"), 80)
    mapped = ir.hex_address("::ffff:169.254.169.254")
    assert imds_callers.decode_address(mapped + ":0050")[0] == ipaddress.ip_address("169.254.169.254")


def test_parse_tcp_table_keeps_only_imds_connections():
    text = "\n".join([ir.TCP_HEADER,
                      ir.tcp_line(0, "10.0.0.5", 43210, "169.254.169.254", 80, "01", 1000, 91001),
                      ir.tcp_line(1, "10.0.0.5", 43211, "169.254.169.254", 443, "01", 1000, 91002),  # not port 80
                      ir.tcp_line(2, "10.0.0.5", 43212, "10.0.0.9", 80, "01", 1000, 91003),  # not IMDS
                      ir.tcp_line(3, "10.0.0.5", 43213, "169.254.169.254", 80, "06", 0, 0),  # TIME_WAIT: no inode
                      "garbage line"])
    conns = imds_callers.parse_tcp_table(text)
    assert [(c["remote"], c["state"], c["uid"], c["inode"]) for c in conns] == [
        ("169.254.169.254:80", "ESTABLISHED", 1000, 91001), ("169.254.169.254:80", "TIME_WAIT", 0, 0)]


def _callers_root(tmp_path):
    root = ir.clean(tmp_path)
    root.user("legacy", 1001, "/home/legacy")
    root.process(911, ["/usr/bin/python2", "/opt/legacy/poll.py", "--token=abc123"], {}, uid=1001,
                 sockets={0: 5, 3: 91001, 4: 91009})
    root.process(912, ["/usr/bin/node", "/srv/web/index.js"], {}, uid=1000, sockets={7: 92002}, netns=4026532001)
    root.tcp([ir.tcp_line(0, "10.0.0.5", 43210, "169.254.169.254", 80, "01", 1001, 91001),
              ir.tcp_line(1, "10.0.0.5", 43299, "169.254.169.254", 80, "06", 1000, 0)])
    root.tcp([ir.tcp_line(0, "fd00:ec2::10", 50000, "fd00:ec2::254", 80, "01", 1001, 91009)], v6=True)
    # the node process lives in its own network namespace (a container): its table is read through its pid
    root.tcp([ir.tcp_line(0, "172.17.0.2", 40000, "169.254.169.254", 80, "01", 1000, 92002)], base="/proc/912/net")
    return root


def test_connections_are_mapped_to_processes(tmp_path):
    conns = imds_callers.connections(str(_callers_root(tmp_path)))
    by_remote = sorted((c["remote"], c["pid"] or 0, c["user"], c["state"]) for c in conns)
    assert by_remote == [("169.254.169.254:80", 0, "app", "TIME_WAIT"),
                         ("169.254.169.254:80", 911, "legacy", "ESTABLISHED"),
                         ("169.254.169.254:80", 912, "app", "ESTABLISHED"),
                         ("[fd00:ec2::254]:80", 911, "legacy", "ESTABLISHED")]
    legacy = [c for c in conns if c["pid"] == 911][0]
    assert legacy["command"] == "/usr/bin/python2 /opt/legacy/poll.py --token=***" and legacy["pids"] == [911]
    assert [c for c in conns if c["pid"] is None][0]["command"] is None


@pytest.mark.parametrize("version, minimum, outdated", [
    ("1.12.253", "1.13.25", True), ("1.13.25", "1.13.25", False), ("1.13.3", "1.13.25", True),
    ("1.29.0", "1.13.25", False), ("2.0.0.dev1", "1.16.289", False), ("1.16.288rc1", "1.16.289", True),
    ("unknown", "1.13.25", None)])
def test_version_compare(version, minimum, outdated):
    assert imds_callers.is_outdated(version, minimum) is outdated


def test_sdks_found_and_judged_against_the_published_minimums(tmp_path):
    root = ir.clean(tmp_path)
    root.python_package("/usr/lib/python3/dist-packages", "botocore", "1.12.253")
    root.python_package("/usr/lib/python3/dist-packages", "boto3", "1.9.253", style="egg-info")
    root.python_package("/usr/local/lib/python3.8/site-packages", "botocore", "1.31.0")
    root.python_package("/home/app/.local/lib/python3.8/site-packages", "awscli", "1.16.100")
    root.file("/usr/local/aws-cli/v2/2.15.0/dist/aws", "", mode=0o755)
    root.file("/opt/web/node_modules/aws-sdk/package.json", json.dumps({"name": "aws-sdk", "version": "2.600.0"}))
    root.file("/opt/svc/lib/aws-java-sdk-core-1.11.500.jar", "")
    root.file("/opt/svc/lib/sdk-core-2.20.1.jar", "")
    root.file("/var/lib/dpkg/status", "Package: vim\nVersion: 9\n\nPackage: amazon-ssm-agent\nStatus: install ok\n"
                                      "Version: 3.0.222.0-1\n")
    result = imds_callers.look(str(root))
    found = sorted((s["name"], s["version"], s["outdated"]) for s in result["sdks"])
    assert found == [("amazon-ssm-agent", "3.0.222.0-1", None), ("aws-java-sdk", "1.11.500", True),
                     ("aws-sdk-java-v2", "2.20.1", False), ("aws-sdk-js", "2.600.0", True),
                     ("awscli", "1.16.100", True), ("awscli", "2.15.0", False), ("boto3", "1.9.253", True),
                     ("botocore", "1.12.253", True), ("botocore", "1.31.0", False)]
    old = dict(((s["name"], s["version"]), s) for s in result["outdated"])
    assert old[("botocore", "1.12.253")] == {"name": "botocore", "version": "1.12.253", "minimum": "1.13.25",
                                             "path": "/usr/lib/python3/dist-packages/botocore-1.12.253.dist-info",
                                             "outdated": True}
    assert old[("boto3", "1.9.253")]["minimum"] == "1.12.6"
    assert old[("awscli", "1.16.100")]["path"] == "/home/app/.local/lib/python3.8/site-packages/awscli-1.16.100.dist-info"
    assert len(result["outdated"]) == 5
    text = imds_callers.describe(result)
    assert "no connection to IMDS open at the time of the look" in text
    assert "botocore 1.12.253 < 1.13.25 at /usr/lib/python3/dist-packages/botocore-1.12.253.dist-info" in text


def test_look_on_an_instance_with_callers(tmp_path):
    result = imds_callers.look(str(_callers_root(tmp_path)))
    assert len(result["connections"]) == 4 and result["outdated"] == []
    assert result["unreadable"] == {"processes": 0, "files": []}
    assert "169.254.169.254:80 by pid 911 /usr/bin/python2 /opt/legacy/poll.py --token=*** (user legacy, ESTABLISHED)" in \
        imds_callers.describe(result)


def test_empty_root(tmp_path):
    assert imds_callers.look(str(tmp_path)) == {"connections": [], "sdks": [], "outdated": [],
                                                "unreadable": {"processes": 0, "files": []},
                                                "summary": "no connection to IMDS open at the time of the look"}
