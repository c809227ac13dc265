"""nnuda-demo end to end on tiny phantoms with the debug trainers: every real step runs
(synth, convert, plan, train, translate, PAST, predict, evaluate) and a second call resumes."""

from __future__ import annotations

from nnunet_uda.demo import DemoSettings, demo

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
