"""``nnuda-translate`` end to end: dataset layout, geometry, per-site, bad input, nnU-Net verify."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import SimpleITK as sitk

from nnunet_uda.image_io import same_geometry
from nnunet_uda.translation import cli

SMALL = ["--iterations", "4", "--image-size", "32", "--channels", "4", "--save-every", "2", "--quiet"]
BIN = Path(sys.executable).parent


def run(monkeypatch, capsys, *args: str) -> tuple[int, str]:
    """Run the entry point in-process; returns ``(exit code, stderr)``."""
    monkeypatch.setattr(sys, "argv", ["nnuda-translate", *map(str, args)])
    code = 0
    try:
        cli.translate_entry()
    except SystemExit as e:
        code = e.code
    return code, capsys.readouterr().err


@pytest.fixture
def nnunet_folders(tmp_path, monkeypatch) -> dict[str, str]:
    env = {}
    for var, sub in (("nnUNet_raw", "raw"), ("nnUNet_preprocessed", "pre"), ("nnUNet_results", "results")):
        (tmp_path / sub).mkdir()
        monkeypatch.setenv(var, str(tmp_path / sub))
        env[var] = str(tmp_path / sub)
    return env


def test_translate_writes_dataset_with_source_geometry_and_nnunet_accepts_it(translation_data, nnunet_folders, tmp_path):
    """The installed console script, then stock nnU-Net's integrity check and preprocessing."""
    import os

    env = {**os.environ, **nnunet_folders, "nnUNet_n_proc_DA": "1", "OMP_NUM_THREADS": "1"}
    res = subprocess.run([str(BIN / "nnuda-translate"), "--src", "ceT1", "--tgt", "hrT2", "-i", str(translation_data), "-d", "501", *SMALL],
                         env=env, capture_output=True, text=True, timeout=600)
    assert res.returncode == 0, res.stderr[-3000:]
    ds = Path(nnunet_folders["nnUNet_raw"]) / "Dataset501_CrossMoDA_ceT1toHrT2"
    meta = json.loads((ds / "dataset.json").read_text())
    sources = sorted((translation_data / "source_training").glob("*_ceT1.nii.gz"))
    assert meta["numTraining"] == len(sources) and meta["channel_names"] == {"0": "hrT2"}
    assert meta["numUnlabeled"] == len(list((translation_data / "target_training").glob("*.nii.gz")))
    assert meta["nnunet_uda"]["translation_model"] == "cyclegan"
    for src in sources:
        case = src.name[: -len("_ceT1.nii.gz")]
        out = sitk.ReadImage(str(ds / "imagesTr" / f"{case}_0000.nii.gz"))
        ref = sitk.ReadImage(str(src))
        assert out.GetSize() == ref.GetSize() and same_geometry(out, ref, tol=1e-6)
        lab, ref_lab = ds / "labelsTr" / f"{case}.nii.gz", src.with_name(f"{case}_Label.nii.gz")
        assert (sitk.GetArrayFromImage(sitk.ReadImage(str(lab))) == sitk.GetArrayFromImage(sitk.ReadImage(str(ref_lab)))).all()
    work = Path(nnunet_folders["nnUNet_results"]) / ds.name / "nnuda_translation__cyclegan" / "all"
    assert {"config.json", "model_final.pt", "losses.csv", "losses.png"} <= {p.name for p in work.iterdir()}
    assert list((work / "samples").glob("*.png"))
    res = subprocess.run([str(BIN / "nnUNetv2_plan_and_preprocess"), "-d", "501", "-c", "3d_fullres", "-np", "1", "--verify_dataset_integrity"],
                         env=env, capture_output=True, text=True, timeout=600)
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-3000:]


