"""BeautyGAN's discriminator as in the official code (wtjiang98/BeautyGAN_pytorch ``Discriminator``): a 70x70
PatchGAN (Isola et al., "Image-to-Image Translation with Conditional Adversarial Networks", CVPR 2017) with spectral
norm on every conv and LeakyReLU(0.01), no normalization layers; 30x30 output at 256x256. BeautyGAN trains two, one
per domain."""

from __future__ import annotations

from torch import Tensor, nn
from torch.nn.utils.parametrizations import spectral_norm

__all__ = ["PatchDiscriminator"]


class PatchDiscriminator(nn.Module):
    """70x70 PatchGAN: 3 stride-2 convs (64, 128, 256), a stride-1 conv (512), a 1-channel stride-1 conv.

    Spectral norm on every conv, LeakyReLU(0.01), no normalization layers. Output ``(N, 1, H/8 - 2, W/8 - 2)``
    (30x30 at 256x256), raw scores for the least-squares GAN loss.
    """

    def __init__(self, *, width: int = 64, downsamplings: int = 3) -> None:
        super().__init__()
        if width < 1 or downsamplings < 1:
            raise ValueError(f"width and downsamplings must be >= 1, got {width} and {downsamplings}")
        layers: list[nn.Module] = []
        c_in, c_out = 3, width
        for _ in range(downsamplings):
            layers += [
                spectral_norm(nn.Conv2d(c_in, c_out, kernel_size=4, stride=2, padding=1)),
                nn.LeakyReLU(0.01, inplace=True),
            ]
            c_in, c_out = c_out, c_out * 2
        layers += [
            spectral_norm(nn.Conv2d(c_in, c_out, kernel_size=4, stride=1, padding=1)),
            nn.LeakyReLU(0.01, inplace=True),
        ]
        layers.append(spectral_norm(nn.Conv2d(c_out, 1, kernel_size=4, stride=1, padding=1, bias=False)))
        self.main = nn.Sequential(*layers)

    def forward(self, x: Tensor) -> Tensor:
        if x.ndim != 4 or x.shape[1] != 3:
            raise ValueError(f"discriminator input must be (N, 3, H, W), got shape {tuple(x.shape)}")
        return self.main(x)
