"""What moto 5.2.6 lacks of Amazon EKS managed node groups and keyless.aws.eks_nodegroup_identity relies on,
added by replacing and adding handlers of moto's EKSResponse (fix_moto() in tests/support/moto_server.py calls
fix_eks_nodegroups(): the moto server and in-process mock_aws alike).

What moto 5.2.6 does: CreateNodegroup, DescribeNodegroup, ListNodegroups (paginated), and it keeps a node group's
launchTemplate ({id, name} filled in from the template, `version` only when the request gave one). It has no
UpdateNodegroupVersion (an HTTP 404 "Not yet implemented"), no DescribeUpdate and no ListUpdates.

AWS's documented answers added here (EKS API reference; the botocore eks service model carries the same text):
- LaunchTemplateSpecification.version: "The version number of the launch template to use. If no version is
  specified, then the template's default version is used." DescribeNodegroup reports the number: "While the API
  accepts values like $Default and $Latest, the API will convert the value to the associated version number
  (e.g., 1) on read" (terraform-provider-aws, aws_eks_node_group, launch_template.version). CreateNodegroup
  here stores the number the request resolves to.
- UpdateNodegroupVersion (POST /clusters/{name}/node-groups/{nodegroupName}/update-version): "You can update a
  node group using a launch template only if the node group was originally deployed with a launch template.
  Additionally, the launch template ID or name must match what was used when the node group was created. You
  can update the launch template version with necessary changes." -> InvalidParameterException otherwise (and
  for a version the template does not have). A node group that is not ACTIVE or DEGRADED, or has an update in
  progress, answers ResourceInUseException ("The specified resource is in use", HTTP 409). The answer is
  {"update": {id, status: InProgress, type: VersionUpdate, params: [{type: LaunchTemplateName|
  LaunchTemplateVersion, value}], createdAt, errors: []}}; the node group reads UPDATING while EKS replaces
  its nodes, then ACTIVE with the new version ("When the status of the update is Successful, the update is
  complete": DescribeUpdate).
- ListNodegroups of a cluster that does not exist: ResourceNotFoundException (moto 5.2.6 answers HTTP 500).
- DescribeUpdate (GET /clusters/{name}/updates/{updateId}?nodegroupName=): the update, or
  ResourceNotFoundException. ListUpdates (GET /clusters/{name}/updates?nodegroupName=): {"updateIds": [...]}.

A rollout lasts ROLLOUT["seconds"] real seconds from its start, read at every read (0 by default: over at the next
read); a test that needs a node group UPDATING raises it (the in-process server shares this module), and setting
it back to 0 ends every rollout at the next read.
"""

from __future__ import annotations

import threading
import time
import uuid

ROLLOUT = {"seconds": 0.0}
ACCEPTS_UPDATES = ("ACTIVE", "DEGRADED")
_LOCK = threading.Lock()
# the routes moto's eks/urls.py lacks (UpdateNodegroupVersion, ListUpdates, DescribeUpdate)
_PATHS = (
    "{0}/clusters/(?P<name>[^/]+)/node-groups/(?P<nodegroupName>[^/]+)/update-version$",
    "{0}/clusters/(?P<name>[^/]+)/updates$",
    "{0}/clusters/(?P<name>[^/]+)/updates/(?P<updateId>[^/]+)$",
)


def _template(account_id, region, spec):
    from moto.ec2.models import ec2_backends
    ec2 = ec2_backends[account_id][region]
    return ec2.get_launch_template(spec["id"]) if spec.get("id") else ec2.get_launch_template_by_name(spec["name"])


def _settle(nodegroup):
    """End the rollouts whose time is up: the update Successful, the node group ACTIVE on the new version."""
    with _LOCK:
        for update in getattr(nodegroup, "keyless_updates", {}).values():
            if update["status"] == "InProgress" and time.monotonic() - update["_started"] >= ROLLOUT["seconds"]:
                update["status"] = "Successful"
                nodegroup.launch_template["version"] = update["_version"]
                nodegroup.status = "ACTIVE"


def _public(update):
    return {k: v for k, v in update.items() if not k.startswith("_")}


