"""nnuda-demo end to end on tiny phantoms with the debug trainers: every real step runs
(synth, convert, plan, train, translate, PAST, predict, evaluate) and a second call resumes."""

from __future__ import annotations

import json
from dataclasses import replace

import numpy as np
import pytest
import SimpleITK as sitk

from nnunet_uda.demo import TRANSLATED_ID, DemoSettings, Pipeline, demo
from nnunet_uda.errors import InputError
from nnunet_uda.evaluate import PREDICTION_RECORD

ROWS = ("no adaptation", "translation only", "translation + PAST")


def test_demo_chain_prints_the_table_and_resumes(tmp_path):
    settings = DemoSettings(preset="tiny", n_source=4, n_target=3, n_validation=2, translation_iterations=4,
                            baseline_trainer="nnUNetTrainer_debug", past_trainer="nnUNetTrainerPAST_debug",
                            device="cpu")
    work = tmp_path / "demo"
    text = demo(work, settings)
    lines = text.splitlines()
    assert lines[0].startswith("method") and [line.split("  ")[0].strip() for line in lines[1:4]] == list(ROWS)
    for line in lines[1:4]:
        dice = [float(v) for v in line[22:].split()]
        assert len(dice) == 5 and all(0 <= d <= 1 for d in (dice[0], dice[1], dice[4]))
    assert "nnuda-synth preset tiny" in text and "minutes per step" in text and "PAST: train + predict" in text
    assert (work / "results.txt").read_text() == text + "\n"
    for folder in ("no_adaptation", "translation_only", "past"):
        assert len(list((work / "predictions" / folder).glob("*.nii.gz"))) == 2, folder

    checkpoints = sorted((work / "nnunet" / "results").rglob("checkpoint_final.pth"))
    assert len(checkpoints) == 2  # baseline and PAST
    stamps = [c.stat().st_mtime_ns for c in checkpoints]
    again = demo(work, settings)  # everything exists: nothing is trained again
    assert again.splitlines()[:4] == lines[:4]
    assert [c.stat().st_mtime_ns for c in checkpoints] == stamps

    # each prediction folder names its model: another model's run stops instead of reusing them
    p = Pipeline(work, settings)
    assert json.loads((work / "predictions" / "past" / PREDICTION_RECORD).read_text())["trainer"] == "nnUNetTrainerPAST_debug"
    with pytest.raises(InputError, match="predictions of another model"):
        p.predict(TRANSLATED_ID, settings.past_trainer, "past", "checkpoint_stage0.pth")

    # test-time mirroring: the same models predict again into their own folders, nothing is trained
    mirrored = demo(work, replace(settings, test_time_mirroring=True))
    assert "test-time mirroring" in mirrored and (work / "results_tta.txt").read_text() == mirrored + "\n"
    assert (work / "results.txt").read_text() == again + "\n"  # the run without mirroring keeps its table
    for folder in ("no_adaptation", "translation_only", "past"):
        assert len(list((work / "predictions_tta" / folder).glob("*.nii.gz"))) == 2, folder
    assert [c.stat().st_mtime_ns for c in checkpoints] == stamps


def test_demo_with_one_translator_per_site_and_the_oracle(tmp_path):
    settings = DemoSettings(preset="tiny", n_source=3, n_target=4, n_validation=2, translation_iterations=4,
                            baseline_trainer="nnUNetTrainer_debug", past_trainer="nnUNetTrainerPAST_debug",
                            device="cpu", per_site=True, oracle=True, oracle_trainer="nnUNetTrainer_debug")
    work = tmp_path / "demo"
    text = demo(work, settings)
    assert [line.split("  ")[0].strip() for line in text.splitlines()[1:5]] == [*ROWS, "oracle (hrT2 labels)"]
    # the oracle is trained with its own trainer, on the labeled hrT2 scans, and scored like the others
    oracle_runs = [d.name for d in (work / "nnunet" / "results").glob("Dataset*_CrossMoDA_hrT2/*") if d.is_dir()]
    assert oracle_runs == ["nnUNetTrainer_debug__nnUNetPlans__2d"]
    assert len(list((work / "predictions" / "oracle").glob("*.nii.gz"))) == 2
    assert sorted(p.name for p in (work / "translation").iterdir() if p.is_dir()) == ["site_etz", "site_ldn"]
    translated = sorted((work / "nnunet" / "raw").glob("Dataset*_CrossMoDA_ceT1toHrT2/imagesTr/*_0000.nii.gz"))
    sites = sorted({p.name.split("_to_")[1][:3] for p in translated})
    assert len(translated) == 3 * 2 and sites == ["etz", "ldn"]
    assert len(list((work / "predictions" / "past").glob("*.nii.gz"))) == 2

    # the benchmark's ensemble arm: stock nnUNetv2_ensemble of two softmax-saving predictions
    p = Pipeline(work, settings)
    members = [p.predict(TRANSLATED_ID, settings.past_trainer, f"probabilities_{chk}", f"checkpoint_{chk}.pth",
                         probabilities=True) for chk in ("stage0", "final")]
    assert all(len(list(m.glob("*.npz"))) == 2 for m in members)
    mean = p.ensemble("ensemble", members)
    labels = [np.unique(sitk.GetArrayFromImage(sitk.ReadImage(str(f)))) for f in sorted(mean.glob("*.nii.gz"))]
    assert len(labels) == 2 and all(set(u) <= {0, 1, 2} for u in labels)
