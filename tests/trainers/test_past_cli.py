"""nnUNetTrainerPAST through the real nnU-Net CLI: discovery, rounds, kill + --c, stock predict."""

import json
import os
import shutil
from pathlib import Path

import blosc2
import numpy as np
import pytest
import SimpleITK as sitk
import torch

from trainer_testing import DATASET_ID, DATASET_NAME, nnunet_env, run

KILL_VARIANT = '''
import os

import nnunet_uda.self_training as self_training
from nnunet_uda.trainers.nnUNetTrainerPAST import nnUNetTrainerPAST_debug


class nnUNetTrainerPAST_debugKill(nnUNetTrainerPAST_debug):
    """Dies (exit 9, no cleanup) in round 1 after PAST_KILL_AFTER_CASES pseudo-labels are written."""

    def _pseudo_label(self, stage):
        limit = int(os.environ.get("PAST_KILL_AFTER_CASES", "0"))
        if limit and stage == 1:
            make, done = self_training.make_pseudo_label, []

            def make_or_die(*args, **kwargs):
                if len(done) == limit:
                    os._exit(9)
                done.append(1)
                return make(*args, **kwargs)

            self_training.make_pseudo_label = make_or_die
        super()._pseudo_label(stage)
'''

KEEP_SOURCE_VARIANT = '''
from nnunet_uda.trainers.nnUNetTrainerPAST import nnUNetTrainerPAST_debug


class nnUNetTrainerPAST_debugKeepSource(nnUNetTrainerPAST_debug):
    """PAST's default X_c: true labels for the translated source, pseudo-labels for the target."""

    keep_source_labels = True
'''


def train_env(root: Path, extra_trainers: Path | None = None) -> dict:
    env = nnunet_env(root)
    env["nnUNet_n_proc_DA"] = "0"
    if extra_trainers is not None:
        env["nnUNet_extTrainer"] += os.pathsep + str(extra_trainers)
    return env


def fold_folder(root: Path, trainer: str) -> Path:
    return root / "results" / DATASET_NAME / f"{trainer}__nnUNetPlans__3d_fullres" / "fold_0"


def pseudo_label_files(fold: Path) -> list[str]:
    return sorted(str(p.relative_to(fold)) for p in (fold / "pseudo_labels").rglob("*") if p.is_file())


def predict(root: Path, env: dict, trainer: str) -> Path:
    out = root / f"pred_{trainer}"
    run(["nnUNetv2_predict", "-i", str(root / "raw" / DATASET_NAME / "imagesTs"), "-o", str(out), "-d", str(DATASET_ID),
         "-c", "3d_fullres", "-f", "0", "-tr", trainer, "-device", "cpu", "--disable_tta", "-npp", "1", "-nps", "1"], env)
    image = sitk.ReadImage(str(root / "raw" / DATASET_NAME / "imagesTs" / "val_00_0000.nii.gz"))
    seg = sitk.ReadImage(str(out / "val_00.nii.gz"))
    assert seg.GetSize() == image.GetSize() and np.allclose(seg.GetSpacing(), image.GetSpacing())
    assert set(np.unique(sitk.GetArrayViewFromImage(seg))) <= {0, 1, 2}
    return out


@pytest.fixture(scope="session")
def past_run(planned, tmp_path_factory) -> Path:
    """plan_and_preprocess (fixture) -> nnUNetv2_train -tr nnUNetTrainerPAST_debug, uninterrupted."""
    root = tmp_path_factory.mktemp("past")
    shutil.copytree(planned, root, dirs_exist_ok=True)
    p = run(["nnUNetv2_train", str(DATASET_ID), "3d_fullres", "0", "-tr", "nnUNetTrainerPAST_debug", "-device", "cpu"],
            train_env(root))
    assert "Using trainer 'nnUNetTrainerPAST_debug' from:" in p.stdout  # found through nnUNet_extTrainer
    return root


def test_full_chain_rounds_summaries_and_stock_predict(past_run):
    fold = fold_folder(past_run, "nnUNetTrainerPAST_debug")
    for name in ("checkpoint_final.pth", "checkpoint_stage0.pth", "checkpoint_stage1.pth", "validation/summary.json"):
        assert (fold / name).is_file(), name
    assert not (fold / "checkpoint_best.pth").exists()  # source-domain validation picks no "best" model
    ckpt = torch.load(fold / "checkpoint_final.pth", map_location="cpu", weights_only=False)
    assert ckpt["current_epoch"] == 3 and ckpt["trainer_name"] == "nnUNetTrainerPAST_debug"
    rounds = sorted(p.name for p in (fold / "pseudo_labels").iterdir())
    assert rounds == ["round_1", "round_2", "true_labels"]
    cases = ["src_01", "src_02", "src_03", "src_04", "tgt_00", "tgt_01", "tgt_02"]  # fold 0 training cases + pool
    for k, q in ((1, 0.6), (2, 0.7)):
        summary = json.loads((fold / "pseudo_labels" / f"round_{k}" / "summary.json").read_text())
        assert summary["q"] == q and summary["cases"] == cases and summary["labels"] == [0, 1, 2]
        # background: top-q, no cleaning; the whole threshold bin is kept, so ties may add a little
        assert q - 1e-3 <= summary["selected_fraction"][0] <= q + 0.03
        assert all(f is None or 0 <= f <= q + 0.03 for f in summary["selected_fraction"])
        assert all(c is None or 0 < c <= 1 for c in summary["mean_confidence"])
        # the debug trainer thresholds per domain: each domain keeps its own top q of background
        assert set(summary["threshold_confidence"]) == set(summary["groups"]) == {"source", "target"}
        assert all(len(t) == 3 for t in summary["threshold_confidence"].values())
        for group in summary["groups"].values():
            assert q - 1e-3 <= group["selected_fraction"][0] <= q + 0.03
        round_folder = fold / "pseudo_labels" / f"round_{k}"
        assert (round_folder / "thresholds.json").is_file() and not (round_folder / "scores").exists()
    label = blosc2.open(str(fold / "pseudo_labels" / "round_1" / "tgt_00_seg.b2nd"))[:]
    assert set(np.unique(label)) <= {0, 1, 2, 3} and (label == 3).any()  # 3 = ignore
    dataset_json = json.loads((fold.parent / "dataset.json").read_text())
    assert "ignore" not in dataset_json["labels"]  # the model folder stays a plain 3-class model
    predict(past_run, train_env(past_run), "nnUNetTrainerPAST_debug")


