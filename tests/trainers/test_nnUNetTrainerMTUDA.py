"""MT-UDA / LE-UDA: twin pairs through nnU-Net's preprocessing and augmentation, and both trainers
through the real nnU-Net CLI: train, resume, predict (CPU, tiny)."""

import json

import blosc2
import numpy as np
import pytest
import torch

from semi_supervised_cli import predict, resume_round_trip, train
from test_semi_supervised import set_env
from trainer_testing import DATASET_ID, DATASET_NAME, N_LABELED, N_UNLABELED, nnunet_env, phantom, run
from nnunet_uda.image_io import write_image
from nnunet_uda.raw_dataset import IMAGES_PAIRS


def add_pairs(root, identical: bool = False):
    """imagesTrPairs for the tiny dataset: each phantom drawn in both contrasts on one grid (the
    source-like and target-like images of one seed share anatomy and noise), or twice the same."""
    folder = root / "raw" / DATASET_NAME / IMAGES_PAIRS
    folder.mkdir()
    seeds = {f"src_{i:02d}": i for i in range(N_LABELED)} | {f"tgt_{i:02d}": 100 + i for i in range(N_UNLABELED)}
    for case, seed in seeds.items():
        source_style = phantom(seed, target=False)[0]
        target_style = source_style if identical else phantom(seed, target=True)[0]
        write_image(source_style, folder / f"{case}_0000.nii.gz")
        write_image(target_style, folder / f"{case}_0001.nii.gz")
    return sorted(seeds)


def test_pairs_are_two_channel_cases_each_view_preprocessed_as_nnunet_does(workspace, monkeypatch):
    set_env(workspace, monkeypatch)
    from nnunet_uda.unlabeled import open_unlabeled_pool

    cases = add_pairs(workspace)
    pairs = open_unlabeled_pool(DATASET_ID, "3d_fullres", pairs=True)
    assert pairs.ensure(progress=False) == cases
    assert pairs.folder.name == "nnUNetPlans_3d_fullres_pairs"
    assert len(pairs.dataset_json["channel_names"]) == 2
    unlabeled = open_unlabeled_pool(DATASET_ID, "3d_fullres")
    unlabeled.ensure(progress=False)
    labeled = pairs.folder.with_name("nnUNetPlans_3d_fullres")
    # channel 1 of tgt_00 is the unlabeled pool's tgt_00, channel 0 of src_00 nnU-Net's own src_00
    tgt = blosc2.open(str(pairs.folder / "tgt_00.b2nd"))[:]
    np.testing.assert_array_equal(tgt[1], blosc2.open(str(unlabeled.folder / "tgt_00.b2nd"))[:][0])
    src = blosc2.open(str(pairs.folder / "src_00.b2nd"))[:]
    np.testing.assert_array_equal(src[0], blosc2.open(str(labeled / "src_00.b2nd"))[:][0])
    assert not np.array_equal(src[0], src[1])


def test_twin_views_stay_aligned_through_nnunet_augmentation(workspace, monkeypatch):
    """Identical twins: after nnU-Net's augmentation the two channels still match voxel by voxel
    (spatial transforms and mirroring shared; intensity transforms drawn per channel), far closer
    than one channel and the other shifted by two voxels."""
    set_env(workspace, monkeypatch)
    from nnunetv2.run.run_training import get_trainer_from_args

    from nnunet_uda.semi_supervised import prepare_unlabeled_pool, unlabeled_dataloader

    add_pairs(workspace, identical=True)
    trainer = get_trainer_from_args(str(DATASET_ID), "3d_fullres", 0, "nnUNetTrainerMTUDA_debug",
                                    device=torch.device("cpu"))
    trainer.initialize()
    folder, ids = prepare_unlabeled_pool(trainer, progress=False, pairs=True)
    loader = unlabeled_dataloader(trainer, folder, ids, pairs=True)
    aligned, shifted = [], []
    for _ in range(4):
        data = next(loader)["data"]
        assert data.shape == (2, 2, 20, 40, 40)
        for a, b in zip(data[:, 0], data[:, 1]):
            aligned.append(np.corrcoef(a.flatten(), b.flatten())[0, 1])
            shifted.append(np.corrcoef(a.flatten(), torch.roll(b, 2, -1).flatten())[0, 1])
    assert min(aligned) > 0.8, aligned
    assert min(np.subtract(aligned, shifted)) > 0.1, (aligned, shifted)


def test_missing_pairs_are_named_in_the_error(workspace):
    p = run(["nnUNetv2_train", str(DATASET_ID), "3d_fullres", "0", "-tr", "nnUNetTrainerMTUDA_debug", "-device", "cpu"],
            nnunet_env(workspace), check_rc=1)
    assert "imagesTrPairs not found (nnuda-translate --twins writes it)" in p.stderr.strip().splitlines()[-1]


@pytest.mark.slow
@pytest.mark.parametrize("trainer", ["nnUNetTrainerMTUDA_debug", "nnUNetTrainerLEUDA_debug"])
def test_train_resume_predict(workspace, trainer):
    add_pairs(workspace)
    ckpt = train(workspace, trainer)
    weights = ckpt["network_weights"]
    parts = {k.split(".")[0] for k in weights}
    assert parts == {"student", "intra_teacher", "inter_teacher"}
    student = {k.split(".", 1)[1]: v for k, v in weights.items() if k.startswith("student.")}
    name = next(k for k in student if k.endswith("conv.weight"))
    for teacher in ("intra_teacher", "inter_teacher"):
        # the warm-up average: after 2 steps each teacher is the mean of the two students, not the last one
        assert not torch.equal(weights[f"{teacher}.{name}"], student[name])
    keys = ("network_weights", "optimizer_state", "current_epoch")
    if "LEUDA" in trainer:
        assert set(ckpt["discriminators"]["weights"]) and ckpt["discriminators"]["optimizer_state"]["state"]
        keys += ("discriminators",)
    log = next((workspace / "results" / DATASET_NAME / f"{trainer}__nnUNetPlans__3d_fullres" / "fold_0").glob(
        "training_log_*.txt")).read_text()
    assert "inter_consistency" in log and "intra_consistency" in log
    resume_round_trip(workspace, trainer, ckpt, keys)
    seg = predict(workspace, trainer)
    assert json.loads((workspace / f"pred_{trainer}" / "dataset.json").read_text())["labels"]
    assert seg.shape == (20, 40, 40)
