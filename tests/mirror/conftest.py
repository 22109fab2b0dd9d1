"""Shared fixtures: the demo database (built into a temp dir) and one embedded-model Mirror per session."""
import os
import sys

import pytest

from girflow.frontends.mirror.demo_db import build_demo_db

# --import-mode=importlib does not put this folder on sys.path; the tests import mirror_helpers from it.
sys.path.insert(0, os.path.dirname(__file__))


@pytest.fixture(scope="session")
def demo_db(tmp_path_factory):
    return build_demo_db(tmp_path_factory.mktemp("demo") / "demo.db")


@pytest.fixture(scope="session")
def mirror(demo_db, tmp_path_factory):
    from girflow import Mirror

    return Mirror(demo_db, out_dir=tmp_path_factory.mktemp("mirror_out"))
