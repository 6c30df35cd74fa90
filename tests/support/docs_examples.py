"""The harness of tests/scenarios/test_docs_examples.py (whose docstring describes it): which YAML blocks of
the docs run and how, the seeding of their targets, and the checks of what a run left."""

from __future__ import annotations

import contextlib
import json
import pathlib
import re
import shutil
import subprocess
import sys

import boto3
import yaml

from tests.support import fleet_seed
from tests.support.api_calls import call_actions, granted_actions
from tests.support.aws_env import FAKE_ACCESS_KEY, FAKE_SECRET_KEY, ROOT, aws_env
from tests.support.fleet_seed import fleet_state, seed_fleet
from tests.support.markdown_blocks import fenced_blocks
from tests.support.playbook import Result, plain
from tests.support.strict import strict_off

DOCS = ("README.md", "roles/ec2_identity/README.md")
EXAMPLE_INVENTORY = ROOT / "playbooks" / "inventory" / "example.yml"
POLICIES = ROOT / "policies"
MOTO_ACCOUNT = "123456789012"
SEED = 4
ALIVE = ("running", "stopped")
# Files examples read that the docs leave to the user: a least-privilege policy of an application.
FIXTURES = {
    "app-access.json": {"Version": "2012-10-17", "Statement": [
        {"Sid": "AppData", "Effect": "Allow", "Action": ["s3:GetObject", "s3:ListBucket"],
         "Resource": ["arn:aws:s3:::my-app-data", "arn:aws:s3:::my-app-data/*"]}]},
}
_LOOKUP_FILE = re.compile(r"""lookup\(\s*['"](?:ansible\.builtin\.)?file['"]\s*,\s*['"]([^'"]+)['"]""")


class NotRunnable(Exception):
    """A block the harness cannot run and that is not marked example-only."""


def yaml_blocks():
    return [(doc, block) for doc in DOCS for block in fenced_blocks((ROOT / doc).read_text())
            if block.language in ("yaml", "yml")]


def classify(block):
    """(kind, data): kind is playbook, inventory, tasks, vars or example-only; NotRunnable otherwise."""
    if block.options.startswith("example-only"):
        reason = block.options[len("example-only"):].strip(" :")
        if not reason:
            raise NotRunnable("example-only needs a reason: ```yaml example-only: <why it cannot run>")
        return "example-only", reason
    if block.options:
        raise NotRunnable("unknown info string %r: use ```yaml, or ```yaml example-only: <why>" % block.options)
    try:
        data = yaml.safe_load(block.body)
    except yaml.YAMLError as exc:
        raise NotRunnable("not valid YAML: %s" % exc)
    if isinstance(data, list) and data and all(isinstance(p, dict) for p in data):
        if all("hosts" in p or "ansible.builtin.import_playbook" in p or "import_playbook" in p for p in data):
            return "playbook", data
        if not any("hosts" in p for p in data):
            return "tasks", data
    if isinstance(data, dict) and data.get("plugin") == "keyless.aws.targets":
        return "targets", data
    if isinstance(data, dict) and data:
        groups = [v for v in data.values() if isinstance(v, dict) and v and set(v) <= {"hosts", "vars", "children"}]
        if len(groups) == len(data):
            return "inventory", data
        if all(re.match(r"^ec2_identity_[a-z0-9_]+$", k) for k in data):
            return "vars", data
    raise NotRunnable("neither a playbook, an inventory, a task list nor role variables")


def block_id(item):
    doc, block = item
    return "%s:%d" % (doc, block.line)


# ---- what an example declares -----------------------------------------------------------------------

def applications(data):
    """Every mapping that names ec2_identity_role_name: the role's variables of one application."""
    found = []
    if isinstance(data, dict):
        if "ec2_identity_role_name" in data:
            found.append({k: v for k, v in data.items() if k.startswith("ec2_identity_")})
        for value in data.values():
            found.extend(applications(value))
    elif isinstance(data, list):
        for value in data:
            found.extend(applications(value))
    return found


def literal(value):
    return value is not None and "{{" not in json.dumps(value)


# ---- the account/region targets ----------------------------------------------------------------------

