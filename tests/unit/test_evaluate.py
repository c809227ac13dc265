"""nnuda-evaluate: folder evaluation, summary, the challenge's ranking, outputs, bad input, CLI."""

from __future__ import annotations

import csv
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import SimpleITK as sitk

from nnunet_uda.errors import InputError
from nnunet_uda.evaluate import evaluate_folder, rank_folders, run_evaluation, summarize
from nnunet_uda.metrics import assd, dice, hd95

SPACING_XYZ = (0.6, 0.6, 1.5)
SHAPE = (8, 20, 20)  # (z, y, x)
CASES = ("crossmoda2021_ldn_1", "crossmoda2021_ldn_2", "crossmoda2021_etz_3")
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
CLI = Path(sys.executable).parent / "nnuda-evaluate"


def write_nifti(arr: np.ndarray, path: Path, spacing=SPACING_XYZ, origin=(0.0, 0.0, 0.0)) -> Path:
    img = sitk.GetImageFromArray(arr)
    img.SetSpacing(spacing)
    img.SetOrigin(origin)
    path.parent.mkdir(parents=True, exist_ok=True)
    sitk.WriteImage(img, str(path))
    return path


def truth(i: int) -> np.ndarray:
    lab = np.zeros(SHAPE, np.uint8)
    lab[2:6, 3 + i : 10 + i, 3:10] = 1  # VS
    lab[3:5, 13:16, 13 - i : 16 - i] = 2  # cochlea
    return lab


def prediction(i: int) -> np.ndarray:
    pred = np.zeros(SHAPE, np.uint8)
    pred[2:6, 3 + i : 10 + i, 3 + i : 10 + i] = 1  # VS shifted by i voxels along x
    if i != 1:
        pred[3:5, 13:16, 13 - i : 16 - i] = 2  # cochlea exact, except case 1 misses it
    return pred


@pytest.fixture
def data(tmp_path):
    """GT folder (labels plus hrT2 images beside them) and predictions named both ways."""
    gt = tmp_path / "gt"
    sub = tmp_path / "pred_crossmoda"
    nnunet = tmp_path / "pred_nnunet"
    rng = np.random.default_rng(0)
    for i, case in enumerate(CASES):
        write_nifti(truth(i), gt / f"{case}_Label.nii.gz")
        write_nifti(rng.normal(100, 10, SHAPE).astype(np.float32) + 200 * truth(i), gt / f"{case}_hrT2.nii.gz")
        write_nifti(prediction(i), sub / f"{case}_Label.nii.gz")
        write_nifti(prediction(i), nnunet / f"{case}.nii.gz")
    for sidecar in ("dataset.json", "plans.json", "predict_from_raw_data_args.json"):
        (nnunet / sidecar).write_text("{}")
    return {"gt": gt, "sub": sub, "nnunet": nnunet, "root": tmp_path}


def test_evaluate_folder_values(data):
    rows = evaluate_folder(data["sub"], data["gt"])
    assert [(r["case"], r["structure"]) for r in rows] == [
        (c, s) for c in sorted(CASES) for s in ("VS", "cochlea")
    ]
    spacing = SPACING_XYZ[::-1]  # NIfTI stores float32 spacing: compare to 1e-6
    for r in rows:
        i = CASES.index(r["case"])
        value = {"VS": 1, "cochlea": 2}[r["structure"]]
        p, g = prediction(i) == value, truth(i) == value
        assert r["dice"] == dice(p, g)
        assert r["assd"] == pytest.approx(assd(p, g, spacing), rel=1e-6)
        assert r["hd95"] == pytest.approx(hd95(p, g, spacing), rel=1e-6)
    by = {(r["case"], r["structure"]): r for r in rows}
    assert by[(CASES[0], "VS")]["dice"] == 1.0 and by[(CASES[0], "VS")]["assd"] == 0.0
    assert by[(CASES[1], "cochlea")]["dice"] == 0.0 and by[(CASES[1], "cochlea")]["assd"] == 350.0
    # VS of case 1 shifted 1 voxel along x (0.6 mm): everything lies within 0.6 mm
    assert 0 < by[(CASES[1], "VS")]["assd"] <= 0.6 and by[(CASES[1], "VS")]["hd95"] == pytest.approx(0.6)


def test_both_prediction_naming_conventions_agree(data):
    assert evaluate_folder(data["sub"], data["gt"]) == evaluate_folder(data["nnunet"], data["gt"])


