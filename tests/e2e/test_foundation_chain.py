"""The foundation chain through the installed entry points and the real nnU-Net:
``nnuda-synth --preset tiny`` -> ``nnuda-convert`` -> ``nnUNetv2_plan_and_preprocess``."""

from __future__ import annotations

import json
from pathlib import Path

from nnuda_testing import nnunet_env, run_tool


def test_synth_convert_plan_and_preprocess(tmp_path):
    env = nnunet_env(tmp_path / "nnunet")
    data = tmp_path / "crossmoda"
    run_tool("nnuda-synth", "-o", str(data), "--preset", "tiny", "--seed", "3", env=env)
    run_tool("nnuda-convert", "-i", str(data), "-d", "501", "--unlabeled", env=env)
    res = run_tool(
        "nnUNetv2_plan_and_preprocess", "-d", "501", "-c", "3d_fullres", "-np", "1", "--verify_dataset_integrity",
        env=env,
    )
    assert "verify" in (res.stdout + res.stderr).lower()
    pre = Path(env["nnUNet_preprocessed"]) / "Dataset501_CrossMoDA_ceT1"
    plans = json.loads((pre / "nnUNetPlans.json").read_text())
    assert "3d_fullres" in plans["configurations"]
    n_labeled = len(list((data / "source_training").glob("*_ceT1.nii.gz")))
    data_id = plans["configurations"]["3d_fullres"]["data_identifier"]
    cases = {p.name.split(".")[0] for p in (pre / data_id).iterdir() if not p.name.endswith("_seg.b2nd")}
    assert len(cases) == n_labeled
