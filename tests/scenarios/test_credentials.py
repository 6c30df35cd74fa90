"""Day one on a real account: credentials and region come from the AWS config files, as the AWS CLI reads them.

Each playbook runs with a temporary AWS_CONFIG_FILE / AWS_SHARED_CREDENTIALS_FILE and NO AWS_REGION,
AWS_DEFAULT_REGION, AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY or AWS_PROFILE in the environment;
AWS_ENDPOINT_URL points at moto, so botocore's own STS client (for a profile's role_arn) reaches moto too.

moto routes a request signed with assumed-role credentials to the role's account, so a resource seeded
in account 111122223333 (or 444455556666) is visible only to a task that really ran as the assumed role;
the default account of the base keys (123456789012) holds nothing of it.
"""

from __future__ import annotations

import json
import textwrap

import boto3
import pytest

from tests.support.aws_env import FAKE_ACCESS_KEY, FAKE_SECRET_KEY
from tests.support.fixtures import TRUST
from tests.support.fleet_seed import DEFAULT_IMAGE
from tests.support.playbook import run_playbook

pytestmark = pytest.mark.integration

ROLE_ACCOUNT = "111122223333"  # the role of the role_arn profile
OPTION_ACCOUNT = "444455556666"  # the role of the assume_role_arn option
PROFILE_ROLE = "arn:aws:iam::%s:role/KeylessDeployer" % ROLE_ACCOUNT
OPTION_ROLE = "arn:aws:iam::%s:role/KeylessAuditor" % OPTION_ACCOUNT
NO_ENV = dict.fromkeys(("AWS_REGION", "AWS_DEFAULT_REGION", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY",
                        "AWS_SESSION_TOKEN", "AWS_PROFILE"))


@pytest.fixture
def aws_files(tmp_path):
    """The user's ~/.aws: a base profile with keys, a region-only default, a role profile."""
    config = tmp_path / "config"
    credentials = tmp_path / "credentials"
    config.write_text(textwrap.dedent("""\
        [default]
        region = eu-west-2

        [profile base]
        region = eu-west-2

        [profile deployer]
        role_arn = %s
        source_profile = base
        role_session_name = keyless-scenario
        region = eu-west-2

        [profile noregion]
        """ % PROFILE_ROLE))
    credentials.write_text(textwrap.dedent("""\
        [base]
        aws_access_key_id = %s
        aws_secret_access_key = %s

        [noregion]
        aws_access_key_id = %s
        aws_secret_access_key = %s
        """ % (FAKE_ACCESS_KEY, FAKE_SECRET_KEY, FAKE_ACCESS_KEY, FAKE_SECRET_KEY)))
    return dict(NO_ENV, AWS_CONFIG_FILE=str(config), AWS_SHARED_CREDENTIALS_FILE=str(credentials))


def as_role(moto, role_arn, service, region):
    """A boto3 client of moto acting as role_arn (to seed the role's account)."""
    creds = moto.client("sts").assume_role(RoleArn=role_arn, RoleSessionName="seed")["Credentials"]
    return boto3.client(service, region_name=region, endpoint_url=moto.url, aws_access_key_id=creds["AccessKeyId"],
                        aws_secret_access_key=creds["SecretAccessKey"], aws_session_token=creds["SessionToken"])


def launch(ec2, name):
    return ec2.run_instances(ImageId=DEFAULT_IMAGE, MinCount=1, MaxCount=1, TagSpecifications=[
        {"ResourceType": "instance", "Tags": [{"Key": "Name", "Value": name}]}])["Instances"][0]["InstanceId"]


def results(path):
    with open(path, encoding="utf-8") as handle:
        return json.load(handle)


