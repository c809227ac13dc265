"""2D unpaired image translation (CycleGAN, NICE-GAN); imported as ``nnunet_uda.translation``.

Does not import nnU-Net or the trainers.
"""