def test_per_site_structure_preserving_nicegan_train_then_synthesize(translation_data, nnunet_folders, monkeypatch, capsys, tmp_path):
    base = ["--src", "ceT1", "--tgt", "hrT2", "-i", translation_data, "-d", "502", "-o", tmp_path / "work",
            "--model", "nicegan", "--light", "--per-site", "--preserve-structures", *SMALL]
    base[base.index("32")] = "96"
    code, err = run(monkeypatch, capsys, *base, "--step", "train")
    assert code == 0, err
    assert not list(Path(nnunet_folders["nnUNet_raw"]).iterdir())
    sites = sorted(p.name for p in (tmp_path / "work").iterdir())
    assert sites == ["site_etz", "site_ldn"]
    code, err = run(monkeypatch, capsys, *base, "--step", "synthesize")
    assert code == 0, err
    ds = Path(nnunet_folders["nnUNet_raw"]) / "Dataset502_CrossMoDA_ceT1toHrT2"
    cases = sorted(p.name for p in (ds / "labelsTr").iterdir())
    n_src = len(list((translation_data / "source_training").glob("*_ceT1.nii.gz")))
    assert len(cases) == 2 * n_src and all(c.endswith(("_to_etz.nii.gz", "_to_ldn.nii.gz")) for c in cases)
    meta = json.loads((ds / "dataset.json").read_text())["nnunet_uda"]
    assert meta["per_site"] and meta["preserve_structures"] and meta["translation_model"] == "nicegan"
    code, err = run(monkeypatch, capsys, *base, "--step", "synthesize")
    assert code == 2 and "output exists" in err and "--overwrite" in err and err.count("\n") == 1


def test_twins_write_pairs_on_each_scans_grid_and_keep_the_chosen_source_labels(translation_data, nnunet_folders,
                                                                                monkeypatch, capsys, tmp_path):
    """``--twins``: imagesTr holds each labeled source scan and its translation, imagesTrPairs every
    scan of both domains (source style, target style); ``--source-label-fraction`` keeps some labels."""
    code, err = run(monkeypatch, capsys, "--src", "ceT1", "--tgt", "hrT2", "-i", translation_data, "-d", "505",
                    "-o", tmp_path / "work", "--twins", "--source-label-fraction", "0.5", *SMALL)
    assert code == 0, err
    ds = Path(nnunet_folders["nnUNet_raw"]) / "Dataset505_CrossMoDA_ceT1toHrT2"
    meta = json.loads((ds / "dataset.json").read_text())
    sources = {p.name[: -len("_ceT1.nii.gz")]: p for p in (translation_data / "source_training").glob("*_ceT1.nii.gz")}
    targets = {p.name[: -len("_hrT2.nii.gz")]: p for p in (translation_data / "target_training").glob("*_hrT2.nii.gz")}
    labeled = meta["nnunet_uda"]["labeled_source_cases"]
    assert meta["nnunet_uda"]["twins"] and len(labeled) == max(1, round(len(sources) / 2)) and set(labeled) < set(sources)
    assert sorted(p.name for p in (ds / "labelsTr").iterdir()) == sorted(
        f"{c}{suffix}.nii.gz" for c in labeled for suffix in ("", "_src"))
    assert meta["numTraining"] == 2 * len(labeled) and meta["numPairs"] == len(sources) + len(targets)
    for case in labeled:  # the real scan, as it is
        real = sitk.ReadImage(str(ds / "imagesTr" / f"{case}_src_0000.nii.gz"))
        assert (sitk.GetArrayFromImage(real) == sitk.GetArrayFromImage(sitk.ReadImage(str(sources[case])))).all()
    pairs = ds / "imagesTrPairs"
    for case, real, channel in [*((c, p, 0) for c, p in sources.items()), *((c, p, 1) for c, p in targets.items())]:
        views = [sitk.ReadImage(str(pairs / f"{case}_{k:04d}.nii.gz")) for k in (0, 1)]
        ref = sitk.ReadImage(str(real))
        assert all(v.GetSize() == ref.GetSize() and same_geometry(v, ref, tol=1e-6) for v in views)
        assert (sitk.GetArrayFromImage(views[channel]) == sitk.GetArrayFromImage(ref)).all()
        assert not (sitk.GetArrayFromImage(views[1 - channel]) == sitk.GetArrayFromImage(ref)).all()


