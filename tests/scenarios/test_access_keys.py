"""No keys left behind, the account side (issue 24, items 2 and 4): iam_access_key_info names each IAM user's key with
the instances of the fleet that use it; iam_access_key deactivates only the keys quiet for the period, refuses the
recently used one naming its last use, reactivates (the rollback), and deletes only after inactive_days.

The account is tests/support/keys_seed.py's (two users, three keys, a fleet, CloudTrail log files in a directory).
Ground truth comes from boto3 and from the endpoint itself (an Inactive key is refused, moto_iam_keys.py), never from
the modules' reports. Every result and every byte ansible-playbook printed is searched for the seeded secrets.
"""

from __future__ import annotations

import datetime
import json

import boto3
import pytest
from botocore.exceptions import ClientError

from tests.support.aws_env import ROOT
from tests.support.keys_seed import OUTSIDE_ADDRESS, assert_no_secret, key_status, seed_keys, seed_keys_with_trail
from tests.support.markdown_blocks import fenced_blocks
from tests.support.moto_server import mutating_calls
from tests.support.playbook import run_playbook

pytestmark = pytest.mark.integration


def readme_example():
    """README's "Retire the keys" playbook, as written there (marked example-only for the docs harness, whose account
    has no IAM user: this test is where it runs)."""
    text = (ROOT / "README.md").read_text()
    blocks = [b for b in fenced_blocks(text) if b.language == "yaml" and "Retire the access keys of the web fleet" in b.body]
    assert len(blocks) == 1, "README has one Retire-the-keys playbook"
    return blocks[0].body


TASKS = """
- name: Access keys
  hosts: localhost
  gather_facts: false
  tasks:
%s
    - name: Save the results
      ansible.builtin.copy:
        content: "{{ {%s} | to_json }}"
        dest: "{{ results_file }}"
        mode: "0644"
      check_mode: false
"""


def task(name, module, args, ignore_errors=False):
    text = "    - name: %s\n      keyless.aws.%s: %s\n      register: %s\n" % (name, module, json.dumps(args), name)
    if ignore_errors:
        text += "      ignore_errors: true\n"
    return text


def playbook(tasks):
    names = [t[0] for t in tasks]
    return TASKS % ("".join(task(*t) for t in tasks), ", ".join("'%s': %s" % (n, n) for n in names))


def retire(seeded, name, **kwargs):
    key = seeded["keys"][name]
    return dict({"user": key["user"], "access_key_id": key["masked"]}, **kwargs)


def run(moto, tmp_path, tasks, check=False, diff=False, label="run"):
    results_file = tmp_path / ("%s.json" % label)
    result = run_playbook(playbook(tasks), moto.url, extra_vars={"results_file": str(results_file)}, check=check,
                          diff=diff)
    assert result.rc in (0, 2), result
    outputs = json.loads(results_file.read_text())
    return result, outputs, results_file.read_text()


def status(moto, seeded, name):
    return key_status(moto.client("iam"), seeded, name)


def user_tags(moto, user):
    return {t["Key"]: t["Value"] for t in moto.client("iam").list_user_tags(UserName=user)["Tags"]}


def signs(moto, seeded, name):
    """Whether a call signed with the key is served (an Inactive key is refused, as on AWS)."""
    key = seeded["keys"][name]
    secret = seeded["secrets"][list(seeded["keys"]).index(name)]
    sts = boto3.client("sts", region_name="us-east-1", endpoint_url=moto.url, aws_access_key_id=key["id"],
                       aws_secret_access_key=secret)
    try:
        sts.get_caller_identity()
        return True
    except ClientError as exc:
        assert exc.response["Error"]["Code"] == "InvalidClientTokenId", exc.response
        return False


@pytest.fixture
def seeded(moto, tmp_path):
    return seed_keys_with_trail(moto.url, tmp_path)


def info_args(seeded):
    return {"tags": seeded["tag"], "activity": True, "source": "local", "local_path": seeded["trail"], "days": 60}


