"""BeautyGAN (Li et al., "BeautyGAN: Instance-level Facial Makeup Transfer with Deep Generative Adversarial
Network", ACM MM 2018) in PyTorch Lightning, with the perceptual loss from :mod:`perceptual`.

Reference implementation whose semantics this follows: wtjiang98/BeautyGAN_pytorch (networks, histogram matching,
loss weights), rewritten batched, device-agnostic and DDP-safe.

Arranged by role, imports running one way (``tests/test_layout.py`` checks it): :mod:`beautygan.data` and
:mod:`beautygan.models` (plain torch), then :mod:`beautygan.training` (Lightning), then :mod:`beautygan.inference`
(a trained generator, no Lightning), then :mod:`beautygan.app`, :mod:`beautygan.cli` and :mod:`beautygan.demo`.
"""
