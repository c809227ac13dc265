"""Objective weights (§IV-B), the L1 terms of eqs. 8-10 on known values, and the sample grid rows."""

import pytest
import torch

from nnunet_uda.presence_absence_losses import cycle_loss, latent_loss, reconstruction_loss, relative_weights
from nnunet_uda.presence_absence_net import AutoencodingSegmentationNetwork, PresenceAbsenceNetwork
from nnunet_uda.translation_samples import AE_COLUMNS, COLUMNS, sample_rows


def test_paper_weights_normalized_to_sum_to_one():
    w = relative_weights({"adv": 3, "rec": 50, "lat": 1, "cyc": 50, "seg": 0.01})
    assert sum(w.values()) == pytest.approx(1.0)
    assert w["seg"] == pytest.approx(0.01 / 104.01) and w["rec"] == pytest.approx(50 / 104.01)
    assert relative_weights({"seg": 1, "rec": 1}) == {"seg": 0.5, "rec": 0.5}
    for bad in ({"seg": -1, "rec": 2}, {"seg": 0, "rec": 0}):
        with pytest.raises(ValueError, match="objective weights"):
            relative_weights(bad)


def test_l1_terms_on_known_values():
    ones, zeros = torch.ones(2, 1, 4, 4), torch.zeros(2, 1, 4, 4)
    out = {"x_pp": zeros, "x_aa": ones * 3, "x_apa": ones * 0.5}
    assert reconstruction_loss(out, ones, ones).item() == pytest.approx(1 + 2)
    assert cycle_loss(out, ones).item() == pytest.approx(0.5)
    codes = {k: torch.zeros(2, 3, 2, 2) for k in ("c_a", "c_p", "u_p", "u")}
    made = {"c_ap": 1.0, "c_pa": 2.0, "c_aa": 0.0, "c_pp": 0.5, "u_pp": -1.0, "u_ap": 0.25}
    codes |= {k: torch.full((2, 3, 2, 2), v) for k, v in made.items()}
    assert latent_loss(codes).item() == pytest.approx(1 + 2 + 0 + 0.5 + 1 + 0.25)


def test_sample_rows_four_panels_in_range_and_mode_restored():
    torch.manual_seed(0)
    args = (1, 3, [4, 8, 16], [[1, 1], [2, 2], [2, 2]], [[3, 3]] * 3)
    net = PresenceAbsenceNetwork(*args)
    columns, rows = sample_rows(net, torch.randn(2, 1, 16, 16), torch.randn(1, 1, 16, 16))
    assert columns == COLUMNS and [r[0] for r in rows] == ["P->A 0", "P->A 1", "A->P 0"]
    for _, *panels in rows:
        assert len(panels) == 4 and all(p.shape == (16, 16) and abs(p).max() <= 1 for p in panels)
    assert net.training
    columns, rows = sample_rows(AutoencodingSegmentationNetwork(*args).eval(), torch.randn(1, 1, 16, 16),
                                torch.randn(1, 1, 16, 16))
    assert columns == AE_COLUMNS and len(rows) == 2
