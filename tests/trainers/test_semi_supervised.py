"""The labeled + unlabeled iterator on a real nnUNetTrainer, and the DDP pieces on 2 gloo CPU ranks."""

import json
import os

import torch
import torch.distributed as dist

from nnuda_testing import run_gloo
from trainer_testing import DATASET_ID, nnunet_env


def set_env(root, monkeypatch=None):
    """nnU-Net's variables for this process; through ``monkeypatch`` in the pytest process, so none leak."""
    env = {k: v for k, v in nnunet_env(root).items() if k.startswith("nnUNet_")}
    env["nnUNet_n_proc_DA"] = "0"
    for k, v in env.items():
        if monkeypatch:
            monkeypatch.setenv(k, v)
        else:
            os.environ[k] = v


def make_trainer():
    from nnunetv2.run.run_training import get_trainer_from_args

    trainer = get_trainer_from_args(str(DATASET_ID), "3d_fullres", 0, "nnUNetTrainer", device=torch.device("cpu"))
    trainer.initialize()
    return trainer


def test_iterator_yields_nnunet_batch_plus_unlabeled_batch(workspace, monkeypatch):
    set_env(workspace, monkeypatch)
    from nnunet_uda.semi_supervised import LabeledUnlabeledIterator, prepare_unlabeled_pool, unlabeled_dataloader

    trainer = make_trainer()
    labeled, _ = trainer.get_dataloaders()
    folder, ids = prepare_unlabeled_pool(trainer, progress=False)
    stream = LabeledUnlabeledIterator(labeled, unlabeled_dataloader(trainer, folder, ids))
    for _ in range(2):
        batch = next(stream)
        u = batch["unlabeled"]
        assert batch["data"].shape == u["data"].shape == (2, 1, 20, 40, 40)
        assert isinstance(batch["target"], list) and len(u["target"]) == len(batch["target"])  # deep supervision
        assert set(u["keys"]) <= set(ids) and not set(batch["keys"]) & set(ids)
        assert torch.isfinite(u["data"]).all() and u["data"].std() > 0
    stream._finish()


def _ddp_worker(rank, world, root, out):
    set_env(root)
    from nnunetv2.utilities.plans_handling.plans_handler import PlansManager

    from nnunet_uda.self_training import dataset_json_with_ignore_label, label_round
    from nnunet_uda.semi_supervised import UnlabeledDataLoader, UnlabeledDataset, ddp_rank_world
    from nnunet_uda.unlabeled import open_unlabeled_pool

    r, w, barrier = ddp_rank_world()
    pool = open_unlabeled_pool(DATASET_ID, "3d_fullres")
    mine_preprocessed, preprocess_case = [], pool.preprocess_case
    pool.preprocess_case = lambda case: (mine_preprocessed.append(case), preprocess_case(case))
    ids = pool.ensure(rank=r, world_size=w, barrier=barrier, progress=False)

    pm = PlansManager(pool.plans)
    lm = pm.get_label_manager(dataset_json_with_ignore_label(pool.dataset_json))
    loader = UnlabeledDataLoader(UnlabeledDataset(str(pool.folder), ids), 2, (20, 40, 40), (20, 40, 40), lm, None,
                                 rank=r, world_size=w)
    seen = sorted({k for _ in range(6) for k in next(loader)["keys"]})

    labelled = []

    def predict(image):
        labelled.append(image.shape)
        z = image[0]
        return torch.stack([torch.sigmoid(-z), torch.sigmoid(z) * 0.5, torch.sigmoid(z) * 0.5])

    cases = {c: pool.folder for c in ids}
    summary = label_round(cases, root / "round", predict, 0.6, lm, (20, 40, 40), rank=r, world_size=w,
                          barrier=barrier, progress=False)
    result = {"preprocessed": mine_preprocessed, "seen": seen, "labelled": len(labelled),
              "summary_cases": summary["cases"]}
    gathered = [None] * w
    dist.all_gather_object(gathered, result)
    if r == 0:
        out.write_text(json.dumps(gathered))


def test_ddp_shards_and_split_pseudo_labelling_on_two_gloo_ranks(workspace, tmp_path):
    out = tmp_path / "result.json"
    run_gloo(_ddp_worker, 2, workspace, out)
    r0, r1 = json.loads(out.read_text())
    pool = sorted(["tgt_00", "tgt_01", "tgt_02"])
    # the pool was preprocessed in disjoint shares
    assert sorted(r0["preprocessed"] + r1["preprocessed"]) == pool and not set(r0["preprocessed"]) & set(r1["preprocessed"])
    # each rank streams its own disjoint shard
    assert r0["seen"] == ["tgt_00", "tgt_02"] and r1["seen"] == ["tgt_01"]
    # pseudo-labelling split: every case labelled once, summary covers all
    assert r0["labelled"] + r1["labelled"] == 3 and r0["labelled"] == 2
    assert r0["summary_cases"] == r1["summary_cases"] == pool
    files = sorted(p.name for p in (workspace / "round").iterdir())
    assert files == sorted([f"{c}{s}" for c in pool for s in (".json", ".pkl", "_seg.b2nd")]
                           + ["summary.json", "thresholds.json"])
