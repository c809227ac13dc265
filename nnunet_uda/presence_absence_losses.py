"""The translation objectives of Vorontsov et al. (eqs. 6, 8-10) on the outputs of
:meth:`~nnunet_uda.presence_absence_net.PresenceAbsenceNetwork.translate`.

Every reconstruction is an L1 distance ("We use the L1 distance for all reconstruction
losses"); the segmentation (eq. 7) and adversarial (eq. 11) terms are computed by the
trainer (nnU-Net's loss) and :mod:`nnunet_uda.hinge_loss`.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def relative_weights(weights: dict[str, float]) -> dict[str, float]:
    """The objective weights normalized to sum to 1 ("all objective weights ... were always
    normalized so that they sum to 1", §IV-B): ``{adv 3, rec 50, lat 1, cyc 50, seg 0.01}`` ->
    ``seg 0.01 / 104.01``, ...

    Raises:
        ValueError: a negative weight, or all zero.
    """
    if any(w < 0 for w in weights.values()) or sum(weights.values()) <= 0:
        raise ValueError(f"objective weights must be >= 0 and not all 0, got {weights}")
    total = sum(weights.values())
    return {k: w / total for k, w in weights.items()}


def l1(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Mean absolute difference, in fp32."""
    return F.l1_loss(a.float(), b.float())


def reconstruction_loss(out: dict[str, torch.Tensor], presence: torch.Tensor, absence: torch.Tensor) -> torch.Tensor:
    """Eq. 8: ``L1(x_P, x_PP) + L1(x_A, x_AA)``."""
    return l1(presence, out["x_pp"]) + l1(absence, out["x_aa"])


def latent_loss(out: dict[str, torch.Tensor]) -> torch.Tensor:
    """Eq. 9: codes of the made images against the codes they were made from,
    ``L1(c_A, c_AP) + L1(c_P, c_PA) + L1(c_A, c_AA) + L1(c_P, c_PP) + L1(u_P, u_PP) + L1(u, u_AP)``."""
    return (l1(out["c_a"], out["c_ap"]) + l1(out["c_p"], out["c_pa"]) + l1(out["c_a"], out["c_aa"])
            + l1(out["c_p"], out["c_pp"]) + l1(out["u_p"], out["u_pp"]) + l1(out["u"], out["u_ap"]))


def cycle_loss(out: dict[str, torch.Tensor], absence: torch.Tensor) -> torch.Tensor:
    """Eq. 10: ``L1(x_A, x_APA)``, the A -> P -> A cycle."""
    return l1(absence, out["x_apa"])


def translation_terms(out: dict[str, torch.Tensor], presence: torch.Tensor,
                      absence: torch.Tensor) -> dict[str, torch.Tensor]:
    """``{'rec', 'lat', 'cyc'}`` of eqs. 8-10, unweighted."""
    return {"rec": reconstruction_loss(out, presence, absence), "lat": latent_loss(out),
            "cyc": cycle_loss(out, absence)}
