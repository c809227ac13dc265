"""Helpers for tests that run installed commands (``nnuda-*``, ``nnUNetv2_*``) in subprocesses.

A module of its own (not conftest.py): test folders have conftest files of their own, and
``from conftest import ...`` would pick whichever was imported first.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

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


def free_port() -> int:
    """A TCP port on 127.0.0.1 that is free right now (for a gloo rendezvous)."""
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _gloo_rank(rank: int, world: int, port: int, fn, args: tuple) -> None:
    import gc

    import torch
    import torch.distributed as dist

    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    torch.set_num_threads(1)
    dist.init_process_group("gloo", rank=rank, world_size=world)
    try:
        fn(rank, world, *args)
        # fn's locals (DDP wrappers, pending work) are gone once it returns; drop them before the group
        # goes, and let every rank finish before any tears down: a gloo pair closed under a peer that
        # still talks aborts that peer (SIGABRT, "terminate called without an active exception").
        gc.collect()
        dist.barrier()
    finally:
        dist.destroy_process_group()


def run_gloo(fn, world: int = 2, *args) -> None:
    """Run ``fn(rank, world, *args)`` on ``world`` spawned CPU processes in one gloo group.

    ``fn`` must be a module-level function (the spawned processes import it). The group is set
    up before and torn down after ``fn``, on every rank, in the same order.
    """
    import torch.multiprocessing as mp

    mp.spawn(_gloo_rank, args=(world, free_port(), fn, args), nprocs=world, join=True)
