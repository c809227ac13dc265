"""Shared fixtures: tiny generated CrossMoDA data and isolated nnU-Net folders."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

BIN = Path(sys.executable).parent


def nnunet_env(root: Path) -> dict[str, str]:
    """Environment for nnU-Net subprocesses with its three folders under ``root``."""
    env = dict(os.environ)
    for var, sub in (("nnUNet_raw", "raw"), ("nnUNet_preprocessed", "preprocessed"), ("nnUNet_results", "results")):
        (root / sub).mkdir(parents=True, exist_ok=True)
        env[var] = str(root / sub)
    env.setdefault("nnUNet_n_proc_DA", "1")
    env.setdefault("OMP_NUM_THREADS", "1")
    env["PYTHONUNBUFFERED"] = "1"
    return env


def run_tool(name: str, *args: str, env: dict[str, str] | None = None, check: bool = True, timeout: float = 900):
    """Run an installed console script (``nnuda-*``, ``nnUNetv2_*``) and return the result."""
    exe = BIN / name
    assert exe.exists(), f"console script {name} is not installed in {BIN}"
    res = subprocess.run([str(exe), *args], env=env, capture_output=True, text=True, timeout=timeout)
    if check and res.returncode != 0:
        raise AssertionError(f"{name} {' '.join(args)} failed ({res.returncode}):\n{res.stdout[-3000:]}\n{res.stderr[-3000:]}")
    return res


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
