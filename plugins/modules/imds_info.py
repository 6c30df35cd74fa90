#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: keyless.aws contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: imds_info
short_description: Verify IMDSv2 and the instance role from the EC2 instance itself
version_added: 0.1.0
description:
  - Runs on an EC2 instance (Python 3.8+, standard library only; no boto3 needed) and asks the
    instance metadata service (IMDS) what the instance really gets.
  - Requests an IMDSv2 session token (C(PUT /latest/api/token)), reads the instance id, the region,
    the role name of the instance profile and the C(Code), C(LastUpdated) and C(Expiration) of its
    temporary credentials, and sends one token-less (IMDSv1) GET to see whether it is refused.
  - The access key id, secret access key and session token are read with the credentials document
    and dropped at once; they are never returned or logged. The IMDSv2 token is not returned either.
  - Returns a list of RV(checks) and, with O(fail_on_check=true), fails naming every failed check.
  - Proxy settings from the environment are ignored; IMDS is never reached through a proxy.
  - With O(credentials) it also looks on the instance for every credential that the AWS SDKs' default credential
    chain would use before the instance profile (environment of running processes and of systemd units, the
    shared credentials and config files of every home and of the paths named by C(AWS_SHARED_CREDENTIALS_FILE)
    and C(AWS_CONFIG_FILE)), so that a key left on the machine does not hide behind a healthy role. Each finding
    says where it is and shows the access key id masked to its first and last 4 characters, never a secret.
  - With O(imds_callers=true) it also looks at which processes hold TCP connections to the metadata service and
    which AWS SDKs and agents on disk are older than AWS's published minimum versions for IMDSv2.