WORKING = """
- name: Credentials and region from the AWS config files
  hosts: localhost
  gather_facts: false
  tasks:
    - name: Region only in the profile (a fleet module, which needs a region)
      keyless.aws.ec2_fleet_info:
        profile: base
        all_instances: true
      register: keyless_regional
    - name: A role_arn + source_profile profile, assumed by botocore
      keyless.aws.ec2_fleet_info:
        profile: deployer
        all_instances: true
      register: keyless_deployer_fleet
    - name: The same profile for IAM (global; the profile's region wins over the IAM default)
      keyless.aws.iam_role_info:
        profile: deployer
        name: DeployerAppRole
      register: keyless_deployer_roles
    - name: The assume_role_arn option on top of a profile
      keyless.aws.iam_role_info:
        profile: base
        name: AuditorAppRole
        assume_role_arn: %(option_role)s
        assume_role_session_name: keyless-scenario-option
        assume_role_external_id: keyless-external-42
        assume_role_duration: 900
      register: keyless_option_roles
    - name: Write the results
      ansible.builtin.copy:
        dest: "{{ results_file }}"
        mode: "0600"
        content: "{{ {'regional': keyless_regional, 'deployer_fleet': keyless_deployer_fleet,
                      'deployer_roles': keyless_deployer_roles, 'option_roles': keyless_option_roles} | to_nice_json }}"
""" % {"option_role": OPTION_ROLE}


def test_profiles_region_and_roles_from_the_config_files(moto, aws_files, tmp_path):
    base_here = launch(moto.client("ec2", "eu-west-2"), "base-eu-west-2")
    launch(moto.client("ec2", "us-east-1"), "base-us-east-1")  # the IAM default region: must not be read
    role_here = launch(as_role(moto, PROFILE_ROLE, "ec2", "eu-west-2"), "role-eu-west-2")
    as_role(moto, PROFILE_ROLE, "iam", "us-east-1").create_role(RoleName="DeployerAppRole", AssumeRolePolicyDocument=TRUST)
    as_role(moto, OPTION_ROLE, "iam", "us-east-1").create_role(RoleName="AuditorAppRole", AssumeRolePolicyDocument=TRUST)
    moto.reset_calls()
    out = tmp_path / "results.json"

    run = run_playbook(WORKING, moto.url, extra_vars={"results_file": str(out)}, env=aws_files)

    assert run.rc == 0 and run.failed == 0, run
    got = results(out)
    # region only in the profile: the base account's eu-west-2 instance, not the us-east-1 one
    assert [i["instance_id"] for i in got["regional"]["instances"]] == [base_here]
    # the role profile: the role account's instance only, so every call ran as the assumed role
    assert [i["instance_id"] for i in got["deployer_fleet"]["instances"]] == [role_here]
    assert [r["arn"] for r in got["deployer_roles"]["roles"]] == ["arn:aws:iam::%s:role/DeployerAppRole" % ROLE_ACCOUNT]
    assert [r["arn"] for r in got["option_roles"]["roles"]] == ["arn:aws:iam::%s:role/AuditorAppRole" % OPTION_ACCOUNT]
    counts = moto.calls()["counts"]
    # one AssumeRole per task that assumes a role (botocore for the profile, ours for the option)
    assert counts.get("sts:AssumeRole") == 3, counts
    assert moto.client("iam").list_roles()["Roles"] == []  # nothing of it in the base keys' account


REFUSED = """
- name: Contradicting or incomplete credentials fail before any call
  hosts: localhost
  gather_facts: false
  tasks:
    - name: A profile and keys together
      keyless.aws.iam_role_info:
        profile: base
        access_key: AKIAKEYLESSREFUSED01
        secret_key: keylessRefusedSecret0000000000000000000x
      register: keyless_profile_and_keys
      ignore_errors: true
    - name: A session longer than STS allows
      keyless.aws.iam_role_info:
        profile: base
        assume_role_arn: %(option_role)s
        assume_role_duration: 86400
      register: keyless_long_session
      ignore_errors: true
    - name: A fleet module with no region anywhere
      keyless.aws.ec2_fleet_info:
        profile: noregion
        all_instances: true
      register: keyless_no_region
      ignore_errors: true
    - name: Write the results
      ansible.builtin.copy:
        dest: "{{ results_file }}"
        mode: "0600"
        content: "{{ {'profile_and_keys': keyless_profile_and_keys, 'long_session': keyless_long_session,
                      'no_region': keyless_no_region} | to_nice_json }}"
""" % {"option_role": OPTION_ROLE}


