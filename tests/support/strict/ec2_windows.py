"""State behaviours of EC2 that settle over time: association windows (`associating`, `disassociating`) and
metadata options `pending` (see tests/support/strict/iam_propagation.py for what every state behaviour shares)."""

from __future__ import annotations

import re
import threading
import xml.etree.ElementTree as ET

from tests.support.strict.answers import Xml, account_of, list_param, ok, query_filters, rewritten
from tests.support.strict.core import Behaviour, error_answer

_INSTANCE_ID = re.compile(rb"<instanceId>([^<]+)</instanceId>")


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
        if call.service != "ec2" or not ok(answer):
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
            xml = Xml(answer.body)
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
        return rewritten(answer, xml.dump())

    def _describe(self, call, answer, now):
        with self._lock:
            live = {a: dict(self._tracked[a]) for a in list(self._tracked) if self._state(a, now) is not None}
        if not live:
            return answer
        try:
            xml = Xml(answer.body)
        except ET.ParseError:
            return answer
        items_node = xml.find(xml.root, "iamInstanceProfileAssociationSet")
        if items_node is None:
            return answer
        filters = query_filters(call.params)
        states = filters.get("state")
        instances = filters.get("instance-id")
        ids = list_param(call.params, "AssociationId")
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
        return rewritten(answer, xml.dump())


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
        if call.service != "ec2" or not ok(answer):
            return answer
        if call.action == "ModifyInstanceMetadataOptions":
            instance = call.params.get("InstanceId", "")
            running = _instance_state(call, instance) not in ("stopped", "stopping")
            until = clock.now() + self.apply if running else self.WAITING
            with self._lock:
                self._pending[(account_of(call), call.region, instance)] = until
            return self._rewrite(answer, {instance}, "instanceMetadataOptions")
        if call.action == "StartInstances":
            started = list_param(call.params, "InstanceId")
            now = clock.now()
            with self._lock:
                for instance in started:
                    key = (account_of(call), call.region, instance)
                    if self._pending.get(key) == self.WAITING:
                        self._pending[key] = now + self.apply
            return answer
        if call.action == "DescribeInstances":
            with self._lock:
                live = self._live(clock.now())
            wanted = {key[2] for key in live if key[:2] == (account_of(call), call.region)}
            if not wanted or not wanted.intersection(
                    m.decode() for m in _INSTANCE_ID.findall(answer.body)):  # one pass over a large answer
                return answer
            return self._rewrite(answer, wanted, "reservationSet/item/instancesSet/item/metadataOptions")
        return answer

    @staticmethod
    def _rewrite(answer, instances, path):
        try:
            xml = Xml(answer.body)
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
        return rewritten(answer, xml.dump()) if changed else answer


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
