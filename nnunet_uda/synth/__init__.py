"""Synthetic CrossMoDA-like phantom data (``nnuda-synth``).

:func:`synthesize` writes a folder in the CrossMoDA layout: labelled ceT1 source cases,
unlabelled hrT2 target cases of two sites, target labels for evaluation only, paired
renders in the other modality, ``synth.json`` and ``preview.png``. Each case is a random
anatomy (:mod:`.anatomy`) sampled on each acquisition's grid (:mod:`.paint`) and rendered
through a protocol's tissue contrasts and nuisances (:mod:`.render`).
"""

from __future__ import annotations

__all__ = ["synthesize"]


def __getattr__(name: str):
    # Imported on first use, so ``nnuda-synth --help`` and argument errors stay fast.
    if name == "synthesize":
        from nnunet_uda.synth.generate import synthesize

        return synthesize
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
