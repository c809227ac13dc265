import pytest
import torch

from nnunet_uda.checkpoint_extras import add_to_checkpoint, read_from_checkpoint


def test_round_trip_keeps_nnunet_keys(tmp_path):
    f = tmp_path / "checkpoint_final.pth"
    torch.save({"network_weights": {"w": torch.ones(2)}, "trainer_name": "T"}, f)
    add_to_checkpoint(f, "extra", {"weights": {"d": torch.zeros(3)}, "step": 4})
    ckpt = torch.load(f, weights_only=False)
    assert torch.equal(ckpt["network_weights"]["w"], torch.ones(2)) and ckpt["trainer_name"] == "T"
    state = read_from_checkpoint(f, "extra")
    assert state["step"] == 4 and torch.equal(state["weights"]["d"], torch.zeros(3))
    assert [p.name for p in tmp_path.iterdir()] == ["checkpoint_final.pth"]  # no temporary file left


def test_missing_key_and_file(tmp_path):
    f = tmp_path / "c.pth"
    torch.save({"trainer_name": "nnUNetTrainer"}, f)
    with pytest.raises(KeyError, match="nnUNetTrainer"):
        read_from_checkpoint(f, "extra")
    with pytest.raises(FileNotFoundError):
        add_to_checkpoint(tmp_path / "missing.pth", "extra", {})
