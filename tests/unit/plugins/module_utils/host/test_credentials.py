"""host/credentials: every credential ahead of the instance profile, found in a fake instance root (tmp_path)."""

from __future__ import annotations

import json
import os

import pytest

from ansible_collections.keyless.aws.plugins.module_utils.host import common, credentials
from ansible_collections.keyless.aws.plugins.module_utils.host.common import mask_key_id, redact_command
from tests.support import instance_root as ir


def _by(result, **match):
    return [f for f in result["findings"] if all(f.get(k) == v for k, v in match.items())]


def _no_secret(result):
    text = json.dumps(result)
    for secret in ir.SECRETS:
        assert secret not in text
    for key_id in ir.KEY_IDS:
        assert key_id not in text  # only masked ids


# --- parsing ---------------------------------------------------------------------------------------
def test_parse_profiles_credentials_and_config_sections():
    creds, err = credentials.parse_profiles("[default]\naws_access_key_id = A\n[profile x]\nk = v\n", config_file=False)
    assert err is None and set(creds) == {"default", "profile x"}  # the credentials file names profiles literally
    conf, err = credentials.parse_profiles(
        "[default]\nregion=us-east-1\n[profile app]\nrole_arn = r\n[sso-session corp]\nsso_region = x\n"
        "[services dev]\ns3 =\n  endpoint_url = http://x\n[DEFAULT]\nregion = eu-west-1\n", config_file=True)
    assert err is None and set(conf) == {"default", "app"}
    assert conf["app"] == {"role_arn": "r"}  # [DEFAULT] is not merged into every section


def test_parse_profiles_keeps_what_it_can_of_a_broken_file():
    profiles, err = credentials.parse_profiles("[default]\naws_access_key_id = AKIAX\nthis line is broken\n"
                                               "[two]\naws_access_key_id=AKIAY\n", config_file=False)
    assert err and set(profiles) == {"default", "two"}
    assert "broken" not in err  # the message never quotes a line: it could be a secret
    none, err = credentials.parse_profiles("aws_secret_access_key = s3cr3t\n", config_file=False)
    assert none == {} and "no section header" in err and "s3cr3t" not in err


def test_parse_environ_keeps_only_aws_names_and_home():
    env = credentials.parse_environ(b"PATH=/bin\0AWS_ACCESS_KEY_ID=AKIA1\0HOME=/home/a\0SECRET=x\0broken\0")
    assert env == {"AWS_ACCESS_KEY_ID": "AKIA1", "HOME": "/home/a"}


def test_parse_unit_environment_values_and_files():
    assert credentials.parse_environment_value('A=1 "AWS_PROFILE=two words" B') == {"A": "1", "AWS_PROFILE": "two words"}
    assert credentials.parse_environment_value('A="unbalanced') == {"A": '"unbalanced'}
    env = credentials.parse_env_file("# c\nexport AWS_ACCESS_KEY_ID=\"AKIA1\"\nAWS_PROFILE='p'\nnot an assignment\n")
    assert env == {"AWS_ACCESS_KEY_ID": "AKIA1", "AWS_PROFILE": "p"}


@pytest.mark.parametrize("key_id, shown", [
    ("AKIAIOSFODNN7EXAMPLE", "AKIA...MPLE"), ("ASIA1234567890ABCDEF", "ASIA...CDEF"), ("short", "****"), (None, None)])
def test_mask_key_id(key_id, shown):
    assert mask_key_id(key_id) == shown


def test_redact_command_hides_secret_looking_values():
    argv = ["app", "--secret-key", "s3cr3t", "--token=abc", "AWS_SECRET_ACCESS_KEY=x", "--id", "AKIAIOSFODNN7EXAMPLE",
            "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", "--queue", "jobs"]
    text = redact_command(argv)
    assert "s3cr3t" not in text and "abc" not in text and "AWS_SECRET_ACCESS_KEY=***" in text
    assert "AKIA...MPLE" in text and "AKIAIOSFODNN7EXAMPLE" not in text
    assert "wJalrXUtnFEMI" not in text and "--queue jobs" in text
    assert len(redact_command(["x" * 10 + "-"] * 40)) == 120


