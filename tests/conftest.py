"""Shared fixtures: the embedded model once per session and a tiny stimulus set."""

import os
import socket

import numpy as np
import pytest
import torch

torch.set_num_threads(min(2, os.cpu_count() or 1))


@pytest.fixture(scope="session")
def model():
    from advlib import load_model

    return load_model("efficientnet_lite0", device="cpu")


@pytest.fixture(scope="session")
def alexnet_random():
    from advlib import load_model

    return load_model("alexnet", device="cpu", pretrained=False)


@pytest.fixture(scope="session")
def stim_dir(model, tmp_path_factory):
    """A 2-image RE/AN/AI set on the embedded model (the smoke profile's size)."""
    from advlib import build_stimulus_set

    out = tmp_path_factory.mktemp("stimuli") / "set"
    build_stimulus_set(model, out, n_images=2, seed=0, progress=False)
    return out


@pytest.fixture
def no_network(monkeypatch):
    """Make every socket connection fail, as on a machine without internet."""

    def refuse(*args, **kwargs):
        raise OSError("network disabled by test")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setattr(socket, "getaddrinfo", refuse)


@pytest.fixture
def rng():
    return np.random.default_rng(0)