class Target:
    def __init__(self, name, region, account=MOTO_ACCOUNT, role_arn=None, app=None):
        self.name, self.region, self.account, self.role_arn = name, region, account, role_arn
        self.app = app or {}  # the inventory's ec2_identity_* variables of this host
        self.fleets = []      # (application variables, seeded fleet)

    def session(self, url):
        if not self.role_arn:
            return boto3.session.Session(aws_access_key_id=FAKE_ACCESS_KEY, aws_secret_access_key=FAKE_SECRET_KEY)
        return fleet_seed.assumed_session(url, self.role_arn, "keyless-docs")


@contextlib.contextmanager
def as_target(url, target, monkeypatch):
    """fleet_seed's boto3 clients with the target account's credentials."""
    session = target.session(url)
    with monkeypatch.context() as patch:
        patch.setattr(fleet_seed, "_client", lambda service, endpoint, region: session.client(
            service, region_name=region, endpoint_url=endpoint))
        yield session


class Harness:
    def __init__(self, moto, tmp_path, monkeypatch):
        self.moto, self.url, self.dir, self.monkeypatch = moto, moto.url, tmp_path, monkeypatch
        self.profiles = set()
        self.seed = 0

    # -- environment and commands
    def env(self):
        env = aws_env(self.url)
        env.pop("ANSIBLE_PYTHON_INTERPRETER", None)  # the examples must not need one
        env["PWD"] = str(self.dir)
        aws = self.dir / "aws"
        aws.mkdir(exist_ok=True)
        (aws / "config").write_text("".join("[profile %s]\nregion = us-east-1\n" % p for p in sorted(self.profiles)))
        (aws / "credentials").write_text("".join("[%s]\naws_access_key_id = %s\naws_secret_access_key = %s\n" % (
            p, FAKE_ACCESS_KEY, FAKE_SECRET_KEY) for p in sorted(self.profiles)))
        env.update({"AWS_CONFIG_FILE": str(aws / "config"), "AWS_SHARED_CREDENTIALS_FILE": str(aws / "credentials")})
        return env

    def ansible(self, tool, *args):
        cmd = [str(pathlib.Path(sys.executable).parent / tool)] + [str(a) for a in args]
        proc = subprocess.run(cmd, cwd=str(self.dir), env=self.env(), capture_output=True, text=True, timeout=600,
                              check=False)
        return Result(proc, cmd)

    def playbook(self, *args):
        res = self.ansible("ansible-playbook", *args)
        assert res.rc == 0 and res.failed == 0, res
        return res

    def inventory_hosts(self, path, group):
        res = self.ansible("ansible-inventory", "-i", path, "--list")
        assert res.rc == 0, res
        listing = json.loads(res.stdout)
        assert group in listing, "%s has no group %s: %s" % (path, group, sorted(listing))
        hosts = listing[group].get("hosts") or []
        for child in listing[group].get("children") or ():
            hosts += listing.get(child, {}).get("hosts") or []
        return {h: plain(listing["_meta"]["hostvars"].get(h, {})) for h in hosts}

    def targets(self, inventory):
        targets = []
        for name, hostvars in sorted(self.inventory_hosts(inventory, "aws_targets").items()):
            role_arn = hostvars.get("aws_assume_role_arn")
            account = role_arn.split(":")[4] if role_arn else MOTO_ACCOUNT
            if hostvars.get("aws_profile"):
                self.profiles.add(hostvars["aws_profile"])
            targets.append(Target(name, hostvars.get("aws_region") or "us-east-1", account, role_arn,
                                  {k: v for k, v in hostvars.items() if k.startswith("ec2_identity_")}))
        return targets

    # -- seeding and checking
    def seed_targets(self, targets, extra_apps=()):
        for target in targets:
            for app in [dict(target.app, **extra) for extra in extra_apps] or [target.app]:
                tags = app.get("ec2_identity_instance_tags")
                assert literal(tags) and tags, "the example selects no instances by tags: %r" % (app,)
                self.seed += 1
                with as_target(self.url, target, self.monkeypatch):
                    fleet = seed_fleet(self.url, SEED, region=target.region, prefix="docs%d" % self.seed,
                                       seed=self.seed, tag=tags, imdsv1_callers=0)
                target.fleets.append((app, fleet))

    def check_targets(self, targets):
        reports = [p for p in self.dir.rglob("*.json") if p.parent.name in ("reports", "ec2_identity_reports")]
        assert len(reports) >= len(targets), "the reports are not where ansible-playbook ran: %s" % reports
        assert not (ROOT / "playbooks" / "reports").exists() and not (ROOT / "playbooks" / "ec2_identity_reports").exists()
        for target in targets:
            with as_target(self.url, target, self.monkeypatch) as session:
                iam = session.client("iam", region_name="us-east-1", endpoint_url=self.url)
                for app, fleet in target.fleets:
                    self.check_application(target, iam, app, fleet)

    def check_application(self, target, iam, app, fleet):
        role = app["ec2_identity_role_name"]
        profile = app.get("ec2_identity_instance_profile_name") or role
        assert iam.get_role(RoleName=role)["Role"]["Arn"].startswith("arn:aws:iam::%s:role/" % target.account)
        held = iam.get_instance_profile(InstanceProfileName=profile)["InstanceProfile"]
        assert [r["RoleName"] for r in held["Roles"]] == [role], (target.name, held)
        want = app.get("ec2_identity_managed_policies") or []
        if literal(want):
            attached = {p["PolicyArn"] for p in iam.list_attached_role_policies(RoleName=role)["AttachedPolicies"]}
            assert attached == {p if p.startswith("arn:") else "arn:aws:iam::aws:policy/" + p for p in want}
        for name in app.get("ec2_identity_inline_policies") or {}:
            assert name in iam.list_role_policies(RoleName=role)["PolicyNames"]
        with as_target(self.url, target, self.monkeypatch):
            state = fleet_state(self.url, fleet["all"], region=target.region)
        alive = [i for i in fleet["all"] if state[i]["state"] in ALIVE]
        assert alive, fleet
        for iid in alive:
            inst = state[iid]
            assert inst["profile_arn"] == held["Arn"], (target.name, iid, inst)
            assert inst["metadata"]["HttpTokens"] == app.get("ec2_identity_http_tokens", "required"), (iid, inst)
            hop = app.get("ec2_identity_http_put_response_hop_limit")
            if hop is not None:
                assert inst["metadata"]["HttpPutResponseHopLimit"] == hop, (iid, inst)

    def check_calls(self, policy_files):
        """Every call the moto server served since the last reset is granted by these policies."""
        granted = set()
        for name in policy_files:
            granted |= granted_actions(json.loads((POLICIES / name).read_text()))
        used = call_actions(self.moto.calls()["counts"])
        self.moto.reset_calls()
        assert used, "no AWS call was served"
        assert set(used) <= granted, "calls not granted by %s: %s" % (policy_files, sorted(set(used) - granted))
        return used

    def files_for(self, text):
        for name in _LOOKUP_FILE.findall(text):
            if (POLICIES / name).exists():
                shutil.copy(str(POLICIES / name), str(self.dir / name))
            elif name in FIXTURES:
                (self.dir / name).write_text(json.dumps(FIXTURES[name], indent=2))
            else:
                raise NotRunnable("the example reads %s: add it to FIXTURES in %s" % (name, __file__))


