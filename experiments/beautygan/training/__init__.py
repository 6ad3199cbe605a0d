"""Training BeautyGAN with PyTorch Lightning: the LightningModule (:mod:`~beautygan.training.module`), its loss
terms and weights (:mod:`~beautygan.training.histogram`, :mod:`~beautygan.training.loss_weights`), the optimizers
(:mod:`~beautygan.training.optim`), speed options (:mod:`~beautygan.training.speed`), the callbacks (the non-finite
loss guard :mod:`~beautygan.training.guard`, the sample grids :mod:`~beautygan.training.samples`), the MT
LightningDataModule (:mod:`~beautygan.training.datamodule`), checkpoint files
(:mod:`~beautygan.training.checkpoint_files`), Lightning's checkpoint IO (:mod:`~beautygan.training.checkpoint_io`)
and resuming (:mod:`~beautygan.training.resume`).

This package imports nothing at import time: ``checkpoint_files``, ``loss_weights``, ``speed``, ``histogram`` and
``resume`` are plain torch and Python (inference reads checkpoints through them, and a checkpoint's hyper-parameters
hold a :class:`~beautygan.training.loss_weights.LossWeights` and a :class:`~beautygan.training.speed.SpeedOptions`);
the other modules need Lightning (the ``train`` extra)."""
