"""Strict-AWS behaviours about state that settles over time: IAM propagation, unique-id ARNs, association
and metadata-option windows.

Moto answers as if every change were visible everywhere at once: a role can be added to a profile the
instant it exists, EC2 accepts a profile the instant IAM created it, an association is `associated` and
metadata options `applied` at once, and a disassociated association is gone at once. AWS is eventually
consistent and asynchronous in each of these places; each behaviour below says what AWS does, cites where
that is written down, and holds the window open for a number of AWS seconds (StrictClock.now(): real
seconds x speed, so the bench runs AWS's windows and the tests run them faster).

Every behaviour is one switch (`name`), takes its windows in AWS seconds, learns from the requests and
answers that pass through it (moto's backends are read only to learn whether an instance is running), and
forgets everything on reset(). Answers are rewritten with ElementTree in the namespace moto answered in,
which botocore parses (it ignores namespaces), and only when a tracked entity is in the answer.
"""

from __future__ import annotations

import re
import threading
import xml.etree.ElementTree as ET

from tests.support.strict_aws import Answer, Behaviour, error_answer

DEFAULT_ACCOUNT = "123456789012"  # moto's default account id
_INSTANCE_ID = re.compile(rb"<instanceId>([^<]+)</instanceId>")


# ---------------------------------------------------------------------------------------------- helpers

def _account(call):
    return call.account or DEFAULT_ACCOUNT


def _ok(answer):
    return 200 <= answer.status < 300


def _list_param(params, prefix):
    """Values of a flat query list: AssociationId.1, AssociationId.2, ... -> [v1, v2] (in index order)."""
    found = []
    pattern = re.compile(r"^%s\.(\d+)$" % re.escape(prefix))
    for key, value in params.items():
        match = pattern.match(key)
        if match:
            found.append((int(match.group(1)), value))
    return [value for _index, value in sorted(found)]


def _filters(params):
    """{filter name: [values]} of Filter.N.Name / Filter.N.Value.M query parameters."""
    names = {}
    values = {}
    pattern = re.compile(r"^Filter\.(\d+)\.(Name|Value\.(\d+))$")
    for key, value in params.items():
        match = pattern.match(key)
        if not match:
            continue
        index = int(match.group(1))
        if match.group(2) == "Name":
            names[index] = value
        else:
            values.setdefault(index, []).append((int(match.group(3)), value))
    result = {}
    for index, name in names.items():
        result.setdefault(name, []).extend(v for _i, v in sorted(values.get(index, [])))
    return result


class _Xml:
    """An XML answer parsed with its namespace kept, so it is written back as moto wrote it."""

    def __init__(self, body):
        self.root = ET.fromstring(body)
        tag = self.root.tag
        self.ns = tag[1:tag.index("}")] if tag.startswith("{") else ""

    def q(self, path):
        """An ElementTree path in this answer's namespace: 'a/b' -> '{ns}a/{ns}b'."""
        if not self.ns:
            return path
        return "/".join("{%s}%s" % (self.ns, part) for part in path.split("/"))

    def find(self, node, path):
        return node.find(self.q(path))

    def findall(self, node, path):
        return node.findall(self.q(path))

    def text(self, node, path, default=""):
        found = node.find(self.q(path))
        return (found.text or default) if found is not None else default

    def set_text(self, node, path, value):
        found = node.find(self.q(path))
        if found is None:
            return False
        found.text = value
        return True

    def element(self, tag, text=None):
        element = ET.Element("{%s}%s" % (self.ns, tag) if self.ns else tag)
        element.text = text
        return element

    def dump(self):
        return ET.tostring(self.root, encoding="utf-8", xml_declaration=True,
                           default_namespace=self.ns or None)


def _rewritten(answer, body):
    headers = [(k, v) for k, v in answer.headers if k.lower() != "content-length"]
    headers.append(("Content-Length", str(len(body))))
    return Answer(answer.status, headers, body)


