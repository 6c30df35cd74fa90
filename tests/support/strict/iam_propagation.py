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

import threading
import xml.etree.ElementTree as ET

from tests.support.strict.answers import Windows, Xml, account_of, ok, rewritten
from tests.support.strict.core import Behaviour, error_answer


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
        self._roles = Windows()

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
            hidden = self._roles.is_open((account_of(call), role), clock.now())
        if hidden:
            return error_answer("iam", 404, "NoSuchEntity", "The role with name %s cannot be found." % role)
        return None

    def after(self, call, answer, clock):
        if call.service == "iam" and call.action == "CreateRole" and ok(answer):
            with self._lock:
                self._roles.open((account_of(call), call.params.get("RoleName", "")), clock.now() + self.delay)
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
        self._profiles = Windows()

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
            hidden = self._profiles.is_open((account_of(call), name), clock.now())
        if not hidden:
            return None
        return error_answer("ec2", 400, "InvalidParameterValue",
                            "Value (%s) for parameter iamInstanceProfile.%s is invalid. Invalid IAM Instance "
                            "Profile %s" % (value, field, "name" if field == "name" else "ARN"))

    def after(self, call, answer, clock):
        if (call.service == "iam" and call.action in ("CreateInstanceProfile", "AddRoleToInstanceProfile")
                and ok(answer)):
            with self._lock:
                self._profiles.open((account_of(call), call.params.get("InstanceProfileName", "")),
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
        self._fresh = Windows()

    def reset(self):
        with self._lock:
            self._fresh.clear()

    def state(self):
        return {"fresh_entities": len(self._fresh.until)}

    def after(self, call, answer, clock):
        if call.service != "iam" or call.action not in self.KINDS or not ok(answer):
            return answer
        kind, param, path, id_tag = self.KINDS[call.action]
        key = (account_of(call), kind, call.params.get(param, ""))
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
            xml = Xml(answer.body)
        except ET.ParseError:
            return answer
        entity = xml.find(xml.root, path)
        unique_id = xml.text(entity, id_tag) if entity is not None else ""
        if not unique_id or not xml.set_text(entity, "Arn", unique_id):
            return answer
        return rewritten(answer, xml.dump())
