import numpy as np
import pytest

from nnunet_uda.pseudo_labels import CleaningRule, cleaning_mask, make_pseudo_label, num_to_keep, select_top_q


def softmax(logits):
    e = np.exp(logits - logits.max(0, keepdims=True))
    return e / e.sum(0, keepdims=True)


@pytest.mark.parametrize("shape", [(3, 17, 23), (3, 6, 9, 11)])
@pytest.mark.parametrize("q", [0.1, 0.6, 0.75, 1.0])
def test_top_q_keeps_exact_fraction_per_class_and_ignores_the_rest(shape, q):
    probs = softmax(np.random.default_rng(0).normal(size=shape) * 3)
    label, stats = select_top_q(probs, q, ignore_label=3)
    pred, conf = probs.argmax(0), probs.max(0)
    assert label.shape == shape[1:]
    for c in range(shape[0]):
        n = int((pred == c).sum())
        kept = label == c
        assert kept.sum() == num_to_keep(n, q) == stats.selected[c]
        assert stats.predicted[c] == n
        assert np.all(pred[kept] == c)
        rest = (pred == c) & ~kept
        if kept.any() and rest.any():
            assert conf[kept].min() >= conf[rest].max()
        assert stats.confidence_sum[c] == pytest.approx(conf[kept].sum())
    assert set(np.unique(label)) <= {0, 1, 2, 3}
    assert (label == 3).sum() == sum(stats.predicted) - sum(stats.selected)


def test_top_q_known_values():
    probs = np.array([[0.9, 0.8, 0.6, 0.2, 0.1], [0.1, 0.2, 0.4, 0.8, 0.9]])
    label, stats = select_top_q(probs, 0.5, ignore_label=2)
    # class 0: 3 voxels -> round(1.5) = 2 kept; class 1: 2 voxels -> 1 kept
    assert label.tolist() == [0, 0, 2, 2, 1]
    assert stats.summary()["selected_fraction"] == [2 / 3, 0.5]
    assert stats.summary()["mean_confidence"] == pytest.approx([0.85, 0.9])


def test_top_q_ties_still_exact():
    probs = np.full((2, 10), 0.5)
    label, _ = select_top_q(probs, 0.6, ignore_label=2)
    assert (label == 0).sum() == 6 and (label == 2).sum() == 4


@pytest.mark.parametrize("q", [0, -0.1, 1.5])
def test_bad_q(q):
    with pytest.raises(ValueError, match="q must be"):
        select_top_q(np.full((2, 4), 0.5), q, 2)


def test_bad_shape_and_ignore_label():
    with pytest.raises(ValueError, match="C >= 2"):
        select_top_q(np.ones((1, 4)), 0.5, 2)
    with pytest.raises(ValueError, match="ignore_label"):
        select_top_q(np.full((3, 4), 1 / 3), 0.5, 1)


def test_cleaning_keeps_one_vs_and_one_cochlea_per_side():
    label = np.zeros((5, 20), np.int16)
    label[1:3, 2:5] = 1  # big VS
    label[1, 8] = 1  # stray VS
    label[3, 1] = 2  # left cochlea, small
    label[3, 5:7] = 2  # left cochlea, big
    label[3, 14:16] = 2  # right cochlea
    removed = cleaning_mask(label, CleaningRule(single_component=(1,), one_per_side=(2,), lr_axis=1))
    assert np.argwhere(removed).tolist() == [[1, 8], [3, 1]]


def test_make_pseudo_label_cleaned_voxels_become_ignore_and_stats_follow():
    probs = np.zeros((2, 1, 9))
    probs[1, 0, [0, 1, 2, 6]] = 0.9  # two class-1 components
    probs[0] = 1 - probs[1]
    label, stats = make_pseudo_label(probs, 1.0, 2, CleaningRule(single_component=(1,), lr_axis=1))
    assert label[0].tolist() == [1, 1, 1, 0, 0, 0, 2, 0, 0]
    assert stats.selected == [5, 3] and stats.predicted == [5, 4]
    assert stats.confidence_sum[1] == pytest.approx(2.7)