class _Windows:
    """Keys that stay 'open' until an AWS time; expired keys are forgotten as they are met."""

    def __init__(self):
        self.until = {}

    def open(self, key, until):
        self.until[key] = until

    def is_open(self, key, now):
        until = self.until.get(key)
        if until is None:
            return False
        if now >= until:
            del self.until[key]
            return False
        return True

    def clear(self):
        self.until.clear()


def _profile_reference(params):
    """('name'|'arn', value as sent, profile name) of IamInstanceProfile.* in Associate/Replace, or None."""
    if params.get("IamInstanceProfile.Name"):
        name = params["IamInstanceProfile.Name"]
        return "name", name, name
    if params.get("IamInstanceProfile.Arn"):
        arn = params["IamInstanceProfile.Arn"]
        return "arn", arn, arn.rsplit("/", 1)[-1]
    return None


# ------------------------------------------------------------------------------------- IAM propagation

class IamPropagation(Behaviour):
    """A role just created is not yet visible to AddRoleToInstanceProfile.

    For `delay` AWS seconds after CreateRole succeeded, AddRoleToInstanceProfile naming that role answers
    NoSuchEntity "The role with name NAME cannot be found." (HTTP 404, as IAM's API reference gives the
    status of NoSuchEntity). terraform-provider-aws retries exactly this error (code and message prefix
    "The role with name") for its 2-minute propagation timeout, because IAM is eventually consistent.
    """

    name = "iam_propagation"
    source = ("terraform-provider-aws internal/service/iam/instance_profile.go instanceProfileAddRole "
              "(RetryWhen propagationTimeout on NoSuchEntity \"The role with name\"); propagationTimeout = "
              "2 minutes in internal/service/iam/wait.go citing IAM User Guide, Troubleshoot IAM, "
              "\"Changes that I make are not always immediately visible\" (eventual consistency); "
              "IAM API reference AddRoleToInstanceProfile, Errors: NoSuchEntity, HTTP 404")

    PARAMS = ("delay",)

    def __init__(self, delay=8.0):
        self.delay = float(delay)
        self._lock = threading.Lock()
        self._roles = _Windows()

    def reset(self):
        with self._lock:
            self._roles.clear()

    def state(self):
        return {"roles_propagating": len(self._roles.until)}

    def before(self, call, clock):
        if call.service != "iam" or call.action != "AddRoleToInstanceProfile":
            return None
        role = call.params.get("RoleName", "")
        with self._lock:
            hidden = self._roles.is_open((_account(call), role), clock.now())
        if hidden:
            return error_answer("iam", 404, "NoSuchEntity", "The role with name %s cannot be found." % role)
        return None

    def after(self, call, answer, clock):
        if call.service == "iam" and call.action == "CreateRole" and _ok(answer):
            with self._lock:
                self._roles.open((_account(call), call.params.get("RoleName", "")), clock.now() + self.delay)
        return answer


