# -*- coding: utf-8 -*-
# Copyright: keyless.aws contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Organization guardrails: the service control policy and the EC2 declarative policy that keep IMDSv1 and
profile-less launches from coming back, the preflight that proves nothing breaks before they are attached, and
the staged attach (keyless.aws.organizations_guardrail). Private to the collection: no stable API.

guardrail (pure: the options' validation, the documents built from intent, the names and tags of what the
module owns, the plan of Organizations calls and the staged gate), organization (the reads of the organization:
targets, the accounts under them, the policies the module owns and their attachments), preflight (per account and
region, through the member role: what the guardrail would refuse or break; reads only, and the pure judgement),
in_force (pure: which guardrail rules the SCPs and the effective EC2 declarative policy of an account implement,
recognized by content, and which are missing).

May import: aws/, iam/ (documents: parsing and comparing policy documents; lint: the least-privilege judgement),
ec2account/ (the readers of launch sources: autoscaling.observe, launch_source_audit.observe,
managed_sources.resolve_versions) and fleet/'s reading parts (selection.describe_instances,
imdsv1_usage.imdsv1_evidence). Nothing else imports this package but the module.
"""