def test_summary_mean_std_per_structure_and_overall(data):
    rows = evaluate_folder(data["sub"], data["gt"])
    s = summarize(rows)
    assert s["n_cases"] == 3
    vs = [r["dice"] for r in rows if r["structure"] == "VS"]
    assert s["structures"]["VS"]["dice"] == {"mean": pytest.approx(np.mean(vs)), "std": pytest.approx(np.std(vs))}
    per_case = [np.mean([r["assd"] for r in rows if r["case"] == c]) for c in sorted(CASES)]
    assert s["overall"]["assd"]["mean"] == pytest.approx(np.mean(per_case))
    assert s["overall"]["assd"]["std"] == pytest.approx(np.std(per_case))
    means = [s["structures"][k]["dice"]["mean"] for k in ("VS", "cochlea")]
    assert s["overall"]["dice"]["mean"] == pytest.approx(np.mean(means))


def _rows(table):
    return [{"case": c, "structure": "VS", "dice": d, "assd": a, "hd95": 0.0} for c, d, a in table]


RANK_TABLE = {
    "A": _rows([("c1", 0.9, 1.0), ("c2", 0.5, 4.0)]),
    "B": _rows([("c1", 0.8, 2.0), ("c2", 0.7, 4.0)]),
    "C": _rows([("c1", 0.8, 3.0), ("c2", 0.6, 2.0)]),
}


def test_rank_folders_min_ties_as_the_challenge():
    # Dice c1: A1 B2 C2 (tie -> best rank) | ASSD c1: A1 B2 C3
    # Dice c2: B1 C2 A3                    | ASSD c2: C1 A2 B2 (tie)
    # A (1+1+3+2)/4 = 1.75, B (2+2+1+2)/4 = 1.75, C (2+3+2+1)/4 = 2.0
    ranking = rank_folders(RANK_TABLE)
    assert [(r["position"], r["folder"], r["mean_rank"]) for r in ranking] == [(1, "A", 1.75), (1, "B", 1.75), (3, "C", 2.0)]
    by = {r["folder"]: r for r in ranking}
    assert (by["A"]["mean_rank_dice"], by["A"]["mean_rank_assd"]) == (2.0, 1.5)
    assert (by["B"]["mean_rank_dice"], by["B"]["mean_rank_assd"]) == (1.5, 2.0)
    assert by["C"]["n_ranks"] == 4


def test_rank_folders_average_ties():
    # Ties get the mean of the ranks they span: Dice c1 B, C 2.5; ASSD c2 A, B 2.5.
    # A (1+1+3+2.5)/4 = 1.875, B (2.5+2+1+2.5)/4 = 2.0, C (2.5+3+2+1)/4 = 2.125
    ranking = rank_folders(RANK_TABLE, ties="average")
    assert [(r["position"], r["folder"], r["mean_rank"]) for r in ranking] == [(1, "A", 1.875), (2, "B", 2.0), (3, "C", 2.125)]


def test_rank_folders_bad_input():
    with pytest.raises(InputError, match="at least two"):
        rank_folders({"A": RANK_TABLE["A"]})
    with pytest.raises(InputError, match="same cases"):
        rank_folders({"A": RANK_TABLE["A"], "B": RANK_TABLE["B"][:1]})
    with pytest.raises(ValueError, match="ties"):
        rank_folders(RANK_TABLE, ties="max")


def test_run_evaluation_writes_csv_json_beside_predictions(data, capsys):
    out = run_evaluation([data["nnunet"]], data["gt"])
    assert out == data["root"] / "pred_nnunet_evaluation"
    assert sorted(p.name for p in out.iterdir()) == ["per_case.csv", "summary.json"]
    with open(out / "per_case.csv") as f:
        rows = list(csv.DictReader(f))
    assert list(rows[0]) == ["case", "structure", "dice", "assd", "hd95"] and len(rows) == 6
    summary = json.loads((out / "summary.json").read_text())
    assert summary["n_cases"] == 3 and summary["missing_predictions"] == []
    assert set(summary["structures"]) == {"VS", "cochlea"} and "overall" in summary
    printed = capsys.readouterr().out
    assert "overall" in printed and "cochlea" in printed and "±" in printed


def test_existing_output_refused_without_overwrite(data):
    out = data["root"] / "evaluation"
    run_evaluation([data["sub"]], data["gt"], out)
    stamp = (out / "summary.json").stat().st_mtime_ns
    with pytest.raises(InputError, match=f"output exists: {out}"):
        run_evaluation([data["sub"]], data["gt"], out)
    assert (out / "summary.json").stat().st_mtime_ns == stamp
    run_evaluation([data["nnunet"]], data["gt"], out, overwrite=True)
    assert json.loads((out / "summary.json").read_text())["prediction_folder"].endswith("pred_nnunet")
    assert [p.name for p in data["root"].iterdir() if p.name.startswith(".")] == []


def test_output_inside_an_input_folder_refused(data):
    for inside in (data["sub"] / "eval", data["gt"] / "eval"):
        with pytest.raises(InputError, match="inside the input folder"):
            run_evaluation([data["sub"]], data["gt"], inside)