def test_info_names_each_key_with_the_instances_that_use_it(moto, seeded, tmp_path):
    result, out, raw = run(moto, tmp_path, [("info", "iam_access_key_info", info_args(seeded))])
    assert result.rc == 0, result
    info = out["info"]
    keys = {k["access_key_id"]: k for k in info["keys"]}
    recent, stale, quiet = (seeded["keys"][n]["masked"] for n in ("recent", "stale", "quiet"))
    assert set(keys) == {recent, stale, quiet}
    a0, a1, a2, a3 = seeded["instances"]
    assert {u["instance_id"]: u["calls"] for u in keys[recent]["used_from"]} == seeded["expected"]["recent"]
    by_instance = {u["instance_id"]: u for u in keys[recent]["used_from"]}
    assert by_instance[a0]["via"] == ["vpc_endpoint"] and by_instance[a0]["address"] == seeded["addresses"][a0]["private"]
    assert by_instance[a0]["actions"] == ["s3:GetObject"]
    assert by_instance[a1]["via"] == ["public"] and by_instance[a1]["actions"] == ["sqs:ReceiveMessage"]
    assert keys[recent]["outside_fleet"]["calls"] == 7
    assert keys[recent]["outside_fleet"]["addresses"] == [{"address": OUTSIDE_ADDRESS, "calls": 7}]
    assert {u["instance_id"]: u["calls"] for u in keys[quiet]["used_from"]} == seeded["expected"]["quiet"]
    assert keys[quiet]["outside_fleet"]["calls"] == 1  # the control instance is outside the selector
    assert keys[stale]["used_from"] == []
    assert keys[stale]["last_used"]["days_ago"] == 150 and keys[stale]["age_days"] == 200
    assert keys[recent]["last_used"]["service"] == "s3" and keys[recent]["last_used"]["days_ago"] == 1
    assert {i["instance_id"]: i["keys"] for i in info["instances"]} == {a0: [recent], a1: [recent], a2: [quiet]}
    assert a3 not in {i["instance_id"] for i in info["instances"]}  # only its role's calls: no key
    assert info["counts"]["instances_with_keys"] == 3 and info["counts"]["keys_used_from_fleet"] == 2
    assert info["counts"]["users"] == 2 and info["counts"]["keys"] == 3
    assert_no_secret(seeded, raw, result.stdout, result.stderr)


def test_retire_deactivates_only_quiet_keys_refuses_the_recent_one_and_rolls_back(moto, seeded, tmp_path):
    local = {"source": "local", "local_path": seeded["trail"], "tags": seeded["tag"]}
    tasks = [("recent", "iam_access_key", retire(seeded, "recent", quiet_days=30, **local), True),
             ("stale", "iam_access_key", retire(seeded, "stale", quiet_days=30, **local)),
             ("quiet", "iam_access_key", retire(seeded, "quiet", quiet_days=30, **local)),
             ("quiet_since", "iam_access_key", retire(seeded, "quiet", quiet_days=30, since=(
                 seeded["now"] - datetime.timedelta(days=60)).strftime("%Y-%m-%dT%H:%M:%SZ"), **local), True),
             ("delete_early", "iam_access_key", retire(seeded, "stale", state="absent", inactive_days=30), True)]

    moto.reset_calls()
    check, predicted, raw_check = run(moto, tmp_path, tasks, check=True, diff=True, label="check")
    assert mutating_calls(moto.calls()) == {}, moto.calls()
    assert [status(moto, seeded, n) for n in ("recent", "stale", "quiet")] == ["Active"] * 3
    assert predicted["stale"]["changed"] and predicted["stale"]["key"]["status"] == "Inactive"
    assert predicted["stale"]["diff"]["before"]["status"] == "Active"
    assert predicted["recent"]["failed"]
    # in check mode the quiet key is still Active: with since 60 days ago, its calls from instance 2 refuse it, naming
    # the last one (the control instance's call is outside the selector: named by its address only)
    assert predicted["quiet_since"]["failed"] and "recorded by CloudTrail" in predicted["quiet_since"]["msg"]
    assert "s3.amazonaws.com PutObject" in predicted["quiet_since"]["msg"], predicted["quiet_since"]["msg"]
    assert seeded["instances"][2] in predicted["quiet_since"]["msg"]

    first, out, raw = run(moto, tmp_path, tasks, diff=True)
    # the recent key: refused, naming its last use (a day ago, s3) and the CloudTrail call from the fleet
    assert out["recent"]["failed"] and not out["recent"]["changed"]
    assert "last used" in out["recent"]["msg"] and "(s3, us-east-1)" in out["recent"]["msg"], out["recent"]["msg"]
    assert status(moto, seeded, "recent") == "Active" and signs(moto, seeded, "recent")
    # the stale and the quiet ones: deactivated, the date recorded on the user, the endpoint refuses them
    for name in ("stale", "quiet"):
        key = seeded["keys"][name]
        assert out[name]["changed"] and out[name]["key"]["status"] == "Inactive", out[name]
        assert [c["action"] for c in out[name]["changes"]] == ["update_access_key", "tag_user"]
        assert status(moto, seeded, name) == "Inactive" and not signs(moto, seeded, name)
        assert "keyless:key-inactive:%s" % key["masked"] in user_tags(moto, key["user"])
    # by then the quiet key is Inactive: nothing is left to do, whatever its calls before (they are checked on an Active
    # key only)
    assert not out["quiet_since"].get("failed") and not out["quiet_since"]["changed"]
    # delete before inactive_days: refused
    assert out["delete_early"]["failed"] and "inactive_days=30" in out["delete_early"]["msg"]
    assert status(moto, seeded, "stale") == "Inactive"

    # a second run changes nothing
    second, again, raw2 = run(moto, tmp_path, tasks[1:3], label="second")
    assert second.rc == 0 and not again["stale"]["changed"] and not again["quiet"]["changed"], again

    # the rollback: reactivation restores the key (the endpoint serves it again) and removes the date
    rollback, back, raw3 = run(moto, tmp_path, [("react", "iam_access_key", retire(seeded, "quiet", state="active"))],
                               label="rollback")
    assert rollback.rc == 0 and back["react"]["changed"]
    assert [c["action"] for c in back["react"]["changes"]] == ["update_access_key", "untag_user"]
    quiet = seeded["keys"]["quiet"]
    assert status(moto, seeded, "quiet") == "Active" and signs(moto, seeded, "quiet")
    assert not [k for k in user_tags(moto, quiet["user"]) if k.startswith("keyless:key-inactive:")]
    assert_no_secret(seeded, raw_check, raw, raw2, raw3, check.stdout, check.stderr, first.stdout, first.stderr,
                     second.stdout, rollback.stdout)


