"""EC2 Auto Scaling where moto 5.2.6 lacks it or answers unlike AWS: patches of moto's response handlers,
registered by tests/support/moto_server.fix_moto() (the moto server and in-process mock_aws alike).

    fix_autoscaling()   applies every patch below (idempotent through fix_moto)

Each patch cites the AWS documentation it follows. State lives on moto's autoscaling backend, so a moto reset
(or a new mock_aws) starts clean.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timezone

RUNNING = ("Pending", "InProgress", "Cancelling", "RollbackInProgress", "Baking")


def _refreshes(backend):
    if not hasattr(backend, "keyless_instance_refreshes"):
        backend.keyless_instance_refreshes = []
    return backend.keyless_instance_refreshes


def instance_refreshes():
    """StartInstanceRefresh, DescribeInstanceRefreshes and CancelInstanceRefresh, which moto 5.2.6 does not implement
    (NotImplementedError).

    As the EC2 Auto Scaling API reference documents them: StartInstanceRefresh needs an existing group
    (ValidationError otherwise), answers InstanceRefreshInProgress ("An instance refresh is already in progress")
    while one of the group's refreshes is Pending/InProgress/Cancelling/RollbackInProgress/Baking, else returns a
    new InstanceRefreshId (Strategy defaults to Rolling). DescribeInstanceRefreshes lists a group's refreshes newest
    first (optionally by InstanceRefreshIds) with Status, Preferences and Strategy. CancelInstanceRefresh answers
    ActiveInstanceRefreshNotFound when none is running, else the cancelled refresh's id. Moto replaces no instance:
    a started refresh stays InProgress until cancelled, which lets tests see the in-progress answer; each start is
    recorded with its request (backend.keyless_instance_refreshes) so tests can assert on it."""
    from moto.autoscaling.exceptions import AutoscalingClientError, ValidationError
    from moto.autoscaling.responses import AutoScalingResponse
    from moto.core.responses import ActionResult

    def group(self, name):
        if name not in self.autoscaling_backend.autoscaling_groups:
            raise ValidationError("AutoScalingGroup name not found - AutoScalingGroup '%s' not found" % name)
        return self.autoscaling_backend.autoscaling_groups[name]

    def start_instance_refresh(self):
        name = self._get_param("AutoScalingGroupName")
        group(self, name)
        refreshes = _refreshes(self.autoscaling_backend)
        if any(r["AutoScalingGroupName"] == name and r["Status"] in RUNNING for r in refreshes):
            raise AutoscalingClientError("InstanceRefreshInProgress", "An Instance Refresh is already in progress "
                                                                      "and blocks the execution of this Instance Refresh.")
        refresh = {"InstanceRefreshId": str(uuid.uuid4()), "AutoScalingGroupName": name, "Status": "InProgress",
                   "StatusReason": "Waiting for instances to warm up before continuing.",
                   "StartTime": datetime.now(timezone.utc), "PercentageComplete": 0, "InstancesToUpdate": 0,
                   "Strategy": self._get_param("Strategy") or "Rolling",
                   "Preferences": self._get_param("Preferences") or {}}
        refreshes.append(refresh)
        return ActionResult({"InstanceRefreshId": refresh["InstanceRefreshId"]})

    def describe_instance_refreshes(self):
        name = self._get_param("AutoScalingGroupName")
        group(self, name)
        ids = self._get_param("InstanceRefreshIds") or []
        found = [r for r in reversed(_refreshes(self.autoscaling_backend)) if r["AutoScalingGroupName"] == name
                 and (not ids or r["InstanceRefreshId"] in ids)]
        return ActionResult({"InstanceRefreshes": found})

    def cancel_instance_refresh(self):
        name = self._get_param("AutoScalingGroupName")
        group(self, name)
        running = [r for r in _refreshes(self.autoscaling_backend) if r["AutoScalingGroupName"] == name
                   and r["Status"] in RUNNING]
        if not running:
            raise AutoscalingClientError("ActiveInstanceRefreshNotFound", "No in progress or pending Instance "
                                                                          "Refresh found for Auto Scaling group %s" % name)
        for refresh in running:
            refresh["Status"] = "Cancelled"
        return ActionResult({"InstanceRefreshId": running[-1]["InstanceRefreshId"]})

    AutoScalingResponse.start_instance_refresh = start_instance_refresh
    AutoScalingResponse.describe_instance_refreshes = describe_instance_refreshes
    AutoScalingResponse.cancel_instance_refresh = cancel_instance_refresh


def update_launch_source_like_aws():
    """UpdateAutoScalingGroup, as AWS documents it ("Migrate your Auto Scaling groups to launch templates";
    API reference, UpdateAutoScalingGroup: "Only specify the parameters that you want to update"):
    - a LaunchTemplate or MixedInstancesPolicy replaces the group's launch configuration; moto 5.2.6 keeps
      LaunchConfigurationName beside the template, so the group reads as launching from both;
    - a request without MixedInstancesPolicy leaves the group's policy alone; moto 5.2.6 sets it to None on every
      update (MinSize alone erased it), and only a LaunchTemplate replaces it with the template."""
    from moto.autoscaling.models import FakeAutoScalingGroup

    original = FakeAutoScalingGroup.update

    def update(self, *args, **kwargs):
        launch_template = kwargs.get("launch_template")
        policy = kwargs.get("mixed_instances_policy")
        kept = None
        if not policy and not launch_template and self.mixed_instances_policy:
            kept = (self.mixed_instances_policy, self.ec2_launch_template, self.launch_template_version)
        original(self, *args, **kwargs)
        if kept:
            self.mixed_instances_policy, self.ec2_launch_template, self.launch_template_version = kept
        if launch_template or policy:
            self.launch_config = None
            self.launch_configuration_name = None
        if launch_template:
            self.mixed_instances_policy = None

    update.original = original
    FakeAutoScalingGroup.update = update


def describe_public_ip_only_when_given():
    """DescribeLaunchConfigurations reports AssociatePublicIpAddress only for a launch configuration created with it
    (API reference, LaunchConfiguration: "AssociatePublicIpAddress ... If the instance is launched into a default
    subnet, the default is to assign a public IPv4 address": absent is not false). moto 5.2.6 stores false for an
    absent one, which reads as "never a public address" and would turn into an explicit network interface."""
    from moto.autoscaling.responses import AutoScalingResponse

    original = AutoScalingResponse.create_launch_configuration

    def create_launch_configuration(self):
        result = original(self)
        if self._get_param("AssociatePublicIpAddress") is None:
            name = self._get_param("LaunchConfigurationName")
            self.autoscaling_backend.launch_configurations[name].associate_public_ip_address = None
        return result

    create_launch_configuration.original = original
    AutoScalingResponse.create_launch_configuration = create_launch_configuration


def fix_autoscaling():
    instance_refreshes()
    update_launch_source_like_aws()
    describe_public_ip_only_when_given()