def _damage(folder: Path, how: str) -> None:
    if how == "empty target":
        for p in (folder / "target_training").iterdir():
            p.unlink()
    elif how == "missing label":
        next((folder / "source_training").glob("*_Label.nii.gz")).unlink()


@pytest.mark.parametrize(
    "how, extra, message",
    [
        ("empty target", [], "no *_hrT2.nii.gz files in"),
        ("missing label", [], "image without label"),
        ("unknown modality", ["--src", "T1"], "unknown modality suffix 'T1'"),
        ("seg weight without preservation", ["--lambda-seg", "5"], "applies with --preserve-structures only"),
        ("negative seg weight", ["--preserve-structures", "--lambda-seg", "-1"], "--lambda-seg must be >= 0"),
        ("identity weight for NICE-GAN", ["--model", "nicegan", "--lambda-identity", "0"], "applies to --model cyclegan only"),
        ("malformed label scale", ["--source-label-scale", "VS=0.5"], "expects LABEL=FACTOR"),
        ("negative label scale", ["--source-label-scale", "1=-2"], "expects LABEL=FACTOR"),
        ("label level above 1", ["--label-level", "2=1.5"], "--label-level expects LABEL=LEVEL"),
        ("crop larger than the slices", ["--train-crop", "64"], "--train-crop must be a multiple of 4"),
        ("structure share above 1", ["--structure-fraction", "1.5"], "--structure-fraction must be in [0, 1]"),
        ("percentiles reversed", ["--percentiles", "99", "1"], "--percentiles must satisfy"),
        ("no residual blocks", ["--res-blocks", "0"], "--res-blocks must be at least 1"),
        ("twins from one translator per site", ["--twins", "--per-site"], "--twins needs one translator for all"),
        ("label share without twins", ["--source-label-fraction", "0.5"], "--source-label-fraction needs --twins"),
        ("label share of 0", ["--twins", "--source-label-fraction", "0"], "--source-label-fraction must be in (0, 1]"),
    ],
)
def test_bad_input_one_line(data_copy, nnunet_folders, monkeypatch, capsys, how, extra, message):
    _damage(data_copy, how)
    args = ["--src", "ceT1", "--tgt", "hrT2", "-i", data_copy, "-d", "503", *SMALL]
    if extra[:1] == ["--src"]:
        args[args.index("--src") + 1] = extra[1]
    else:
        args += extra
    code, err = run(monkeypatch, capsys, *args)
    assert code == 2, err
    assert message in err and err.count("\n") == 1 and err.startswith("nnuda-translate: error: ")


def test_existing_output_refused_before_training(translation_data, nnunet_folders, monkeypatch, capsys):
    (Path(nnunet_folders["nnUNet_raw"]) / "Dataset504_CrossMoDA_ceT1toHrT2").mkdir()
    code, err = run(monkeypatch, capsys, "--src", "ceT1", "--tgt", "hrT2", "-i", translation_data, "-d", "504", *SMALL)
    assert code == 2 and "output exists" in err and err.count("\n") == 1
    assert not (Path(nnunet_folders["nnUNet_results"]) / "Dataset504_CrossMoDA_ceT1toHrT2").exists()


def test_work_folder_never_inside_input(data_copy, nnunet_folders, monkeypatch, capsys):
    code, err = run(monkeypatch, capsys, "--src", "ceT1", "--tgt", "hrT2", "-i", data_copy, "-d", "505", "-o", data_copy / "work", *SMALL)
    assert code == 2 and "inside the input folder" in err


@pytest.mark.parametrize("extra, blocks", [([], 9), (["--image-size", "128"], 6), (["--image-size", "132"], 9),
                                          (["--image-size", "88", "--res-blocks", "9"], 9),
                                          (["--model", "nicegan", "--image-size", "128"], 6)])
def test_cyclegan_generator_has_six_blocks_up_to_128_pixels(extra, blocks):
    args = cli.build_parser().parse_args(["--src", "ceT1", "--tgt", "hrT2", "-i", "in", "-d", "1", *extra])
    assert cli.config_from_args(args).n_res_blocks == blocks
