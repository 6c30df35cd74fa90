"""No credential ever shows: not at -vvv, not in a log, not in a returned value, not on failure.

One playbook drives the IAM and EC2 modules with known fake credentials given as module options
(access_key / secret_key / session_token, through module_defaults of the action group), and
imds_info against the IMDS emulator, which hands out known fake instance-role credentials. The
environment has no credentials at all, so the modules can only have worked with the options: the AWS
state is checked afterwards to prove they did. Every byte the run produced (stdout, stderr, the
ANSIBLE_LOG_PATH log, the registered results written to a file) is then searched for the secrets.
"""

from __future__ import annotations

import json
import pathlib

import pytest

from tests.support.fleet_seed import DEFAULT_IMAGE
from tests.support.imds_emulator import FAKE_SECRETS, ImdsEmulator
from tests.support.playbook import run_playbook

pytestmark = pytest.mark.integration

ACCESS_KEY = "AKIAKEYLESSNOLEAK042"
SECRET_KEY = "keylessSecretKey/DoNotLeak+0123456789abcdefXYZ"
SESSION_TOKEN = "keylessSessionToken//DoNotLeak+QUJDREVGR0hJSktMTU5PUA=="
OPTION_SECRETS = (ACCESS_KEY, SECRET_KEY, SESSION_TOKEN)

NO_ENV_CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "", "AWS_SECRET_ACCESS_KEY": "", "AWS_SESSION_TOKEN": "",
    "AWS_SHARED_CREDENTIALS_FILE": "/nonexistent/credentials", "AWS_CONFIG_FILE": "/nonexistent/config",
}

PLAYBOOK = """
- name: Secrets stay secret
  hosts: localhost
  gather_facts: false
  vars:
    keyless_access_key: %(access)s
    keyless_secret_key: %(secret)s
    keyless_session_token: %(token)s
  module_defaults:
    group/keyless.aws.aws:
      access_key: "{{ keyless_access_key }}"
      secret_key: "{{ keyless_secret_key }}"
      session_token: "{{ keyless_session_token }}"
      endpoint_url: "{{ moto_url }}"
      region: us-east-1
  tasks:
    - name: Role
      keyless.aws.iam_role:
        name: SecretsRole
        trusted_services: [ec2.amazonaws.com]
        inline_policies:
          Read:
            Version: "2012-10-17"
            Statement:
              - {Effect: Allow, Action: "s3:GetObject", Resource: "arn:aws:s3:::my-app-data/*"}
      register: keyless_role
    - name: Managed policy
      keyless.aws.iam_managed_policy:
        name: SecretsPolicy
        policy:
          Version: "2012-10-17"
          Statement:
            - {Effect: Allow, Action: "sqs:SendMessage", Resource: "arn:aws:sqs:us-east-1:123456789012:q"}
      register: keyless_policy
    - name: Instance profile
      keyless.aws.iam_instance_profile:
        name: SecretsProfile
        role: SecretsRole
      register: keyless_profile
    - name: Role info
      keyless.aws.iam_role_info:
        name: SecretsRole
      register: keyless_role_info
    - name: Instance profile info
      keyless.aws.iam_instance_profile_info:
        name: SecretsProfile
      register: keyless_profile_info
    - name: Associate the profile
      keyless.aws.ec2_profile_association:
        instance_ids: ["{{ instance_id }}"]
        instance_profile: SecretsProfile
      register: keyless_association
    - name: Require IMDSv2
      keyless.aws.ec2_metadata_options:
        instance_ids: ["{{ instance_id }}"]
        http_tokens: required
      register: keyless_metadata
    - name: Audit
      keyless.aws.ec2_fleet_info:
        instance_ids: ["{{ instance_id }}"]
      register: keyless_audit
    - name: On-instance view, credentials included
      keyless.aws.imds_info:
        endpoint: "{{ imds_url }}"
        expected_role: SecretsRole
      register: keyless_imds
    - name: A validation failure (connection options are echoed in the invocation)
      keyless.aws.iam_role:
        name: SecretsRole
        max_session_duration: 5
      register: keyless_bad_input
      ignore_errors: true
    - name: An AWS error (the request was signed with the secret)
      keyless.aws.ec2_profile_association:
        instance_ids: [i-0000000000000000f]
        instance_profile: NoSuchProfile
        wait: false
      register: keyless_aws_error
      ignore_errors: true
    - name: Show every result
      ansible.builtin.debug:
        var: item
      loop: "{{ [keyless_role, keyless_policy, keyless_profile, keyless_role_info, keyless_profile_info,
                 keyless_association, keyless_metadata, keyless_audit, keyless_imds, keyless_bad_input,
                 keyless_aws_error] }}"
    - name: Write every result
      ansible.builtin.copy:
        dest: "{{ results_file }}"
        mode: "0600"
        content: "{{ {'role': keyless_role, 'policy': keyless_policy, 'profile': keyless_profile,
                      'role_info': keyless_role_info, 'profile_info': keyless_profile_info,
                      'association': keyless_association, 'metadata': keyless_metadata, 'audit': keyless_audit,
                      'imds': keyless_imds, 'bad_input': keyless_bad_input, 'aws_error': keyless_aws_error}
                     | to_nice_json }}"
""" % {"access": json.dumps(ACCESS_KEY), "secret": json.dumps(SECRET_KEY), "token": json.dumps(SESSION_TOKEN)}


