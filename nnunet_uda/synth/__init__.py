"""Synthetic CrossMoDA-like phantom data (``nnuda-synth``)."""
