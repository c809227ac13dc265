#!/usr/bin/env bash
# Creates ./.venv with nnunet-uda (editable), nnU-Net v2 and the test tools.
# Idempotent: a second run only re-installs nnunet-uda itself.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  "$PY" -m venv .venv
fi
.venv/bin/python -m pip install -q --upgrade pip
# torch first and pinned: nnunetv2 needs torchvision (through timm), and these two
# releases are known to work together (on the CI machine they come from local disk).
.venv/bin/python -m pip install -q "torch==2.14.1" "torchvision==0.29.1"
.venv/bin/python -m pip install -q -e ".[test]"
.venv/bin/python -c "import nnunet_uda, nnunetv2, torch; print('nnunet-uda', nnunet_uda.__version__, '| torch', torch.__version__)"