def test_kill_in_round_1_then_continue(past_run, workspace, tmp_path):
    extra = tmp_path / "ext"
    extra.mkdir()
    (extra / "nnUNetTrainerPAST_debugKill.py").write_text(KILL_VARIANT)
    env = train_env(workspace, extra)
    cmd = ["nnUNetv2_train", str(DATASET_ID), "3d_fullres", "0", "-tr", "nnUNetTrainerPAST_debugKill", "-device", "cpu"]
    run(cmd, {**env, "PAST_KILL_AFTER_CASES": "3"}, check_rc=9)
    fold = fold_folder(workspace, "nnUNetTrainerPAST_debugKill")
    round_1 = fold / "pseudo_labels" / "round_1"
    assert (fold / "checkpoint_stage0.pth").is_file() and not (fold / "checkpoint_final.pth").exists()
    written = sorted(p for p in round_1.glob("*.json") if p.name != "thresholds.json")
    assert len(written) == 3 and not (round_1 / "summary.json").exists()
    # the kill came in the second pass: every case was predicted once, the thresholds are fixed
    assert len(list((round_1 / "scores").glob("*.npy"))) == 7 and (round_1 / "thresholds.json").is_file()
    stamps = {p: p.stat().st_mtime_ns for p in round_1.iterdir() if p.is_file()}

    resumed = run(cmd + ["--c"], env)
    assert "Epoch 0" not in resumed.stdout and "Epoch 1" in resumed.stdout  # stage 0 not trained again
    assert all(p.stat().st_mtime_ns == t for p, t in stamps.items())  # finished pseudo-labels not recomputed
    reference = fold_folder(past_run, "nnUNetTrainerPAST_debug")
    assert pseudo_label_files(fold) == pseudo_label_files(reference)
    ckpt = torch.load(fold / "checkpoint_final.pth", map_location="cpu", weights_only=False)
    assert ckpt["current_epoch"] == 3
    for k in (1, 2):
        assert json.loads((fold / "pseudo_labels" / f"round_{k}" / "summary.json").read_text())["num_cases"] == 7


def test_continue_a_finished_run_changes_nothing(past_run, tmp_path):
    root = tmp_path / "finished"
    shutil.copytree(past_run, root)
    env = train_env(root)
    fold = fold_folder(root, "nnUNetTrainerPAST_debug")
    labels = {p: p.stat().st_mtime_ns for p in (fold / "pseudo_labels").rglob("*") if p.is_file()}
    before = torch.load(fold / "checkpoint_final.pth", map_location="cpu", weights_only=False)
    p = run(["nnUNetv2_train", str(DATASET_ID), "3d_fullres", "0", "-tr", "nnUNetTrainerPAST_debug", "-device", "cpu",
             "--c"], env)
    assert "Epoch " not in p.stdout  # nothing trained again
    assert {q: q.stat().st_mtime_ns for q in (fold / "pseudo_labels").rglob("*") if q.is_file()} == labels
    after = torch.load(fold / "checkpoint_final.pth", map_location="cpu", weights_only=False)
    assert after["current_epoch"] == before["current_epoch"] == 3
    for k, v in before["network_weights"].items():
        assert torch.equal(v, after["network_weights"][k]), k
    predict(root, env, "nnUNetTrainerPAST_debug")


def test_default_keeps_the_source_labels_and_pseudo_labels_the_target_only(planned, tmp_path):
    from nnunet_uda.trainers.nnUNetTrainerPAST import nnUNetTrainerPAST

    assert nnUNetTrainerPAST.keep_source_labels  # the default the variant below stands for
    root = tmp_path / "keep"
    shutil.copytree(planned, root)
    extra = tmp_path / "ext"
    extra.mkdir()
    (extra / "nnUNetTrainerPAST_debugKeepSource.py").write_text(KEEP_SOURCE_VARIANT)
    env = train_env(root, extra)
    run(["nnUNetv2_train", str(DATASET_ID), "3d_fullres", "0", "-tr", "nnUNetTrainerPAST_debugKeepSource",
         "-device", "cpu"], env)
    fold = fold_folder(root, "nnUNetTrainerPAST_debugKeepSource")
    for k in (1, 2):
        summary = json.loads((fold / "pseudo_labels" / f"round_{k}" / "summary.json").read_text())
        assert summary["cases"] == ["tgt_00", "tgt_01", "tgt_02"]  # the unlabeled pool only
        assert set(summary["groups"]) == {"target"}
    true_labels = sorted(p.stem for p in (fold / "pseudo_labels" / "true_labels").glob("*.pkl"))
    assert {"src_01", "src_02", "src_03", "src_04"} <= set(true_labels)  # fold 0 training cases keep theirs
    assert torch.load(fold / "checkpoint_final.pth", map_location="cpu", weights_only=False)["current_epoch"] == 3
    predict(root, env, "nnUNetTrainerPAST_debugKeepSource")
