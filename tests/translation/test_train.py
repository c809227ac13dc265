"""Training: the cycle loss goes down, and resuming is exact (item 4)."""

from __future__ import annotations

import csv

import pytest
import torch

from nnunet_uda.translation.train import CHECKPOINT, FINAL, RunOptions, load_translator, read_losses, train
from translation_helpers import slice_sets, small_cyclegan, small_nicegan

QUIET = dict(progress=False, sample_every=10**9)


@pytest.mark.parametrize("make", [small_cyclegan, small_nicegan], ids=["cyclegan", "nicegan"])
def test_cycle_loss_goes_down(translation_data, tmp_path, make):
    """A few hundred iterations (300) on tiny slices lower the cycle loss by at least 30%."""
    iterations = 300
    cfg, src, tgt = slice_sets(translation_data, make(iterations=iterations))
    train(cfg, src, tgt, tmp_path / "run", "cpu", RunOptions(log_every=1, save_every=10**9, **QUIET))
    cycle = [r["cycle"] for r in read_losses(tmp_path / "run")]
    assert len(cycle) == iterations
    first, last = sum(cycle[:20]) / 20, sum(cycle[-20:]) / 20
    assert last < 0.7 * first, (first, last)
    assert (tmp_path / "run" / "losses.png").is_file() and (tmp_path / "run" / FINAL).is_file()
    model, cfg_back, _ = load_translator(tmp_path / "run")
    assert cfg_back == cfg and not model.training


def _states_equal(a, b) -> None:
    if isinstance(a, dict):
        assert a.keys() == b.keys()
        for k in a:
            _states_equal(a[k], b[k])
    elif isinstance(a, (list, tuple)):
        assert len(a) == len(b)
        for x, y in zip(a, b):
            _states_equal(x, y)
    elif isinstance(a, torch.Tensor):
        assert torch.equal(a, b)
    else:
        assert a == b


def _rows(path):
    with open(path) as f:
        return [{k: v for k, v in r.items() if k != "seconds"} for r in csv.DictReader(f)]


@pytest.mark.parametrize(
    "make, preserve",
    [(small_cyclegan, False), (small_nicegan, False), (small_cyclegan, True)],
    ids=["cyclegan", "nicegan", "cyclegan-preserve"],
)
def test_resume_is_exact(translation_data, tmp_path, make, preserve):
    """Stopped at 5 of 8 and resumed, a run ends with the same weights, optimizer states (the
    structure segmenter's own included), history buffers, sampler and loss log as one run."""
    kw = dict(iterations=8, preserve_structures=preserve, **(dict(pool_size=3) if make is small_cyclegan else {}))
    cfg, src, tgt = slice_sets(translation_data, make(**kw), labels=preserve)
    opts = RunOptions(log_every=1, save_every=2, sample_every=4, progress=False)
    train(cfg, src, tgt, tmp_path / "once", "cpu", opts)
    train(cfg, src, tgt, tmp_path / "twice", "cpu", opts, stop_at=5)
    stopped = torch.load(tmp_path / "twice" / CHECKPOINT, weights_only=False)
    assert stopped["iteration"] == 5 and not (tmp_path / "twice" / FINAL).exists()
    train(cfg, src, tgt, tmp_path / "twice", "cpu", opts)
    a = torch.load(tmp_path / "once" / CHECKPOINT, weights_only=False)
    b = torch.load(tmp_path / "twice" / CHECKPOINT, weights_only=False)
    assert a["iteration"] == b["iteration"] == 8
    _states_equal(a["training"], b["training"])
    assert ("opt_S" in a["training"]) == preserve
    _states_equal(a["ranks"], b["ranks"])
    assert _rows(tmp_path / "once" / "losses.csv") == _rows(tmp_path / "twice" / "losses.csv")
    assert (tmp_path / "twice" / "samples" / "iter_0000008.png").is_file()



@pytest.mark.parametrize("make", [small_cyclegan, small_nicegan], ids=["cyclegan", "nicegan"])
def test_structure_segmenter_has_its_own_optimizer(make):
    """With --preserve-structures the segmenter's weights are stepped by opt_S (seg_lr, beta1 0.9) and
    by nothing else; every other generator weight stays with opt_G (the paper's settings)."""
    from nnunet_uda.translation.models import build_model

    model = build_model(make(iterations=4, preserve_structures=True), "cpu")
    gen_ab = model.generators[0] if make is small_cyclegan else model.gen_AB
    seg = {id(p) for p in gen_ab.seg_head.parameters()}
    in_g = {id(p) for group in model.opt_G.param_groups for p in group["params"]}
    in_s = {id(p) for group in model.opt_S.param_groups for p in group["params"]}
    assert in_s == seg and not (in_g & seg)
    own = {id(p) for g in model.generators for p in g.parameters()} - seg
    if make is small_nicegan:  # the encoders live in the discriminators and are stepped by opt_D
        own -= {id(p) for d in (model.dis_A, model.dis_B) for p in d.parameters()}
    assert in_g == own
    assert model.opt_S.param_groups[0]["lr"] == model.config.seg_lr
    assert build_model(make(iterations=4), "cpu").opt_S is None


def test_old_preserving_checkpoint_gives_one_clear_error(translation_data, tmp_path):
    """A structure-preserving checkpoint without the segmenter's optimizer (older versions) is refused
    with an InputError naming the way out, not a PyTorch error about parameter groups."""
    from nnunet_uda.errors import InputError

    cfg, src, tgt = slice_sets(translation_data, small_cyclegan(iterations=4, preserve_structures=True), labels=True)
    opts = RunOptions(log_every=1, save_every=1, sample_every=10**9, progress=False)
    train(cfg, src, tgt, tmp_path / "run", "cpu", opts, stop_at=2)
    ckpt = torch.load(tmp_path / "run" / CHECKPOINT, weights_only=False)
    del ckpt["training"]["opt_S"]
    torch.save(ckpt, tmp_path / "run" / CHECKPOINT)
    with pytest.raises(InputError, match="--overwrite"):
        train(cfg, src, tgt, tmp_path / "run", "cpu", opts)
