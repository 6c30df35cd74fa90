# -*- coding: utf-8 -*-
# Copyright: keyless.aws contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Inventory plugin keyless.aws.targets: one host per AWS Organizations account and region.

Contract: every option is checked before any AWS call (AnsibleParserError naming the option, the value
and what is allowed); nothing is listed for the whole organization without all_accounts: true; an
explicitly named account that is missing or not ACTIVE fails the inventory instead of vanishing; two
accounts never become one host; hosts, groups and their order depend only on what AWS returned (sorted);
with the cache on and not refreshed, no AWS call is made. No secret is ever put in a host variable.

AWS facts relied on:
- Organizations is a global service whose endpoint lives in us-east-1 (aws), us-gov-west-1 (aws-us-gov)
  and cn-northwest-1 (aws-cn); its calls are answered for the management account or a delegated
  administrator only. DescribeOrganization returns the organization's Arn
  (arn:<partition>:organizations::<management account>:organization/o-...) and MasterAccountId.
- ListAccounts, ListAccountsForParent, ListOrganizationalUnitsForParent, ListParents, ListRoots and
  ListTagsForResource are paginated (NextToken); DescribeAccount of an id outside the organization is
  AccountNotFoundException; DescribeOrganizationalUnit of an unknown OU is
  OrganizationalUnitNotFoundException; a root id that ListRoots does not return is not in the organization.
- An account's Status is ACTIVE, SUSPENDED or PENDING_CLOSURE; the newer State field (PENDING_ACTIVATION,
  ACTIVE, SUSPENDED, PENDING_CLOSURE, CLOSED) replaces it (Status is deprecated, so either may be absent).
  Only ACTIVE accounts can be worked on.
- Ids: an account is 12 digits; a root is r- and 4-32 lowercase letters or digits; an OU is ou-, 4-32 of
  them (the root's), -, and 8-32 more. An IAM role name is 1-64 of letters, digits and _+=,.@-; a path
  starts and ends with / (at most 512 characters of ASCII 0x21-0x7E).
- Accounts created by Organizations get the role OrganizationAccountAccessRole (full admin, trusting the
  management account); invited accounts and the management account itself have no such role unless
  someone created it. CloudFormation StackSets with service-managed permissions likewise never deploy to
  the management account, which is why it is left out unless include_management_account is true.
- EC2 DescribeRegions with AllRegions false returns the regions enabled for the calling account (the
  default regions and the opt-in regions the account opted in to); it needs the member account's own
  credentials, hence one STS AssumeRole per account.
"""

from __future__ import annotations

DOCUMENTATION = r"""
name: targets
short_description: One account/region target per host, from AWS Organizations
version_added: 0.1.0
description:
  - Builds the inventory the C(keyless.aws) playbooks run on (C(converge), C(audit), C(verify), C(rollback),
    C(teardown)), one host per selected account of an AWS Organization and per region, with the variables the
    role C(keyless.aws.ec2_identity) reads (C(aws_region), C(aws_assume_role_arn), C(aws_endpoint_url),
    C(aws_profile)) and C(ansible_connection=local).
  - The accounts are selected with O(accounts), O(organizational_units) (nested OUs included) or
    O(all_accounts), minus O(exclude_accounts); only accounts whose C(Status) (and C(State), when AWS returns
    it) is C(ACTIVE) become hosts. An account named in O(accounts) that is not in the organization or not
    ACTIVE fails the inventory, naming it.
  - The Organizations calls are made with the controller's credentials (O(profile), the keys or botocore's
    chain), which must be those of the management account or of a delegated administrator for
    Organizations. Each target assumes O(assume_role_name) in its account.
  - "Every host gets C(aws_account_id), C(aws_account_name), C(aws_region), C(aws_assume_role_arn)
    (not for the management account reached with the controller's own credentials, see
    O(include_management_account)), C(aws_account_tags) (a dict, from C(ListTagsForResource)),
    C(aws_endpoint_url) when O(endpoint_url) is set, C(aws_profile) when O(profile) is set,
    C(aws_organizational_unit) (the id of the account's parent OU or root) and
    C(aws_organizational_unit_path) (the names from the root to that parent) when the account was found
    through O(organizational_units), C(ansible_connection=local) and C(ansible_python_interpreter) (the
    Python that runs Ansible, which has boto3; O(compose) can override it)."
  - "Host names are C(<account name>-<region>); see O(hostname_source)."
  - "Groups: C(aws_targets) (every host), C(account_<id>), C(region_<region>) (C(-) replaced by C(_), for
    example C(region_eu_west_1)) and, for accounts found through O(organizational_units), C(ou_<id>) for the
    root and every OU on the account's path (C(ou_ou_ab12_cdefgh34)), so a parent OU's group holds the
    accounts of its nested OUs. O(groups) and O(keyed_groups) add more, for example on C(aws_account_tags)."
  - The inventory file's name must end in C(targets.yml) or C(targets.yaml), for example C(org.targets.yml).
