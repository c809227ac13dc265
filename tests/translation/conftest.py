"""Fixtures of the translation tests: tiny data, small model configs, one CPU thread."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import torch


@pytest.fixture(scope="session")
def translation_data(tmp_path_factory) -> Path:
    """The tiny ``nnuda-synth`` folder (read-only), or the local phantom before synth exists."""
    out = tmp_path_factory.mktemp("translation_data") / "crossmoda"
    try:
        from nnunet_uda.synth import synthesize
    except ImportError:
        from translation_phantom import write_phantom

        return write_phantom(out)
    synthesize(out, preset="tiny", seed=0, preview=False)
    return out


@pytest.fixture
def data_copy(translation_data, tmp_path) -> Path:
    dst = tmp_path / "crossmoda"
    shutil.copytree(translation_data, dst)
    return dst


@pytest.fixture(autouse=True)
def one_thread():
    """Tiny convolutions run faster on one thread than on two shared cores (measured 2-3x)."""
    old = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(old)

