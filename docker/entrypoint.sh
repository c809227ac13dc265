#!/usr/bin/env bash
# CrossMoDA-style container entrypoint: segment every *_hrT2.nii.gz of the input folder into
# <case>_Label.nii.gz in the output folder with the models the image was built with.
# No network is used. Folders and the model spec can be changed through the environment.
set -euo pipefail
INPUT_DIR="${INPUT_DIR:-/input}"
OUTPUT_DIR="${OUTPUT_DIR:-/output}"
MODELS="${MODELS:-/models/models.json}"
# shellcheck disable=SC2086  # NNUDA_SUBMIT_ARGS holds several options on purpose
exec nnuda-submit -i "$INPUT_DIR" -o "$OUTPUT_DIR" --models "$MODELS" ${NNUDA_SUBMIT_ARGS:-} "$@"
