"""Fixtures of the translation tests: tiny data, one CPU thread."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch


@pytest.fixture(scope="session")
def translation_data(crossmoda_tiny) -> Path:
    """The tiny ``nnuda-synth`` folder of the top-level conftest (read-only)."""
    return crossmoda_tiny


@pytest.fixture
def data_copy(crossmoda_copy) -> Path:
    """A writable copy of the tiny folder."""
    return crossmoda_copy


@pytest.fixture(autouse=True)
def one_thread():
    """Tiny convolutions run faster on one thread than on two shared cores (measured 2-3x)."""
    old = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(old)

