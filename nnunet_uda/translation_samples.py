"""Rows of example images of a presence/absence network, for a PNG grid.

For the proposed network: a presence image, its healthy translation ``x_PA`` (eq. 2), the
residual ``delta_PA`` (eq. 3) and its segmentation (eq. 4); an absence image, its translation
to the presence domain ``x_AP``, the residual ``delta_AP`` that was added (eq. 5) and the
segmentation of ``x_AP``. For the AE baseline: input, reconstruction, their difference and
the segmentation. Images are scaled into [-1, 1] per row (the row's input divided by its
99th percentile of absolute values, the others by the same factor); a segmentation is shown
as ``2 * label / (classes - 1) - 1``.
"""

from __future__ import annotations

import numpy as np
import torch

from nnunet_uda.presence_absence_net import AutoencodingSegmentationNetwork

COLUMNS = ("input", "translated", "residual", "segmentation")
AE_COLUMNS = ("input", "reconstructed", "difference", "segmentation")


def _to_rows(name: str, images: list[torch.Tensor], logits: torch.Tensor) -> list[tuple]:
    rows = []
    classes = max(2, logits.shape[1])
    for i in range(images[0].shape[0]):
        scale = max(float(np.percentile(images[0][i, 0].float().abs().cpu().numpy(), 99)), 1e-6)
        panels = [np.clip(im[i, 0].float().cpu().numpy() / scale, -1, 1) for im in images]
        label = logits[i].argmax(0).cpu().numpy().astype(np.float32)
        rows.append((f"{name} {i}", *panels, 2 * label / (classes - 1) - 1))
    return rows


@torch.no_grad()
def sample_rows(network: torch.nn.Module, presence: torch.Tensor,
                absence: torch.Tensor) -> tuple[tuple[str, ...], list[tuple]]:
    """``(column titles, rows)``; a row is ``(name, four (H, W) arrays in [-1, 1])``, first the
    presence images ``(B_p, C, H, W)``, then the absence images (channel 0 shown). The network
    runs in eval mode and is put back in the mode it was in."""
    was_training = network.training
    network.eval()
    try:
        if isinstance(network, AutoencodingSegmentationNetwork):
            rows = []
            for name, x in (("P", presence), ("A", absence)):
                rec = network.reconstruct(x)
                rows += _to_rows(name, [x, rec, x - rec], network.segment(x))
            return AE_COLUMNS, rows
        out = network.translate(presence, absence)
        rows = _to_rows("P->A", [presence, out["x_pa"], out["delta_pa"]], out["segmentation"])
        rows += _to_rows("A->P", [absence, out["x_ap"], out["delta_ap"]], network.segment(out["x_ap"]))
        return COLUMNS, rows
    finally:
        network.train(was_training)