def test_ranking_outputs(data, capsys):
    out = run_evaluation([data["sub"], data["nnunet"]], data["gt"], rank=True)
    assert out == data["root"] / "ranking_evaluation"
    assert (out / "pred_crossmoda" / "per_case.csv").is_file() and (out / "pred_nnunet" / "summary.json").is_file()
    with open(out / "ranking.csv") as f:
        ranking = list(csv.DictReader(f))
    # identical predictions: every rank is tied
    assert [(r["position"], float(r["mean_rank"])) for r in ranking] == [("1", 1.0), ("1", 1.0)]
    assert "mean rank" in capsys.readouterr().out


def test_allow_missing_scores_an_empty_prediction(data):
    (data["sub"] / f"{CASES[2]}_Label.nii.gz").unlink()
    with pytest.raises(InputError, match=f"no prediction in {data['sub']} for 1 ground-truth case.*{CASES[2]}.*--allow-missing"):
        evaluate_folder(data["sub"], data["gt"])
    rows = evaluate_folder(data["sub"], data["gt"], allow_missing=True)
    missing = [r for r in rows if r["case"] == CASES[2]]
    assert [(r["dice"], r["assd"], r["hd95"]) for r in missing] == [(0.0, 350.0, 350.0)] * 2
    out = run_evaluation([data["sub"]], data["gt"], allow_missing=True)
    assert json.loads((out / "summary.json").read_text())["missing_predictions"] == [CASES[2]]


def _bad(kind: str, data) -> tuple[Path, Path, list[str]]:
    """Make one bad input; return (pred_dir, gt_dir, strings the error must contain)."""
    pred, gt = data["sub"], data["gt"]
    case = CASES[0]
    target = pred / f"{case}_Label.nii.gz"
    if kind == "missing prediction folder":
        return data["root"] / "nope", gt, [str(data["root"] / "nope")]
    if kind == "missing ground-truth folder":
        return pred, data["root"] / "nope", [str(data["root"] / "nope")]
    if kind == "prediction without ground truth":
        extra = write_nifti(truth(0), pred / "crossmoda2021_ldn_99_Label.nii.gz")
        return pred, gt, [str(extra), "without ground truth"]
    if kind == "unknown label value":
        lab = prediction(0)
        lab[0, 0, 0] = 3
        write_nifti(lab, target)
        return pred, gt, [str(target), "[3]"]
    if kind == "non-NIfTI file":
        (pred / "notes.txt").write_text("x")
        return pred, gt, [str(pred / "notes.txt")]
    if kind == "non-NIfTI file in ground truth":
        (gt / "notes.txt").write_text("x")
        return pred, gt, [str(gt / "notes.txt")]
    if kind == "shape mismatch":
        write_nifti(prediction(0)[:, :, :-1], target)
        return pred, gt, [str(target), str(gt / f"{case}_Label.nii.gz"), "shape"]
    if kind == "spacing mismatch":
        write_nifti(prediction(0), target, spacing=(0.6, 0.6, 3.0))
        return pred, gt, [str(target), str(gt / f"{case}_Label.nii.gz"), "geometry"]
    if kind == "origin mismatch":
        write_nifti(prediction(0), target, origin=(5.0, 0.0, 0.0))
        return pred, gt, [str(target), str(gt / f"{case}_Label.nii.gz"), "geometry"]
    if kind == "two predictions for one case":
        write_nifti(prediction(0), pred / f"{case}.nii.gz")
        return pred, gt, [str(pred / f"{case}.nii.gz"), str(target)]
    if kind == "NaN in prediction":
        lab = prediction(0).astype(np.float32)
        lab[1, 1, 1] = np.nan
        write_nifti(lab, target)
        return pred, gt, [str(target), "NaN"]
    if kind == "non-integer labels":
        write_nifti(prediction(0).astype(np.float32) * 0.5, target)
        return pred, gt, [str(target), "non-integer"]
    if kind == "unknown label in ground truth":
        lab = truth(0)
        lab[0, 0, 0] = 7
        write_nifti(lab, gt / f"{case}_Label.nii.gz")
        return pred, gt, [str(gt / f"{case}_Label.nii.gz"), "[7]"]
    if kind == "empty prediction folder":
        empty = data["root"] / "empty"
        empty.mkdir()
        return empty, gt, [str(empty)]
    raise AssertionError(kind)


BAD_INPUTS = [
    "missing prediction folder", "missing ground-truth folder", "prediction without ground truth",
    "unknown label value", "non-NIfTI file", "non-NIfTI file in ground truth", "shape mismatch",
    "spacing mismatch", "origin mismatch", "two predictions for one case", "NaN in prediction",
    "non-integer labels", "unknown label in ground truth", "empty prediction folder",
]


