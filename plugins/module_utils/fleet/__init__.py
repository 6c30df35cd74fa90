# -*- coding: utf-8 -*-
# Copyright: keyless.aws contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The fleet engine: selection and bulk observe, the pure per-instance plans, the steps and their scheduler,
the executor, results, the audit. Private to the collection: no stable API.

selection (selector, DescribeInstances / association reads), associations and metadata (pure plans and their
calls), step (the Step interface) and steps (ProfileStep, MetadataStep: they change instances), rollout (the
scheduler that runs steps in lanes, in batches, and waits), executor (FleetRun's rate-limited clients, the
lanes), results, frame (what the fleet modules share: start, observe, converge, finish), identities (reads:
associations -> instance profiles -> roles), imdsv1_usage (reads: CloudWatch MetadataNoToken), audit and
compliance (pure judgements of what was read).

May import: aws/, and iam/ (instance profiles, and judging a role's policies in the audit). Never activity/ or
ec2account/ (account-level settings and launch sources, which import fleet/'s pure parts).
"""
