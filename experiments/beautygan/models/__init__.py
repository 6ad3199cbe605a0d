"""BeautyGAN's networks, plain torch: the generator (:mod:`~beautygan.models.beautygan`: two input branches, a
shared trunk, two output heads) and the PatchGAN discriminator (:mod:`~beautygan.models.discriminator`). A
generator's outputs are a :class:`~beautygan.models.beautygan.Translation`, named by domain.

The base of the package with :mod:`beautygan.data`: nothing here imports training, inference or the app."""

from .beautygan import Generator, Translation
from .discriminator import PatchDiscriminator

__all__ = ["Generator", "PatchDiscriminator", "Translation"]