# ---- the runs ---------------------------------------------------------------------------------------

def run_playbook_block(h, block, plays):
    h.files_for(block.body)
    path = h.dir / "playbook.yml"
    path.write_text(block.body)
    local = {p.get("hosts") for p in plays} == {"localhost"}
    if local:
        targets, inventory = [Target("localhost", "us-east-1")], ()
    else:
        targets, inventory = h.targets(EXAMPLE_INVENTORY), ("-i", EXAMPLE_INVENTORY)
    apps = applications(plays)
    if apps:
        h.seed_targets(targets, apps)
    h.moto.reset_calls()

    first = h.playbook(path, *inventory)
    assert first.changed > 0, first
    h.check_calls(["deployer.json", "controller.json"])
    if apps:
        h.check_targets(targets)
    check_module_tasks(h, plays)

    if local:
        second = h.playbook(path)
        assert second.changed == 0, second


def module_tasks(plays, module):
    """(arguments, play vars) of every task of `module` in the plays, the arguments rendered with the play's
    vars where they are templates of those vars."""
    found = []
    for play in plays:
        variables = {k: v for k, v in (play.get("vars") or {}).items() if literal(v)}
        for task in play.get("tasks") or ():
            if isinstance(task, dict) and module in task:
                text = re.sub(r"\{\{ *([a-z_][a-z0-9_]*) *\}\}",
                              lambda m: str(variables[m.group(1)]) if m.group(1) in variables else m.group(0),
                              json.dumps(task[module]))
                found.append(json.loads(text))
    return found


