"""nnunet-uda: unsupervised domain adaptation and semi-supervised learning for nnU-Net v2.

Importing this package has no side effects; the command-line tools live in the
modules named in ``pyproject.toml``.
"""

__version__ = "0.1.0"
