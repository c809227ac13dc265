"""What the translator trains on: label-guided source edits, random crops and flips, structure
oversampling."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from nnunet_uda.errors import InputError
from nnunet_uda.translation.config import SliceConfig, config_from_dict, config_to_dict
from nnunet_uda.translation.slices import SliceSet, scale_labeled_intensities
from nnunet_uda.translation.train import RunOptions, _batch, slices_with_structures, source_indices, train
from translation_helpers import slice_sets, small_cyclegan


def test_label_scale_edits_only_the_labeled_voxels():
    arr = np.full((2, 3, 3), 10.0, np.float32)
    label = np.zeros((2, 3, 3), np.uint8)
    label[0, 1, 1], label[1, 0, 0] = 1, 2
    out = scale_labeled_intensities(arr, label, {1: 0.5, 2: 2.0})
    assert out[0, 1, 1] == 5.0 and out[1, 0, 0] == 20.0 and (out == 10.0).sum() == 16
    assert (arr == 10.0).all()  # the input is not modified
    assert scale_labeled_intensities(arr, label, {}) is arr
    with pytest.raises(InputError, match="label shape"):
        scale_labeled_intensities(arr, label[:1], {1: 0.5})


def test_source_slices_are_edited_where_the_label_says(translation_data):
    cfg, plain, _ = slice_sets(translation_data, small_cyclegan(iterations=1), labels=True)
    cfg.slices.source_label_scale = {1: 0.25}
    from nnunet_uda.translation.pipeline import find_inputs
    from nnunet_uda.translation.slices import build_slice_set

    inputs = find_inputs(translation_data, "ceT1", "hrT2")
    edited = build_slice_set(dict(inputs.source), cfg.slices, "source", source=True)
    tumour = plain.labels == 1
    assert tumour.sum() > 20
    assert edited.images[:, 0][tumour].float().mean() < plain.images[:, 0][tumour].float().mean() - 0.2
    config_back = config_from_dict(config_to_dict(cfg))  # JSON keys are strings; they come back as labels
    assert config_back.slices.source_label_scale == {1: 0.25}


def test_crops_and_flips_are_views_of_the_slices_and_repeat_with_the_generator():
    images = torch.arange(2 * 8 * 8, dtype=torch.float32).reshape(2, 1, 8, 8)
    labels = (images[:, 0] % 3).to(torch.uint8)
    s = SliceSet(images.half(), labels, torch.zeros(2, dtype=torch.long), ["x"])
    idx = torch.tensor([0, 1, 1])
    x, y = _batch(s, idx, torch.device("cpu"), 4, True, torch.Generator().manual_seed(3))
    again, _ = _batch(s, idx, torch.device("cpu"), 4, True, torch.Generator().manual_seed(3))
    assert x.shape == (3, 1, 4, 4) and y.shape == (3, 4, 4) and torch.equal(x, again)
    for k in range(3):
        whole = images[idx[k], 0]
        found = [(t, l, f) for t in range(5) for l in range(5) for f in (False, True)
                 if torch.equal((whole.flip(-1) if f else whole)[t:t + 4, l:l + 4], x[k, 0]) or
                 torch.equal(whole[t:t + 4, l:l + 4].flip(-1) if f else whole[t:t + 4, l:l + 4], x[k, 0])]
        assert found, k
        assert torch.equal((x[k, 0] % 3).to(torch.uint8), y[k])  # the label went through the same view
    plain, _ = _batch(s, idx, torch.device("cpu"), None, False, torch.Generator())
    assert torch.equal(plain, images[idx])


def test_structure_fraction_draws_from_labeled_slices():
    labels = torch.zeros(100, 4, 4, dtype=torch.uint8)
    labels[7, 1, 1] = 2
    labels[42, 0, 0] = 1
    s = SliceSet(torch.zeros(100, 1, 4, 4).half(), labels, torch.zeros(100, dtype=torch.long), ["x"])
    showing = slices_with_structures(s)
    assert showing.tolist() == [7, 42]
    g = torch.Generator().manual_seed(0)
    drawn = torch.cat([source_indices(100, showing, 4, 0.5, g) for _ in range(500)])
    share = float(np.isin(drawn.numpy(), [7, 42]).mean())
    assert 0.45 < share < 0.56  # half drawn from the two structure slices, a few more by chance
    uniform = torch.cat([source_indices(100, showing, 4, 0.0, g) for _ in range(500)])
    assert float(np.isin(uniform.numpy(), [7, 42]).mean()) < 0.05


def test_cyclegan_trains_on_crops_with_edits(translation_data, tmp_path):
    """A CycleGAN on random flipped crops of edited source slices (a per-case tumour factor, half of
    the slices showing a structure) trains and translates whole slices."""
    cfg = small_cyclegan(iterations=6,
                         slices=SliceConfig(image_size=48, train_crop=32, train_flip=True,
                                            source_label_scale={1: (0.4, 0.9)}, structure_fraction=0.5))
    cfg, src, tgt = slice_sets(translation_data, cfg, labels=True)
    opts = RunOptions(log_every=1, save_every=3, sample_every=6, progress=False)
    final = train(cfg, src, tgt, tmp_path / "run", "cpu", opts)
    from nnunet_uda.translation.train import load_translator

    model, _, _ = load_translator(final.parent)
    with torch.no_grad():
        out = model.translate(src.images[:2].float())
    assert out.shape == (2, 1, 48, 48)


def test_a_factor_range_gives_each_case_its_own_factor_every_time():
    from nnunet_uda.translation.slices import case_label_scale

    drawn = [case_label_scale({1: (0.4, 0.9), 2: 2.0}, f"case_{i}", seed=0) for i in range(50)]
    assert all(0.4 <= d[1] <= 0.9 and d[2] == 2.0 for d in drawn)
    assert len({d[1] for d in drawn}) == 50 and max(d[1] for d in drawn) - min(d[1] for d in drawn) > 0.3
    assert case_label_scale({1: (0.4, 0.9)}, "case_3", seed=0)[1] == drawn[3][1]  # the same in synthesis as in training
    assert case_label_scale({1: (0.4, 0.9)}, "case_3", seed=1)[1] != drawn[3][1]