author: keyless.aws maintainers (@keyless-aws)
requirements:
  - boto3 and botocore on the controller
extends_documentation_fragment:
  - constructed
  - inventory_cache
options:
  plugin:
    description: The name of this plugin; it marks the file as its configuration.
    required: true
    type: str
    choices: [keyless.aws.targets]
  regions:
    description:
      - The regions of every selected account, for example V([us-east-1, eu-west-1]).
      - V(enabled) (alone) takes, for each account, the regions enabled in that account (EC2
        C(DescribeRegions) with the account's own credentials, so one C(AssumeRole) per account), that is the
        default regions plus the opt-in regions the account opted in to.
      - Required. The plugin checks it itself, so a missing or bad value fails with a message that says what
        is allowed.
    type: list
    elements: str
  accounts:
    description:
      - Account ids (12 digits; quote them in YAML so a leading zero is kept) to include.
      - Each must be an ACTIVE member of the organization, or the inventory fails naming it.
      - Combined with O(organizational_units), the hosts are the union.
    type: list
    elements: str
    default: []
  organizational_units:
    description:
      - OU ids (C(ou-...)) or the root id (C(r-...)); every ACTIVE account in them and in their nested OUs
        is included (C(ListOrganizationalUnitsForParent) and C(ListAccountsForParent), recursively).
      - Naming the root selects every account found under it and gives each its OU variables and groups.
    type: list
    elements: str
    default: []
  all_accounts:
    description:
      - Select every ACTIVE account of the organization (C(ListAccounts)). Required when neither O(accounts)
        nor O(organizational_units) is given, so an empty selector never means the whole organization.
      - Cannot be combined with O(accounts) or O(organizational_units); use O(exclude_accounts) to leave
        accounts out.
      - The accounts get no OU variables or groups (that would cost calls per account); name the root in
        O(organizational_units) instead to get them.
    type: bool
    default: false
  exclude_accounts:
    description:
      - Account ids (12 digits) left out of the selection, whichever selector found them. An id that no
        selector found gives a warning (a mistyped exclusion would otherwise include the account).
    type: list
    elements: str
    default: []
  include_management_account:
    description:
      - Whether the organization's management account may be a target. Default V(false), as CloudFormation
        StackSets do; the management account holds the organization's keys, should run no workloads, and
        has no O(assume_role_name) role unless someone created one. With V(false) it is left out of
        O(organizational_units) and O(all_accounts) selections, and naming it in O(accounts) fails.
      - With V(true), when the controller's credentials are those of the management account (STS
        C(GetCallerIdentity)), its targets use those credentials directly (no C(aws_assume_role_arn));
        otherwise its targets assume O(assume_role_name) like every other account.
    type: bool
    default: false
  assume_role_name:
    description:
      - The IAM role each target assumes in its account; its ARN is built in the organization's partition,
        for example C(arn:aws-us-gov:iam::111122223333:role/OrganizationAccountAccessRole).
      - The default is the role AWS Organizations creates in the accounts it creates (administrator access,
        trusting the management account). Invited accounts need it created; a narrower role such as
        C(keyless-deployer) with C(policies/deployer.json) is the least-privilege choice.
    type: str
    default: OrganizationAccountAccessRole
  assume_role_path:
    description: The IAM path of O(assume_role_name), starting and ending with C(/).
    type: str
    default: /
  assume_role_session_name:
    description: The session name of the C(AssumeRole) calls the plugin makes for O(regions=enabled).
    type: str
    default: keyless-aws-inventory
  assume_role_external_id:
    description:
      - The external id the roles' trust policy requires, used for the C(AssumeRole) calls of
        O(regions=enabled). Never logged and never put in a host variable (give the playbooks
        C(ec2_identity_assume_role_external_id) or module defaults yourself).
    type: str
  hostname_source:
    description:
      - V(name) makes host names from the account name, every character outside C([A-Za-z0-9_-]) replaced by
        C(_) (runs collapsed, case kept), for example C(Prod_EU-eu-west-1). An account whose name gives
        nothing usable, or whose name equals another selected account's name ignoring case, is named by its
        id instead (all accounts of such a name), so two accounts never merge into one host.
      - V(id) makes them from the account id, for example C(111122223333-eu-west-1).
      - V(name) or V(id); anything else fails, naming both.
    type: str
    default: name
  profile:
    description:
      - The AWS profile whose credentials make the Organizations calls (and the C(AssumeRole) calls).
        Falls back to E(AWS_PROFILE). Hosts get it as C(aws_profile), so the playbooks use the same base
        credentials.
      - Cannot be combined with O(access_key), O(secret_key) or O(session_token).
    type: str
    aliases: [aws_profile]
    env:
      - name: AWS_PROFILE
  region:
    description:
      - The region of the Organizations, STS and EC2 C(DescribeRegions) calls. Organizations is global;
        give the partition's region (for example V(us-gov-west-1) or V(cn-northwest-1)) outside C(aws).
      - Falls back to E(AWS_REGION), E(AWS_DEFAULT_REGION), then the profile's region; V(us-east-1) when
        none gives one.
    type: str
    aliases: [aws_region]
    env:
      - name: AWS_REGION
      - name: AWS_DEFAULT_REGION
  endpoint_url:
    description:
      - Send every call to this URL (a local endpoint, a proxy). Hosts get it as C(aws_endpoint_url), so the
        playbooks reach the same endpoint.
      - Falls back to E(AWS_ENDPOINT_URL).
    type: str
    aliases: [aws_endpoint_url]
    env:
      - name: AWS_ENDPOINT_URL
  access_key:
    description:
      - AWS access key id, with O(secret_key). Without keys, botocore's credential chain is used (the
        E(AWS_ACCESS_KEY_ID) environment variable, profiles, SSO, instance and container roles, ...).
      - Keys given here are not passed to the hosts; the playbooks find their base credentials themselves
        (environment or profile).
    type: str
    aliases: [aws_access_key_id]
  secret_key:
    description: AWS secret access key. Never logged.
    type: str
    aliases: [aws_secret_access_key]
  session_token:
    description: AWS session token for temporary keys. Never logged.
    type: str
    aliases: [aws_session_token]
  validate_certs:
    description: Verify the TLS certificates of the endpoint. Only set to V(false) against a local test endpoint.
    type: bool
    default: true
