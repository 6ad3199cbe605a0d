"""BeautyGAN's and PSGAN's discriminator as in their official code (wtjiang98/BeautyGAN_pytorch ``Discriminator``,
wtjiang98/PSGAN ``psgan/net.py`` ``Discriminator`` with ``norm="SN"``, the default of its config): a 70x70 PatchGAN
(Isola et al., "Image-to-Image Translation with Conditional Adversarial Networks", CVPR 2017) with spectral norm on
every conv and LeakyReLU(0.01), no normalization layers; 30x30 output at 256x256. Both train two, one per domain.
PSGAN's ``norm`` option (spectral norm or none) is :data:`DiscriminatorNorm`."""

from __future__ import annotations

from typing import Literal

from torch import Tensor, nn
from torch.nn.utils.parametrizations import spectral_norm

__all__ = ["DiscriminatorNorm", "PatchDiscriminator"]

DiscriminatorNorm = Literal["spectral", "none"]
"""``"spectral"``: spectral norm on every convolution (Miyato et al., ICLR 2018; both official codes); ``"none"``:
plain convolutions (PSGAN's ``norm`` other than ``"SN"``)."""


class PatchDiscriminator(nn.Module):
    """70x70 PatchGAN: 3 stride-2 convs (64, 128, 256), a stride-1 conv (512), a 1-channel stride-1 conv.

    Spectral norm on every conv (``norm="spectral"``, the official setting; ``"none"``: without), LeakyReLU(0.01),
    no normalization layers. Output ``(N, 1, H/8 - 2, W/8 - 2)`` (30x30 at 256x256), raw scores for the least-squares
    GAN loss. The state-dict keys do not depend on ``norm`` beyond the spectral-norm parametrization's own.
    """

    def __init__(self, *, width: int = 64, downsamplings: int = 3, norm: DiscriminatorNorm = "spectral") -> None:
        super().__init__()
        if width < 1 or downsamplings < 1:
            raise ValueError(f"width and downsamplings must be >= 1, got {width} and {downsamplings}")
        if norm not in ("spectral", "none"):
            raise ValueError(f"norm must be 'spectral' (official) or 'none', got {norm!r}")

        def normed(conv: nn.Conv2d) -> nn.Module:
            return spectral_norm(conv) if norm == "spectral" else conv

        layers: list[nn.Module] = []
        c_in, c_out = 3, width
        for _ in range(downsamplings):
            layers += [
                normed(nn.Conv2d(c_in, c_out, kernel_size=4, stride=2, padding=1)),
                nn.LeakyReLU(0.01, inplace=True),
            ]
            c_in, c_out = c_out, c_out * 2
        layers += [
            normed(nn.Conv2d(c_in, c_out, kernel_size=4, stride=1, padding=1)),
            nn.LeakyReLU(0.01, inplace=True),
        ]
        layers.append(normed(nn.Conv2d(c_out, 1, kernel_size=4, stride=1, padding=1, bias=False)))
        self.main = nn.Sequential(*layers)

    def forward(self, x: Tensor) -> Tensor:
        if x.ndim != 4 or x.shape[1] != 3:
            raise ValueError(f"discriminator input must be (N, 3, H, W), got shape {tuple(x.shape)}")
        return self.main(x)