# --- the scan over an emulated instance ------------------------------------------------------------------
def test_key_in_file_static_session_and_role_chain(tmp_path):
    result = credentials.scan(str(ir.key_in_file(tmp_path)))
    static = _by(result, kind="static key", source="file")
    assert [(f["path"], f["profile"], f["key_id"]) for f in static] == [
        ("/home/app/.aws/credentials", "default", ir.masked(ir.FILE_KEY_ID))]
    session = _by(result, kind="session key")
    assert [(f["profile"], f["key_id"]) for f in session] == [("batch", ir.masked(ir.SESSION_KEY_ID))]
    chain = _by(result, kind="profile reference")
    assert len(chain) == 1 and chain[0]["profile"] == "reports" and chain[0]["source_profile"] == "default"
    assert chain[0]["key_id"] == ir.masked(ir.FILE_KEY_ID) and chain[0]["path"] == "/home/app/.aws/config"
    assert "/home/app/.aws/credentials" in result["scanned"]["files"]
    assert result["unreadable"] == {"processes": 0, "files": []}
    check = credentials.check(result)
    assert check["name"] == "no_static_credentials" and not check["ok"]
    assert "3 credential(s)" in check["detail"]
    assert "static key AKIA...EY01 in /home/app/.aws/credentials [default]" in check["detail"]
    _no_secret(result)
    _no_secret(check)


def test_key_in_process_groups_workers_and_redacts_the_command(tmp_path):
    result = credentials.scan(str(ir.key_in_process(tmp_path)))
    procs = _by(result, source="process")
    assert len(procs) == 1
    f = procs[0]
    assert f["kind"] == "static key" and f["key_id"] == ir.masked(ir.PROC_KEY_ID) and f["pids"] == [4242, 4243]
    assert f["user"] == "app" and f["variables"] == ["AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"]
    assert f["command"] == "/usr/bin/python3 /srv/app/worker.py --secret-key *** --queue jobs"
    assert f["location"] == "pid 4242, 4243 (%s) user app" % f["command"]
    assert not credentials.check(result)["ok"]
    _no_secret(result)


def test_clean_instance_passes(tmp_path):
    result = credentials.scan(str(ir.clean(tmp_path)))
    assert result["findings"] == []
    check = credentials.check(result)
    assert check["ok"] and "no access key" in check["detail"]
    assert result["scanned"]["processes"] == 3 and result["scanned"]["units"] == 1


def test_removing_the_keys_clears_the_findings(tmp_path):
    root = ir.key_in_file(tmp_path / "a")
    ir.remove_file_keys(root)
    assert credentials.scan(str(root))["findings"] == []
    proc = ir.key_in_process(tmp_path / "b")
    ir.remove_process_keys(proc)
    assert credentials.scan(str(proc))["findings"] == []


def test_systemd_units_drop_ins_and_environment_files(tmp_path):
    root = ir.clean(tmp_path)
    root.unit("app.service", '[Service]\nExecStart=/srv/app/run\nEnvironment="AWS_ACCESS_KEY_ID=%s" \\\n'
                             '  "AWS_SECRET_ACCESS_KEY=%s"\n' % (ir.UNIT_KEY_ID, ir.UNIT_SECRET), directory="/lib/systemd/system")
    root.file("/etc/systemd/system/batch.service.d/override.conf",
              "[Service]\nEnvironmentFile=-/etc/default/batch\n", mode=0o644)
    root.file("/etc/default/batch", "AWS_PROFILE=reports\nAWS_CONFIG_FILE=/etc/batch/aws.conf\n")
    root.file("/etc/batch/aws.conf", "[profile reports]\ncredential_process = /opt/vault/get-creds --token %s --role x\n"
              % ir.PROCESS_SECRET_ARG)
    os.symlink("/lib/systemd/system/app.service", str(root.at("/etc/systemd/system/app-alias.service")))
    result = credentials.scan(str(root))
    units = _by(result, source="unit")
    inline = [f for f in units if f["unit"] == "app.service"]
    assert len(inline) == 1 and inline[0]["key_id"] == ir.masked(ir.UNIT_KEY_ID)  # the alias symlink is not read twice
    assert inline[0]["path"] == "/lib/systemd/system/app.service"
    ref = [f for f in units if f["unit"] == "batch.service"]
    assert len(ref) == 1 and ref[0]["path"] == "/etc/default/batch" and ref[0]["profile"] == "reports"
    assert ref[0]["kind"] == "profile reference" and ref[0]["executable"] == "/opt/vault/get-creds"
    process = _by(result, kind="credential_process")
    assert [(f["path"], f["profile"], f["executable"]) for f in process] == [
        ("/etc/batch/aws.conf", "reports", "/opt/vault/get-creds")]
    assert "credential_process (program /opt/vault/get-creds) in /etc/batch/aws.conf [reports]" in \
        credentials.check(result)["detail"]
    _no_secret(result)
    _no_secret(credentials.check(result))