notes:
  - "Permissions of the controller's credentials: C(organizations:DescribeOrganization),
    C(organizations:DescribeAccount) (O(accounts)), C(organizations:ListAccounts) (O(all_accounts)),
    C(organizations:ListRoots), C(organizations:DescribeOrganizationalUnit),
    C(organizations:ListParents), C(organizations:ListOrganizationalUnitsForParent),
    C(organizations:ListAccountsForParent) (O(organizational_units)), C(organizations:ListTagsForResource);
    C(sts:AssumeRole) on the targets' role and, in the accounts, C(ec2:DescribeRegions) for O(regions=enabled);
    C(sts:GetCallerIdentity) when the management account is selected."
  - The per-account calls (tags, C(AssumeRole) and C(DescribeRegions)) run 8 at a time.
  - With O(cache) on, a run that is not refreshed (C(--flush-cache), C(meta) C(refresh_inventory)) reads the
    cache and makes no AWS call; a change of the selecting options is a cache miss.
"""

EXAMPLES = r"""
---
# org.targets.yml: two OUs (nested OUs included) in two regions, without the sandbox account
plugin: keyless.aws.targets
organizational_units: [ou-ab12-prod0001, ou-ab12-stag0001]
exclude_accounts: ["444455556666"]
regions: [us-east-1, eu-west-1]
assume_role_name: keyless-deployer
keyed_groups:
  - key: aws_account_tags.Environment | default('none')
    prefix: env

---
# all.targets.yml: every account of the organization, in every region enabled in it, cached for an hour
plugin: keyless.aws.targets
all_accounts: true
regions: enabled
profile: org-management
cache: true
cache_plugin: ansible.builtin.jsonfile
cache_connection: ~/.cache/keyless-targets
cache_timeout: 3600

