"""Shared fixtures: tiny generated CrossMoDA data and isolated nnU-Net folders."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from nnuda_testing import nnunet_env


@pytest.fixture(scope="session")
def crossmoda_tiny(tmp_path_factory) -> Path:
    """A tiny CrossMoDA-style folder from ``nnuda-synth`` (read-only: copy it to change it)."""
    from nnunet_uda.synth import synthesize

    out = tmp_path_factory.mktemp("synth") / "crossmoda_tiny"
    synthesize(out, preset="tiny", seed=0, preview=False)
    return out


@pytest.fixture
def crossmoda_copy(crossmoda_tiny, tmp_path) -> Path:
    """A writable copy of the tiny folder, for tests that damage it."""
    dst = tmp_path / "crossmoda"
    shutil.copytree(crossmoda_tiny, dst)
    return dst


@pytest.fixture
def nnunet_dirs(tmp_path, monkeypatch) -> dict[str, str]:
    """Isolated nnU-Net folders; sets the variables in this process and returns the env."""
    env = nnunet_env(tmp_path / "nnunet")
    for var in ("nnUNet_raw", "nnUNet_preprocessed", "nnUNet_results"):
        monkeypatch.setenv(var, env[var])
    return env
