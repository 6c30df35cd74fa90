# -*- coding: utf-8 -*-
# Copyright: keyless.aws contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Access keys: the account side of "no keys left behind". Private to the collection: no stable API.

keys (IAM users' access keys: ListUsers, ListAccessKeys, GetAccessKeyLastUsed, ListUserTags; masking), usage (pure:
which key made which CloudTrail call from which instance of the fleet, and the reads of the fleet's addresses),
trail (the CloudTrail source options shared by the modules, and the collection of a set of keys' events through
activity/cloudtrail.py), retire_plan (pure: deactivate, reactivate, delete one key, or refuse with why) and retire
(the observe and the apply of iam_access_key), inventory (iam_access_key_info's engine).

Never a secret: ListAccessKeys and GetAccessKeyLastUsed carry no secret access key, nothing here calls CreateAccessKey,
and every key id leaves this package masked to its first and last 4 characters.

May import: aws/, activity/ (the CloudTrail reader and the event -> action map), fleet/selection (the instance
selector and its DescribeInstances pages), iam/. Never ec2account/ or a module.
"""