class Ec2ProfilePropagation(Behaviour):
    """EC2 does not yet know an instance profile that IAM just created or just gave a role.

    For `delay` AWS seconds after CreateInstanceProfile or AddRoleToInstanceProfile succeeded,
    AssociateIamInstanceProfile / ReplaceIamInstanceProfileAssociation naming that profile answer
    InvalidParameterValue "Value (NAME) for parameter iamInstanceProfile.name is invalid. Invalid IAM
    Instance Profile name" (by ARN: "... iamInstanceProfile.arn is invalid. Invalid IAM Instance Profile
    ARN"). terraform-provider-aws retries "Invalid IAM Instance Profile" on AssociateIamInstanceProfile for
    its IAM propagation timeout, and quotes the full message in instance_profile.go.
    """

    name = "ec2_profile_propagation"
    source = ("terraform-provider-aws internal/service/ec2/ec2_instance.go associateInstanceProfile (retries "
              "InvalidParameterValue \"Invalid IAM Instance Profile\" for iamPropagationTimeout); "
              "internal/service/iam/instance_profile.go instanceProfileAddRole comment: \"InvalidParameterValue: "
              "Value (XXX) for parameter iamInstanceProfile.name is invalid. Invalid IAM Instance Profile name\"")

    ACTIONS = ("AssociateIamInstanceProfile", "ReplaceIamInstanceProfileAssociation")

    PARAMS = ("delay",)

    def __init__(self, delay=8.0):
        self.delay = float(delay)
        self._lock = threading.Lock()
        self._profiles = _Windows()

    def reset(self):
        with self._lock:
            self._profiles.clear()

    def state(self):
        return {"profiles_propagating": len(self._profiles.until)}

    def before(self, call, clock):
        if call.service != "ec2" or call.action not in self.ACTIONS:
            return None
        reference = _profile_reference(call.params)
        if reference is None:
            return None
        field, value, name = reference
        with self._lock:
            hidden = self._profiles.is_open((_account(call), name), clock.now())
        if not hidden:
            return None
        return error_answer("ec2", 400, "InvalidParameterValue",
                            "Value (%s) for parameter iamInstanceProfile.%s is invalid. Invalid IAM Instance "
                            "Profile %s" % (value, field, "name" if field == "name" else "ARN"))

    def after(self, call, answer, clock):
        if (call.service == "iam" and call.action in ("CreateInstanceProfile", "AddRoleToInstanceProfile")
                and _ok(answer)):
            with self._lock:
                self._profiles.open((_account(call), call.params.get("InstanceProfileName", "")),
                                    clock.now() + self.delay)
        return answer


# ------------------------------------------------------------------------------------- unique-id ARNs

class UniqueIdArns(Behaviour):
    """Right after creation IAM can report a role's or instance profile's `Arn` as its unique id.

    The CreateRole / CreateInstanceProfile answer, and GetRole / GetInstanceProfile answers within `window`
    AWS seconds after the create, carry the entity's unique id (RoleId `AROA...`, InstanceProfileId
    `AIPA...`, whatever id moto gave it) in `Arn` instead of the ARN. terraform-provider-aws: "occasionally,
    immediately after a role is created, AWS will give an ARN like AROAQ7SSZBKHREXAMPLE (unique ID)" and
    waits until the Arn parses as an ARN; for instance profiles it keeps waiting while the ARN does not
    parse ("InvalidARN ... this is usually a temporary state").
    """

    name = "unique_id_arns"
    source = ("terraform-provider-aws internal/service/iam/role.go resourceRoleRead + wait.go "
              "waitRoleARNIsNotUniqueID; internal/service/iam/instance_profile.go statusInstanceProfile / "
              "waitInstanceProfileReady (instanceProfileInvalidARNState, 3 consecutive good reads)")

    KINDS = {  # action -> (kind, request parameter naming it, element in the answer, id element)
        "CreateRole": ("role", "RoleName", "CreateRoleResult/Role", "RoleId"),
        "GetRole": ("role", "RoleName", "GetRoleResult/Role", "RoleId"),
        "CreateInstanceProfile": ("profile", "InstanceProfileName", "CreateInstanceProfileResult/InstanceProfile",
                                  "InstanceProfileId"),
        "GetInstanceProfile": ("profile", "InstanceProfileName", "GetInstanceProfileResult/InstanceProfile",
                               "InstanceProfileId"),
    }

    PARAMS = ("window",)

    def __init__(self, window=3.0):
        self.window = float(window)
        self._lock = threading.Lock()
        self._fresh = _Windows()

    def reset(self):
        with self._lock:
            self._fresh.clear()

    def state(self):
        return {"fresh_entities": len(self._fresh.until)}

    def after(self, call, answer, clock):
        if call.service != "iam" or call.action not in self.KINDS or not _ok(answer):
            return answer
        kind, param, path, id_tag = self.KINDS[call.action]
        key = (_account(call), kind, call.params.get(param, ""))
        now = clock.now()
        with self._lock:
            if call.action.startswith("Create"):
                self._fresh.open(key, now + self.window)
                fresh = True
            else:
                fresh = self._fresh.is_open(key, now)
        if not fresh:
            return answer
        try:
            xml = _Xml(answer.body)
        except ET.ParseError:
            return answer
        entity = xml.find(xml.root, path)
        unique_id = xml.text(entity, id_tag) if entity is not None else ""
        if not unique_id or not xml.set_text(entity, "Arn", unique_id):
            return answer
        return _rewritten(answer, xml.dump())