def test_contradicting_options_and_a_missing_region_fail_before_any_call(moto, aws_files, tmp_path):
    moto.reset_calls()
    out = tmp_path / "results.json"

    run = run_playbook(REFUSED, moto.url, extra_vars={"results_file": str(out)}, env=aws_files)

    assert run.rc == 0 and run.recap["localhost"]["ignored"] == 3, run  # three failed tasks, each ignored
    assert moto.calls()["total"] == 0, moto.calls()
    got = results(out)
    assert got["profile_and_keys"]["failed"]
    assert got["profile_and_keys"]["msg"] == (
        "invalid input: profile='base' and access_key and secret_key cannot be used together: the profile brings "
        "its own credentials and the keys would silently replace them; give either the profile (option or "
        "AWS_PROFILE) or the keys")
    assert got["long_session"]["msg"] == (
        "invalid input: assume_role_duration=86400 is out of range: use seconds from 900 (15 minutes) to 43200 "
        "(12 hours), at most the role's MaxSessionDuration (1 hour unless raised)")
    assert got["no_region"]["msg"] == (
        "invalid input: region is required: set the region option, the AWS_REGION or AWS_DEFAULT_REGION environment variable, "
        "or region in profile 'noregion' of the AWS config file (%s)" % aws_files["AWS_CONFIG_FILE"])
    assert "keylessRefusedSecret" not in run.stdout + run.stderr + out.read_text()


NO_CREDENTIALS = """
- name: No credentials at all
  hosts: localhost
  gather_facts: false
  tasks:
    - name: The default chain finds nothing
      keyless.aws.iam_role_info:
        name: AnyRole
      register: keyless_no_credentials
      ignore_errors: true
    - name: Nor under assume_role_arn
      keyless.aws.ec2_fleet_info:
        all_instances: true
        assume_role_arn: %(option_role)s
      register: keyless_no_base_credentials
      ignore_errors: true
    - name: Write the results
      ansible.builtin.copy:
        dest: "{{ results_file }}"
        mode: "0600"
        content: "{{ {'no_credentials': keyless_no_credentials,
                      'no_base_credentials': keyless_no_base_credentials} | to_nice_json }}"
""" % {"option_role": OPTION_ROLE}


def test_no_credentials_at_all_says_what_was_tried_and_how_to_give_some(moto, aws_files, tmp_path):
    moto.reset_calls()
    out = tmp_path / "results.json"

    run = run_playbook(NO_CREDENTIALS, moto.url, extra_vars={"results_file": str(out)}, env=aws_files)

    assert run.rc == 0 and run.recap["localhost"]["ignored"] == 2, run
    assert moto.calls()["total"] == 0, moto.calls()  # nothing unsigned went out
    got = results(out)
    tried = ("no AWS credentials were found. Tried: the environment variables AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY "
             "and AWS_SESSION_TOKEN, web identity (AWS_WEB_IDENTITY_TOKEN_FILE with AWS_ROLE_ARN), the default profile "
             "in the shared credentials file %s and the config file %s (keys, sso_session/sso_*, credential_process, "
             "or role_arn with source_profile or credential_source); container credentials "
             "(AWS_CONTAINER_CREDENTIALS_RELATIVE_URI or AWS_CONTAINER_CREDENTIALS_FULL_URI); the EC2 instance metadata "
             "service (disabled by AWS_EC2_METADATA_DISABLED). Give credentials with the profile option (or "
             "AWS_PROFILE) naming a profile that has them, the AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY environment "
             "variables, or the access_key and secret_key options; assume_role_arn needs such base credentials to "
             "call AssumeRole" % (aws_files["AWS_SHARED_CREDENTIALS_FILE"], aws_files["AWS_CONFIG_FILE"]))
    for name in ("no_credentials", "no_base_credentials"):
        assert got[name]["failed"], got[name]
        assert tried in got[name]["msg"], got[name]["msg"]
        assert "Traceback" not in got[name].get("module_stderr", ""), got[name]