def fix_eks_nodegroups():
    """Patch moto's EKS handlers and routes (see the module docstring); fix_moto() calls it once."""
    from moto.core.responses import ActionResult
    from moto.core.utils import utcnow
    from moto.eks import urls
    from moto.eks.exceptions import InvalidParameterException, ResourceInUseException, ResourceNotFoundException
    from moto.eks.responses import EKSResponse

    original_create = EKSResponse.create_nodegroup
    original_list = EKSResponse.list_nodegroups
    original_describe = EKSResponse.describe_nodegroup

    def create_nodegroup(self):
        result = original_create(self)
        nodegroup = self.eks_backend.describe_nodegroup(self._get_param("name"), self._get_param("nodegroupName"))
        spec = nodegroup.launch_template
        if spec:
            template = _template(self.current_account, self.region, spec)
            spec["version"] = str(template.get_version(spec.get("version") or "$Default").number)
        return result

    def describe_nodegroup(self):
        _settle(self.eks_backend.describe_nodegroup(self._get_param("name"), self._get_param("nodegroupName")))
        return original_describe(self)

    def list_nodegroups(self):
        self.eks_backend.describe_cluster(self._get_param("name"))  # ResourceNotFoundException
        return original_list(self)

    def update_nodegroup_version(self):
        cluster, name = self._get_param("name"), self._get_param("nodegroupName")
        nodegroup = self.eks_backend.describe_nodegroup(cluster, name)  # ResourceNotFoundException
        _settle(nodegroup)
        updates = nodegroup.__dict__.setdefault("keyless_updates", {})
        if nodegroup.status not in ACCEPTS_UPDATES or any(u["status"] == "InProgress" for u in updates.values()):
            raise ResourceInUseException(message="Nodegroup %s is currently %s: an update is in progress"
                                         % (name, nodegroup.status), clusterName=cluster, nodegroupName=name,
                                         addonName=None)
        wanted = self._get_param("launchTemplate")
        params = []
        version = None
        if wanted:
            current = nodegroup.launch_template
            if not current:
                raise InvalidParameterException(
                    message="You cannot specify a launch template for a node group that was not created with one",
                    clusterName=cluster, nodegroupName=name)
            if (wanted.get("id") and wanted["id"] != current["id"]) or \
                    (wanted.get("name") and wanted["name"] != current["name"]):
                raise InvalidParameterException(
                    message="The launch template id or name must match the one the node group was created with "
                            "(%s)" % current["id"], clusterName=cluster, nodegroupName=name)
            template = _template(self.current_account, self.region, current)
            try:
                version = str(template.get_version(wanted.get("version") or "$Default").number)
            except Exception:  # moto's InvalidLaunchTemplateVersionNotFound
                raise InvalidParameterException(
                    message="Launch template %s has no version %s" % (current["id"], wanted.get("version")),
                    clusterName=cluster, nodegroupName=name)
            params = [{"type": "LaunchTemplateName", "value": current["name"]},
                      {"type": "LaunchTemplateVersion", "value": version}]
        update = {"id": str(uuid.uuid4()), "status": "InProgress", "type": "VersionUpdate", "params": params,
                  "createdAt": utcnow(), "errors": [],
                  "_version": version or (nodegroup.launch_template or {}).get("version"),
                  "_started": time.monotonic()}
        with _LOCK:
            updates[update["id"]] = update
            nodegroup.status = "UPDATING"
        return ActionResult({"update": _public(update)})

    def _updates(self):
        cluster, name = self._get_param("name"), self._get_param("nodegroupName")
        if not name:
            self.eks_backend.describe_cluster(cluster)
            return {}
        nodegroup = self.eks_backend.describe_nodegroup(cluster, name)
        _settle(nodegroup)
        return getattr(nodegroup, "keyless_updates", {})

    def describe_update(self):
        update = _updates(self).get(self._get_param("updateId"))
        if update is None:
            raise ResourceNotFoundException(message="No update found for ID: %s" % self._get_param("updateId"),
                                            clusterName=self._get_param("name"), nodegroupName=None,
                                            fargateProfileName=None, addonName=None)
        return ActionResult({"update": _public(update)})

    def list_updates(self):
        return ActionResult({"updateIds": list(_updates(self))})

    for handler in (create_nodegroup, describe_nodegroup, list_nodegroups, update_nodegroup_version, describe_update,
                    list_updates):
        setattr(EKSResponse, handler.__name__, handler)
    for path in _PATHS:
        urls.url_paths.setdefault(path, urls.response.dispatch)
