"""The built tarball holds only what users run and read (galaxy.yml build_ignore).

Builds the collection with `ansible-galaxy collection build` from a copy of the checkout made dirty the
way a working tree gets: a virtualenv, caches, ansible-test and molecule output, demo output, benchmark
results, a previous tarball and a cloud config with credentials. Every top-level entry of the tarball
must be on the list below, and none of the junk may be inside.
"""

from __future__ import annotations

import json
import pathlib
import shutil
import subprocess
import sys
import tarfile

import pytest

from tests.support.aws_env import ROOT

pytestmark = pytest.mark.integration

# what users run and read; tests/ ships so the unit tests and integration targets run from an install
ALLOWED_TOP = {"MANIFEST.json", "FILES.json", "README.md", "CHANGELOG.rst", "LICENSE", "COPYING", "requirements.txt",
               "meta", "plugins", "roles", "playbooks", "policies", "changelogs", "tests"}
REQUIRED = ("meta/runtime.yml", "meta/execution-environment.yml", "plugins/modules/iam_role.py",
            "plugins/module_utils/aws/connection.py", "roles/ec2_identity/tasks/main.yml", "playbooks/converge.yml",
            "policies/deployer.json", "README.md", "changelogs/changelog.yaml", "requirements.txt",
            "tests/integration/targets/iam_role/aliases", "tests/unit/requirements.txt")
JUNK = (".venv/bin/python", ".build/collections/x", ".pytest_cache/v/cache/nodeids", "tests/unit/.pytest_cache/x",
        ".ansible/collections/x", "extensions/molecule/default/.ansible/x", "demo/out/summary.html",
        "bench/results/latest.json", "tests/output/junit/iam_role.xml", "tests/integration/cloud-config-aws.ini",
        "plugins/modules/__pycache__/iam_role.cpython-311.pyc", "keyless-aws-0.0.9.tar.gz")
FORBIDDEN_PARTS = {".venv", ".build", ".pytest_cache", ".ansible", "__pycache__", "output", "out", "results",
                   "bench", "demo", "extensions", "scripts", ".ci"}


def git_files():
    out = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"], cwd=ROOT,
                         capture_output=True, check=True).stdout
    return [f for f in out.decode().split("\0") if f and (ROOT / f).is_file()]


@pytest.fixture(scope="module")
def tarball(tmp_path_factory):
    tree = tmp_path_factory.mktemp("tree") / "aws"
    for name in git_files():
        dest = tree / name
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / name, dest)
    for name in JUNK:
        junk = tree / name
        junk.parent.mkdir(parents=True, exist_ok=True)
        junk.write_text("aws_secret_key = keylessFakeSecretKeyForTestsOnly0000000x\n" if name.endswith(".ini") else "junk\n")
    out = tmp_path_factory.mktemp("dist")
    galaxy = pathlib.Path(sys.executable).parent / "ansible-galaxy"
    proc = subprocess.run([str(galaxy), "collection", "build", "--output-path", str(out), str(tree)],
                          capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    built = list(out.glob("keyless-aws-*.tar.gz"))
    assert len(built) == 1, built
    with tarfile.open(built[0]) as tar:
        names = [m.name[2:] if m.name.startswith("./") else m.name for m in tar.getmembers()]
        manifest = json.load(tar.extractfile("MANIFEST.json"))
    return names, manifest


def test_only_what_users_run_and_read(tarball):
    names, _manifest = tarball
    top = {n.split("/")[0] for n in names}
    assert top <= ALLOWED_TOP, sorted(top - ALLOWED_TOP)
    bad = [n for n in names if FORBIDDEN_PARTS & set(n.split("/")) or n.endswith((".pyc", ".tar.gz", ".ini"))]
    assert bad == []


def test_what_users_need_is_there(tarball):
    names, manifest = tarball
    missing = [n for n in REQUIRED if n not in names]
    assert missing == []
    assert manifest["collection_info"]["namespace"] == "keyless" and manifest["collection_info"]["name"] == "aws"
    assert sum(1 for n in names if n.startswith("plugins/modules/") and n.endswith(".py")) == \
        len(list((ROOT / "plugins" / "modules").glob("*.py")))