author: keyless.aws maintainers (@keyless-aws)
options:
  endpoint:
    description:
      - Base URL of the metadata service. Defaults to V(http://169.254.169.254), or to
        V(http://[fd00:ec2::254]) with O(ipv6=true).
      - Set it to reach an emulator; a path prefix is kept (V(http://127.0.0.1:8080/i-0abc)).
    type: str
  ipv6:
    description:
      - Use the IPv6 endpoint V(http://[fd00:ec2::254]) (the instance needs
        C(http_protocol_ipv6=enabled) and a Nitro instance type). Cannot be combined with O(endpoint).
    type: bool
    default: false
  token_ttl:
    description:
      - Lifetime in seconds of the IMDSv2 token requested, 1 to 21600.
    type: int
    default: 21600
  timeout:
    description:
      - Seconds to wait for each HTTP answer. The token response is dropped by the network when the hop
        limit is too low (for example 1 inside a container), which shows up as a timeout.
    type: float
    default: 2.0
  retries:
    description:
      - Extra attempts, with a short backoff, for an exchange that got no answer or an HTTP 5xx (0 to 10).
    type: int
    default: 2
  expected_role:
    description:
      - The IAM role (name, or ARN whose last path segment is the name) the instance profile must carry.
      - Adds the C(role) check.
    type: str
  require_imdsv2:
    description:
      - Add the C(imdsv1_refused) check, which passes only when a token-less GET is answered with HTTP 401.
      - With V(false) no token-less GET is sent at all, and nothing is read without a token. Use it on an instance
        that is still allowed IMDSv1 (held back by the rollout) - there that GET would be an IMDSv1 call of the
        check's own, counted in the instance's C(MetadataNoToken) metric, which is what keeps it held.
    type: bool
    default: true
  fail_on_check:
    description:
      - Fail the task when any check fails, naming each with its reason. With V(false) the checks are
        only reported.
    type: bool
    default: true
  credentials:
    description:
      - Look for credentials on the instance that come before the instance profile in the AWS SDK default credential
        chain (AWS SDKs and Tools Reference Guide, "Understand the credential provider chain") and return them in
        RV(credential_findings).
      - V(fail) also adds the C(no_static_credentials) check, which fails naming each access key (static or session),
        C(credential_process) profile, and profile reference (C(AWS_PROFILE), or C(role_arn) with a C(source_profile)
        chain) that ends in a key or a C(credential_process).
      - V(report) returns the findings without the check; V(off) looks at nothing (RV(credential_findings) is null).
      - Looked at, under O(host_root), are the environment of every readable process (C(/proc/*/environ)), the
        C(Environment=) and C(EnvironmentFile=) of systemd unit files and drop-ins (C(/etc/systemd/system),
        C(/run/systemd/system), C(/lib/systemd/system), C(/usr/lib/systemd/system)), C(/etc/environment), and
        C(.aws/credentials) and C(.aws/config) of C(/root) and of every home in C(/etc/passwd), plus the files that
        C(AWS_SHARED_CREDENTIALS_FILE) and C(AWS_CONFIG_FILE) name in any of those environments.
      - Run it as root (C(become=true)) to see other users' processes and homes; what could not be read is counted
        in RV(credential_scan.unreadable), and named in the check, never fatal.
      - Web identity (C(AWS_WEB_IDENTITY_TOKEN_FILE)), container credentials (C(AWS_CONTAINER_CREDENTIALS_*)) and an
        C(AWS_PROFILE) whose profile has no key are role credentials or settings, not keys - reported, never failing.
      - So is the environment of the module's own process and its ancestors (Ansible's shell and connection, and with
        a local connection the controller, which may hold keys to reach AWS) - reported with C(this_run=true).
    type: str
    choices: [fail, report, "off"]
    default: report
  imds_callers:
    description:
      - Also look at who talks to the metadata service and return it in RV(imds_callers) (no check, a report).
      - The owners of TCP connections to 169.254.169.254 port 80 and [fd00:ec2::254] port 80, from
        C(/proc/net/tcp), C(/proc/net/tcp6) and the tables of every other network namespace (containers), mapped to
        processes through their C(/proc/<pid>/fd) socket links.
      - A look is a sample - a metadata request lasts milliseconds, so a caller is seen only while its connection
        is open, or without its process in C(TIME_WAIT). Run it several times, or while the application starts, to
        catch a caller; CloudWatch's C(MetadataNoToken) metric counts every IMDSv1 call.
      - The AWS SDKs and agents found on disk (botocore, boto3 and awscli in Python site-packages, AWS CLI v2,
        the AWS SDK for JavaScript in C(node_modules), AWS SDK for Java jars, the SSM agent) with their versions,
        marked outdated when older than the minimum versions that support IMDSv2 published in the EC2 user guide
        ("Use a supported AWS SDK") - AWS CLI 1.16.289, botocore 1.13.25, boto3 1.12.6, Java 1.11.678, Java 2.x
        2.10.21, JavaScript in Node.js 2.722.0. The SSM agent has no published minimum there, so it is listed
        without one. SDKs compiled into binaries (Go) or bundled in uber-jars are not seen.
    type: bool
    default: false
  host_root:
    description:
      - The filesystem root to inspect for O(credentials) and O(imds_callers) - C(/proc), C(/etc), the homes and
        the site-packages are read under it. V(/) on the instance; for example V(/host) when imds_info runs in a
        container that mounts the host's filesystem (with its C(/proc)) there.
      - Must be an absolute path to an existing directory. IMDS itself is always asked over the network.
    type: str
    default: /
  local_connection:
    description:
      - Set when the module runs on the controller itself (C(ansible_connection=local)) - then the environment of
        this run's own processes is the controller's (it may hold keys to reach AWS), listed with C(this_run) but
        not failing the C(no_static_credentials) check. Over SSH or SSM that environment is the instance's own (shell
        start-up files, pam_env), so it counts like any other. The C(verify) playbook sets it from C(ansible_connection).
    type: bool
    default: false
attributes:
  check_mode:
    support: full
    description: The module only reads; it behaves the same in check mode.
  diff_mode:
    support: none
    description: The module changes nothing, so there is nothing to diff.
notes:
  - Set C(ansible_python_interpreter) to a Python 3.8+ that exists on the instance; the module needs nothing beyond the
    Python standard library.
  - A secret access key, session token or C(credential_process) argument is never returned - command lines are shown
    truncated, with secret-looking values replaced by C(***) and access key ids masked.
"""

EXAMPLES = r"""
- name: Verify IMDSv2 and the role on every instance
  keyless.aws.imds_info:
    expected_role: app-instance-role
  register: imds

- name: Show the credential expiry
  ansible.builtin.debug:
    msg: "{{ imds.instance_id }} has {{ imds.role_name }} until {{ imds.credentials.expiration }}"

- name: Report only, over IPv6, with a short token
  keyless.aws.imds_info:
    ipv6: true
    token_ttl: 60
    fail_on_check: false

- name: Fail when a key on the instance would be used before the role, and look at who calls IMDS
  keyless.aws.imds_info:
    expected_role: app-instance-role
    credentials: fail
    imds_callers: true
  become: true
  register: imds

- name: Show where the keys are
  ansible.builtin.debug:
    msg: "{{ imds.credential_findings | map(attribute='location') | list }}"
"""

RETURN = r"""
endpoint:
  description: The base URL that was asked.
  returned: always
  type: str
  sample: http://169.254.169.254
imdsv2:
  description: The IMDSv2 token request.
  returned: always
  type: dict
  contains:
    token_ok:
      description: Whether a session token was issued.
      type: bool
    token_status:
      description: HTTP status of the token request, or null when there was no answer.
      type: int
  sample: {token_ok: true, token_status: 200}
imdsv1_refused:
  description:
    - Whether a token-less GET was refused (HTTP 401 tokens required, or 403 endpoint disabled); null
      when there was no answer, or none was sent (O(require_imdsv2=false)).
  returned: always
  type: bool
  sample: true
imdsv1_status:
  description: HTTP status of the token-less GET, or null when there was no answer or none was sent (O(require_imdsv2=false)).
  returned: always
  type: int
  sample: 401
instance_id:
  description: The instance id, or null when it could not be read.
  returned: always
  type: str
  sample: i-0123456789abcdef0
region:
  description: The instance's region.
  returned: always
  type: str
  sample: us-east-1
role_name:
  description: The role of the instance profile, or null when no profile is attached.
  returned: always
  type: str
  sample: app-instance-role
instance_profile_arn:
  description: The ARN of the instance profile, or null.
  returned: always
  type: str
  sample: arn:aws:iam::123456789012:instance-profile/app-instance-profile
credentials:
  description: What is safe to show of the role's temporary credentials; null without a role.
  returned: always
  type: dict
  contains:
    code:
      description: C(Success) when the credentials are usable.
      type: str
    type:
      description: The credential type (C(AWS-HMAC)).
      type: str
    last_updated:
      description: When IMDS last refreshed the credentials.
      type: str
    expiration:
      description: When they expire (IMDS rotates them at least 5 minutes before).
      type: str
    expires_in_seconds:
      description: Seconds from now until expiration.
      type: int
    http_status:
      description: HTTP status of the credentials read.
      type: int
  sample:
    code: Success
    type: AWS-HMAC
    last_updated: "2026-12-01T08:00:00Z"
    expiration: "2026-12-01T14:00:00Z"
    expires_in_seconds: 21000
    http_status: 200
checks:
  description:
    - One entry per check, in order endpoint_enabled, imdsv2_token, imdsv1_refused, role, credentials,
      no_static_credentials (with O(credentials=fail)).
  returned: always
  type: list
  elements: dict
  contains:
    name:
      description: The check.
      type: str
    ok:
      description: Whether it passed.
      type: bool
    detail:
      description: What was seen, and what to do when it failed.
      type: str
  sample:
    - {name: imdsv1_refused, ok: false, detail: "IMDSv1 is allowed: a GET without a token was answered with HTTP 200"}
credential_findings:
  description:
    - Each credential found on the instance that the AWS SDKs would use before the instance profile (see
      O(credentials)); null with O(credentials=off).
    - Processes that share a key, user and command (the workers of one server) are one finding with every pid.
  returned: always
  type: list
  elements: dict
  contains:
    kind:
      description:
        - C(static key), C(session key), C(credential_process) or C(profile reference) (these fail the
          C(no_static_credentials) check); C(profile setting), C(web identity) or C(container credentials) (reported only).
      type: str
    source:
      description: Where it was found - C(file), C(process), C(unit) or C(environment file).
      type: str
    location:
      description: A line for a person - the file and profile, the pids with command line and user, or the unit and its file.
      type: str
    summary:
      description: The finding in one line - kind, masked key id or program, and location.
      type: str
    key_id:
      description: The access key id masked to its first and last 4 characters (C(AKIA...MPLE)), or null.
      type: str
    path:
      description: The file (credentials, config, unit, drop-in or environment file), as the instance names it.
      type: str
    profile:
      description: The profile (a file finding) or the profile named by C(AWS_PROFILE) (an environment finding).
      type: str
    pids:
      description: The processes that have it (a process finding).
      type: list
      elements: int
    command:
      description: The command line of the first of them, truncated, secret-looking values replaced by C(***).
      type: str
    user:
      description: The user the process runs as.
      type: str
    unit:
      description: The systemd unit (a unit finding).
      type: str
    variables:
      description: The environment variables that carry it (never their secret values).
      type: list
      elements: str
    executable:
      description: The program of a C(credential_process), without its arguments.
      type: str
    source_profile:
      description: For a role_arn profile, the profile at the end of its source_profile chain that holds the key.
      type: str
    this_run:
      description: True for the module's own process and its ancestors (the environment Ansible brought) - never failing.
      type: bool
  sample:
    - kind: static key
      source: file
      location: /home/app/.aws/credentials [default]
      summary: static key AKIA...MPLE in /home/app/.aws/credentials [default]
      key_id: AKIA...MPLE
      path: /home/app/.aws/credentials
      profile: default
    - kind: static key
      source: process
      location: pid 4242 (python3 /srv/app/worker.py) user app
      key_id: AKIA...KEY1
      pids: [4242]
      command: python3 /srv/app/worker.py
      user: app
      variables: [AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY]
credential_scan:
  description: What the credentials look read, and what it could not read (run as root to read everything); null with O(credentials=off).
  returned: always
  type: dict
  contains:
    scanned:
      description: Counts of processes and unit files read, and the credentials and config files found.
      type: dict
    unreadable:
      description: The number of processes whose environment could not be read, and the files that could not.
      type: dict
  sample:
    scanned: {processes: 112, units: 240, files: [/root/.aws/config, /home/app/.aws/credentials]}
    unreadable: {processes: 0, files: []}
imds_callers:
  description: Who talks to the metadata service (see O(imds_callers)); null unless O(imds_callers=true).
  returned: always
  type: dict
  contains:
    connections:
      description:
        - TCP connections to IMDS seen at the time of the look, each with C(pid) (null once the process has closed
          it), C(pids), C(command) (redacted like RV(credential_findings[].command)), C(user), C(remote) and C(state).
      type: list
      elements: dict
    sdks:
      description: The AWS SDKs and agents found, each with C(name), C(version), C(minimum) (null when AWS publishes none), C(path) and C(outdated).
      type: list
      elements: dict
    outdated:
      description: The entries of C(sdks) older than the minimum version that supports IMDSv2.
      type: list
      elements: dict
    unreadable:
      description: Processes whose open files could not be read, and files that could not.
      type: dict
    summary:
      description: The look in one line - the connections seen and the outdated SDKs.
      type: str
  sample:
    connections:
      - {pid: 911, pids: [911], command: /usr/bin/python3 /opt/legacy/poll.py, user: app, remote: "169.254.169.254:80",
         state: ESTABLISHED}
    sdks:
      - {name: botocore, version: 1.12.253, minimum: 1.13.25, path: /usr/lib/python3/dist-packages/botocore-1.12.253.egg-info,
         outdated: true}
    outdated:
      - {name: botocore, version: 1.12.253, minimum: 1.13.25, path: /usr/lib/python3/dist-packages/botocore-1.12.253.egg-info,
         outdated: true}
    unreadable: {processes: 0, files: []}
    summary: >-
      connections to IMDS: 169.254.169.254:80 by pid 911 /usr/bin/python3 /opt/legacy/poll.py (user app, ESTABLISHED);
      older than AWS's minimum for IMDSv2: botocore 1.12.253 < 1.13.25 at /usr/lib/python3/dist-packages/botocore-1.12.253.egg-info
failed_checks:
  description: The names of the checks that failed.
  returned: always
  type: list
  elements: str
  sample: [imdsv1_refused]
"""

import os

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.keyless.aws.plugins.module_utils import imds
from ansible_collections.keyless.aws.plugins.module_utils.host import credentials as host_credentials
from ansible_collections.keyless.aws.plugins.module_utils.host import imds_callers as host_callers

CREDENTIALS_MODES = ("fail", "report", "off")


def argument_spec():
    return dict(
        endpoint=dict(type="str"),
        ipv6=dict(type="bool", default=False),
        token_ttl=dict(type="int", default=imds.MAX_TOKEN_TTL, no_log=False),
        timeout=dict(type="float", default=2.0),
        retries=dict(type="int", default=2),
        expected_role=dict(type="str"),
        require_imdsv2=dict(type="bool", default=True),
        fail_on_check=dict(type="bool", default=True),
        credentials=dict(type="str", default="report", choices=list(CREDENTIALS_MODES), no_log=False),
        imds_callers=dict(type="bool", default=False),
        host_root=dict(type="str", default="/"),
        local_connection=dict(type="bool", default=False),
    )


def validate(params):
    errors = []
    endpoint = params.get("endpoint")
    if endpoint is not None and not endpoint.startswith("http://"):
        errors.append("endpoint=%r is not an http:// URL: IMDS speaks plain HTTP (e.g. http://169.254.169.254)"
                      % endpoint)
    if endpoint and params.get("ipv6"):
        errors.append("endpoint and ipv6=true were both given: use ipv6 for %s, or endpoint alone"
                      % imds.IPV6_ENDPOINT)
    if not 1 <= params["token_ttl"] <= imds.MAX_TOKEN_TTL:
        errors.append("token_ttl=%r is out of range: use 1 to %d seconds" % (params["token_ttl"], imds.MAX_TOKEN_TTL))
    if not 0 < params["timeout"] <= 60:
        errors.append("timeout=%r is out of range: use more than 0 and at most 60 seconds" % params["timeout"])
    if not 0 <= params["retries"] <= 10:
        errors.append("retries=%r is out of range: use 0 to 10" % params["retries"])
    mode = params.get("credentials", "report")
    if mode not in CREDENTIALS_MODES:
        errors.append("credentials=%r is not allowed: use one of %s" % (mode, ", ".join(CREDENTIALS_MODES)))
    root = params.get("host_root", "/")
    if not isinstance(root, str) or not root.startswith("/") or "\0" in root:
        errors.append("host_root=%r is not an absolute path: use the filesystem root to inspect, / on the instance "
                      "(or e.g. /host where a container mounts the host)" % (root,))
    elif not os.path.isdir(root):
        errors.append("host_root=%r is not an existing directory: use the filesystem root to inspect, / on the "
                      "instance (or e.g. /host where a container mounts the host)" % root)
    return errors


def endpoint_of(params):
    if params.get("endpoint"):
        return params["endpoint"]
    return imds.IPV6_ENDPOINT if params.get("ipv6") else imds.DEFAULT_ENDPOINT


def look_on_host(params):
    """The credentials scan and the IMDS callers look, as asked (each None when not)."""
    root = params.get("host_root") or "/"
    scan = None
    if params.get("credentials", "report") != "off":
        scan = host_credentials.scan(root)
    callers = host_callers.look(root) if params.get("imds_callers") else None
    return {"scan": scan, "callers": callers}


def report(obs, checks, host=None):
    host = host or {}
    scan = host.get("scan")
    v1 = obs["imdsv1_status"]
    return dict(
        changed=False,
        endpoint=obs["endpoint"],
        imdsv2=dict(token_ok=obs["token_ok"], token_status=obs["token_status"]),
        imdsv1_status=v1,
        imdsv1_refused=None if v1 is None else v1 in (401, 403),
        instance_id=obs["instance_id"],
        region=obs["region"],
        role_name=obs["role_name"],
        instance_profile_arn=obs["instance_profile_arn"],
        credentials=obs["credentials"],
        checks=checks,
        failed_checks=[c["name"] for c in checks if not c["ok"]],
        credential_findings=None if scan is None else scan["findings"],
        credential_scan=None if scan is None else {"scanned": scan["scanned"], "unreadable": scan["unreadable"]},
        imds_callers=host.get("callers"),
    )


def main():
    module = AnsibleModule(argument_spec=argument_spec(), supports_check_mode=True)
    errors = validate(module.params)
    if errors:
        module.fail_json(msg="invalid input: " + "; ".join(errors), errors=errors)
    params = module.params
    client = imds.ImdsClient(endpoint_of(params), timeout=params["timeout"], retries=params["retries"],
                             token_ttl=params["token_ttl"])
    # the token-less GET only when its answer is asked for: on an instance still at http_tokens=optional it would be
    # an IMDSv1 call of our own, counted in MetadataNoToken (the signal that holds the instance back)
    obs = imds.observe(client, probe_imdsv1=params["require_imdsv2"])
    checks = imds.checks(obs, expected_role=params.get("expected_role"), require_imdsv2=params["require_imdsv2"])
    host = look_on_host(params)
    if params["credentials"] == "fail":
        checks.append(host_credentials.check(host["scan"], exempt_this_run=params["local_connection"]))
    result = report(obs, checks, host)
    failed = [c for c in checks if not c["ok"]]
    if failed and params["fail_on_check"]:
        module.fail_json(msg="%d check(s) failed on %s: %s" % (
            len(failed), obs["instance_id"] or obs["endpoint"],
            "; ".join("%s: %s" % (c["name"], c["detail"]) for c in failed)), **result)
    module.exit_json(**result)


if __name__ == "__main__":
    main()