def check_module_tasks(h, plays):
    """What the example's keyless.aws.iam_managed_policy and iam_role tasks declare is what IAM holds."""
    iam = h.moto.client("iam")
    for args in module_tasks(plays, "keyless.aws.iam_managed_policy"):
        arn = "arn:aws:iam::%s:policy%s%s" % (MOTO_ACCOUNT, args.get("path", "/"), args["name"])
        version = iam.get_policy(PolicyArn=arn)["Policy"]["DefaultVersionId"]
        document = iam.get_policy_version(PolicyArn=arn, VersionId=version)["PolicyVersion"]["Document"]
        source = _LOOKUP_FILE.findall(str(args.get("policy")))
        expected = json.loads((h.dir / source[0]).read_text()) if source else args["policy"]
        assert (json.loads(document) if isinstance(document, str) else document) == expected
    for args in module_tasks(plays, "keyless.aws.iam_role"):
        role = iam.get_role(RoleName=args["name"])["Role"]
        trust = args.get("assume_role_policy_document")
        if trust:
            assert role["AssumeRolePolicyDocument"] == trust
        attached = iam.list_attached_role_policies(RoleName=args["name"])["AttachedPolicies"]
        assert len(attached) == len(args.get("managed_policies") or []), attached


def run_inventory_block(h, block, data):
    path = h.dir / "inventory.yml"
    path.write_text(block.body)
    ran = False
    if "aws_targets" in data:
        ran = True
        targets = h.targets(path)
        h.seed_targets(targets)
        h.moto.reset_calls()
        check = h.playbook("keyless.aws.converge", "-i", path, "--check", "--diff")
        mutating = {k: v for k, v in h.moto.calls()["counts"].items()
                    if not k.split(":", 1)[1].startswith(("Describe", "Get", "List")) and k != "sts:AssumeRole"}
        assert mutating == {}, mutating
        h.moto.reset_calls()
        assert check.changed > 0, check
        h.playbook("keyless.aws.converge", "-i", path)
        h.check_calls(["deployer.json", "controller.json"])
        h.check_targets(targets)
        again = h.playbook("keyless.aws.converge", "-i", path)
        assert again.changed == 0, again
        h.moto.reset_calls()
        h.playbook("keyless.aws.audit", "-i", path)
        h.check_calls(["auditor.json", "controller.json"])
    if "ec2_instances" in data:
        ran = True
        run_verify(h, path)
    if not ran:
        raise NotRunnable("an inventory without aws_targets or ec2_instances: the harness knows no playbook for it")


