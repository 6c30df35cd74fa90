# -*- coding: utf-8 -*-
# Copyright: keyless.aws contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Credentials on the instance that the AWS SDKs would use before the instance profile.

Contract: `scan(root)` reads (never writes) under the filesystem root `root` and returns
{"findings": [...], "scanned": {...}, "unreadable": {"processes": n, "files": [...]}}; `check(result)` turns
that into imds_info's `no_static_credentials` check. Standard library only (Python 3.8+). A finding says where
a credential is (a shared credentials/config file and profile, a process with its redacted command line and
user, a systemd unit and its file), its kind, and the access key id masked to its first and last 4 characters;
never a secret access key, a session token, or the arguments of a credential_process command (only its program).
What cannot be read (other users' processes and homes when not root) is counted, never fatal.

AWS facts relied on (AWS SDKs and Tools Reference Guide, "AWS SDKs and Tools standardized credential providers",
"Understand the credential provider chain", https://docs.aws.amazon.com/sdkref/latest/guide/standardized-credentials.html,
and its provider pages "AWS access keys", "Assume role provider", "Process provider", "Container provider"):
- the chain looks in order and stops at the first source with credentials; the IMDS provider (the instance
  profile) comes last, after AWS access keys in the environment (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY,
  AWS_SESSION_TOKEN), web identity (AWS_WEB_IDENTITY_TOKEN_FILE with AWS_ROLE_ARN), the shared `credentials`
  and `config` files (the profile named by AWS_PROFILE, else `default`; paths overridden by
  AWS_SHARED_CREDENTIALS_FILE and AWS_CONFIG_FILE; in each profile aws_access_key_id/aws_secret_access_key/
  aws_session_token, credential_process, or role_arn with source_profile or credential_source) and the
  container provider (AWS_CONTAINER_CREDENTIALS_RELATIVE_URI / _FULL_URI);
- the credentials file names a profile `[name]`, the config file `[profile name]` (and `[default]`); other
  config sections (`[sso-session x]`, `[services x]`) are not profiles;
- a role_arn profile whose source_profile ends in a profile with a key uses that key; one with
  credential_source = Ec2InstanceMetadata uses the instance profile (not a finding).
Web identity and container credentials are role credentials handed out by EKS/ECS, not keys: they are reported
(kind "web identity" / "container credentials") but do not fail the check; neither does an AWS_PROFILE whose
profile holds no key (kind "profile setting"), nor the environment of the look's own process and its ancestors
(`this_run`: the module, Ansible's shell and connection, and with a local connection the controller, which may
hold keys to reach AWS) - those are shown, marked as this run's.
"""

from __future__ import annotations

import configparser
import os
import shlex

from ansible_collections.keyless.aws.plugins.module_utils.host.common import (
    Reads, executable_of, list_dir, mask_key_id, passwd, read_bytes, read_text, redact_command,
    user_names)

# kinds that put a credential ahead of the instance profile and fail the check
KEY_KINDS = ("static key", "session key", "credential_process", "profile reference")
# reported, never failing: role credentials of another provider, and an AWS_PROFILE naming a profile that has no
# key of its own (it uses a role, e.g. credential_source = Ec2InstanceMetadata, or the chain goes on)
INFO_KINDS = ("profile setting", "web identity", "container credentials")
# AWS_ACCESS_KEY / AWS_SECRET_KEY: the AWS SDK for Java 1.x reads them too (EnvironmentVariableCredentialsProvider)
ENV_NAMES = ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_ACCESS_KEY", "AWS_SECRET_KEY", "AWS_SESSION_TOKEN",
             "AWS_PROFILE", "AWS_DEFAULT_PROFILE",
             "AWS_SHARED_CREDENTIALS_FILE", "AWS_CONFIG_FILE", "AWS_WEB_IDENTITY_TOKEN_FILE", "AWS_ROLE_ARN",
             "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", "AWS_CONTAINER_CREDENTIALS_FULL_URI")
SYSTEMD_DIRS = ("/etc/systemd/system", "/run/systemd/system", "/lib/systemd/system", "/usr/lib/systemd/system")
MAX_CHAIN = 10
THIS_RUN = ", this Ansible run's own process"
MAX_PIDS_SHOWN = 10


# --- environments ----------------------------------------------------------------------------------
def parse_environ(data):
    """The AWS variables of a NUL-separated /proc/<pid>/environ (bytes), plus HOME; the rest is dropped."""
    env = {}
    for item in (data or b"").split(b"\0"):
        name, eq, value = item.partition(b"=")
        if not eq:
            continue
        key = name.decode("utf-8", "replace")
        if key in ENV_NAMES or key == "HOME":
            env[key] = value.decode("utf-8", "replace")
    return env


def parse_env_file(text):
    """KEY=VALUE lines of a systemd EnvironmentFile= or /etc/environment (quotes and `export ` allowed)."""
    env = {}
    for line in _joined_lines(text or ""):
        line = line.strip()
        if not line or line.startswith("#") or line.startswith(";"):
            continue
        if line.startswith("export "):
            line = line[len("export "):].strip()
        name, eq, value = line.partition("=")
        if not eq:
            continue
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
            value = value[1:-1]
        env[name.strip()] = value
    return env


def parse_environment_value(value):
    """The assignments of one systemd Environment= value (`A=1 "B=two words"`)."""
    try:
        words = shlex.split(value, posix=True)
    except ValueError:
        words = value.split()
    env = {}
    for word in words:
        name, eq, val = word.partition("=")
        if eq and name:
            env[name] = val
    return env


def _joined_lines(text):
    """Lines with trailing-backslash continuations joined (systemd unit files and environment files)."""
    out, pending = [], ""
    for line in text.splitlines():
        if line.rstrip().endswith("\\"):
            pending += line.rstrip()[:-1] + " "
            continue
        out.append(pending + line)
        pending = ""
    if pending:
        out.append(pending)
    return out


def env_findings(env, where):
    """Findings of one environment (a process, a unit, an environment file); `where` is merged into each."""
    out = []
    key_id = env.get("AWS_ACCESS_KEY_ID") or env.get("AWS_ACCESS_KEY")
    if key_id or env.get("AWS_SECRET_ACCESS_KEY") or env.get("AWS_SECRET_KEY"):
        session = bool(env.get("AWS_SESSION_TOKEN")) or (key_id or "").startswith("ASIA")
        names = [n for n in ("AWS_ACCESS_KEY_ID", "AWS_ACCESS_KEY", "AWS_SECRET_ACCESS_KEY", "AWS_SECRET_KEY",
                             "AWS_SESSION_TOKEN") if env.get(n)]
        out.append(_finding("session key" if session else "static key", where, key_id=mask_key_id(key_id),
                            variables=names))
    for name in ("AWS_PROFILE", "AWS_DEFAULT_PROFILE"):
        if env.get(name):
            out.append(_finding("profile reference", where, variables=[name], profile=env[name]))
    if env.get("AWS_WEB_IDENTITY_TOKEN_FILE"):
        names = [n for n in ("AWS_WEB_IDENTITY_TOKEN_FILE", "AWS_ROLE_ARN") if env.get(n)]
        out.append(_finding("web identity", where, variables=names, role_arn=env.get("AWS_ROLE_ARN")))
    names = [n for n in ("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", "AWS_CONTAINER_CREDENTIALS_FULL_URI") if env.get(n)]
    if names:
        out.append(_finding("container credentials", where, variables=names))
    return out


def _finding(kind, where, **fields):
    finding = {"kind": kind, "key_id": None}
    finding.update(where)
    finding.update(fields)
    return finding


# --- shared credentials and config files -------------------------------------------------------------
def parse_profiles(text, config_file):
    """{profile: {key: value}} of a credentials file (`[name]`) or a config file (`[profile name]`, `[default]`).

    Returns (profiles, error): a file with a syntax error keeps what was parsed before and after the bad line."""
    parser = configparser.RawConfigParser(strict=False, interpolation=None, default_section="\0none",
                                          comment_prefixes=("#", ";"), inline_comment_prefixes=None)
    error = None
    try:
        parser.read_string(text or "")
    except configparser.MissingSectionHeaderError:
        return {}, "no section header before the first setting"
    except configparser.Error:  # never quote the message: it holds the offending line, which may be a secret
        error = "lines that are neither a section nor a setting were skipped"
    profiles = {}
    for section in parser.sections():
        name = section.strip()
        if config_file:
            if name.startswith("profile ") or name.startswith("profile\t"):
                name = name[len("profile"):].strip()
            elif name != "default":
                continue  # sso-session, services, plugins, ... are not profiles
        settings = profiles.setdefault(name, {})
        for key, value in parser.items(section):
            settings[key.strip().lower()] = (value or "").strip()
    return profiles, error


def profile_findings(profiles, path):
    """Findings of the profiles of one file: keys and credential_process (chains are resolved per home)."""
    out = []
    for name in sorted(profiles):
        settings = profiles[name]
        where = {"source": "file", "path": path, "profile": name, "location": "%s [%s]" % (path, name)}
        key_id = settings.get("aws_access_key_id")
        if key_id or settings.get("aws_secret_access_key"):
            session = bool(settings.get("aws_session_token")) or (key_id or "").startswith("ASIA")
            out.append(_finding("session key" if session else "static key", where, key_id=mask_key_id(key_id)))
        if settings.get("credential_process"):
            out.append(_finding("credential_process", where, executable=executable_of(settings["credential_process"])))
    return out


def resolve_profile(merged, name):
    """Where profile `name` of one home's merged profiles gets its credentials, following source_profile:
    ("key", profile, masked id) | ("credential_process", profile, program) | ("role", profile, credential_source)
    | (None, None, None) when it has none of its own (the chain goes on to the next provider)."""
    seen = []
    current = name
    while current in merged and current not in seen and len(seen) < MAX_CHAIN:
        seen.append(current)
        settings = merged[current]
        if settings.get("aws_access_key_id") or settings.get("aws_secret_access_key"):
            return "key", current, mask_key_id(settings.get("aws_access_key_id"))
        if settings.get("role_arn") and settings.get("source_profile"):
            current = settings["source_profile"]
            continue
        if settings.get("role_arn") and settings.get("credential_source"):
            return "role", current, settings["credential_source"]
        if settings.get("credential_process"):
            return "credential_process", current, executable_of(settings["credential_process"])
        break
    return None, None, None


def chain_findings(merged, paths):
    """role_arn profiles whose source_profile chain ends in a key or a credential_process."""
    out = []
    for name in sorted(merged):
        settings = merged[name]
        if not (settings.get("role_arn") and settings.get("source_profile")):
            continue
        how, source, what = resolve_profile(merged, settings["source_profile"])
        if how not in ("key", "credential_process"):
            continue
        path = paths.get(name, "")
        finding = _finding("profile reference", {"source": "file", "path": path, "profile": name,
                                                 "location": "%s [%s]" % (path, name)},
                           role_arn=settings.get("role_arn"), source_profile=source)
        if how == "key":
            finding["key_id"] = what
        else:
            finding["executable"] = what
        out.append(finding)
    return out


# --- the scan ----------------------------------------------------------------------------------------
class _FileSet:
    """The shared credentials and config file of one home (or of an AWS_SHARED_CREDENTIALS_FILE/AWS_CONFIG_FILE pair)."""

    def __init__(self, credentials, config):
        self.credentials = credentials
        self.config = config


def scan(root="/"):
    reads = Reads()
    users = passwd(root, reads)
    names = user_names(users)
    findings = []
    scanned = {"processes": 0, "units": 0, "files": []}

    process_homes = []
    processes = _scan_processes(root, names, reads, scanned, process_homes)
    units = _scan_units(root, reads, scanned)
    environments = processes + units
    etc_env = parse_env_file(read_text(root, "/etc/environment", reads))
    if etc_env:
        environments.append((etc_env, {"source": "environment file", "path": "/etc/environment",
                                       "location": "/etc/environment"}, None))

    # files: every home, and every path an environment names
    # the SDKs find ~/.aws through $HOME: every home of /etc/passwd and every HOME a process or unit runs with
    homes = []
    unit_homes = [env.get("HOME") for env, _where, _home in environments if env.get("HOME")]
    for home in [h for _user, _uid, h in users] + process_homes + unit_homes:
        if home and home not in homes and home not in ("/nonexistent", "/dev/null"):
            homes.append(home)
    sets = [_FileSet(_join(home, ".aws/credentials"), _join(home, ".aws/config")) for home in homes]
    for env, _where, home in environments:
        cred, conf = env.get("AWS_SHARED_CREDENTIALS_FILE"), env.get("AWS_CONFIG_FILE")
        if cred or conf:
            base = env.get("HOME") or home or "/root"
            sets.append(_FileSet(_expand(cred, base) if cred else _join(base, ".aws/credentials"),
                                 _expand(conf, base) if conf else _join(base, ".aws/config")))
    parsed = {}
    for fileset in sets:
        for path, is_config in ((fileset.credentials, False), (fileset.config, True)):
            if path in parsed:
                continue
            text = read_text(root, path, reads)
            if text is None:
                parsed[path] = None
                continue
            profiles, error = parse_profiles(text, is_config)
            parsed[path] = profiles
            scanned["files"].append(path if not error else "%s (partly: %s)" % (path, error))
            findings.extend(profile_findings(profiles, path))
    merged_of = {}
    seen_sets = set()
    for fileset in sets:
        if (fileset.credentials, fileset.config) in seen_sets:
            continue
        seen_sets.add((fileset.credentials, fileset.config))
        merged, paths = {}, {}
        for path in (fileset.config, fileset.credentials):  # the credentials file wins a setting both have
            for name, settings in (parsed.get(path) or {}).items():
                merged.setdefault(name, {}).update(settings)
                paths.setdefault(name, path)
        merged_of[(fileset.credentials, fileset.config)] = merged
        for finding in chain_findings(merged, paths):
            if finding not in findings:
                findings.append(finding)

    # environments last, so that AWS_PROFILE can say what the profile it names resolves to
    for env, where, home in environments:
        for finding in env_findings(env, where):
            if finding["kind"] in ("profile reference", "profile setting"):
                _resolve_reference(finding, env, home, merged_of)
            findings.append(finding)
    findings = _group_processes(findings)
    for finding in findings:
        finding["summary"] = describe(finding)
    return {"findings": findings, "scanned": scanned, "unreadable": reads.as_dict()}


def _resolve_reference(finding, env, home, merged_of):
    base = env.get("HOME") or home or "/root"
    cred = _expand(env["AWS_SHARED_CREDENTIALS_FILE"], base) if env.get("AWS_SHARED_CREDENTIALS_FILE") else \
        _join(base, ".aws/credentials")
    conf = _expand(env["AWS_CONFIG_FILE"], base) if env.get("AWS_CONFIG_FILE") else _join(base, ".aws/config")
    how, source, what = resolve_profile(merged_of.get((cred, conf)) or {}, finding["profile"])
    finding["resolves_to"] = None if how is None else "%s in profile %s" % (how, source)
    if how == "key":
        finding["key_id"] = what
    elif how == "credential_process":
        finding["executable"] = what
    else:  # a role (credential_source) or nothing of its own: the profile puts no key ahead of the instance profile
        finding["kind"] = "profile setting"


def _join(home, rel):
    return home.rstrip("/") + "/" + rel


def _expand(path, home):
    if path.startswith("~/"):
        return _join(home, path[2:])
    return path if path.startswith("/") else _join(home, path)


def own_chain(root="/"):
    """The pids of this process and its ancestors (the module, Ansible's shell and connection, and with a local
    connection the controller), when `root` is this machine's own "/"; empty for another root, whose pids differ."""
    if os.path.realpath(root) != "/":
        return set()
    chain, pid = set(), os.getpid()
    while pid and pid not in chain and len(chain) < 64:
        chain.add(pid)
        ppid = None
        for line in (read_text("/", "/proc/%d/status" % pid) or "").splitlines():
            if line.startswith("PPid:"):
                try:
                    ppid = int(line.split()[1])
                except (IndexError, ValueError):
                    ppid = None
        pid = ppid
    return chain


def _scan_processes(root, names, reads, scanned, homes=None):
    """[(aws env, where, home)] of every readable /proc/<pid>/environ with an AWS variable (or a Java
    -Daws.accessKeyId system property); the HOME of every readable process is added to `homes`."""
    out = []
    mine = own_chain(root)
    for entry in list_dir(root, "/proc"):
        if not entry.isdigit():
            continue
        proc = "/proc/" + entry
        data = _read_proc(root, proc + "/environ", reads)
        if data is None:
            continue
        scanned["processes"] += 1
        env = parse_environ(data)
        if homes is not None and env.get("HOME") and env["HOME"] not in homes:
            homes.append(env["HOME"])
        argv = [a.decode("utf-8", "replace") for a in (read_bytes(root, proc + "/cmdline") or b"").split(b"\0") if a]
        env.update(java_properties(argv))
        if not any(name in env for name in ENV_NAMES):
            continue
        uid = process_uid(root, proc)
        user = names.get(uid, str(uid) if uid is not None else None)
        command = redact_command(argv) or "[%s]" % (read_text(root, proc + "/comm") or "?").strip()
        where = {"source": "process", "pid": int(entry), "command": command, "user": user,
                 "location": "pid %s (%s) user %s" % (entry, command, user)}
        if int(entry) in mine:
            # the environment Ansible brought (its connection; the controller's own with a local connection): shown,
            # never failing the check - it is not an application's, and the controller may hold keys to reach AWS
            where["this_run"] = True
            where["location"] += THIS_RUN
        out.append((env, where, None))
    return out


JAVA_PROPERTIES = {"-Daws.accessKeyId=": "AWS_ACCESS_KEY_ID", "-Daws.secretKey=": "AWS_SECRET_ACCESS_KEY",
                   "-Daws.secretAccessKey=": "AWS_SECRET_ACCESS_KEY", "-Daws.sessionToken=": "AWS_SESSION_TOKEN"}


def java_properties(argv):
    """The credentials a Java command line passes as system properties (the AWS SDK for Java reads aws.accessKeyId
    and aws.secretKey / aws.secretAccessKey before the instance profile), as the environment names they stand for."""
    env = {}
    for arg in argv:
        for prefix, name in JAVA_PROPERTIES.items():
            if arg.startswith(prefix) and arg[len(prefix):]:
                env[name] = arg[len(prefix):]
    return env


def _read_proc(root, path, reads):
    """environ of one process: None when it went away or is not readable (counted)."""
    probe = Reads()
    data = read_bytes(root, path, probe)
    if data is None and probe.files:
        reads.processes += 1
    return data


def process_uid(root, proc):
    """The real uid of a process from /proc/<pid>/status (its Uid: line), else the owner of the directory."""
    for line in (read_text(root, proc + "/status") or "").splitlines():
        if line.startswith("Uid:"):
            try:
                return int(line.split()[1])
            except (IndexError, ValueError):
                break
    try:
        return os.stat(os.path.join(root, proc.lstrip("/"))).st_uid
    except OSError:
        return None


def _scan_units(root, reads, scanned):
    """[(aws env, where, None)] of systemd unit files and drop-ins: Environment= and EnvironmentFile=."""
    out = []
    seen_dirs = set()
    for unit_dir in SYSTEMD_DIRS:
        full = os.path.join(root, unit_dir.lstrip("/"))
        real = os.path.realpath(full)
        if real in seen_dirs or not os.path.isdir(full):
            continue
        seen_dirs.add(real)
        for name in list_dir(root, unit_dir, reads):
            path = unit_dir + "/" + name
            if name.endswith(".d") and os.path.isdir(os.path.join(full, name)):
                unit = name[:-2]
                for conf in list_dir(root, path, reads):
                    if conf.endswith(".conf"):
                        out.extend(_unit_file(root, unit, path + "/" + conf, reads, scanned))
            elif "." in name and not os.path.islink(os.path.join(full, name)) and os.path.isfile(os.path.join(full, name)):
                out.extend(_unit_file(root, name, path, reads, scanned))
    return out


def _unit_file(root, unit, path, reads, scanned):
    text = read_text(root, path, reads)
    if text is None:
        return []
    scanned["units"] += 1
    out = []
    inline = {}
    for line in _joined_lines(text):
        line = line.strip()
        key, eq, value = line.partition("=")
        key = key.strip()
        if not eq:
            continue
        if key == "Environment":
            inline.update(parse_environment_value(value.strip()))
        elif key == "EnvironmentFile":
            env_path = value.strip().lstrip("-").strip()
            env_text = read_text(root, env_path, reads) if env_path.startswith("/") else None
            env = parse_env_file(env_text)
            if env:
                out.append((env, {"source": "unit", "unit": unit, "path": env_path,
                                  "location": "unit %s (EnvironmentFile %s, from %s)" % (unit, env_path, path)}, None))
    if inline:
        out.insert(0, (inline, {"source": "unit", "unit": unit, "path": path,
                                "location": "unit %s (Environment= in %s)" % (unit, path)}, None))
    return out


def _group_processes(findings):
    """One finding per key/kind/user/command, with every pid that has it (a server's workers share one)."""
    out, index = [], {}
    for finding in findings:
        if finding.get("source") != "process":
            out.append(finding)
            continue
        sig = (finding["kind"], finding.get("key_id"), finding.get("user"), finding.get("command"), finding.get("this_run"),
               finding.get("profile"), tuple(finding.get("variables") or ()))
        if sig in index:
            first = index[sig]
            first["pids"].append(finding["pid"])
            shown = first["pids"][:MAX_PIDS_SHOWN]
            more = len(first["pids"]) - len(shown)
            first["location"] = "pid %s%s (%s) user %s%s" % (", ".join(map(str, shown)),
                                                             " and %d more" % more if more else "",
                                                             first["command"], first["user"], THIS_RUN if first.get("this_run") else "")
            continue
        finding["pids"] = [finding["pid"]]
        index[sig] = finding
        out.append(finding)
    return out


def describe(finding):
    """One line naming a finding: its kind, masked key id or program, and where it is."""
    what = finding["kind"]
    if finding.get("key_id"):
        what += " " + finding["key_id"]
    if finding.get("executable"):
        what += " (program %s)" % finding["executable"]
    if finding["kind"] in ("profile reference", "profile setting"):
        if finding.get("source_profile"):
            what += " (role_arn via source_profile %s)" % finding["source_profile"]
        elif finding.get("profile"):
            resolved = ", " + finding["resolves_to"] if finding.get("resolves_to") else ""
            what += " (%s=%s%s)" % ((finding.get("variables") or ["AWS_PROFILE"])[0], finding["profile"], resolved)
    elif finding.get("variables") and finding.get("source") != "file":
        what += " (%s)" % ", ".join(finding["variables"])
    return "%s in %s" % (what, finding["location"])


def check(result, exempt_this_run=True):
    """imds_info's `no_static_credentials` check from a scan result (pure). exempt_this_run: the findings of this
    run's own processes do not fail it - right for a local connection, where they hold the controller's environment;
    over SSH that environment is the instance's own (shell start-up files, pam_env), so they count."""
    keys = [f for f in result["findings"] if f["kind"] in KEY_KINDS and not (exempt_this_run and f.get("this_run"))]
    unreadable = result["unreadable"]
    blind = ""
    if unreadable["processes"] or unreadable["files"]:
        blind = " (not readable: %d process(es), %d file(s); run as root, become: true, to see them)" % (
            unreadable["processes"], len(unreadable["files"]))
    if keys:
        return {"name": "no_static_credentials", "ok": False, "detail": (
            "%d credential(s) on the instance come before the instance profile in the AWS SDK credential chain, so "
            "the role is not used where they are: %s; remove them%s" % (
                len(keys), "; ".join(describe(f) for f in keys), blind))}
    scanned = result["scanned"]
    return {"name": "no_static_credentials", "ok": True, "detail": (
        "no access key, credential_process or profile reference found (%d process(es), %d unit file(s), "
        "%d credentials/config file(s) read)%s" % (scanned["processes"], scanned["units"], len(scanned["files"]), blind))}
