# -*- coding: utf-8 -*-
# Copyright: keyless.aws contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""AWS plumbing shared by every keyless.aws module. Private to the collection: no stable API.

connection (options, credentials and region as botocore resolves them), module (the module frame and
the one error boundary), errors (one message shape), retries (the one retry helper and its code sets),
rate_limit (client-side token buckets, one per API), parallel (the one bounded thread pool: parallel_map),
plan (Change / Plan and the one apply), rules (the input rules of AWS names and ids: regions, account ids, IAM
names and paths, session names, external ids), arns (parse, validate, build), tags.

May import: the standard library, ansible.module_utils, botocore/boto3. Never another package of ours.
"""
