# -*- coding: utf-8 -*-
# Copyright: keyless.aws contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Account-level EC2 settings and launch sources: what new instances of an account are born with.
Private to the collection: no stable API.

metadata_defaults (the account's IMDS defaults per region: ec2_metadata_defaults), launch_templates (a
template's default version with the instance profile and the metadata options: ec2_launch_template_identity;
the audit reads their default versions). The coming launch-source code (Auto Scaling groups, node groups)
belongs here too.

May import: aws/, and fleet/'s pure parts (metadata: the option <-> API field table and the plans of the
metadata options; selection: filter-value chunking; audit: the view of a template's instance profile).
fleet/ never imports this package.
"""
