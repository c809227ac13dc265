import pytest
import torch

from nnunet_uda.structure_augmentation import StructureIntensityTransform


@pytest.mark.parametrize("spatial", [(6, 7), (4, 5, 6)])
def test_scales_inside_labels_only(spatial):
    torch.manual_seed(0)
    image = torch.ones((2, *spatial))
    seg = torch.zeros((1, *spatial), dtype=torch.int16)
    seg[0, 0] = 1
    seg[0, 1] = 2
    seg[0, 2] = 3  # ignore label: untouched
    out = StructureIntensityTransform({1: (1.2, 2.0), 2: (0.5, 1.0)}, p=1.0)(image=image.clone(), segmentation=seg)
    img = out["image"]
    assert torch.equal(out["segmentation"], seg)
    f1, f2 = img[0, 0].unique(), img[0, 1].unique()
    assert len(f1) == 1 and 1.2 <= f1.item() <= 2.0
    assert len(f2) == 1 and 0.5 <= f2.item() <= 1.0
    assert torch.all(img[:, 2:] == 1)
    assert torch.equal(img[0, :2], img[1, :2])


def test_p_zero_is_identity():
    image = torch.rand((1, 4, 4))
    seg = torch.ones((1, 4, 4), dtype=torch.int16)
    out = StructureIntensityTransform({1: (1.2, 2.0)}, p=0.0)(image=image.clone(), segmentation=seg)
    assert torch.equal(out["image"], image)


@pytest.mark.parametrize("ranges,p", [({}, 0.1), ({1: (2.0, 1.0)}, 0.1), ({1: (0.0, 1.0)}, 0.1), ({1: (1.0, 2.0)}, 1.5)])
def test_bad_arguments(ranges, p):
    with pytest.raises(ValueError):
        StructureIntensityTransform(ranges, p)


class _Pipeline:
    def __init__(self):
        self.transforms = ["nnunet's first transform"]


class _Trainer:
    dataset_json = {"labels": {"background": 0, "VS": 1, "cochlea": 2}}

    def get_training_transforms(self, *args, **kwargs):
        return _Pipeline()


def test_mixin_puts_the_transform_first_with_the_label_ids_of_dataset_json():
    from nnunet_uda.structure_augmentation import StructureAugmentationMixin

    class On(StructureAugmentationMixin, _Trainer):
        structure_augmentation_p = 0.5
        structure_scale_ranges = {"cochlea": (0.5, 1.0), "VS": (1.2, 2.0)}  # noqa: RUF012

    class Off(StructureAugmentationMixin, _Trainer):
        pass

    first = On().get_training_transforms().transforms[0]
    assert isinstance(first, StructureIntensityTransform)
    assert first.scale_ranges == {2: (0.5, 1.0), 1: (1.2, 2.0)} and first.p == 0.5
    assert Off().get_training_transforms().transforms == ["nnunet's first transform"]


def test_benchmark_semi_supervised_arms_use_past_augmentation():
    import importlib.util
    from pathlib import Path

    path = Path(__file__).resolve().parents[2] / "benchmarks" / "trainers" / "nnUNetTrainer_translated_variants.py"
    spec = importlib.util.spec_from_file_location("translated_variants", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    from nnunet_uda.trainers.nnUNetTrainerPAST import nnUNetTrainerPAST

    for name in ("nnUNetTrainerMeanTeacher_demo_structAug", "nnUNetTrainerMixMatch_demo_structAug",
                 "nnUNetTrainerDMNet_demo_structAug"):
        trainer = getattr(module, name)
        assert trainer.structure_augmentation_p == nnUNetTrainerPAST.structure_augmentation_p > 0
        assert trainer.structure_scale_ranges == nnUNetTrainerPAST.structure_scale_ranges
