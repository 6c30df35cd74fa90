# -*- coding: utf-8 -*-
# Copyright: keyless.aws contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The fleet engine: selection and bulk observe, the pure per-instance plans, the executor, results,
the audit. Private to the collection: no stable API.

selection (selector, DescribeInstances / association reads), associations and metadata (pure plans and
their calls), executor (thread pool, buckets per API, bulk waits), results, frame (what the fleet
modules share), audit / launch_templates / metadata_defaults / imdsv1_usage (read-only judgements).

May import: aws/, and iam/ for judging a role's policies in the audit. Never activity/.
"""
