import os

import pytest
import torch

torch.set_num_threads(1)  # tiny batches: one thread is fastest, and CI has 2 cores


@pytest.fixture(autouse=True)
def _cache_dir(tmp_path_factory, monkeypatch):
    """Keep the cavity reference cache out of the user's home, shared across the session."""
    monkeypatch.setenv("PINNCORE_CACHE", os.environ.get("PINNCORE_TEST_CACHE")
                       or str(tmp_path_factory.getbasetemp() / "cache"))