def test_env_named_files_and_profile_settings(tmp_path):
    root = ir.clean(tmp_path)
    root.file("/srv/app/creds", "[svc]\naws_access_key_id = %s\naws_secret_access_key = %s\n" % (ir.FILE_KEY_ID, ir.FILE_SECRET))
    root.process(3001, ["/srv/app/bin/svc"], {"HOME": "/home/app", "AWS_SHARED_CREDENTIALS_FILE": "/srv/app/creds",
                                              "AWS_PROFILE": "svc"}, uid=1000)
    # a profile that uses the instance profile is a setting, not a key
    root.process(3002, ["/srv/app/bin/reports"], {"HOME": "/home/app", "AWS_PROFILE": "reports"}, uid=1000)
    # EKS / ECS role credentials: reported, not failing
    root.process(3003, ["/pod/app"], {"AWS_WEB_IDENTITY_TOKEN_FILE": "/var/run/secrets/token",
                                      "AWS_ROLE_ARN": "arn:aws:iam::1:role/pod"})
    root.process(3004, ["/task/app"], {"AWS_CONTAINER_CREDENTIALS_RELATIVE_URI": "/v2/credentials/x"})
    result = credentials.scan(str(root))
    svc_file = _by(result, path="/srv/app/creds")
    assert [(f["kind"], f["profile"], f["key_id"]) for f in svc_file] == [("static key", "svc", ir.masked(ir.FILE_KEY_ID))]
    ref = _by(result, pid=3001)
    assert ref[0]["kind"] == "profile reference" and ref[0]["key_id"] == ir.masked(ir.FILE_KEY_ID)
    assert ref[0]["resolves_to"] == "key in profile svc"
    setting = _by(result, pid=3002)
    assert setting[0]["kind"] == "profile setting" and setting[0]["resolves_to"] == "role in profile reports"
    assert _by(result, pid=3003)[0]["kind"] == "web identity"
    assert _by(result, pid=3004)[0]["kind"] == "container credentials"
    check = credentials.check(result)
    assert not check["ok"] and "2 credential(s)" in check["detail"]
    assert "web identity" not in check["detail"] and "pid 3002" not in check["detail"]


def _deny(monkeypatch, *paths):
    """EACCES for these files, as for another user's files when not root (tests may run as root, so no chmod)."""
    real_open = open

    def fake_open(path, *args, **kwargs):
        if any(str(path).endswith(p) for p in paths):
            raise PermissionError(13, "Permission denied", str(path))
        return real_open(path, *args, **kwargs)
    monkeypatch.setattr(common, "open", fake_open, raising=False)


def test_unreadable_processes_and_files_are_counted_not_fatal(tmp_path, monkeypatch):
    root = ir.key_in_file(tmp_path)
    root.process(5000, ["/usr/bin/other"], {"AWS_ACCESS_KEY_ID": ir.PROC_KEY_ID})
    _deny(monkeypatch, "/proc/5000/environ", "/home/app/.aws/credentials")
    result = credentials.scan(str(root))
    assert result["unreadable"] == {"processes": 1, "files": ["/home/app/.aws/credentials"]}
    assert _by(result, pid=5000) == [] and _by(result, path="/home/app/.aws/credentials") == []
    assert _by(result, kind="profile reference") == []  # the chain's key is in the unreadable file
    detail = credentials.check(result)["detail"]
    assert "not readable: 1 process(es), 1 file(s); run as root" in detail


def test_missing_root_parts_are_no_error(tmp_path):
    result = credentials.scan(str(tmp_path))  # no /proc, no /etc/passwd
    assert result["findings"] == [] and result["unreadable"] == {"processes": 0, "files": []}
    assert credentials.check(result)["ok"]


