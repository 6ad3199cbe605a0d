"""BeautyGAN (Li et al., "BeautyGAN: Instance-level Facial Makeup Transfer with Deep Generative Adversarial
Network", ACM MM 2018) in PyTorch Lightning, with the perceptual loss from :mod:`perceptual`.

Reference implementation whose semantics this follows: wtjiang98/BeautyGAN_pytorch (networks, histogram matching,
loss weights), rewritten batched, device-agnostic and DDP-safe.
"""