def test_the_recent_key_is_refused_by_its_cloudtrail_calls_alone(moto, seeded, tmp_path):
    """quiet_days=0 passes GetAccessKeyLastUsed; the CloudTrail calls since `since` still refuse it, naming the last
    call, its address and the instance."""
    since = (seeded["now"] - datetime.timedelta(days=3)).strftime("%Y-%m-%dT%H:%M:%SZ")
    args = retire(seeded, "recent", quiet_days=0, since=since, source="local", local_path=seeded["trail"],
                  tags=seeded["tag"])
    result, out, raw = run(moto, tmp_path, [("recent", "iam_access_key", args, True)])
    msg = out["recent"]["msg"]
    assert out["recent"]["failed"] and "recorded by CloudTrail since" in msg, msg
    assert OUTSIDE_ADDRESS in msg or any(i in msg for i in seeded["instances"][:2]), msg
    assert status(moto, seeded, "recent") == "Active"
    assert_no_secret(seeded, raw, result.stdout, result.stderr)


def test_delete_after_inactive_days(moto, seeded, tmp_path):
    stale = seeded["keys"]["stale"]
    tasks = [("deactivate", "iam_access_key", retire(seeded, "stale", quiet_days=30))]
    run(moto, tmp_path, tasks, label="deactivate")
    assert status(moto, seeded, "stale") == "Inactive"
    # time passes: the recorded date is 31 days old (seeding stands for the wait)
    tag = "keyless:key-inactive:%s" % stale["masked"]
    old = (datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(days=31)).strftime("%Y-%m-%dT%H:%M:%SZ")
    moto.client("iam").tag_user(UserName=stale["user"], Tags=[{"Key": tag, "Value": old}])
    tasks = [("delete", "iam_access_key", retire(seeded, "stale", state="absent", inactive_days=30)),
             ("again", "iam_access_key", retire(seeded, "stale", state="absent", inactive_days=30)),
             ("active_one", "iam_access_key", retire(seeded, "recent", state="absent", force=True), True)]
    result, out, raw = run(moto, tmp_path, tasks, label="delete")
    assert out["delete"]["changed"] and [c["action"] for c in out["delete"]["changes"]] == ["delete_access_key", "untag_user"]
    assert status(moto, seeded, "stale") is None and tag not in user_tags(moto, stale["user"])
    assert not out["again"]["changed"] and out["again"]["key"] is None
    assert out["active_one"]["failed"] and "is Active" in out["active_one"]["msg"]  # force never deletes an Active key
    assert status(moto, seeded, "recent") == "Active"
    assert_no_secret(seeded, raw, result.stdout, result.stderr)


def test_the_readme_example_runs(moto, tmp_path):
    """The README example, as written, on an account seeded with a web fleet and its trail in S3: the key still in
    use is refused (the run goes on), the quiet one deactivated; a suggestion per key; nothing prints a secret."""
    trail = tmp_path / "trail"
    trail.mkdir()
    seeded = seed_keys(moto.url, trail, prefix="web", s3_bucket="org-cloudtrail-logs")
    took_over = (seeded["now"] - datetime.timedelta(days=30)).strftime("%Y-%m-%dT%H:%M:%SZ")
    log = tmp_path / "ansible.log"
    result = run_playbook(readme_example(), moto.url, extra_vars={"region": "us-east-1", "role_took_over": took_over},
                          verbosity=1, env={"ANSIBLE_LOG_PATH": str(log)})
    assert result.rc == 0 and result.failed == 0, result
    assert "ignored=1" in result.stdout, result  # the deactivation of the key still in use was refused
    assert seeded["keys"]["recent"]["masked"] in result.stdout and "refusing to deactivate it" in result.stdout
    assert status(moto, seeded, "recent") == "Active"
    assert status(moto, seeded, "quiet") == "Inactive" and status(moto, seeded, "stale") == "Active"
    assert "s3:GetObject" in result.stdout  # the suggested policy of the recent key's instances
    assert_no_secret(seeded, result.stdout, result.stderr, log.read_text())
