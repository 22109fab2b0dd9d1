"""Suite-wide setup: the tests write girflow's caches to a private folder, never the user's."""
import os

import pytest


@pytest.fixture(autouse=True, scope="session")
def _private_girflow_cache(tmp_path_factory):
    os.environ["GIRFLOW_CACHE_DIR"] = str(tmp_path_factory.mktemp("girflow-cache"))
    yield
