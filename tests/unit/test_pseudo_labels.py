import numpy as np
import pytest

from nnunet_uda.pseudo_labels import (CONFIDENCE_BINS, CleaningRule, bin_confidence, class_thresholds, cleaning_mask,
                                      confidence_histogram, confidence_scores, group_thresholds, make_pseudo_label,
                                      num_to_keep, select_by_thresholds)


def softmax(logits):
    e = np.exp(logits - logits.max(0, keepdims=True))
    return e / e.sum(0, keepdims=True)


def select(probabilities_per_scan, q, ignore_label):
    """The data-set rule on a list of scans: one histogram, one threshold per class."""
    scores = [confidence_scores(p) for p in probabilities_per_scan]
    c = probabilities_per_scan[0].shape[0]
    thresholds = class_thresholds(sum(confidence_histogram(pred, bins, c) for pred, bins in scores), q)
    return [select_by_thresholds(pred, bins, thresholds, ignore_label) for pred, bins in scores], thresholds


def test_confidence_bins_are_monotonic_and_invert():
    probs = np.array([[0.5, 0.9, 0.99, 0.999999, 1.0], [0.5, 0.1, 0.01, 0.000001, 0.0]])
    prediction, bins = confidence_scores(probs)
    assert prediction.tolist() == [0, 0, 0, 0, 0]
    assert np.all(np.diff(bins.astype(int)) > 0) and bins[-1] == CONFIDENCE_BINS - 1
    np.testing.assert_allclose(bin_confidence(bins[:4]), probs[0, :4], rtol=1e-3)


@pytest.mark.parametrize("shape", [(3, 17, 23), (3, 6, 9, 11)])
@pytest.mark.parametrize("q", [0.1, 0.6, 0.75, 1.0])
def test_keeps_the_most_confident_q_of_each_class_over_all_scans(shape, q):
    rng = np.random.default_rng(0)
    scans = [softmax(rng.normal(size=shape) * 3) for _ in range(3)]
    results, thresholds = select(scans, q, ignore_label=3)
    pred = np.concatenate([p.argmax(0).ravel() for p in scans])
    conf = np.concatenate([p.max(0).ravel() for p in scans])
    label = np.concatenate([lab.ravel() for lab, _ in results])
    for c in range(shape[0]):
        n = int((pred == c).sum())
        kept = label == c
        selected = sum(stats.selected[c] for _, stats in results)
        assert kept.sum() == selected and sum(stats.predicted[c] for _, stats in results) == n
        assert np.all(pred[kept] == c)
        # at least the top q, and no more than the voxels of the threshold bin on top of it
        _, bins = confidence_scores(np.stack([conf, 1 - conf]))
        in_threshold_bin = int(((pred == c) & (bins == thresholds[c])).sum())
        assert num_to_keep(n, q) <= selected <= num_to_keep(n, q) + in_threshold_bin
        rest = (pred == c) & ~kept
        if kept.any() and rest.any():
            assert conf[kept].min() >= conf[rest].max() * (1 - 1e-3)
    assert set(np.unique(label)) <= {0, 1, 2, 3}


def test_known_values():
    probs = np.array([[0.9, 0.8, 0.6, 0.2, 0.1], [0.1, 0.2, 0.4, 0.8, 0.9]])
    (label, stats), = select([probs], 0.5, ignore_label=2)[0]
    # class 0: 3 voxels -> round(1.5) = 2 kept; class 1: 2 voxels -> 1 kept
    assert label.tolist() == [0, 0, 2, 2, 1]
    assert stats.summary()["selected_fraction"] == [2 / 3, 0.5]
    assert stats.summary()["mean_confidence"] == pytest.approx([0.85, 0.9], rel=1e-3)


def test_threshold_is_over_the_data_set_not_per_scan():
    # scan 0: a confident tumour; scan 1: only a doubtful false-positive tumour
    confident = np.zeros((2, 20))
    confident[1, :10], confident[0, :10] = 0.999, 0.001
    confident[0, 10:], confident[1, 10:] = 0.999, 0.001
    doubtful = np.zeros((2, 20))
    doubtful[1, :4] = [0.55, 0.6, 0.62, 0.65]
    doubtful[0, :4] = 1 - doubtful[1, :4]
    doubtful[0, 4:], doubtful[1, 4:] = 0.999, 0.001
    results, _ = select([confident, doubtful], 0.7, ignore_label=2)
    assert (results[0][0] == 1).sum() == 10 and (results[1][0] == 1).sum() == 0
    # per scan, the same rule would have kept part of the false positive
    alone, _ = select([doubtful], 0.7, ignore_label=2)
    assert (alone[0][0] == 1).sum() == num_to_keep(4, 0.7)


