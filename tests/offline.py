"""The autouse fixture that the model-heavy test folders import into their conftest.py."""

from __future__ import annotations

import pytest
import torch


@pytest.fixture(autouse=True)
def offline_single_thread(monkeypatch, tmp_path_factory):
    """No hub access; one intra-op thread (tiny models' ops are too small to gain from more, and a
    busy machine makes a spinning thread pool 10-50x slower)."""
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    monkeypatch.setenv("HF_HOME", str(tmp_path_factory.getbasetemp() / "hf_home"))
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture
def offline_hf(monkeypatch, tmp_path):
    """No hub access, and a Hugging Face cache of this test's own (``datasets`` caches what it builds there)."""
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf_home"))