def run_targets_block(h, block, data):
    """An organization shaped after the example's selector, then the runs of an aws_targets inventory."""
    for option in ("accounts", "exclude_accounts", "all_accounts"):
        if data.get(option):
            raise NotRunnable("%s names this organization's accounts, which the harness cannot give fixed ids: "
                              "select by organizational_units in the docs" % option)
    regions = data.get("regions")
    if not isinstance(regions, list) or not regions:
        raise NotRunnable("regions must be a list here (the harness seeds each of them)")
    orgs = h.moto.client("organizations")
    orgs.create_organization(FeatureSet="ALL")
    root = orgs.list_roots()["Roots"][0]["Id"]
    text, selected, number = block.body, {}, 0

    def account(name, parent):
        status = orgs.create_account(Email="%s@example.com" % name, AccountName=name)["CreateAccountStatus"]
        orgs.move_account(AccountId=status["AccountId"], SourceParentId=root, DestinationParentId=parent)
        return status["AccountId"]

    for example_id in data.get("organizational_units") or ():
        number += 1
        ou = orgs.create_organizational_unit(ParentId=root, Name="ou%d" % number)["OrganizationalUnit"]["Id"]
        nested = orgs.create_organizational_unit(ParentId=ou, Name="nested%d" % number)["OrganizationalUnit"]["Id"]
        text = text.replace(example_id, ou)
        selected["docs-a%d" % number] = account("docs-a%d" % number, ou)
        selected["docs-n%d" % number] = account("docs-n%d" % number, nested)
    other = orgs.create_organizational_unit(ParentId=root, Name="elsewhere")["OrganizationalUnit"]["Id"]
    account("docs-elsewhere", other)
    path = h.dir / "org.targets.yml"
    path.write_text(text)
    (h.dir / "group_vars").mkdir()
    example = yaml.safe_load(EXAMPLE_INVENTORY.read_text())["aws_targets"]["vars"]
    (h.dir / "group_vars" / "aws_targets.yml").write_text(yaml.safe_dump(
        {k: v for k, v in example.items() if k.startswith("ec2_identity_")}))

    listed = h.inventory_hosts(path, "aws_targets")
    want = {"%s-%s" % (name, region) for name in selected for region in regions}
    assert set(listed) == want, (sorted(listed), sorted(want))
    role = data.get("assume_role_name", "OrganizationAccountAccessRole")
    for name, account_id in selected.items():
        assert listed["%s-%s" % (name, regions[0])]["aws_assume_role_arn"] == \
            "arn:aws:iam::%s:role/%s" % (account_id, role)
    targets = h.targets(path)
    h.seed_targets(targets)
    h.moto.reset_calls()
    check = h.playbook("keyless.aws.converge", "-i", path, "-f", "4", "--check", "--diff")
    mutating = {k: v for k, v in h.moto.calls()["counts"].items()
                if not k.split(":", 1)[1].startswith(("Describe", "Get", "List")) and k != "sts:AssumeRole"}
    assert mutating == {} and check.changed > 0, (mutating, check)
    h.moto.reset_calls()
    h.playbook("keyless.aws.converge", "-i", path, "-f", "4")
    h.check_targets(targets)
    summary = json.loads((h.dir / "ec2_identity_reports" / "summary.json").read_text())
    assert sorted(t["target"] for t in summary["targets"]) == sorted(want)
    assert summary["totals"]["targets_ok"] == len(want) and summary["totals"]["changed"] > 0, summary["totals"]
    again = h.playbook("keyless.aws.converge", "-i", path, "-f", "4")
    assert again.changed == 0, again
    assert json.loads((h.dir / "ec2_identity_reports" / "summary.json").read_text())["totals"]["changed"] == 0
    h.playbook("keyless.aws.audit", "-i", path, "-f", "4")
    assert json.loads((h.dir / "ec2_identity_reports" / "audit-summary.json").read_text())["totals"]["targets"] == \
        len(want)


def run_verify(h, path):
    from tests.support.imds_emulator import FAKE_SECRETS, ImdsEmulator

    hosts = h.inventory_hosts(path, "ec2_instances")
    roles = {v.get("keyless_expected_role") for v in hosts.values()}
    assert len(roles) == 1 and None not in roles, "every host needs keyless_expected_role: %r" % roles
    role = roles.pop()
    iam, ec2 = h.moto.client("iam"), h.moto.client("ec2")
    with strict_off(h.url):  # seeding the instances the example verifies, not the subject
        iam.create_role(RoleName=role, AssumeRolePolicyDocument=fleet_seed.TRUST)
        iam.create_instance_profile(InstanceProfileName=role)
        iam.add_role_to_instance_profile(InstanceProfileName=role, RoleName=role)
        ids = [i["InstanceId"] for i in ec2.run_instances(
            ImageId=fleet_seed.DEFAULT_IMAGE, MinCount=len(hosts), MaxCount=len(hosts), InstanceType="t3.micro",
            MetadataOptions={"HttpTokens": "required", "HttpEndpoint": "enabled"})["Instances"]]
        for iid in ids:
            ec2.associate_iam_instance_profile(InstanceId=iid, IamInstanceProfile={"Name": role})
    from tests.support.instance_root import clean
    clean_root = clean(h.dir / "instance-root")
    with ImdsEmulator(h.url) as emulator:
        overlay = h.dir / "instances-here.yml"
        overlay.write_text(yaml.safe_dump({"ec2_instances": {"hosts": {
            name: {"ansible_connection": "local", "ansible_python_interpreter": "/usr/bin/python3",
                   "keyless_imds_endpoint": emulator.url_for(iid),
                   # an emulated instance without keys: this machine runs other playbooks with test keys
                   "keyless_host_root": str(clean_root)}
            for name, iid in zip(sorted(hosts), ids)}}}))
        res = h.playbook("keyless.aws.verify", "-i", path, "-i", overlay)
    for name, iid in zip(sorted(hosts), ids):
        assert "%s (%s): role %s, IMDSv2 enforced" % (name, iid, role) in res.stdout, res
    assert not any(secret in res.stdout for secret in FAKE_SECRETS)
