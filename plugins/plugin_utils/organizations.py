# -*- coding: utf-8 -*-
# Copyright: keyless.aws contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The AWS reads of the keyless.aws.targets inventory: the organization, its selected accounts, their OUs,
tags and enabled regions (plugins/inventory/targets.py holds the options, the checks and the hosts).

Contract: Fetcher(settings).fetch() -> a JSON-ready dict the inventory caches; every AWS failure becomes one
AnsibleParserError naming the call, the account or OU, and what to do; per-account calls run WORKERS at a
time, results in a sorted, deterministic order. Every call goes through aws/ like a module's: retries.call and
retries.paginate (botocore's paginators and retry mode, errors phrased once), AwsContext.client_as_role for the
per-account AssumeRole, aws/parallel for the pool. The AWS facts it relies on are in the inventory plugin's
docstring. Private to the collection.
"""

from __future__ import annotations

import threading

from ansible.errors import AnsibleParserError
from ansible.utils.display import Display

from ansible_collections.keyless.aws.plugins.module_utils.aws.arns import iam_arn
from ansible_collections.keyless.aws.plugins.module_utils.aws.connection import AwsContext
from ansible_collections.keyless.aws.plugins.module_utils.aws.errors import AwsCallError, InputError, error_code
from ansible_collections.keyless.aws.plugins.module_utils.aws.parallel import Failure, parallel_map
from ansible_collections.keyless.aws.plugins.module_utils.aws.retries import call, paginate

display = Display()

WORKERS = 8
ORGANIZATIONS_REGION = "us-east-1"
CONNECTION_OPTIONS = ("profile", "region", "endpoint_url", "access_key", "secret_key", "session_token",
                      "validate_certs")


def _active(account):
    """ACTIVE by Status and by State, each when AWS returns it (State replaces the deprecated Status)."""
    states = [account[key] for key in ("Status", "State") if account.get(key)]
    return bool(states) and all(state == "ACTIVE" for state in states)


def _state_of(account):
    return account.get("State") or account.get("Status") or "unknown"


class Fetcher:
    """The AWS calls: the organization, the selected accounts, their tags and regions (JSON-ready result)."""

    def __init__(self, settings):
        self.settings = settings
        params = {key: settings[key] for key in CONNECTION_OPTIONS}
        try:
            self.ctx = AwsContext(params, default_region=ORGANIZATIONS_REGION)
        except InputError as exc:
            raise AnsibleParserError("keyless.aws.targets: %s" % "; ".join(exc.errors))
        self.org = self.ctx.client("organizations")
        self._lock = threading.Lock()
        self._root_names = None

    @staticmethod
    def _fail(error, hint=None):
        """An AwsCallError (from aws/retries) as the inventory's one kind of error, with its hint."""
        if hint is not None:
            error.hint = hint
        elif error.code in ("AccessDenied", "AccessDeniedException"):  # the inventory's own words, not a module's
            error.hint = ("the controller's credentials lack this permission: use those of the management account or "
                          "of a delegated administrator, with the permissions in the plugin's notes (ansible-doc -t "
                          "inventory keyless.aws.targets)")
        return AnsibleParserError("keyless.aws.targets: %s" % error.text())

    def _call(self, operation, resource, params=None, missing=()):
        try:
            return call(self.org, operation, params, resource=resource, missing=missing)
        except AwsCallError as exc:
            raise self._fail(exc)

    def _pages(self, operation, resource, key, **kwargs):
        try:
            return paginate(self.org, operation, key, kwargs, resource=resource)
        except AwsCallError as exc:
            raise self._fail(exc)

    def _pool(self, function, items):
        """function(item) for each item, WORKERS at a time; results in the items' order; every failure named."""
        results, failures = [], []
        for outcome in parallel_map(function, items, WORKERS, outcomes=True):
            if not isinstance(outcome, Failure):
                results.append(outcome)
            elif isinstance(outcome.exc, AnsibleParserError):
                failures.append(str(outcome.exc.message).replace("keyless.aws.targets: ", "", 1))
            else:
                raise outcome.exc
        if failures:
            shown = failures[:5] + (["and %d more" % (len(failures) - 5)] if len(failures) > 5 else [])
            raise AnsibleParserError("keyless.aws.targets: %s" % " | ".join(shown))
        return results

    # ------------------------------------------------------------ the organization

    def fetch(self):
        org = self._describe_organization()
        partition = org["Arn"].split(":")[1]
        management = org.get("MasterAccountId") or org["MasterAccountArn"].split(":")[4]
        selected = self._select(management)
        own = False
        if management in selected:
            own = self._caller_account() == management
        accounts = [selected[key] for key in sorted(selected)]
        for account in accounts:
            account["own_credentials"] = own and account["id"] == management
        tags = self._pool(self._tags, accounts)
        for account, account_tags in zip(accounts, tags):
            account["tags"] = account_tags
        if self.settings["regions_enabled"]:
            regions = self._pool(lambda account: self._enabled_regions(account, partition), accounts)
        else:
            regions = [list(self.settings["regions"])] * len(accounts)
        for account, account_regions in zip(accounts, regions):
            account["regions"] = account_regions
        return {"partition": partition, "management_account": management, "accounts": accounts}

    def _describe_organization(self):
        try:
            return call(self.org, "DescribeOrganization", resource="the controller's organization")["Organization"]
        except AwsCallError as exc:
            hint = None
            if error_code(exc) == "AWSOrganizationsNotInUseException":
                hint = ("the controller's account is not in an AWS Organization: use the management account's (or a "
                        "delegated administrator's) credentials (profile, keys or the environment)")
            raise self._fail(exc, hint)

    def _caller_account(self):
        try:
            return self.ctx.account_id
        except AwsCallError as exc:
            raise AnsibleParserError("keyless.aws.targets: %s" % exc.text())

    def _select(self, management):
        """account id -> {id, name, arn, ou_path}: the selection, ACTIVE only, exclusions applied."""
        settings = self.settings
        selected = {}
        if settings["all_accounts"]:
            for account in self._pages("ListAccounts", "the organization", "Accounts"):
                if _active(account):
                    selected[account["Id"]] = self._entry(account, None)
        for unit in settings["organizational_units"]:
            for account, path in self._walk(unit):
                if _active(account):
                    selected[account["Id"]] = self._entry(account, path)
        explicit = settings["accounts"]
        if explicit:
            problems = []
            if management in explicit and not settings["include_management_account"]:
                problems.append("%s is the organization's management account, which is not a target unless "
                                "include_management_account: true (set it, or remove the id)" % management)
            for account_id, account in zip(explicit, self._pool(self._describe_account, explicit)):
                if account is None:
                    problems.append("%s is not an account of this organization (DescribeAccount: "
                                    "AccountNotFoundException); fix or remove the id" % account_id)
                elif not _active(account):
                    problems.append("%s (%s) is %s, not ACTIVE; remove it or wait until it is ACTIVE"
                                    % (account_id, account.get("Name"), _state_of(account)))
                elif account_id not in selected:
                    selected[account_id] = self._entry(account, None)
            if problems:
                raise AnsibleParserError("keyless.aws.targets: accounts: %s" % "; ".join(problems))
        if not settings["include_management_account"]:
            selected.pop(management, None)
        for account_id in settings["exclude_accounts"]:
            if selected.pop(account_id, None) is None:
                display.warning("keyless.aws.targets: exclude_accounts: %s is not among the selected accounts "
                                "(a mistyped id excludes nothing)" % account_id)
        return selected

    @staticmethod
    def _entry(account, path):
        return {"id": account["Id"], "name": account.get("Name") or account["Id"], "arn": account.get("Arn"),
                "ou_path": path}

    def _describe_account(self, account_id):
        answer = self._call("DescribeAccount", "account %s" % account_id, {"AccountId": account_id},
                            missing=("AccountNotFoundException",))
        return answer["Account"] if answer else None

    def _walk(self, unit):
        """(account, path) for every account under unit, nested OUs included; path = [{id, name}] root -> parent."""
        path = self._path_of(unit)
        found = []
        pending = [path]
        while pending:
            here = pending.pop(0)
            parent = here[-1]["id"]
            for account in self._pages("ListAccountsForParent", "parent %s" % parent, "Accounts", ParentId=parent):
                found.append((account, here))
            children = self._pages("ListOrganizationalUnitsForParent", "parent %s" % parent, "OrganizationalUnits",
                                   ParentId=parent)
            for child in sorted(children, key=lambda ou: ou["Id"]):
                pending.append(here + [{"id": child["Id"], "name": child.get("Name") or child["Id"]}])
        return found

    def _path_of(self, unit):
        """[{id, name}] from the root to unit (both included)."""
        roots = self._roots()
        if unit.startswith("r-"):
            if unit not in roots:
                raise AnsibleParserError("keyless.aws.targets: organizational_units: %s is not the root of this "
                                         "organization (its root is %s)" % (unit, ", ".join(sorted(roots)) or "none"))
            return [{"id": unit, "name": roots[unit]}]
        path = []
        node = unit
        while not node.startswith("r-"):
            answer = self._call("DescribeOrganizationalUnit", "OU %s" % node, {"OrganizationalUnitId": node},
                                missing=("OrganizationalUnitNotFoundException",))
            if answer is None:
                raise AnsibleParserError("keyless.aws.targets: organizational_units: %s is not an OU of this "
                                         "organization (DescribeOrganizationalUnit: "
                                         "OrganizationalUnitNotFoundException)" % unit)
            ou = answer["OrganizationalUnit"]
            path.insert(0, {"id": node, "name": ou.get("Name") or node})
            parents = self._pages("ListParents", "OU %s" % node, "Parents", ChildId=node)
            if not parents:
                raise AnsibleParserError("keyless.aws.targets: ListParents returned no parent for OU %s" % node)
            node = parents[0]["Id"]
        return [{"id": node, "name": roots.get(node, node)}] + path

    def _roots(self):
        with self._lock:
            if self._root_names is None:
                roots = self._pages("ListRoots", "the organization", "Roots")
                self._root_names = {root["Id"]: root.get("Name") or root["Id"] for root in roots}
            return self._root_names

    # ------------------------------------------------------------ per account

    def _tags(self, account):
        tags = self._pages("ListTagsForResource", "account %s" % account["id"], "Tags", ResourceId=account["id"])
        return {tag["Key"]: tag["Value"] for tag in tags}

    def _enabled_regions(self, account, partition):
        """EC2 DescribeRegions (AllRegions false) with the account's own credentials: one AssumeRole (through
        AwsContext.client_as_role: the base session's clients, credentials for this one call)."""
        resource = "account %s (%s)" % (account["id"], account["name"])
        settings = self.settings
        if account["own_credentials"]:
            ec2 = self.ctx.client("ec2")
        else:
            role_arn = iam_arn(partition, account["id"], "role", settings["assume_role_path"],
                               settings["assume_role_name"])
            try:
                ec2 = self.ctx.client_as_role("ec2", role_arn, settings["assume_role_session_name"],
                                              settings["assume_role_external_id"], resource=resource)
            except AwsCallError as exc:
                exc.operation = "AssumeRole (for DescribeRegions)"
                raise self._fail(exc, (
                    "the controller's credentials need sts:AssumeRole on %s and its trust policy must trust them (with "
                    "the external id, if it asks for one); set assume_role_name/assume_role_path to a role that exists "
                    "in every selected account, or exclude_accounts" % role_arn))
        try:
            answer = call(ec2, "DescribeRegions", {"AllRegions": False}, resource=resource)
        except AwsCallError as exc:
            raise self._fail(exc)
        return sorted(region["RegionName"] for region in answer.get("Regions") or [])
