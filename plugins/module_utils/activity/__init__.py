# -*- coding: utf-8 -*-
# Copyright: keyless.aws contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Activity: CloudTrail reading, the event -> IAM action map, and the suggested least-privilege policy.
Private to the collection: no stable API.

May import: aws/ and iam/ (documents, lint). Never fleet/.
"""
