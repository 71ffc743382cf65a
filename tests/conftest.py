import os

import pytest
import torch

torch.set_num_threads(1)  # tiny batches: one thread is fastest, and CI has 2 cores


@pytest.fixture(autouse=True)
def _cache_dir(tmp_path_factory, monkeypatch):
    """Keep the cavity reference cache out of the user's home, shared across the session."""
    monkeypatch.setenv("PINNCORE_CACHE", os.environ.get("PINNCORE_TEST_CACHE")
                       or str(tmp_path_factory.getbasetemp() / "cache"))


@pytest.fixture(scope="module")
def ray_session():
    """One local Ray for the module (starting it costs seconds); run_sweep reuses it and leaves it up."""
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    import ray

    started = not ray.is_initialized()
    if started:
        ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, logging_level="ERROR",
                 object_store_memory=100 * 1024**2)
    yield ray
    if started:
        ray.shutdown()