---
# gov.targets.yml: named accounts in GovCloud (role ARNs in arn:aws-us-gov:...), hosts named by id
plugin: keyless.aws.targets
accounts: ["111122223333", "222233334444"]
regions: [us-gov-west-1]
region: us-gov-west-1
hostname_source: id
"""

import hashlib
import json
import re
import sys

from ansible.errors import AnsibleParserError
from ansible.plugins.inventory import BaseInventoryPlugin, Cacheable, Constructable
from ansible.utils.display import Display

from ansible_collections.keyless.aws.plugins.module_utils.aws import rules
from ansible_collections.keyless.aws.plugins.module_utils.aws.arns import iam_arn
from ansible_collections.keyless.aws.plugins.module_utils.aws.connection import validate_connection
from ansible_collections.keyless.aws.plugins.plugin_utils.organizations import CONNECTION_OPTIONS, Fetcher

display = Display()

_HOST_UNSAFE = re.compile(r"[^A-Za-z0-9_-]+")
# The options that decide what is fetched: a cached result of other values is a miss.
QUERY_OPTIONS = ("regions", "accounts", "organizational_units", "all_accounts", "exclude_accounts",
                 "include_management_account", "assume_role_name", "assume_role_path", "profile", "region",
                 "endpoint_url")


def _account_list(option, values, errors):
    """12-digit ids (YAML may give an unquoted id as a number; a number keeps its digits only if 12 long)."""
    ids = []
    for value in values or []:
        text = str(value) if isinstance(value, int) and not isinstance(value, bool) else value
        if not rules.is_account_id(text):
            errors.append("%s: %r is not an AWS account id: use 12 digits, quoted in YAML (\"012345678901\") so a "
                          "leading zero is kept" % (option, value))
        elif text not in ids:
            ids.append(text)
    return ids


def _host_safe(name):
    return _HOST_UNSAFE.sub("_", name or "").strip("_")


def _region_group(region):
    return "region_%s" % region.replace("-", "_")


def _ou_group(ou_id):
    return "ou_%s" % ou_id.replace("-", "_")


class InventoryModule(BaseInventoryPlugin, Constructable, Cacheable):
    """AWS Organizations accounts x regions as account/region targets."""

    NAME = "keyless.aws.targets"

    def verify_file(self, path):
        return super().verify_file(path) and path.endswith(("targets.yml", "targets.yaml"))

    def parse(self, inventory, loader, path, cache=True):
        super().parse(inventory, loader, path, cache)
        self._read_config_data(path)
        settings = self._settings()  # every option checked: nothing below runs on bad input
        query = self._query_key(settings)
        cache_key = self.get_cache_key(path)
        use_cache = self.get_option("cache")
        found = None
        if use_cache and cache:
            try:
                cached = self._cache[cache_key]
            except KeyError:
                cached = None
            if isinstance(cached, dict) and cached.get("query") == query:
                found = cached["found"]
        if found is None:
            found = Fetcher(settings).fetch()
            if use_cache:
                self._cache[cache_key] = {"query": query, "found": found}
        self._populate(settings, found)

    # ------------------------------------------------------------ options

    def _settings(self):
        """The options, checked; AnsibleParserError listing every problem, before any AWS call."""
        errors = []
        opts = {name: self.get_option(name) for name in (
            "regions", "accounts", "organizational_units", "all_accounts", "exclude_accounts",
            "include_management_account", "assume_role_name", "assume_role_path", "assume_role_session_name",
            "assume_role_external_id", "hostname_source") + CONNECTION_OPTIONS}
        regions = [r for r in (opts["regions"] or []) if r is not None]
        enabled = False
        if not regions:
            errors.append("regions is required: give a list of region names (for example [us-east-1, eu-west-1]) "
                          "or 'enabled' for the regions enabled in each account")
        elif "enabled" in regions:
            if len(regions) > 1:
                errors.append("regions: 'enabled' takes every region enabled in each account and cannot be combined "
                              "with region names (%s)" % ", ".join(str(r) for r in regions if r != "enabled"))
            enabled = True
        else:
            for region in regions:
                if not rules.is_region(region):
                    errors.append("regions: %r is not an AWS region name: use names like us-east-1 (letters, digits "
                                  "and hyphens), or 'enabled' alone" % (region,))
        accounts = _account_list("accounts", opts["accounts"], errors)
        excluded = _account_list("exclude_accounts", opts["exclude_accounts"], errors)
        units = []
        for unit in opts["organizational_units"] or []:
            if not isinstance(unit, str) or not rules.is_organization_unit_or_root(unit):
                errors.append("organizational_units: %r is not an OU or root id: use ou-<4-32 letters/digits>-"
                              "<8-32 letters/digits> (ou-ab12-cdefgh34) or the root's r-<4-32 letters/digits> "
                              "(r-ab12)" % (unit,))
            elif unit not in units:
                units.append(unit)
        if opts["all_accounts"] and (opts["accounts"] or opts["organizational_units"]):
            errors.append("all_accounts: true selects every account of the organization and cannot be combined with "
                          "accounts or organizational_units; use exclude_accounts to leave accounts out, or drop "
                          "all_accounts")
        elif not opts["all_accounts"] and not opts["accounts"] and not opts["organizational_units"]:
            errors.append("no accounts are selected: give accounts (12-digit ids) or organizational_units (ou-... or "
                          "the root r-...); to target every account of the organization set all_accounts: true")
        name = opts["assume_role_name"]
        if not rules.is_role_name(name):
            errors.append("assume_role_name=%r is not an IAM role name: use 1 to 64 letters, digits or _+=,.@-" % (name,))
        path = opts["assume_role_path"]
        if not rules.is_iam_path(path):
            errors.append("assume_role_path=%r is not an IAM path: it starts and ends with / (for example / or "
                          "/keyless/), at most 512 printable ASCII characters without spaces" % (path,))
        session_name = opts["assume_role_session_name"]
        if not rules.is_session_name(session_name):
            errors.append("assume_role_session_name=%r is not a session name: use 2 to 64 letters, digits or "
                          "_+=,.@-" % (session_name,))
        external_id = opts["assume_role_external_id"]
        if external_id is not None and not rules.is_external_id(external_id):
            errors.append("assume_role_external_id is not an external id: use 2 to 1224 letters, digits or "
                          "_+=,.@:/- (the value is not shown)")
        if opts["hostname_source"] not in ("name", "id"):
            errors.append("hostname_source=%r is not a host name source: use name (the account name) or id (the "
                          "account id)" % (opts["hostname_source"],))
        errors.extend(validate_connection({key: opts[key] for key in CONNECTION_OPTIONS}))
        if errors:
            raise AnsibleParserError("keyless.aws.targets: invalid options: %s" % "; ".join(errors))
        opts.update(regions=sorted(set(regions)) if not enabled else None, regions_enabled=enabled,
                    accounts=accounts, exclude_accounts=excluded, organizational_units=units)
        return opts

    @staticmethod
    def _query_key(settings):
        query = {key: settings[key] for key in QUERY_OPTIONS}
        query["regions_enabled"] = settings["regions_enabled"]
        return hashlib.sha256(json.dumps(query, sort_keys=True, default=str).encode()).hexdigest()

    # ------------------------------------------------------------ hosts and groups

    def _populate(self, settings, found):
        partition = found["partition"]
        accounts = found["accounts"]
        bases = self._host_bases(accounts, settings["hostname_source"])
        strict = self.get_option("strict")
        self.inventory.add_group("aws_targets")
        hosts = []
        for account in accounts:
            for region in account["regions"]:
                hosts.append(("%s-%s" % (bases[account["id"]], region), account, region))
        for host, account, region in sorted(hosts, key=lambda item: item[0]):
            self.inventory.add_host(host, group="aws_targets")
            variables = {
                "aws_account_id": account["id"],
                "aws_account_name": account["name"],
                "aws_region": region,
                "aws_account_tags": account["tags"],
                "ansible_connection": "local",
                "ansible_python_interpreter": sys.executable,
            }
            if not account["own_credentials"]:
                variables["aws_assume_role_arn"] = iam_arn(partition, account["id"], "role",
                                                           settings["assume_role_path"], settings["assume_role_name"])
            if settings["endpoint_url"]:
                variables["aws_endpoint_url"] = settings["endpoint_url"]
            if settings["profile"]:
                variables["aws_profile"] = settings["profile"]
            if account.get("ou_path"):
                variables["aws_organizational_unit"] = account["ou_path"][-1]["id"]
                variables["aws_organizational_unit_path"] = [node["name"] for node in account["ou_path"]]
            for key, value in variables.items():
                self.inventory.set_variable(host, key, value)
            for group in ["account_%s" % account["id"], _region_group(region)] + [
                    _ou_group(node["id"]) for node in account.get("ou_path") or []]:
                self.inventory.add_group(group)
                self.inventory.add_child(group, host)
            # compose after our variables, so it can override them (ansible_python_interpreter, say)
            self._set_composite_vars(self.get_option("compose"), variables, host, strict=strict)
            self._add_host_to_composed_groups(self.get_option("groups"), variables, host, strict=strict)
            self._add_host_to_keyed_groups(self.get_option("keyed_groups"), variables, host, strict=strict)

    @staticmethod
    def _host_bases(accounts, source):
        """account id -> the host name's account part; never the same for two accounts."""
        if source == "id":
            return {a["id"]: a["id"] for a in accounts}
        names = {a["id"]: _host_safe(a["name"]) for a in accounts}
        seen = {}
        for account_id, name in names.items():
            seen.setdefault(name.lower(), []).append(account_id)
        bases = {}
        for account_id, name in names.items():
            clash = not name or len(seen[name.lower()]) > 1 or (name in names and name != account_id)
            bases[account_id] = account_id if clash else name
        return bases