# ----------------------------------------------------------------------------- association windows

class AssociationWindows(Behaviour):
    """Instance-profile associations take time to settle, and EC2 refuses to change one that is settling.

    After AssociateIamInstanceProfile / ReplaceIamInstanceProfileAssociation succeeded, the association
    reads `associating` (in that answer and in DescribeIamInstanceProfileAssociations, state filter
    included) for `associate` AWS seconds, then `associated`. Meanwhile Replace or Disassociate of it
    answers IncorrectState "The association ID is not the active association".
    After DisassociateIamInstanceProfile succeeded, the association reads `disassociating` for
    `disassociate` AWS seconds (moto drops it at once: it is put back into the Describe answers whose ids
    and filters select it, on the last page only); meanwhile AssociateIamInstanceProfile on that instance
    answers IncorrectState "There is an existing association for instance i-...", and Replace or a second
    Disassociate of it answers IncorrectState "The association ID is not the active association".
    """

    name = "association_windows"
    source = ("EC2 User Guide, Attach an IAM role to an instance (associate-iam-instance-profile answers "
              "\"State\": \"associating\"); EC2 API reference DisassociateIamInstanceProfile sample response "
              "(<state>disassociating</state>) and IamInstanceProfileAssociation.State (associating | "
              "associated | disassociating | disassociated); AWS's IncorrectState messages as returned to "
              "users: \"There is an existing association for instance i-...\" (AssociateIamInstanceProfile, "
              "aws-samples/aws-cloud9-bootstrapping-example#5) and \"The association iip-assoc-... is not the "
              "active association\" (ReplaceIamInstanceProfileAssociation, aws/aws-cli#5251)")

    CHANGES = ("ReplaceIamInstanceProfileAssociation", "DisassociateIamInstanceProfile")

    PARAMS = ("associate", "disassociate")

    def __init__(self, associate=5.0, disassociate=5.0):
        self.associate = float(associate)
        self.disassociate = float(disassociate)
        self._lock = threading.Lock()
        # association id -> {"state", "until", "instance", "item" (bytes of the answer's element), "ns"}
        self._tracked = {}

    def reset(self):
        with self._lock:
            self._tracked.clear()

    def state(self):
        with self._lock:
            states = [entry["state"] for entry in self._tracked.values()]
        return {state: states.count(state) for state in ("associating", "disassociating")}

    # a tracked association: its state now, or None once its window is over (then forgotten)
    def _state(self, association_id, now):
        entry = self._tracked.get(association_id)
        if entry is None:
            return None
        if now >= entry["until"]:
            del self._tracked[association_id]
            return None
        return entry["state"]

    def before(self, call, clock):
        if call.service != "ec2":
            return None
        now = clock.now()
        if call.action in self.CHANGES:
            association_id = call.params.get("AssociationId", "")
            with self._lock:
                state = self._state(association_id, now)
            if state is not None:
                return error_answer("ec2", 400, "IncorrectState",
                                    "The association %s is not the active association" % association_id)
        elif call.action == "AssociateIamInstanceProfile":
            instance = call.params.get("InstanceId", "")
            with self._lock:
                busy = [a for a in list(self._tracked) if self._tracked[a]["instance"] == instance
                        and self._state(a, now) == "disassociating"]
            if busy:
                return error_answer("ec2", 400, "IncorrectState",
                                    "There is an existing association for instance %s" % instance)
        return None

    def after(self, call, answer, clock):
        if call.service != "ec2" or not _ok(answer):
            return answer
        if call.action in ("AssociateIamInstanceProfile", "ReplaceIamInstanceProfileAssociation"):
            return self._settling(answer, clock.now() + self.associate, "associating")
        if call.action == "DisassociateIamInstanceProfile":
            return self._settling(answer, clock.now() + self.disassociate, "disassociating")
        if call.action == "DescribeIamInstanceProfileAssociations":
            return self._describe(call, answer, clock.now())
        return answer

    def _settling(self, answer, until, state):
        try:
            xml = _Xml(answer.body)
        except ET.ParseError:
            return answer
        item = xml.find(xml.root, "iamInstanceProfileAssociation")
        if item is None:
            return answer
        association_id = xml.text(item, "associationId")
        if not association_id:
            return answer
        if not xml.set_text(item, "state", state):
            item.append(xml.element("state", state))
        with self._lock:
            self._tracked[association_id] = {
                "state": state, "until": until, "instance": xml.text(item, "instanceId"),
                "item": ET.tostring(item), "ns": xml.ns}
        return _rewritten(answer, xml.dump())

    def _describe(self, call, answer, now):
        with self._lock:
            live = {a: dict(self._tracked[a]) for a in list(self._tracked) if self._state(a, now) is not None}
        if not live:
            return answer
        try:
            xml = _Xml(answer.body)
        except ET.ParseError:
            return answer
        items_node = xml.find(xml.root, "iamInstanceProfileAssociationSet")
        if items_node is None:
            return answer
        filters = _filters(call.params)
        states = filters.get("state")
        instances = filters.get("instance-id")
        ids = _list_param(call.params, "AssociationId")
        changed = False
        present = set()
        for item in list(items_node):
            association_id = xml.text(item, "associationId")
            present.add(association_id)
            entry = live.get(association_id)
            state = entry["state"] if entry else xml.text(item, "state")
            if entry and xml.text(item, "state") != state:
                xml.set_text(item, "state", state)
                changed = True
            if states is not None and state not in states:
                items_node.remove(item)
                changed = True
        last_page = not xml.text(xml.root, "nextToken")
        if last_page:
            for association_id, entry in sorted(live.items()):
                if association_id in present:
                    continue
                if entry["state"] == "associating" and (states is None or "associated" in states):
                    continue  # moto holds it as associated, so it is on one of the pages already
                if ids and association_id not in ids:
                    continue
                if instances is not None and entry["instance"] not in instances:
                    continue
                if states is not None and entry["state"] not in states:
                    continue
                if entry["ns"] != xml.ns:  # moto answers every EC2 call in one namespace: never expected
                    continue
                item = ET.fromstring(entry["item"])
                item.tag = xml.q("item")
                xml.set_text(item, "state", entry["state"])
                items_node.append(item)
                changed = True
        if not changed:
            return answer
        return _rewritten(answer, xml.dump())