def test_per_group_thresholds_let_the_less_sure_domain_keep_its_own_top_q():
    # "source": a tumour of 10 voxels at 0.999; "target": a tumour of 10 voxels at 0.7..0.8
    source = np.zeros((2, 30))
    source[1, :10], source[0, 10:] = 0.999, 0.999
    source[0, :10], source[1, 10:] = 0.001, 0.001
    target = np.zeros((2, 30))
    target[1, :10] = np.linspace(0.7, 0.8, 10)
    target[0, 10:] = 0.999
    target[0, :10], target[1, 10:] = 1 - target[1, :10], 0.001
    scores = {name: confidence_scores(p) for name, p in (("src", source), ("tgt", target))}
    histograms = {name: confidence_histogram(pred, bins, 2) for name, (pred, bins) in scores.items()}
    union = group_thresholds(histograms, {"src": "all", "tgt": "all"}, 0.5)["all"]
    per_domain = group_thresholds(histograms, {"src": "source", "tgt": "target"}, 0.5)
    assert set(per_domain) == {"source", "target"}

    def kept_tumour(name, thresholds):
        label, _ = select_by_thresholds(*scores[name], thresholds, ignore_label=2)
        return int((label == 1).sum())

    # over the union the sure source fills the top half of the tumour class: the target keeps none
    assert kept_tumour("src", union) == 10 and kept_tumour("tgt", union) == 0
    # per domain each keeps the top half of its own tumour voxels (the whole bin of ties at the source)
    assert kept_tumour("src", per_domain["source"]) == 10 and kept_tumour("tgt", per_domain["target"]) == 5
    # one group is the data-set rule itself
    assert np.array_equal(union, class_thresholds(histograms["src"] + histograms["tgt"], 0.5))


def test_a_class_nobody_predicts_keeps_nothing():
    first = np.linspace(0.6, 0.9, 6)
    probs = np.stack([first, 1 - first, np.zeros(6)])
    (label, stats), = select([probs], 0.5, ignore_label=3)[0]
    assert stats.predicted == [6, 0, 0] and stats.selected == [3, 0, 0]
    assert stats.summary()["selected_fraction"][1:] == [None, None]


@pytest.mark.parametrize("q", [0, -0.1, 1.5])
def test_bad_q(q):
    with pytest.raises(ValueError, match="q must be"):
        class_thresholds(np.ones((2, CONFIDENCE_BINS), np.int64), q)


def test_bad_shape_and_ignore_label():
    with pytest.raises(ValueError, match="C >= 2"):
        confidence_scores(np.ones((1, 4)))
    pred, bins = confidence_scores(np.full((3, 4), 1 / 3))
    with pytest.raises(ValueError, match="ignore_label"):
        select_by_thresholds(pred, bins, np.zeros(3, np.int64), 1)


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
    prediction, bins = confidence_scores(probs)
    thresholds = class_thresholds(confidence_histogram(prediction, bins, 2), 1.0)
    label, stats = make_pseudo_label(prediction, bins, thresholds, 2, CleaningRule(single_component=(1,), lr_axis=1))
    assert label[0].tolist() == [1, 1, 1, 0, 0, 0, 2, 0, 0]
    assert stats.selected == [5, 3] and stats.predicted == [5, 4]
    assert stats.confidence_sum[1] == pytest.approx(2.7, rel=1e-3)


def test_make_pseudo_label_cleaned_to_background_teaches_the_blob_as_background():
    probs = np.zeros((2, 1, 9))
    probs[1, 0, [0, 1, 2]] = 0.9  # the kept component
    probs[1, 0, 6] = 0.9  # a detached blob, selected
    probs[1, 0, 8] = 0.6  # another, below the class threshold
    probs[0] = 1 - probs[1]
    prediction, bins = confidence_scores(probs)
    thresholds = class_thresholds(confidence_histogram(prediction, bins, 2), 0.8)
    plain, _ = make_pseudo_label(prediction, bins, thresholds, 2, CleaningRule(single_component=(1,), lr_axis=1))
    assert plain[0].tolist() == [1, 1, 1, 0, 0, 0, 2, 0, 2]  # ignored: selected blob cleaned, the other unsure
    label, stats = make_pseudo_label(prediction, bins, thresholds, 2,
                                     CleaningRule(single_component=(1,), lr_axis=1, to_background=True))
    assert label[0].tolist() == [1, 1, 1, 0, 0, 0, 0, 0, 0]  # both blobs background, selected or not
    assert stats.selected[1] == 3 and stats.selected[0] == 4 + 2
