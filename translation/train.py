"""Training loop of one translator, with automatic exact resume (item 4).

A run folder holds::

    config.json              model config (with the resolved slice spacing) + data facts
    checkpoint_latest.pt     weights, optimizers, schedulers, iteration, per-rank RNG
                             states, sampler state and history buffers (every N iterations)
    model_final.pt           generator weights for synthesis (written at the end)
    losses.csv / losses.png  loss terms averaged over each logging interval
    samples/iter_XXXXXXX.png input | translated | reconstructed, one row per domain and site

Starting a run in a folder that has ``checkpoint_latest.pt`` resumes from it, provided
the config is the same (otherwise the caller gets an :class:`InputError`). Under
torchrun (``torch.distributed`` initialised) every rank trains on its own random slices,
gradients are averaged across ranks after each backward, and rank 0 writes the files.
"""

from __future__ import annotations

import contextlib
import csv
import os
import time
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.distributed as dist
from tqdm import tqdm

from nnunet_uda.errors import InputError
from nnunet_uda.translation.config import ModelConfig, config_to_dict, load_config, save_config
from nnunet_uda.translation.gan_utils import broadcast_module, distributed  # noqa: F401 (re-exported)
from nnunet_uda.translation.models import build_model
from nnunet_uda.translation.plots import plot_losses, save_grid
from nnunet_uda.translation.slices import SliceSet

CONFIG = "config.json"
CHECKPOINT = "checkpoint_latest.pt"
FINAL = "model_final.pt"
LOSSES = "losses.csv"


@dataclass
class RunOptions:
    """How a run reports, not what it learns (free to change between resumes)."""

    save_every: int = 1000
    log_every: int = 10
    sample_every: int = 5000
    progress: bool = True
    bf16: bool = True


def rank_and_world() -> tuple[int, int]:
    if distributed():
        return dist.get_rank(), dist.get_world_size()
    return 0, 1


def autocast_factory(device: torch.device, bf16: bool):
    """bf16 autocast on CUDA; nothing on the CPU (fp32)."""
    if device.type == "cuda" and bf16:
        return lambda: torch.autocast("cuda", dtype=torch.bfloat16)
    return contextlib.nullcontext


def _atomic_save(obj, path: Path) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    torch.save(obj, tmp)
    os.replace(tmp, path)


def check_run_folder(run_dir: Path, config: ModelConfig) -> bool:
    """True if ``run_dir`` already holds a run of this config (to be resumed or reused).

    Raises:
        InputError: the folder holds a run of a different config.
    """
    path = Path(run_dir) / CONFIG
    if not path.is_file():
        return False
    old, _ = load_config(path)
    if config_to_dict(old) != config_to_dict(config):
        raise InputError(
            f"{run_dir} holds a translation run with another config; pass --overwrite to start over, "
            f"or choose another work folder (-o)"
        )
    return True


def _batch(images: SliceSet, idx: torch.Tensor, device: torch.device, crop: int | None, flip: bool,
           generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor | None]:
    """Slices ``idx`` as float images on ``device`` (with labels if the set has them), each
    cropped to a random ``crop x crop`` window and flipped left-right with probability 1/2
    (``flip``); the random draws come from ``generator``, so a resumed run repeats them."""
    x = images.images[idx].float()
    y = images.labels[idx] if images.labels is not None else None
    size = x.shape[-1]
    if (crop is not None and crop < size) or flip:
        views_x, views_y = [], []
        for i in range(x.shape[0]):
            xi, yi = x[i], None if y is None else y[i]
            if crop is not None and crop < size:
                top, left = (int(v) for v in torch.randint(0, size - crop + 1, (2,), generator=generator))
                xi = xi[..., top : top + crop, left : left + crop]
                yi = None if yi is None else yi[top : top + crop, left : left + crop]
            if flip and bool(torch.rand((), generator=generator) < 0.5):
                xi = xi.flip(-1)
                yi = None if yi is None else yi.flip(-1)
            views_x.append(xi)
            views_y.append(yi)
        x = torch.stack(views_x)
        y = None if y is None else torch.stack(views_y)
    x = x.to(device, non_blocking=True)
    if device.type == "cuda":
        x = x.contiguous(memory_format=torch.channels_last)
    return x, None if y is None else y.to(device, non_blocking=True)


def slices_with_structures(src: SliceSet) -> torch.Tensor:
    """Indices of the slices whose label shows any structure (empty without labels)."""
    if src.labels is None:
        return torch.zeros(0, dtype=torch.long)
    return torch.nonzero(src.labels.flatten(1).amax(1) > 0).flatten().cpu()


