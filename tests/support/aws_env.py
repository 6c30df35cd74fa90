"""Environment for talking to the local moto server: fake credentials, region, endpoint, collection path."""

from __future__ import annotations

import os
import pathlib

ROOT = pathlib.Path(__file__).resolve().parents[2]
COLLECTIONS = ROOT / ".build" / "collections"
FAKE_ACCESS_KEY = "AKIAKEYLESSTESTFAKE1"
FAKE_SECRET_KEY = "keylessFakeSecretKeyForTestsOnly0000000x"


def ensure_collection_link():
    """.build/collections/ansible_collections/keyless/aws -> the checkout, for ansible and pytest."""
    link = COLLECTIONS / "ansible_collections" / "keyless" / "aws"
    if link.is_symlink() and link.resolve() != ROOT:
        link.unlink()  # a stale link from another checkout
    if not link.exists():
        link.parent.mkdir(parents=True, exist_ok=True)
        try:
            link.symlink_to(ROOT, target_is_directory=True)
        except FileExistsError:  # another pytest-xdist worker made it first
            if link.resolve() != ROOT:
                raise
    return COLLECTIONS


def aws_env(endpoint_url, region="us-east-1", extra=None):
    """The environment of a run against endpoint_url; a None value in `extra` removes that variable
    (an empty AWS_REGION is not the same as none: botocore would take "" and never read the config file)."""
    env = dict(os.environ)
    for key in list(env):
        if key.startswith("AWS_"):
            del env[key]
    env.update({
        "AWS_ACCESS_KEY_ID": FAKE_ACCESS_KEY,
        "AWS_SECRET_ACCESS_KEY": FAKE_SECRET_KEY,
        "AWS_REGION": region,
        "AWS_DEFAULT_REGION": region,
        "AWS_ENDPOINT_URL": endpoint_url,
        "AWS_EC2_METADATA_DISABLED": "true",
        "ANSIBLE_COLLECTIONS_PATH": str(ensure_collection_link()),
        "ANSIBLE_NOCOLOR": "1",
        "ANSIBLE_FORCE_COLOR": "0",
        "ANSIBLE_STDOUT_CALLBACK": "default",
        "ANSIBLE_LOCALHOST_WARNING": "false",
        "ANSIBLE_INVENTORY_UNPARSED_WARNING": "false",
        "ANSIBLE_PYTHON_INTERPRETER": os.environ.get("KEYLESS_PYTHON", __import__("sys").executable),
    })
    for key, value in (extra or {}).items():
        if value is None:
            env.pop(key, None)
        else:
            env[key] = value
    return env
