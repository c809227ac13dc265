"""nnUNetTrainer subclasses; imported as ``nnunet_uda.trainers``.

nnU-Net also imports the modules of this folder as top-level modules (through
``nnUNet_extTrainer``), so they use absolute imports only and each is named after its class.
"""