# ------------------------------------------------------------------------------------ metadata pending

class MetadataPending(Behaviour):
    """A metadata-options change is `pending` before it is `applied`; on a stopped instance until it starts.

    After ModifyInstanceMetadataOptions succeeded on a running (or launching) instance, its MetadataOptions
    State reads `pending` (in the Modify answer's InstanceMetadataOptions and in DescribeInstances) for
    `apply` AWS seconds, then `applied`. On a stopped (or stopping) instance AWS applies the change when the
    instance is started: the state reads `pending` until StartInstances succeeds for it, then the `apply`
    window runs.
    """

    name = "metadata_pending"
    source = ("EC2 API reference ModifyInstanceMetadataOptions: \"When you modify the parameters on a stopped "
              "instance, they are applied when the instance is started. When you modify the parameters on a "
              "running instance, the API responds with a state of 'pending'. After the parameter modifications "
              "are successfully applied to the instance, the state of the modifications changes from 'pending' "
              "to 'applied' in subsequent describe-instances API calls.\"; EC2 User Guide, Modify instance "
              "metadata options for existing instances")

    WAITING = float("inf")  # the window of a stopped instance: open until it is started

    PARAMS = ("apply",)

    def __init__(self, apply=5.0):
        self.apply = float(apply)
        self._lock = threading.Lock()
        self._pending = {}  # (account, region, instance id) -> AWS time it reads applied (inf: at next start)

    def reset(self):
        with self._lock:
            self._pending.clear()

    def state(self):
        with self._lock:
            waiting = sum(1 for until in self._pending.values() if until == self.WAITING)
        return {"pending": len(self._pending) - waiting, "pending_until_start": waiting}

    def _live(self, now):
        for key in [k for k, until in self._pending.items() if now >= until]:
            del self._pending[key]
        return dict(self._pending)

    def after(self, call, answer, clock):
        if call.service != "ec2" or not _ok(answer):
            return answer
        if call.action == "ModifyInstanceMetadataOptions":
            instance = call.params.get("InstanceId", "")
            running = _instance_state(call, instance) not in ("stopped", "stopping")
            until = clock.now() + self.apply if running else self.WAITING
            with self._lock:
                self._pending[(_account(call), call.region, instance)] = until
            return self._rewrite(answer, {instance}, "instanceMetadataOptions")
        if call.action == "StartInstances":
            started = _list_param(call.params, "InstanceId")
            now = clock.now()
            with self._lock:
                for instance in started:
                    key = (_account(call), call.region, instance)
                    if self._pending.get(key) == self.WAITING:
                        self._pending[key] = now + self.apply
            return answer
        if call.action == "DescribeInstances":
            with self._lock:
                live = self._live(clock.now())
            wanted = {key[2] for key in live if key[:2] == (_account(call), call.region)}
            if not wanted or not wanted.intersection(
                    m.decode() for m in _INSTANCE_ID.findall(answer.body)):  # one pass over a large answer
                return answer
            return self._rewrite(answer, wanted, "reservationSet/item/instancesSet/item/metadataOptions")
        return answer

    @staticmethod
    def _rewrite(answer, instances, path):
        try:
            xml = _Xml(answer.body)
        except ET.ParseError:
            return answer
        changed = False
        if path == "instanceMetadataOptions":  # the Modify answer: one instance at the top level
            options = xml.find(xml.root, path)
            if options is not None and xml.text(xml.root, "instanceId") in instances:
                changed = _set_pending(xml, options)
        else:
            for instance in xml.findall(xml.root, "reservationSet/item/instancesSet/item"):
                if xml.text(instance, "instanceId") not in instances:
                    continue
                options = xml.find(instance, "metadataOptions")
                if options is not None:
                    changed = _set_pending(xml, options) or changed
        return _rewritten(answer, xml.dump()) if changed else answer