def test_the_runs_own_processes_are_shown_but_never_fail(tmp_path):
    """On this machine's "/", the look's own process and its ancestors carry the environment Ansible brought (the
    controller's keys with a local connection): reported with this_run, not counted by the check."""
    import subprocess
    import sys
    assert credentials.own_chain(str(tmp_path)) == set()  # another root: its pids are not ours
    assert {os.getpid(), os.getppid()} <= credentials.own_chain("/")
    code = ("import json; from ansible_collections.keyless.aws.plugins.module_utils.host import credentials as c; "
            "r = c.scan('/'); print(json.dumps([r['findings'], c.check(r)]))")
    env = dict(os.environ, AWS_ACCESS_KEY_ID="AKIAKEYLESSOWNRUN0001", AWS_SECRET_ACCESS_KEY="ownRunSecret/DoNotLeak+00")
    env["PYTHONPATH"] = os.pathsep.join(sys.path)
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True).stdout
    findings, check = json.loads(out)
    mine = [f for f in findings if f.get("key_id") == "AKIA...0001"]
    assert mine and all(f["this_run"] and "this Ansible run's own process" in f["location"] for f in mine)
    assert "AKIA...0001" not in check["detail"] and "ownRunSecret" not in out


def test_a_process_home_outside_passwd_is_read(tmp_path):
    """The SDKs find ~/.aws through $HOME: a service whose HOME is not a home of /etc/passwd (or is /) is looked at."""
    root = ir.clean(tmp_path)
    root.file("/srv/svc/.aws/credentials", "[default]\naws_access_key_id = %s\naws_secret_access_key = %s\n"
              % (ir.FILE_KEY_ID, ir.FILE_SECRET))
    root.process(3100, ["/usr/bin/java", "-jar", "/srv/svc/app.jar"], {"HOME": "/srv/svc"}, uid=998)
    result = credentials.scan(str(root))
    found = _by(result, path="/srv/svc/.aws/credentials")
    assert found and found[0]["key_id"] == mask_key_id(ir.FILE_KEY_ID)
    assert not credentials.check(result)["ok"]
    _no_secret(result)


def test_java_variables_and_system_properties_are_keys(tmp_path):
    root = ir.clean(tmp_path)
    root.process(3200, ["/usr/bin/java", "-jar", "/opt/a.jar"], {"AWS_ACCESS_KEY": ir.PROC_KEY_ID,
                                                                 "AWS_SECRET_KEY": ir.PROC_SECRET})
    root.process(3201, ["/usr/bin/java", "-Daws.accessKeyId=%s" % ir.UNIT_KEY_ID, "-Daws.secretKey=%s" % ir.UNIT_SECRET,
                        "-jar", "/opt/b.jar"], {"HOME": "/home/app"})
    result = credentials.scan(str(root))
    env_key = _by(result, pid=3200)
    prop_key = _by(result, pid=3201)
    assert env_key and env_key[0]["kind"] == "static key" and env_key[0]["key_id"] == mask_key_id(ir.PROC_KEY_ID)
    assert "AWS_SECRET_KEY" in env_key[0]["variables"]
    assert prop_key and prop_key[0]["kind"] == "static key" and prop_key[0]["key_id"] == mask_key_id(ir.UNIT_KEY_ID)
    assert ir.UNIT_SECRET not in json.dumps(result)
    _no_secret(result)


@pytest.mark.parametrize("value", ["keylessSecret/DoNotLeak+0123456789ab", "akiaLOWERcase00000001", "AKIA"])
def test_only_a_key_id_shaped_value_shows_its_ends(value):
    assert mask_key_id(value) == "****"
    assert mask_key_id(" AKIAIOSFODNN7EXAMPLE ") == "AKIA...MPLE"


def test_a_secret_in_a_continuation_line_never_shows(tmp_path):
    root = ir.clean(tmp_path)
    root.file("/home/app/.aws/credentials", "[default]\naws_access_key_id = %s\n    aws_secret_access_key = %s\n"
              % (ir.FILE_KEY_ID, ir.FILE_SECRET))
    result = credentials.scan(str(root))
    assert ir.FILE_SECRET[-4:] not in json.dumps([f.get("key_id") for f in result["findings"]])
    _no_secret(result)


def test_over_ssh_the_runs_own_environment_counts():
    result = {"findings": [{"kind": "static key", "key_id": "AKIA...0001", "this_run": True, "source": "process",
                            "location": "pid 1 (sshd) user app" + credentials.THIS_RUN, "variables": ["AWS_ACCESS_KEY_ID"]}],
              "unreadable": {"processes": 0, "files": []}, "scanned": {"processes": 1, "units": 0, "files": []}}
    assert credentials.check(result, exempt_this_run=True)["ok"]
    assert not credentials.check(result, exempt_this_run=False)["ok"]
