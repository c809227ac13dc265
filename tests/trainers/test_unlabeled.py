"""The unlabeled pool cache: nnU-Net's own preprocessing, reuse, atomic cases, clear errors."""

import os
import shutil
import subprocess

import blosc2
import numpy as np
import pytest
from batchgenerators.utilities.file_and_folder_operations import load_pickle

from trainer_testing import BIN, DATASET_ID, DATASET_NAME, nnunet_env
from nnunet_uda.errors import InputError
from nnunet_uda.raw_dataset import IMAGES_UNLABELED
from nnunet_uda.unlabeled import open_unlabeled_pool


@pytest.fixture
def env(workspace, monkeypatch):
    for k, v in nnunet_env(workspace).items():
        if k.startswith("nnUNet_"):
            monkeypatch.setenv(k, v)
    return workspace


def test_pool_equals_nnunet_preprocessing_of_the_same_image(env):
    raw = env / "raw" / DATASET_NAME
    shutil.copy(raw / "imagesTr" / "src_00_0000.nii.gz", raw / IMAGES_UNLABELED / "copy_00_0000.nii.gz")
    pool = open_unlabeled_pool(DATASET_ID, "3d_fullres")
    assert pool.ensure(progress=False) == ["copy_00", "tgt_00", "tgt_01", "tgt_02"]
    ours = pool.folder
    assert ours == env / "preprocessed" / DATASET_NAME / "nnUNetPlans_3d_fullres_unlabeled"
    theirs = ours.with_name("nnUNetPlans_3d_fullres")
    np.testing.assert_array_equal(blosc2.open(str(ours / "copy_00.b2nd"))[:], blosc2.open(str(theirs / "src_00.b2nd"))[:])
    p_ours, p_theirs = load_pickle(ours / "copy_00.pkl"), load_pickle(theirs / "src_00.pkl")
    for key in ("spacing", "shape_before_cropping", "bbox_used_for_cropping", "shape_after_cropping_and_before_resampling"):
        assert np.array_equal(np.asarray(p_ours[key]), np.asarray(p_theirs[key])), key
    from nnunetv2.training.dataloading.nnunet_dataset import infer_dataset_class, nnUNetDatasetBlosc2

    assert infer_dataset_class(str(ours)) is nnUNetDatasetBlosc2


def test_cache_is_reused_and_unfinished_cases_are_redone(env):
    pool = open_unlabeled_pool(DATASET_ID, "3d_fullres")
    pool.ensure(progress=False)
    stamp = {p.name: p.stat().st_mtime_ns for p in pool.folder.iterdir()}
    (pool.folder / "tgt_01.pkl").unlink()  # as if killed before the case's last file
    (pool.folder / ".tmp-tgt_01-deadbeef").mkdir()
    open_unlabeled_pool(DATASET_ID, "3d_fullres").ensure(progress=False)
    after = {p.name: p.stat().st_mtime_ns for p in pool.folder.iterdir()}
    assert set(after) == set(stamp)
    changed = {n for n in stamp if after[n] != stamp[n]}
    assert changed == {"tgt_01.b2nd", "tgt_01_seg.b2nd", "tgt_01.pkl"}


def test_changed_raw_image_rebuilds_the_cache(env):
    pool = open_unlabeled_pool(DATASET_ID, "3d_fullres")
    pool.ensure(progress=False)
    before = (pool.folder / "tgt_02.b2nd").stat().st_mtime_ns
    img = env / "raw" / DATASET_NAME / IMAGES_UNLABELED / "tgt_00_0000.nii.gz"
    os.utime(img, ns=(img.stat().st_atime_ns, img.stat().st_mtime_ns + 10**9))
    open_unlabeled_pool(DATASET_ID, "3d_fullres").ensure(progress=False)
    assert (pool.folder / "tgt_02.b2nd").stat().st_mtime_ns != before


def cli(env_root, *args):
    p = subprocess.run([str(BIN / "nnuda-preprocess-unlabeled"), *args], env=nnunet_env(env_root),
                       capture_output=True, text=True)
    return p.returncode, p.stderr.strip()


def test_cli_bad_inputs_give_one_line(env):
    shutil.rmtree(env / "raw" / DATASET_NAME / IMAGES_UNLABELED)
    rc, err = cli(env, "-d", str(DATASET_ID), "-c", "3d_fullres")
    assert rc == 2 and len(err.splitlines()) == 1 and "no unlabeled pool" in err and IMAGES_UNLABELED in err
    shutil.rmtree(env / "preprocessed" / DATASET_NAME)
    (env / "preprocessed" / DATASET_NAME).mkdir()
    rc, err = cli(env, "-d", str(DATASET_ID), "-c", "3d_fullres")
    assert rc == 2 and len(err.splitlines()) == 1 and "not planned yet" in err
    rc, err = cli(env, "-d", "555", "-c", "3d_fullres")
    assert rc == 2 and len(err.splitlines()) == 1 and "dataset 555 not found" in err


def test_unknown_configuration(env):
    with pytest.raises(InputError, match="configuration 3d_nope"):
        open_unlabeled_pool(DATASET_ID, "3d_nope")
