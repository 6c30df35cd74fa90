"""keyless.aws.verify finds the keys left on instances (issue 24, item 1) and who talks to IMDS (issue 23, item 4).

Three emulated instances (tests/support/instance_root.py) - a key in a shared credentials file, a key in a worker's
environment, and a clean one - each a real instance on the moto server, served by the IMDS emulator, with
imds_info's host_root pointed at its emulated filesystem. verify fails the two with a key, naming where the key is
(access key id masked), passes them once the key is gone, and with keyless_credentials=report passes while still
listing them. No seeded secret access key or session token appears in any result or in the playbook's output.
"""

from __future__ import annotations

import json

import boto3
import pytest

from tests.support import instance_root as ir
from tests.support.aws_env import FAKE_ACCESS_KEY, FAKE_SECRET_KEY
from tests.support.fixtures import TRUST
from tests.support.fleet_seed import DEFAULT_IMAGE
from tests.support.imds_emulator import FAKE_SECRETS, ImdsEmulator
from tests.support.moto_server import MotoServer
from tests.support.playbook import run_playbook
from tests.support.strict import strict_off

pytestmark = [pytest.mark.integration]

ROLE = "keys-app-role"
HOSTS = ("web_file", "worker_env", "quiet")
BUILDERS = {"web_file": ir.key_in_file, "worker_env": ir.key_in_process, "quiet": ir.clean}


@pytest.fixture(scope="module")
def fleet():
    """Three running instances with the right role and IMDSv2 required, on a moto server of this file's own."""
    with MotoServer() as server:
        def client(service):
            return boto3.client(service, region_name="us-east-1", endpoint_url=server.url,
                                aws_access_key_id=FAKE_ACCESS_KEY, aws_secret_access_key=FAKE_SECRET_KEY)
        ec2, iam = client("ec2"), client("iam")
        with strict_off(server.url):  # seeding, not the subject: settled instances with the role
            iam.create_role(RoleName=ROLE, AssumeRolePolicyDocument=TRUST)
            iam.create_instance_profile(InstanceProfileName=ROLE)
            iam.add_role_to_instance_profile(InstanceProfileName=ROLE, RoleName=ROLE)
            ids = [i["InstanceId"] for i in ec2.run_instances(
                ImageId=DEFAULT_IMAGE, MinCount=3, MaxCount=3, InstanceType="t3.micro",
                MetadataOptions={"HttpTokens": "required", "HttpEndpoint": "enabled"})["Instances"]]
            for iid in ids:
                ec2.associate_iam_instance_profile(InstanceId=iid, IamInstanceProfile={"Name": ROLE})
        with ImdsEmulator(server.url) as emulator:
            yield server.url, emulator, dict(zip(HOSTS, ids))


def _roots(tmp_path):
    return dict((name, BUILDERS[name](tmp_path / name)) for name in HOSTS)


def _verify(fleet, tmp_path, roots, verbosity=1, **extra):
    url, emulator, ids = fleet
    hosts = dict((name, {"keyless_imds_endpoint": emulator.url_for(ids[name]), "keyless_host_root": str(roots[name])})
                 for name in HOSTS)
    path = tmp_path / "instances.json"
    path.write_text(json.dumps({"ec2_instances": {"hosts": hosts, "vars": {
        "ansible_connection": "local", "ansible_python_interpreter": "{{ ansible_playbook_python }}"}}}))
    extra.setdefault("keyless_expected_role", ROLE)
    res = run_playbook("keyless.aws.verify", url, inventory=str(path), extra_vars=extra, verbosity=verbosity)
    _assert_no_secret(res.stdout + res.stderr)
    return res


def _assert_no_secret(text):
    for secret in ir.SECRETS + FAKE_SECRETS:
        assert secret not in text, "a seeded secret leaked"
    for key_id in ir.KEY_IDS:
        assert key_id not in text, "an unmasked access key id leaked"


FILE_KEY = "static key AKIA...EY01 in /home/app/.aws/credentials [default]"
SESSION_KEY = "session key ASIA...ON02 in /home/app/.aws/credentials [batch]"
CHAIN = "profile reference AKIA...EY01 (role_arn via source_profile default) in /home/app/.aws/config [reports]"
PROC_KEY = ("static key AKIA...EY03 (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY) in pid 4242, 4243 "
            "(/usr/bin/python3 /srv/app/worker.py --secret-key *** --queue jobs) user app")


def test_verify_fails_the_instances_with_keys_naming_where(fleet, tmp_path):
    ids = fleet[2]
    res = _verify(fleet, tmp_path, _roots(tmp_path))
    assert res.rc != 0, res
    assert res.recap["web_file"]["failed"] == 1 and res.recap["worker_env"]["failed"] == 1, res
    assert res.recap["quiet"]["failed"] == 0, res
    assert "web_file (%s): 3 credential(s) on the instance come before the instance profile" % ids["web_file"] in res.stdout
    for line in (FILE_KEY, SESSION_KEY, CHAIN):
        assert line in res.stdout, (line, res)
    assert "worker_env (%s): 1 credential(s)" % ids["worker_env"] in res.stdout and PROC_KEY in res.stdout, res
    assert "quiet (%s): role %s, IMDSv2 enforced" % (ids["quiet"], ROLE) in res.stdout, res
    # the IMDS checks still ran for the failing ones: only the keys fail them
    assert res.stdout.count('"failed_checks": ["no_static_credentials"]') == 2, res


