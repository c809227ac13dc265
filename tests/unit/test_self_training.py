import pytest
import torch

from nnunet_uda.self_training import SelfTrainingSchedule, StagedPolyLRScheduler, dataset_json_with_ignore_label, label_ids


def schedule(**kw):
    args = dict(stage0_epochs=4, round_epochs=2, num_rounds=2, stage0_lr=0.01, round_lr=0.008, q_schedule=(0.6, 0.7))
    args.update(kw)
    return SelfTrainingSchedule(**args)


def test_stages_lie_end_to_end():
    s = schedule()
    assert s.num_epochs == 8
    assert [s.stage_of(e) for e in range(9)] == [0, 0, 0, 0, 1, 1, 2, 2, 2]
    assert [s.start(k) for k in range(3)] == [0, 4, 6]
    assert [e for e in range(8) if s.is_last_epoch_of_stage(e)] == [3, 5, 7]
    assert s.q(1) == 0.6 and s.q(2) == 0.7


def test_lr_is_poly_restarted_per_stage():
    s = schedule()
    assert s.lr(0) == 0.01 and s.lr(4) == 0.008 and s.lr(6) == 0.008
    assert s.lr(3) == pytest.approx(0.01 * 0.25 ** 0.9)
    assert s.lr(5) == pytest.approx(0.008 * 0.5 ** 0.9)
    opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=1.0)
    StagedPolyLRScheduler(opt, s).step(4)
    assert opt.param_groups[0]["lr"] == 0.008


@pytest.mark.parametrize("kw", [dict(q_schedule=(0.6,)), dict(q_schedule=(0.6, 1.2)), dict(round_epochs=0)])
def test_bad_schedule(kw):
    with pytest.raises(ValueError):
        schedule(**kw)


def test_ignore_label_added_last():
    dj = {"labels": {"background": 0, "VS": 1, "cochlea": 2}, "file_ending": ".nii.gz"}
    out = dataset_json_with_ignore_label(dj)
    assert out["labels"] == {"background": 0, "VS": 1, "cochlea": 2, "ignore": 3}
    assert "ignore" not in dj["labels"]
    with pytest.raises(ValueError, match="already has an ignore"):
        dataset_json_with_ignore_label(out)


def test_label_ids():
    dj = {"labels": {"background": 0, "VS": 1, "cochlea": 2}}
    assert label_ids(dj, ["cochlea", "VS"]) == [2, 1]
    with pytest.raises(ValueError, match="tumour"):
        label_ids(dj, ["tumour"])


def test_site_model_self_trains_on_its_own_site_only_and_refuses_an_unknown_site():
    """``unlabeled_site`` keeps the unlabeled cases of one site (PAST's per-site models)."""
    from types import SimpleNamespace

    from nnunet_uda.trainers.nnUNetTrainerPAST import nnUNetTrainerPAST

    ids = ["crossmoda2021_etz_106", "crossmoda2021_ldn_7", "crossmoda2021_etz_108"]
    logged = []
    trainer = SimpleNamespace(unlabeled_site="etz", print_to_log_file=logged.append)
    assert nnUNetTrainerPAST._site_cases(trainer, ids) == ["crossmoda2021_etz_106", "crossmoda2021_etz_108"]
    assert "2 of 3" in logged[0]
    trainer.unlabeled_site = None
    assert nnUNetTrainerPAST._site_cases(trainer, ids) == ids
    trainer.unlabeled_site = "umcu"
    with pytest.raises(RuntimeError, match="umcu.*no unlabeled case"):
        nnUNetTrainerPAST._site_cases(trainer, ids)