def source_indices(n_slices: int, showing: torch.Tensor, n: int, structure_fraction: float,
                   generator: torch.Generator) -> torch.Tensor:
    """``n`` random indices below ``n_slices``; each, with probability ``structure_fraction``,
    one of ``showing`` (:func:`slices_with_structures`; uniform if that is empty)."""
    idx = torch.randint(0, n_slices, (n,), generator=generator)
    if structure_fraction <= 0:
        return idx
    pick = torch.rand(n, generator=generator) < structure_fraction
    if len(showing) and bool(pick.any()):
        idx[pick] = showing[torch.randint(0, len(showing), (int(pick.sum()),), generator=generator)]
    return idx


def sample_indices(s: SliceSet) -> list[tuple[str, int]]:
    """One fixed slice per site (the middle of that site's slices) for the sample grids."""
    out = []
    for i, name in enumerate(s.site_names):
        where = torch.nonzero(s.sites == i).flatten()
        if len(where):
            out.append((name, int(where[len(where) // 2])))
    return out


@torch.no_grad()
def write_samples(model, src: SliceSet, tgt: SliceSet, device: torch.device, autocast, path: Path, title: str) -> None:
    """Grid of input | translated | reconstructed for each site of both domains."""
    was_training = model.training
    model.eval()
    rows = []
    for label, s, forward, backward in (("src", src, model.translate, model.translate_back), ("tgt", tgt, model.translate_back, model.translate)):
        for site, i in sample_indices(s):
            x = s.images[i : i + 1].to(device).float()
            with autocast():
                y = forward(x)
                r = backward(y)
            rows.append((f"{label} {site}", *(t[0, 0].float().cpu().numpy() for t in (x, y, r))))
    save_grid(rows, path, title)
    model.train(was_training)


def _truncate_log(path: Path, iteration: int) -> None:
    """Drop log rows written after the checkpoint we resume from."""
    if not path.is_file():
        return
    with open(path) as f:
        rows = list(csv.reader(f))
    keep = [rows[0]] + [r for r in rows[1:] if int(r[0]) <= iteration]
    with open(path, "w", newline="") as f:
        csv.writer(f).writerows(keep)


def _rank_state(model, sampler: torch.Generator, acc: dict, device: torch.device) -> dict:
    state = {"torch_rng": torch.get_rng_state(), "sampler": sampler.get_state(), "model": model.rank_state(), "acc": dict(acc)}
    if device.type == "cuda":
        state["cuda_rng"] = torch.cuda.get_rng_state(device)
    return state


def train(
    config: ModelConfig,
    src: SliceSet,
    tgt: SliceSet,
    run_dir: Path,
    device: torch.device | str = "cpu",
    options: RunOptions | None = None,
    meta: dict | None = None,
    stop_at: int | None = None,
) -> Path:
    """Train (or resume) a translator from source slices ``src`` to target slices ``tgt``.

    Args:
        config: model config; its ``slices.spacing`` must be resolved.
        src: labeled source slices (labels used with ``preserve_structures``).
        tgt: unlabeled target slices.
        run_dir: the run folder (created; resumed from if it has a checkpoint).
        device: ``cpu`` or ``cuda[:i]``.
        options: logging/checkpoint cadence.
        meta: extra facts stored in config.json (target intensity range, sites, ...).
        stop_at: stop after this iteration (a checkpoint is written); for tests of resume.

    Returns:
        Path of ``model_final.pt`` (or of the checkpoint when stopped early).
    """
    options = options or RunOptions()
    device = torch.device(device)
    rank, world = rank_and_world()
    run_dir = Path(run_dir)
    if config.preserve_structures and src.labels is None:
        raise InputError("--preserve-structures needs source labels")
    resuming = check_run_folder(run_dir, config)
    if rank == 0:
        (run_dir / "samples").mkdir(parents=True, exist_ok=True)
        if not resuming:
            save_config(config, run_dir / CONFIG, meta)
    end = config.iterations if stop_at is None else min(stop_at, config.iterations)

    torch.manual_seed(config.seed)
    model = build_model(config, device)
    for net in model.children():
        broadcast_module(net)
    sampler = torch.Generator().manual_seed(config.seed * 1000 + rank + 17)
    torch.manual_seed(config.seed * 1000 + rank)
    acc: dict[str, float] = {}
    start = 0
    ckpt_path = run_dir / CHECKPOINT
    if ckpt_path.is_file():
        ckpt = torch.load(ckpt_path, map_location=device, weights_only=False)
        model.load_training_state(ckpt["training"])
        start = ckpt["iteration"]
        if ckpt["world_size"] == world:
            rs = ckpt["ranks"][rank]
            torch.set_rng_state(rs["torch_rng"])
            if device.type == "cuda" and "cuda_rng" in rs:
                torch.cuda.set_rng_state(rs["cuda_rng"], device)
            sampler.set_state(rs["sampler"])
            model.load_rank_state(rs["model"])
            acc = rs["acc"]
        if rank == 0:
            _truncate_log(run_dir / LOSSES, start)
    if start >= config.iterations and (run_dir / FINAL).is_file():
        return run_dir / FINAL

    if device.type == "cuda":
        src = SliceSet(src.images.to(device), None if src.labels is None else src.labels.to(device), src.sites, src.site_names)
        tgt = SliceSet(tgt.images.to(device), None, tgt.sites, tgt.site_names)
    autocast = autocast_factory(device, options.bf16)
    model.train()
    sc = config.slices
    showing = slices_with_structures(src)

    def checkpoint(iteration: int) -> None:
        states = [None] * world
        mine = _rank_state(model, sampler, acc, device)
        if world > 1:
            dist.all_gather_object(states, mine)
        else:
            states = [mine]
        if rank == 0:
            _atomic_save({"iteration": iteration, "world_size": world, "training": model.training_state(), "ranks": states}, ckpt_path)
        if world > 1:
            dist.barrier()

    log_file = None
    writer = None
    t0 = time.time()
    bar = tqdm(total=config.iterations, initial=start, disable=not options.progress or rank != 0, desc=f"{config.model} {run_dir.name}", dynamic_ncols=True)
    try:
        for it in range(start, end):
            ia = source_indices(len(src), showing, config.batch_size, sc.structure_fraction, sampler)
            ib = torch.randint(0, len(tgt), (config.batch_size,), generator=sampler)
            real_A, label_A = _batch(src, ia.to(src.images.device), device, sc.train_crop, sc.train_flip, sampler)
            real_B, _ = _batch(tgt, ib.to(tgt.images.device), device, sc.train_crop, sc.train_flip, sampler)
            losses = model.train_step(real_A, real_B, label_A, autocast)
            for k, v in losses.items():
                acc[k] = acc.get(k, 0.0) + v
            acc["_n"] = acc.get("_n", 0.0) + 1
            done = it + 1
            bar.update(1)
            if done % options.log_every == 0 or done == end:
                means = {k: v / acc["_n"] for k, v in acc.items() if k != "_n"}
                acc = {}
                bar.set_postfix(cycle=f"{means['cycle']:.3f}")
                if rank == 0:
                    if writer is None:
                        new = not (run_dir / LOSSES).is_file()
                        log_file = open(run_dir / LOSSES, "a", newline="")
                        writer = csv.writer(log_file)
                        if new:
                            writer.writerow(["iteration", "lr", "seconds", *means])
                    writer.writerow([done, f"{model.opt_G.param_groups[0]['lr']:.6g}", f"{time.time() - t0:.2f}", *(f"{v:.6g}" for v in means.values())])
                    log_file.flush()
            if done % options.save_every == 0 or done == end:
                checkpoint(done)
            if rank == 0 and (done % options.sample_every == 0 or done == config.iterations):
                write_samples(model, src, tgt, device, autocast, run_dir / "samples" / f"iter_{done:07d}.png", f"{config.model} {run_dir.name} iteration {done}")
    finally:
        bar.close()
        if log_file is not None:
            log_file.close()
    if rank == 0 and (run_dir / LOSSES).is_file():
        plot_losses(run_dir / LOSSES, run_dir / "losses.png")
    if end < config.iterations:
        return ckpt_path
    if rank == 0:
        _atomic_save({"model": config.model, "config": config_to_dict(config), "weights": model.inference_state()}, run_dir / FINAL)
    if world > 1:
        dist.barrier()
    return run_dir / FINAL


def load_translator(run_dir: Path, device: torch.device | str = "cpu"):
    """``(model, config, meta)`` from a finished run folder, in eval mode.

    Raises:
        InputError: no finished model in the folder.
    """
    run_dir = Path(run_dir)
    final = run_dir / FINAL
    if not final.is_file():
        hint = "training was interrupted; run the train step again to resume" if (run_dir / CHECKPOINT).is_file() else "train it first"
        raise InputError(f"no trained translator in {run_dir} ({hint})")
    config, meta = load_config(run_dir / CONFIG)
    model = build_model(config, device)
    state = torch.load(final, map_location=device, weights_only=False)
    model.load_inference_state(state["weights"])
    model.eval()
    return model, config, meta


def read_losses(run_dir: Path) -> list[dict[str, float]]:
    """Rows of ``losses.csv`` as dicts of floats."""
    with open(Path(run_dir) / LOSSES) as f:
        return [{k: float(v) for k, v in r.items()} for r in csv.DictReader(f)]