def test_verify_passes_once_the_keys_are_gone(fleet, tmp_path):
    roots = _roots(tmp_path)
    ir.remove_file_keys(roots["web_file"])
    ir.remove_process_keys(roots["worker_env"])
    res = _verify(fleet, tmp_path, roots)
    assert res.rc == 0 and all(res.recap[name]["failed"] == 0 for name in HOSTS), res
    for name in HOSTS:
        assert "%s (%s): role %s, IMDSv2 enforced" % (name, fleet[2][name], ROLE) in res.stdout, res
    assert "credentials on the instance" not in res.stdout


def test_report_only_passes_and_still_lists_them(fleet, tmp_path):
    res = _verify(fleet, tmp_path, _roots(tmp_path), keyless_credentials="report")
    assert res.rc == 0 and all(res.recap[name]["failed"] == 0 for name in HOSTS), res
    assert "web_file (%s): role %s, IMDSv2 enforced" % (fleet[2]["web_file"], ROLE) in res.stdout
    assert "credentials on the instance (report only): " in res.stdout
    for line in (FILE_KEY, SESSION_KEY, CHAIN, PROC_KEY):
        assert line in res.stdout, (line, res)
    off = _verify(fleet, tmp_path, _roots(tmp_path / "again"), keyless_credentials="off")
    assert off.rc == 0 and "credential_findings\": null" in off.stdout, off


def test_imds_callers_are_listed_on_request(fleet, tmp_path):
    roots = _roots(tmp_path)
    legacy = roots["quiet"]
    legacy.process(911, ["/usr/bin/python2", "/opt/legacy/poll.py"], {}, uid=1000, sockets={3: 91001})
    legacy.tcp([ir.tcp_line(0, "10.0.0.5", 43210, "169.254.169.254", 80, "01", 1000, 91001)])
    legacy.python_package("/usr/lib/python3/dist-packages", "botocore", "1.12.253")
    res = _verify(fleet, tmp_path, roots, verbosity=0, keyless_imds_callers=True, keyless_credentials="report")
    assert res.rc == 0, res
    assert ("quiet (%s): connections to IMDS: 169.254.169.254:80 by pid 911 /usr/bin/python2 /opt/legacy/poll.py "
            "(user app, ESTABLISHED); older than AWS's minimum for IMDSv2: botocore 1.12.253 < 1.13.25 at "
            "/usr/lib/python3/dist-packages/botocore-1.12.253.dist-info" % fleet[2]["quiet"]) in res.stdout, res
    assert "web_file (%s): no connection to IMDS open at the time of the look" % fleet[2]["web_file"] in res.stdout
    default = _verify(fleet, tmp_path, _roots(tmp_path / "default"), verbosity=0, keyless_credentials="report")
    assert "Show who talks to the metadata service" in default.stdout and "connections to IMDS" not in default.stdout


RESULTS = """
- name: Every result of imds_info on the emulated instances
  hosts: ec2_instances
  gather_facts: false
  tasks:
    - name: Look in every mode
      keyless.aws.imds_info:
        endpoint: "{{ keyless_imds_endpoint }}"
        host_root: "{{ keyless_host_root }}"
        credentials: "{{ item }}"
        imds_callers: true
        fail_on_check: false
      loop: [fail, report]
      register: looks
    - name: Keep them
      ansible.builtin.copy:
        content: "{{ looks | to_json }}"
        dest: "{{ keyless_host_root }}.results.json"
        mode: "0600"
      delegate_to: localhost
"""


def test_no_seeded_secret_in_any_result_or_log(fleet, tmp_path):
    url, emulator, ids = fleet
    roots = _roots(tmp_path)
    # every kind of secret, somewhere: a unit's environment, a credential_process argument, a session token
    roots["worker_env"].unit("report.service", "[Service]\nEnvironment=AWS_ACCESS_KEY_ID=%s AWS_SECRET_ACCESS_KEY=%s\n"
                             % (ir.UNIT_KEY_ID, ir.UNIT_SECRET))
    roots["web_file"].file("/root/.aws/config", "[profile vault]\ncredential_process = /opt/vault/aws-creds --token %s\n"
                           % ir.PROCESS_SECRET_ARG)
    hosts = dict((name, {"keyless_imds_endpoint": emulator.url_for(ids[name]), "keyless_host_root": str(roots[name])})
                 for name in HOSTS)
    inventory = tmp_path / "instances.json"
    inventory.write_text(json.dumps({"ec2_instances": {"hosts": hosts, "vars": {
        "ansible_connection": "local", "ansible_python_interpreter": "{{ ansible_playbook_python }}"}}}))
    res = run_playbook(RESULTS, url, inventory=str(inventory), verbosity=3)
    assert res.rc == 0, res
    _assert_no_secret(res.stdout + res.stderr)
    # the secrets really are on the emulated instances, so the greps above can fail
    seeded = b"".join(p.read_bytes() for r in roots.values() for p in r.path.rglob("*") if p.is_file())
    assert all(secret.encode() in seeded for secret in ir.SECRETS)
    for name in HOSTS:
        text = (tmp_path / name).with_name(name + ".results.json").read_text()
        results = json.loads(text)["results"]
        assert [r["item"] for r in results] == ["fail", "report"]
        _assert_no_secret(text)
        assert results[0]["credential_scan"]["scanned"]["processes"] >= 3
        if name != "quiet":
            assert results[0]["credential_findings"] and "no_static_credentials" in results[0]["failed_checks"]
    summaries = dict((name, [f["summary"] for f in json.loads((tmp_path / (name + ".results.json")).read_text())
                             ["results"][0]["credential_findings"]]) for name in HOSTS)
    assert "credential_process (program /opt/vault/aws-creds) in /root/.aws/config [vault]" in summaries["web_file"]
    assert any(s.startswith("static key AKIA...EY04 (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY) in unit report.service")
               for s in summaries["worker_env"]), summaries
    assert summaries["quiet"] == []
