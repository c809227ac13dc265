"""Fixtures of the trainer tests: the tiny dataset of trainer_testing, planned once per session."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from trainer_testing import DATASET_ID, nnunet_env, run, write_tiny_dataset


@pytest.fixture(scope="session")
def planned(tmp_path_factory) -> Path:
    """Root with raw/, preprocessed/ (planned, 3d_fullres) and results/; treat it as read-only."""
    root = tmp_path_factory.mktemp("nnunet")
    write_tiny_dataset(root / "raw")
    env = nnunet_env(root)
    env["nnUNet_n_proc_DA"] = "1"
    run(["nnUNetv2_plan_and_preprocess", "-d", str(DATASET_ID), "-c", "3d_fullres", "-np", "1", "-npfp", "1"], env)
    return root


@pytest.fixture
def workspace(planned, tmp_path) -> Path:
    """A private copy of the planned root, for tests that write into it."""
    root = tmp_path / "ws"
    shutil.copytree(planned, root)
    return root
