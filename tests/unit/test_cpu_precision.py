import pytest
import torch

from nnunet_uda import cpu_precision
from nnunet_uda.cpu_precision import CPUMixedPrecisionMixin, cpu_autocast, cpu_bf16_enabled


def test_environment_variable_forces_bf16_on_and_off(monkeypatch):
    monkeypatch.setenv(cpu_precision.ENV, "1")
    assert cpu_bf16_enabled()
    monkeypatch.setenv(cpu_precision.ENV, "0")
    assert not cpu_bf16_enabled()
    monkeypatch.setenv(cpu_precision.ENV, "yes")
    with pytest.raises(ValueError, match="NNUDA_CPU_BF16"):
        cpu_bf16_enabled()


def test_unset_variable_keeps_fp32_whatever_the_hardware(monkeypatch):
    """bf16 is opt-in: it cost the oracle the cochlea (nnunet_uda.cpu_precision's docstring)."""
    monkeypatch.delenv(cpu_precision.ENV, raising=False)
    assert not cpu_bf16_enabled()


def test_cuda_devices_are_left_to_nnunet(monkeypatch):
    monkeypatch.setenv(cpu_precision.ENV, "1")
    with cpu_autocast(torch.device("cuda")):
        assert not torch.is_autocast_enabled("cpu")


class _Step:
    """Stands in for nnUNetTrainer's step: a conv, a loss, backward, an SGD step."""

    def __init__(self):
        torch.manual_seed(0)
        self.device = torch.device("cpu")
        self.network = torch.nn.Conv2d(1, 3, 3, padding=1)
        self.optimizer = torch.optim.SGD(self.network.parameters(), lr=0.1)
        self.seen_dtype = None

    def train_step(self, batch):
        self.optimizer.zero_grad()
        out = self.network(batch["data"])
        self.seen_dtype = out.dtype
        loss = torch.nn.functional.cross_entropy(out.float(), batch["target"])
        loss.backward()
        self.optimizer.step()
        return {"loss": loss.item()}

    validation_step = train_step


class _Trainer(CPUMixedPrecisionMixin, _Step):
    pass


@pytest.mark.parametrize("enabled", ["0", "1"])
def test_steps_run_in_bf16_only_when_enabled_and_weights_stay_fp32(monkeypatch, enabled):
    monkeypatch.setenv(cpu_precision.ENV, enabled)
    trainer = _Trainer()
    batch = {"data": torch.randn(2, 1, 8, 8), "target": torch.randint(0, 3, (2, 8, 8))}
    before = trainer.network.weight.detach().clone()
    losses = [trainer.train_step(batch)["loss"] for _ in range(5)]
    assert trainer.seen_dtype == (torch.bfloat16 if enabled == "1" else torch.float32)
    assert trainer.network.weight.dtype == torch.float32 and trainer.network.weight.grad.dtype == torch.float32
    assert not torch.equal(before, trainer.network.weight) and losses[-1] < losses[0]
    trainer.validation_step(batch)
    assert trainer.seen_dtype == (torch.bfloat16 if enabled == "1" else torch.float32)
    assert not torch.is_autocast_enabled("cpu")
