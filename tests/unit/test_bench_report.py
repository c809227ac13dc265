"""Benchmark reporting: epoch-time ratios from nnU-Net's logs, and the results.md frame."""

from __future__ import annotations

from pathlib import Path

from nnunet_uda.bench_report import write_report
from nnunet_uda.demo import DemoSettings, Pipeline, epoch_times


def _log(pipeline: Pipeline, dataset_id: int, trainer: str, seconds: list[float]) -> None:
    folder = (Path(pipeline.env["nnUNet_results"]) / f"Dataset{dataset_id}_X" /
              f"{trainer}__nnUNetPlans__{pipeline.s.configuration}" / f"fold_{pipeline.s.fold}")
    folder.mkdir(parents=True)
    lines = [f"2026-01-01 00:00:0{i}.0: Epoch time: {s} s" for i, s in enumerate(seconds)]
    (folder / "training_log_2026_1_1_00_00_00.txt").write_text("\n".join(["noise"] + lines) + "\n")


def test_epoch_times_are_medians_relative_to_the_first_run(tmp_path):
    p = Pipeline(tmp_path, DemoSettings(device="cpu"))
    _log(p, 990, "A", [2.0, 4.0, 100.0])  # median 4
    _log(p, 991, "B", [6.0, 6.0])
    text = epoch_times(p, {"stock": (990, "A"), "other": (991, "B"), "missing": (992, "C")})
    rows = {line.split()[0]: line.split()[1:] for line in text.splitlines()[1:]}
    assert rows["stock"] == ["4.00", "1.00"] and rows["other"] == ["6.00", "1.50"]
    assert "missing" not in rows


def test_report_names_machine_settings_and_command(tmp_path):
    out = tmp_path / "results.md"
    text = write_report(out, "T", "s=1", "note", "a | b", "benchmarks/x/run.py")
    assert out.read_text() == text
    assert text.startswith("# T\n") and "torch " in text and "nnunetv2 " in text
    assert "```\na | b\n```" in text and "Command: `python benchmarks/x/run.py" in text


def test_rescore_tta_finds_finished_runs_only(tmp_path):
    """``benchmarks/uda_accuracy/rescore_tta.py`` scores stage 0 and the end of finished runs, not unfinished ones."""
    import importlib.util

    script = Path(__file__).resolve().parents[2] / "benchmarks" / "uda_accuracy" / "rescore_tta.py"
    spec = importlib.util.spec_from_file_location("rescore_tta", script)
    rescore = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(rescore)
    results = tmp_path / "nnunet" / "results"
    runs = {"Dataset991_T/nnUNetTrainerPAST_demo": ["checkpoint_stage0.pth", "checkpoint_final.pth"],
            "Dataset993_P/nnUNetTrainerPAST_demo": ["checkpoint_stage0.pth", "checkpoint_latest.pth"],
            "Dataset993_P/nnUNetTrainerMixMatch_demo": ["checkpoint_final.pth"]}
    for run, files in runs.items():
        fold = results / f"{run}__nnUNetPlans__2d" / "fold_all"
        fold.mkdir(parents=True)
        for name in files:
            (fold / name).write_bytes(b"")
    p = Pipeline(tmp_path, DemoSettings.benchmark_scale(device="cpu", test_time_mirroring=True))
    found = rescore.trained_models(p, ["nnUNetTrainerPAST_demo", "nnUNetTrainerMixMatch_demo"])
    assert found == {
        "translated nnUNetTrainerPAST_demo stage 0": (991, "nnUNetTrainerPAST_demo", "checkpoint_stage0.pth"),
        "translated nnUNetTrainerPAST_demo final": (991, "nnUNetTrainerPAST_demo", "checkpoint_final.pth"),
        "per-site nnUNetTrainerMixMatch_demo final": (993, "nnUNetTrainerMixMatch_demo", "checkpoint_final.pth"),
    }
    assert p.predictions == tmp_path / "predictions_tta"


def test_rescore_postprocessed_scores_both_kinds_and_the_gap(tmp_path):
    """``benchmarks/uda_accuracy/rescore_postprocessed.py``: a stray VS blob costs Dice as predicted,
    not after post-processing; each kind's gap is against the same kind; incomplete folders are left out."""
    import importlib.util

    import numpy as np
    import SimpleITK as sitk

    from nnunet_uda.crossmoda import TARGET_VALIDATION_LABELS

    script = Path(__file__).resolve().parents[2] / "benchmarks" / "uda_accuracy" / "rescore_postprocessed.py"
    spec = importlib.util.spec_from_file_location("rescore_postprocessed", script)
    rescore = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(rescore)

    def write(arr, path):
        path.parent.mkdir(parents=True, exist_ok=True)
        sitk.WriteImage(sitk.GetImageFromArray(arr.astype(np.uint8)), str(path))

    truth = np.zeros((4, 12, 12), np.uint8)
    truth[1:3, 2:6, 2:5] = 1
    truth[1:3, 8:10, 1:3] = 2
    truth[1:3, 8:10, 9:11] = 2
    stray = truth.copy()
    stray[3, 10:12, 6:8] = 1
    for case in ("a", "b"):
        write(truth, tmp_path / "crossmoda" / TARGET_VALIDATION_LABELS / f"{case}_Label.nii.gz")
        write(np.zeros_like(truth), tmp_path / "predictions" / "no_adaptation" / f"{case}.nii.gz")
        write(truth, tmp_path / "predictions" / "oracle" / f"{case}.nii.gz")
        write(stray, tmp_path / "predictions" / "past" / f"{case}.nii.gz")
    write(truth, tmp_path / "predictions" / "half_done" / "a.nii.gz")
    scores = rescore.score_seed(tmp_path, tta=False)
    assert sorted(scores) == ["no_adaptation", "oracle", "past"]
    assert scores["past"]["as predicted"]["VS"] < 1.0 and scores["past"]["post-processed"]["VS"] == 1.0
    closed = rescore.gaps(scores)
    assert closed["past"]["as predicted"] < 1.0 and closed["past"]["post-processed"] == 1.0
    assert "past" in rescore.format_rows(scores)