def _fragments(secret):
    """The secret and a distinctive middle part of it, so a truncated or re-wrapped leak is caught too."""
    middle = secret[len(secret) // 4: len(secret) // 4 + 12]
    return [secret, middle]


@pytest.fixture
def run(moto, tmp_path):
    ec2 = moto.client("ec2")
    instance_id = ec2.run_instances(ImageId=DEFAULT_IMAGE, MinCount=1, MaxCount=1, InstanceType="t3.micro",
                                    MetadataOptions={"HttpTokens": "optional"})["Instances"][0]["InstanceId"]
    results_file = tmp_path / "results.json"
    log_file = tmp_path / "ansible.log"
    with ImdsEmulator(moto.url, default_instance_id=instance_id) as emu:
        result = run_playbook(PLAYBOOK, moto.url, verbosity=3,
                              extra_vars={"moto_url": moto.url, "imds_url": emu.url_for(instance_id),
                                          "instance_id": instance_id, "results_file": str(results_file)},
                              env=dict(NO_ENV_CREDENTIALS, ANSIBLE_LOG_PATH=str(log_file)))
    return result, instance_id, results_file, log_file


def test_no_credential_appears_anywhere(moto, run):
    result, instance_id, results_file, log_file = run
    assert result.rc == 0 and result.failed == 0, result
    outputs = {
        "stdout": result.stdout,
        "stderr": result.stderr,
        "log": log_file.read_text() if log_file.exists() else "",
        "returned values": results_file.read_text(),
    }
    # The checks below would be empty if the run printed nothing or skipped the modules.
    assert outputs["log"], "ANSIBLE_LOG_PATH was not written"
    assert "VALUE_SPECIFIED_IN_NO_LOG_PARAMETER" in result.stdout, "-vvv did not show the module invocations"
    returned = json.loads(outputs["returned values"])
    assert returned["bad_input"]["failed"] and "max_session_duration" in returned["bad_input"]["msg"]
    assert returned["aws_error"]["failed"]
    assert returned["imds"]["role_name"] == "SecretsRole"
    assert returned["imds"]["credentials"]["code"] == "Success"

    leaks = []
    for where, text in outputs.items():
        for secret in OPTION_SECRETS + FAKE_SECRETS:
            for fragment in _fragments(secret):
                if fragment in text:
                    leaks.append("%s contains %r (from %r)" % (where, fragment, secret))
    assert not leaks, "\n".join(leaks)

    # The environment had no credentials, so the modules must have used the options: the state is real.
    iam, ec2 = moto.client("iam"), moto.client("ec2")
    assert iam.get_role(RoleName="SecretsRole")["Role"]["Arn"].endswith(":role/SecretsRole")
    profile = iam.get_instance_profile(InstanceProfileName="SecretsProfile")["InstanceProfile"]
    assert [r["RoleName"] for r in profile["Roles"]] == ["SecretsRole"]
    assocs = ec2.describe_iam_instance_profile_associations(
        Filters=[{"Name": "instance-id", "Values": [instance_id]}, {"Name": "state", "Values": ["associated"]}])
    assert [a["IamInstanceProfile"]["Arn"] for a in assocs["IamInstanceProfileAssociations"]] == [profile["Arn"]]
    options = ec2.describe_instances(InstanceIds=[instance_id])["Reservations"][0]["Instances"][0]["MetadataOptions"]
    assert options["HttpTokens"] == "required"


def test_connection_secrets_are_no_log_in_every_module():
    """Static half: each AWS module's argument spec marks the secret options no_log."""
    from ansible_collections.keyless.aws.plugins.module_utils.aws.connection import aws_argument_spec

    spec = aws_argument_spec()
    for option in ("access_key", "secret_key", "session_token", "assume_role_external_id"):
        assert spec[option].get("no_log") is True, option
    modules = pathlib.Path(__file__).resolve().parents[2] / "plugins" / "modules"
    for path in sorted(modules.glob("*.py")):
        text = path.read_text()
        if path.stem == "imds_info":
            continue  # talks to the instance metadata service only; takes no AWS credentials
        if (path.parents[1] / "action" / path.name).exists() and "def main" not in text:
            continue  # the documentation of an action that runs on the controller and talks to no AWS API
        assert "aws_module(" in text, "%s does not build its module with aws_module()" % path.name
