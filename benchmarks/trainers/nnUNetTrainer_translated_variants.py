"""Semi-supervised trainers as arms of the UDA benchmark (labeled translated source +
unlabeled target), with the structure-intensity scaling PAST used there until 2026-12-07.

The translator draws VS and cochlea at intensities the real target does not show (see
``benchmarks/uda_accuracy/structure_intensity.py``); PAST and its stage 0 (translation only)
trained with VS and cochlea each x U(0.5, 1.5) in half the samples when these arms were
measured. These variants give mean teacher, MixMatch and DMNet that augmentation
(``nnUNetTrainerPAST_scaleAug``'s), so their arms compare with that PAST in the method only.
The ``_demo_structLevel`` variants give them PAST's structure-level augmentation (its default
since), so they compare with today's PAST in the method only; the MT-UDA and LE-UDA ones are
arms of ``benchmarks/label_efficient_uda`` (labeled ceT1 and translated scans both get it).
"""

from nnunet_uda.structure_augmentation import StructureAugmentationMixin
from nnunet_uda.trainers.nnUNetTrainerDMNet import nnUNetTrainerDMNet_demo
from nnunet_uda.trainers.nnUNetTrainerMeanTeacher import nnUNetTrainerMeanTeacher_demo
from nnunet_uda.trainers.nnUNetTrainerMixMatch import nnUNetTrainerMixMatch_demo
from nnunet_uda.trainers.nnUNetTrainerMTUDA import nnUNetTrainerLEUDA_demo, nnUNetTrainerMTUDA_demo
from nnunet_uda.trainers.nnUNetTrainerPAST import nnUNetTrainerPAST, nnUNetTrainerPAST_scaleAug


class _PASTStructureAugmentation(StructureAugmentationMixin):
    structure_augmentation_p = nnUNetTrainerPAST_scaleAug.structure_augmentation_p
    structure_quantile_ranges = nnUNetTrainerPAST_scaleAug.structure_quantile_ranges
    structure_scale_ranges = nnUNetTrainerPAST_scaleAug.structure_scale_ranges


class nnUNetTrainerMeanTeacher_demo_structAug(_PASTStructureAugmentation, nnUNetTrainerMeanTeacher_demo):
    """Mean teacher on the demo budget with PAST's former structure-intensity scaling."""


class nnUNetTrainerMixMatch_demo_structAug(_PASTStructureAugmentation, nnUNetTrainerMixMatch_demo):
    """MixMatch on the demo budget with PAST's former structure-intensity scaling."""


class nnUNetTrainerDMNet_demo_structAug(_PASTStructureAugmentation, nnUNetTrainerDMNet_demo):
    """DMNet on the demo budget with PAST's former structure-intensity scaling."""


class _PASTStructureLevel(StructureAugmentationMixin):
    structure_augmentation_p = nnUNetTrainerPAST.structure_augmentation_p
    structure_quantile_ranges = nnUNetTrainerPAST.structure_quantile_ranges


class nnUNetTrainerMeanTeacher_demo_structLevel(_PASTStructureLevel, nnUNetTrainerMeanTeacher_demo):
    """Mean teacher on the demo budget with PAST's structure-level augmentation."""


class nnUNetTrainerMixMatch_demo_structLevel(_PASTStructureLevel, nnUNetTrainerMixMatch_demo):
    """MixMatch on the demo budget with PAST's structure-level augmentation."""


class nnUNetTrainerDMNet_demo_structLevel(_PASTStructureLevel, nnUNetTrainerDMNet_demo):
    """DMNet on the demo budget with PAST's structure-level augmentation."""


class nnUNetTrainerMTUDA_demo_structLevel(_PASTStructureLevel, nnUNetTrainerMTUDA_demo):
    """MT-UDA on the demo budget with PAST's structure-level augmentation on its labeled batches."""


class nnUNetTrainerLEUDA_demo_structLevel(_PASTStructureLevel, nnUNetTrainerLEUDA_demo):
    """LE-UDA on the demo budget with PAST's structure-level augmentation on its labeled batches."""
