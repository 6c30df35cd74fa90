# -*- coding: utf-8 -*-
# Copyright: keyless.aws contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Account-level EC2 settings and launch sources: what new instances of an account are born with.
Private to the collection: no stable API.

metadata_defaults (the account's IMDS defaults per region: ec2_metadata_defaults), launch_templates (a
template's default version with the instance profile and the metadata options: ec2_launch_template_identity;
the audit reads their default versions), managed_sources (EKS managed node groups: eks_nodegroup_identity; and
the one resolver of the template versions a launch source names), reported_sources (what is reported but never
changed: Spot Fleet requests, EC2 Fleets, Elastic Beanstalk environments, and the record every launch-source
reader returns), launch_source_audit (ec2_fleet_info's launch sources: what launches the replacements of the
audited instances), and the Auto Scaling groups of autoscaling_group_identity in three files: autoscaling
(selection, validation, the reads of observe, launch sources, owners, judging a version), autoscaling_plan (the
pure plan: new template versions, default versions, UpdateAutoScalingGroup requests, launch configuration
conversions) and autoscaling_apply (the calls, with instance refreshes).

May import: aws/, and fleet/'s pure parts (metadata: the option <-> API field table and the plans of the
metadata options; selection: filter-value chunking; audit: the view of a template's instance profile;
ownership: who owns an instance or an Auto Scaling group, by its tags).
fleet/ never imports this package.
"""
