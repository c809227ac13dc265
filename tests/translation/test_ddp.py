"""Under torchrun-style DDP (2 ranks, gloo, CPU) the translators stay identical across ranks.

One spawn runs every check (starting processes costs more than the steps).
"""

from __future__ import annotations

import contextlib
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).parent))

from nnuda_testing import run_gloo  # noqa: E402


def _worker(rank: int, world: int, tmp: str) -> None:
    from nnunet_uda.translation.config import SliceConfig
    from nnunet_uda.translation.gan_utils import broadcast_module
    from nnunet_uda.translation.models import build_model
    from nnunet_uda.translation.slices import SliceSet
    from nnunet_uda.translation.train import RunOptions, train
    from translation_helpers import small_cyclegan, small_nicegan

    result = {}
    for make, size in ((small_cyclegan, 32), (small_nicegan, 48)):
        cfg = make(iterations=3, slices=SliceConfig(image_size=size, spacing=1.0))
        torch.manual_seed(100 + rank)  # different initial weights per rank: the broadcast must fix them
        m = build_model(cfg)
        for net in m.children():
            broadcast_module(net)
        start = {k: v.clone() for k, v in m.state_dict().items()}
        g = torch.Generator().manual_seed(rank)
        for _ in range(3):
            a = torch.rand(1, 1, size, size, generator=g) * 2 - 1
            b = torch.rand(1, 1, size, size, generator=g) * 2 - 1
            m.train_step(a, b, None, contextlib.nullcontext)
        result[cfg.model] = {"start": start, "end": m.state_dict(), "data": a}
    g = torch.Generator().manual_seed(rank)
    src = SliceSet(torch.rand(6, 1, 32, 32, generator=g).half() * 2 - 1, None, torch.zeros(6, dtype=torch.long), ["a"])
    tgt = SliceSet(torch.rand(6, 1, 32, 32, generator=g).half() * 2 - 1, None, torch.zeros(6, dtype=torch.long), ["b"])
    cfg = small_cyclegan(iterations=3, slices=SliceConfig(image_size=32, spacing=1.0))
    train(cfg, src, tgt, Path(tmp) / "run", "cpu", RunOptions(progress=False, save_every=2, sample_every=10**9, log_every=1))
    torch.save(result, Path(tmp) / f"rank{rank}.pt")


def test_ranks_stay_identical(tmp_path):
    run_gloo(_worker, 2, str(tmp_path))
    r0, r1 = (torch.load(tmp_path / f"rank{r}.pt", weights_only=False) for r in (0, 1))
    for model in ("cyclegan", "nicegan"):
        a, b = r0[model], r1[model]
        assert not torch.equal(a["data"], b["data"])
        for k in a["end"]:
            assert torch.equal(a["start"][k], b["start"][k]), (model, k)
            assert torch.equal(a["end"][k], b["end"][k]), (model, k)
        assert any(not torch.equal(a["start"][k], a["end"][k]) for k in a["end"])
    ckpt = torch.load(tmp_path / "run" / "checkpoint_latest.pt", weights_only=False)
    assert ckpt["iteration"] == 3 and ckpt["world_size"] == 2 and len(ckpt["ranks"]) == 2
    assert not torch.equal(ckpt["ranks"][0]["sampler"], ckpt["ranks"][1]["sampler"])
    assert (tmp_path / "run" / "model_final.pt").is_file()