def _set_pending(xml, options):
    if xml.set_text(options, "state", "pending"):
        return True
    options.insert(0, xml.element("state", "pending"))
    return True


def _instance_state(call, instance_id):
    """The instance's state name in moto (same process as the middleware), or '' when it cannot be read.
    Only backends moto already holds are read (indexing a BackendDict would create one)."""
    try:
        from moto.backends import get_backend
        backend = get_backend("ec2")
    except Exception:  # not in moto's process
        return ""
    accounts = sorted(list(backend.keys()), key=lambda account: account != call.account)
    for account in accounts:
        per_account = dict.get(backend, account)
        regional = dict.get(per_account, call.region) if per_account is not None else None
        if regional is None:
            continue
        for _attempt in range(3):  # moto's dicts may change size under a concurrent request: read again
            try:
                return regional.get_instance(instance_id).state
            except RuntimeError:
                continue
            except Exception:  # not in this account: look in the next
                break
    return ""


def behaviours(iam_delay=8.0, profile_delay=8.0, arn_window=3.0, associate=5.0, disassociate=5.0, apply=5.0):
    """A fresh instance of every behaviour of this module (each keeps its own state), windows in AWS seconds."""
    return [IamPropagation(iam_delay), Ec2ProfilePropagation(profile_delay), UniqueIdArns(arn_window),
            AssociationWindows(associate, disassociate), MetadataPending(apply)]


# The behaviours of this module, in the order the layer runs them. Classes, not instances: the middleware
# (strict_aws.default_behaviours) makes a fresh instance of each per server, so two servers in one process
# (one pytest worker) never share windows; each class's defaults are AWS's.
BEHAVIOURS = [IamPropagation, Ec2ProfilePropagation, UniqueIdArns, AssociationWindows, MetadataPending]