@pytest.mark.parametrize("kind", BAD_INPUTS)
def test_bad_input_is_one_clear_input_error(kind, data):
    pred, gt, expected = _bad(kind, data)
    out = data["root"] / "out"
    with pytest.raises(InputError) as err:
        run_evaluation([pred], gt, out)
    message = str(err.value)
    assert "\n" not in message
    for s in expected:
        assert s in message, (kind, message)
    assert not out.exists()


def _cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([str(CLI), *args], capture_output=True, text=True, timeout=120)


@pytest.mark.parametrize("kind", ["unknown label value", "shape mismatch", "prediction without ground truth"])
def test_cli_bad_input_one_line_exit_2(kind, data):
    pred, gt, expected = _bad(kind, data)
    res = _cli("-p", str(pred), "-g", str(gt))
    assert res.returncode == 2, res.stderr
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("nnuda-evaluate: error: "), res.stderr
    assert all(s in lines[0] for s in expected)


def test_cli_evaluates_and_refuses_existing_output(data):
    res = _cli("-p", str(data["nnunet"]), "-g", str(data["gt"]))
    assert res.returncode == 0, res.stderr
    assert "overall" in res.stdout and (data["root"] / "pred_nnunet_evaluation" / "summary.json").is_file()
    res = _cli("-p", str(data["nnunet"]), "-g", str(data["gt"]))
    assert res.returncode == 2 and res.stderr.strip() == (
        f"nnuda-evaluate: error: output exists: {data['root'] / 'pred_nnunet_evaluation'} (pass --overwrite to replace it)"
    )
    res = _cli("-p", str(data["nnunet"]), "-g", str(data["gt"]), "--overwrite")
    assert res.returncode == 0, res.stderr


def test_cli_rank_needs_two_folders(data):
    res = _cli("-p", str(data["sub"]), "-g", str(data["gt"]), "--rank")
    assert res.returncode == 2 and res.stderr.strip().startswith("nnuda-evaluate: error: --rank needs")


def test_overlays_of_worst_cases(data):
    out = run_evaluation([data["sub"]], data["gt"], overlays=2, images=data["gt"])
    pngs = sorted((out / "overlays").iterdir())
    # worst mean Dice: case 1 (cochlea missed), then case 2 (VS shifted by 2 voxels)
    assert [p.name for p in pngs] == [f"01_{CASES[1]}.png", f"02_{CASES[2]}.png"]
    for p in pngs:
        assert p.stat().st_size > 1000 and p.read_bytes()[:8] == PNG_MAGIC


def test_overlays_with_nnunet_image_names_and_missing_image(data):
    images = data["root"] / "imagesTs"
    for i, case in enumerate(CASES):
        write_nifti(truth(i).astype(np.float32), images / f"{case}_0000.nii.gz")
    out = run_evaluation([data["nnunet"]], data["gt"], data["root"] / "o1", overlays=1, images=images)
    assert (out / "overlays" / f"01_{CASES[1]}.png").read_bytes()[:8] == PNG_MAGIC
    (images / f"{CASES[1]}_0000.nii.gz").unlink()
    with pytest.raises(InputError, match=f"no image for case {CASES[1]} in {images}"):
        run_evaluation([data["nnunet"]], data["gt"], data["root"] / "o2", overlays=1, images=images)
    assert not (data["root"] / "o2").exists()


def test_cli_scores_after_the_submission_post_processing_without_touching_the_files(data):
    stray = prediction(0)
    stray[6, 16:18, 2:4] = 1  # a detached VS blob
    stray[3, 2, 18] = 2  # a second cochlea blob on the right side
    path = write_nifti(stray, data["root"] / "pred_stray" / f"{CASES[0]}.nii.gz")
    gt = data["root"] / "gt_one"
    write_nifti(truth(0), gt / f"{CASES[0]}_Label.nii.gz")
    plain = evaluate_folder(path.parent, gt)
    assert plain[0]["dice"] < 1.0 and plain[1]["dice"] < 1.0
    res = _cli("-p", str(path.parent), "-g", str(gt), "-o", str(data["root"] / "pp"), "--largest-vs", "--cochlea-per-side")
    assert res.returncode == 0, res.stderr
    summary = json.loads((data["root"] / "pp" / "summary.json").read_text())
    assert summary["postprocessing"] == {"largest_vs": True, "cochlea_per_side": True}
    assert summary["structures"]["VS"]["dice"]["mean"] == 1.0 and summary["structures"]["cochlea"]["dice"]["mean"] == 1.0
    assert np.array_equal(sitk.GetArrayFromImage(sitk.ReadImage(str(path))), stray)  # the file is as predicted
