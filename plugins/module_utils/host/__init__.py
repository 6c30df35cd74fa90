# -*- coding: utf-8 -*-
# Copyright: keyless.aws contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""What imds_info finds on the instance itself, besides the metadata service. Private to the collection: no stable API.

credentials (every credential the AWS SDKs' default chain would pick before the instance profile: process and
systemd environments, the shared credentials/config files of every home), imds_callers (which processes hold
TCP connections to the metadata service, and which AWS SDKs/agents on disk are older than AWS's published
minimum versions for IMDSv2), common (reading under a root path, masking, redaction).

Runs on the instances (Python 3.8+): the standard library only, never ansible.module_utils, botocore or another
package of ours. Every function takes the filesystem root to inspect (`root`, "/" on the instance; e.g. "/host"
in a container that mounts the host's filesystem there, or a fake root built by a test) and only reads.
Nothing here returns or keeps a secret: a secret access key, session token or credential_process argument is
dropped where it is read.
"""
