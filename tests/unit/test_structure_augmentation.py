import pytest
import torch

from nnunet_uda.structure_augmentation import StructureIntensityTransform, StructureLevelTransform


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


@pytest.mark.parametrize("spatial", [(12, 12), (6, 12, 12)])
def test_level_moves_a_structure_to_the_drawn_quantile_of_the_sample_and_keeps_its_texture(spatial):
    torch.manual_seed(0)
    image = torch.linspace(-1, 3, steps=torch.Size(spatial).numel()).reshape(1, *spatial)
    image = torch.cat([image, 2 * image])
    seg = torch.zeros((1, *spatial), dtype=torch.int16)
    seg[0, ..., 4:7, 4:7] = 1
    seg[0, ..., 0, 0] = 2  # label without a range: untouched apart from a neighbour's halo
    before = image.clone()
    out = StructureLevelTransform({1: (0.1, 0.1)}, p=1.0)(image=image.clone(), segmentation=seg)
    img, inside = out["image"], seg[0] == 1
    assert torch.equal(out["segmentation"], seg)
    for c in range(2):
        assert img[c][inside].mean() == pytest.approx(torch.quantile(before[c].flatten(), 0.1).item(), abs=1e-4)
        shift = img[c][inside] - before[c][inside]
        assert torch.allclose(shift, shift[0].expand_as(shift), atol=1e-5)  # a shift: texture kept
        assert shift[0] < 0  # the structure was brighter than the 10th percentile
    far = torch.ones(spatial, dtype=torch.bool)
    far[..., 3:8, 3:8] = False  # the structure and its one-voxel halo
    assert torch.equal(img[:, far], before[:, far])
    halo = (~far) & ~inside
    assert torch.all((img[:, halo] - before[:, halo]).abs() > 0)
    assert torch.all((img[:, halo] - before[:, halo]).abs() < (img[:, inside] - before[:, inside]).abs().min(dim=1).values[:, None])


def test_level_draws_the_quantile_in_its_range_and_p_zero_is_identity():
    torch.manual_seed(1)
    image = torch.arange(100.0).reshape(1, 10, 10)
    seg = torch.zeros((1, 10, 10), dtype=torch.int16)
    seg[0, 5, 5] = 1
    levels = {StructureLevelTransform({1: (0.2, 0.4)}, p=1.0)(image=image.clone(), segmentation=seg)["image"][0, 5, 5].item()
              for _ in range(20)}
    assert len(levels) > 1 and all(0.2 * 99 - 1e-4 <= v <= 0.4 * 99 + 1e-4 for v in levels)
    same = StructureLevelTransform({1: (0.2, 0.4)}, p=0.0)(image=image.clone(), segmentation=seg)["image"]
    assert torch.equal(same, image)


@pytest.mark.parametrize("ranges,p", [({}, 0.1), ({1: (0.6, 0.5)}, 0.1), ({1: (-0.1, 0.5)}, 0.1), ({1: (0.5, 1.2)}, 0.1),
                                      ({1: (0.2, 0.5)}, -0.1)])
def test_level_bad_arguments(ranges, p):
    with pytest.raises(ValueError):
        StructureLevelTransform(ranges, p)


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

    class Levels(On):
        structure_quantile_ranges = {"VS": (0.3, 0.97)}  # noqa: RUF012

    first = On().get_training_transforms().transforms[0]
    assert isinstance(first, StructureIntensityTransform)
    assert first.scale_ranges == {2: (0.5, 1.0), 1: (1.2, 2.0)} and first.p == 0.5
    assert Off().get_training_transforms().transforms == ["nnunet's first transform"]
    levels = Levels().get_training_transforms().transforms
    assert isinstance(levels[0], StructureLevelTransform) and len(levels) == 2
    assert levels[0].quantile_ranges == {1: (0.3, 0.97)} and levels[0].p == 0.5


def test_benchmark_semi_supervised_arms_use_past_augmentation():
    import importlib.util
    from pathlib import Path

    path = Path(__file__).resolve().parents[2] / "benchmarks" / "trainers" / "nnUNetTrainer_translated_variants.py"
    spec = importlib.util.spec_from_file_location("translated_variants", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    from nnunet_uda.trainers.nnUNetTrainerPAST import nnUNetTrainerPAST, nnUNetTrainerPAST_scaleAug

    for name in ("nnUNetTrainerMeanTeacher_demo_structAug", "nnUNetTrainerMixMatch_demo_structAug",
                 "nnUNetTrainerDMNet_demo_structAug"):
        trainer = getattr(module, name)
        assert trainer.structure_augmentation_p == nnUNetTrainerPAST_scaleAug.structure_augmentation_p > 0
        assert trainer.structure_quantile_ranges is None
        assert trainer.structure_scale_ranges == nnUNetTrainerPAST_scaleAug.structure_scale_ranges
        level = getattr(module, name.replace("_structAug", "_structLevel"))
        assert level.structure_augmentation_p == nnUNetTrainerPAST.structure_augmentation_p
        assert level.structure_quantile_ranges == nnUNetTrainerPAST.structure_quantile_ranges
        assert level.__mro__[2] is trainer.__mro__[2]  # the same method underneath
    from nnunet_uda.trainers.nnUNetTrainerMTUDA import nnUNetTrainerLEUDA_demo, nnUNetTrainerMTUDA_demo

    for name, method in (("nnUNetTrainerMTUDA_demo_structLevel", nnUNetTrainerMTUDA_demo),
                         ("nnUNetTrainerLEUDA_demo_structLevel", nnUNetTrainerLEUDA_demo)):
        level = getattr(module, name)
        assert level.structure_quantile_ranges == nnUNetTrainerPAST.structure_quantile_ranges
        assert level.__mro__[2].__name__ == "StructureAugmentationMixin" and level.__mro__[3] is method


def _trainer_classes(module_path: str):
    import importlib.util
    import inspect
    from pathlib import Path

    path = Path(__file__).resolve().parents[2] / module_path
    spec = importlib.util.spec_from_file_location(path.stem, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return [c for n, c in inspect.getmembers(module, inspect.isclass) if n.startswith("nnUNetTrainer")]


@pytest.mark.parametrize("module_path", ["trainers/nnUNetTrainerPAST.py",
                                         "benchmarks/trainers/nnUNetTrainerPAST_variants.py"])
def test_past_variants_get_the_structure_augmentation_their_attributes_name(module_path):
    """PAST's default is the level transform; a variant that names scale ranges of its own must
    get the scaling, not inherit the default's quantiles."""
    from nnunet_uda.trainers.nnUNetTrainerPAST import nnUNetTrainerPAST

    assert nnUNetTrainerPAST.structure_quantile_ranges and nnUNetTrainerPAST.structure_augmentation_p > 0
    for trainer in _trainer_classes(module_path):
        if "structure_scale_ranges" in vars(trainer):
            assert trainer.structure_quantile_ranges is None, trainer.__name__
