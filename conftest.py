"""Make `ansible_collections.keyless.aws` importable from the checkout for every test."""

import sys

from tests.support.aws_env import ensure_collection_link

sys.path.insert(0, str(ensure_collection_link()))
