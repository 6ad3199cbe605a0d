"""Using a trained generator (BeautyGAN's or the PSGAN-style one), without Lightning: the generator rebuilt from a
checkpoint (:mod:`~beautygan.inference.trained_generator`), the face geometry the PSGAN-style one reads
(:mod:`~beautygan.inference.photo_geometry`), the makeup controls (:mod:`~beautygan.inference.controls`),
face-aware transfer on photos (:mod:`~beautygan.inference.photo_transfer`, pasted back by
:mod:`~beautygan.inference.paste`; whole folders with :mod:`~beautygan.inference.folders`), galleries and strips
(:mod:`~beautygan.inference.gallery`) and evaluation on files (:mod:`~beautygan.inference.evaluate`).

Checkpoints are read by :mod:`beautygan.training.checkpoint_files`, which is plain torch: nothing here needs the
``train`` extra."""
