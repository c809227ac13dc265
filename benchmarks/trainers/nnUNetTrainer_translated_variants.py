"""Semi-supervised trainers as arms of the UDA benchmark (labeled translated source +
unlabeled target), with the structure-intensity augmentation PAST uses there.

The translator draws VS and cochlea at intensities the real target does not show (see
``benchmarks/uda_accuracy/structure_intensity.py``); PAST and its stage 0 (translation only)
train with VS and cochlea each x U(0.5, 1.5) in half the samples. These variants give mean
teacher, MixMatch and DMNet the same augmentation, so the arms differ in the method only.
"""

from nnunet_uda.structure_augmentation import StructureAugmentationMixin
from nnunet_uda.trainers.nnUNetTrainerDMNet import nnUNetTrainerDMNet_demo
from nnunet_uda.trainers.nnUNetTrainerMeanTeacher import nnUNetTrainerMeanTeacher_demo
from nnunet_uda.trainers.nnUNetTrainerMixMatch import nnUNetTrainerMixMatch_demo
from nnunet_uda.trainers.nnUNetTrainerPAST import nnUNetTrainerPAST


class _PASTStructureAugmentation(StructureAugmentationMixin):
    structure_augmentation_p = nnUNetTrainerPAST.structure_augmentation_p
    structure_scale_ranges = nnUNetTrainerPAST.structure_scale_ranges


class nnUNetTrainerMeanTeacher_demo_structAug(_PASTStructureAugmentation, nnUNetTrainerMeanTeacher_demo):
    """Mean teacher on the demo budget with PAST's structure-intensity augmentation."""


class nnUNetTrainerMixMatch_demo_structAug(_PASTStructureAugmentation, nnUNetTrainerMixMatch_demo):
    """MixMatch on the demo budget with PAST's structure-intensity augmentation."""


class nnUNetTrainerDMNet_demo_structAug(_PASTStructureAugmentation, nnUNetTrainerDMNet_demo):
    """DMNet on the demo budget with PAST's structure-intensity augmentation."""
