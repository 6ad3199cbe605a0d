"""An independent transcription of the official PSGAN generator and of the preprocessing that feeds it.

Source: ``wtjiang98/PSGAN`` at commit ``45988b9e21a3acb80f39150aa8f7ed1117c77495``:

* ``psgan/net.py``: ``ResidualBlock`` (l.20), ``GetMatrix`` (l.40), ``NONLocalBlock2D`` (l.52) and ``Generator``
  (l.73): ``__init__``, ``atten_feature`` (l.140), ``get_weight`` (l.162), ``forward`` (l.206);
* ``psgan/preprocess.py``: ``copy_area`` (l.56), the ``fix`` grid of ``PreProcess.__init__`` (l.74-87) and
  ``PreProcess.process`` (l.99-128), with ``PreProcess.eye_margin = 16``;
* ``psgan/config.py``: ``LIP_CLASS = [7, 9]``, ``FACE_CLASS = [1, 6]``, ``LANDMARK_POINTS = 68``;
* ``faceutils/dlibutils/main.py`` ``landmarks``: points as ``[p.y, p.x]``, i.e. ``(68, 2)`` in ``(y, x)`` order.

Comments ``# official l.NNN`` name the line of ``net.py`` (``# pre l.NNN``: ``preprocess.py``) a statement follows. It
imports only torch, numpy and the stdlib, nothing from ``experiments`` or ``perceptual``: it is the reference the
batched generator (``beautygan.models.psgan``) is compared with. The state-dict keys are the official ones.

Modernized only where needed, values unchanged: ``torch.sparse.FloatTensor`` -> ``torch.sparse_coo_tensor``;
``torch.cuda.empty_cache()`` and the ``Track`` timing calls dropped; ``Variable``/``to_var`` -> plain tensors
(``to_var`` casts to float32, kept as ``.float()``); the in-place ``weight *= 200`` written out of place.

Generalizations (the official values are the defaults):

1. ``feature_size``, the side of the feature grid, is a parameter (the official hard-codes 64 in ``get_weight``'s
   ``HW = 64 * 64`` and ``F.interpolate(..., size=64)``, and ``PreProcess.diff_size = (64, 64)``); with
   ``feature_size = img_size // 4`` the official arithmetic is unchanged at any size (64 at 256 px).
2. ``conv_dim``, the channels of the first convolutions (64 hard-coded; ``config.py``'s ``G_CONV_DIM = 64`` is not
   passed to the generator), is a parameter, so that a 256 px comparison runs in seconds on a CPU.
3. ``official_process`` takes the eye boxes' margin (``PreProcess.eye_margin = 16``, meant for 256 px) and the
   floating-point type ``to_var`` casts to (float32), so that smaller faces get proportionate masks and a float64
   comparison sees no float32 rounding.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

__all__ = ["OfficialGenerator", "official_fix", "official_process"]

EYE_MARGIN = 16  # pre l.67: PreProcess.eye_margin
LIP_CLASS = (7, 9)  # config.py PREPROCESS.LIP_CLASS
FACE_CLASS = (1, 6)  # config.py PREPROCESS.FACE_CLASS
LANDMARK_POINTS = 68


# ---------------------------------------------------------------------------------------------------------------
# net.py
# ---------------------------------------------------------------------------------------------------------------


class ResidualBlock(nn.Module):
    """official l.20: conv3x3 (no bias), IN, ReLU, conv3x3 (no bias), IN, plus the input. ``net_mode`` 'p'
    (MDNet, default) uses affine InstanceNorm, 't' (MANet) plain InstanceNorm."""

    def __init__(self, dim_in: int, dim_out: int, net_mode: str | None = None) -> None:
        super().__init__()
        use_affine = net_mode in ("p", None)
        self.main = nn.Sequential(
            nn.Conv2d(dim_in, dim_out, kernel_size=3, stride=1, padding=1, bias=False),
            nn.InstanceNorm2d(dim_out, affine=use_affine),
            nn.ReLU(inplace=True),
            nn.Conv2d(dim_out, dim_out, kernel_size=3, stride=1, padding=1, bias=False),
            nn.InstanceNorm2d(dim_out, affine=use_affine),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.main(x)


class GetMatrix(nn.Module):
    """official l.40: two bias-free 1x1 convolutions; forward returns the input unchanged with gamma and beta."""

    def __init__(self, dim_in: int, dim_out: int) -> None:
        super().__init__()
        self.get_gamma = nn.Conv2d(dim_in, dim_out, kernel_size=1, stride=1, padding=0, bias=False)
        self.get_beta = nn.Conv2d(dim_in, dim_out, kernel_size=1, stride=1, padding=0, bias=False)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        return x, self.get_gamma(x), self.get_beta(x)


class NONLocalBlock2D(nn.Module):
    """official l.52. ``g`` (a 1x1 conv with bias) is created but never called by ``forward``."""

    def __init__(self) -> None:
        super().__init__()
        self.g = nn.Conv2d(in_channels=1, out_channels=1, kernel_size=1, stride=1, padding=0)

    def forward(self, source: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
        # official l.62-70: the (3, 1, h, w) masked matrix as (3, HW, 1) columns, times the densified weights.
        batch_size = source.size(0)
        g_source = source.view(batch_size, 1, -1).permute(0, 2, 1)
        y = torch.bmm(weight.to_dense(), g_source)
        y = y.permute(0, 2, 1).contiguous()
        return y.view(batch_size, 1, *source.size()[2:])


class OfficialGenerator(nn.Module):
    """official l.73 ``Generator`` (PNet = MDNet, TNet = MANet), with the grid side as ``feature_size`` and the
    first convolutions' channels as ``conv_dim``."""

    def __init__(self, feature_size: int = 64, conv_dim: int = 64) -> None:
        super().__init__()
        self.feature_size = feature_size
        # official l.80-85: MDNet input conv 7x7 3->64, affine IN, ReLU
        self.pnet_in = nn.Sequential(
            nn.Conv2d(3, conv_dim, kernel_size=7, stride=1, padding=3, bias=False),
            nn.InstanceNorm2d(conv_dim, affine=True),
            nn.ReLU(inplace=True),
        )
        # official l.88-97: two stride-2 conv 4x4, doubling the channels, affine IN, ReLU
        dim = conv_dim
        for i in range(2):
            block = nn.Sequential(
                nn.Conv2d(dim, dim * 2, kernel_size=4, stride=2, padding=1, bias=False),
                nn.InstanceNorm2d(dim * 2, affine=True),
                nn.ReLU(inplace=True),
            )
            setattr(self, f"pnet_down_{i + 1}", block)
            dim *= 2
        # official l.100-105: the two attention modules, the matrix heads (1 channel each), 3 MDNet residual blocks
        self.atten_bottleneck_g = NONLocalBlock2D()
        self.atten_bottleneck_b = NONLocalBlock2D()
        self.simple_spade = GetMatrix(dim, 1)
        for i in range(3):
            setattr(self, f"pnet_bottleneck_{i + 1}", ResidualBlock(dim_in=dim, dim_out=dim, net_mode="p"))
        # official l.109-111: MANet input conv 7x7 3->64, plain IN, ReLU
        self.tnet_in_conv = nn.Conv2d(3, conv_dim, kernel_size=7, stride=1, padding=3, bias=False)
        self.tnet_in_spade = nn.InstanceNorm2d(conv_dim, affine=False)
        self.tnet_in_relu = nn.ReLU(inplace=True)
        # official l.114-119: two stride-2 conv 4x4
        dim = conv_dim
        for i in range(2):
            setattr(self, f"tnet_down_conv_{i + 1}", nn.Conv2d(dim, dim * 2, 4, stride=2, padding=1, bias=False))
            setattr(self, f"tnet_down_spade_{i + 1}", nn.InstanceNorm2d(dim * 2, affine=False))
            setattr(self, f"tnet_down_relu_{i + 1}", nn.ReLU(inplace=True))
            dim *= 2
        # official l.122-123: 6 MANet residual blocks
        for i in range(6):
            setattr(self, f"tnet_bottleneck_{i + 1}", ResidualBlock(dim_in=dim, dim_out=dim, net_mode="t"))
        # official l.126-130: two stride-2 transposed conv 4x4, halving the channels
        for i in range(2):
            setattr(
                self, f"tnet_up_conv_{i + 1}", nn.ConvTranspose2d(dim, dim // 2, 4, stride=2, padding=1, bias=False)
            )
            setattr(self, f"tnet_up_spade_{i + 1}", nn.InstanceNorm2d(dim // 2, affine=False))
            setattr(self, f"tnet_up_relu_{i + 1}", nn.ReLU(inplace=True))
            dim //= 2
        # official l.132-136: conv 7x7 64->3 without bias, tanh
        self.tnet_out = nn.Sequential(nn.Conv2d(dim, 3, kernel_size=7, stride=1, padding=3, bias=False), nn.Tanh())

    @staticmethod
    def atten_feature(mask_s, weight, gamma_s, beta_s, atten_module_g, atten_module_b):
        # official l.147-160: the reference's matrices masked per region (nearest-resized masks), attended, summed
        channel_num = gamma_s.shape[1]
        mask_s_re = F.interpolate(mask_s, size=gamma_s.shape[2:]).repeat(1, channel_num, 1, 1)
        gamma_s = gamma_s.repeat(3, 1, 1, 1) * mask_s_re
        beta_s = beta_s.repeat(3, 1, 1, 1) * mask_s_re
        gamma = atten_module_g(gamma_s, weight)
        beta = atten_module_b(beta_s, weight)
        gamma = (gamma[0] + gamma[1] + gamma[2]).unsqueeze(0)
        beta = (beta[0] + beta[1] + beta[2]).unsqueeze(0)
        return gamma, beta

    def get_weight(self, mask_c, mask_s, fea_c, fea_s, diff_c, diff_s):
        # official l.167-168: HW = 64 * 64, batch_size = 3 (one per region)
        size = self.feature_size
        hw = size * size
        batch_size = 3
        channel_num = fea_s.shape[1]
        # official l.173-179: each image's features repeated per region and zeroed outside it
        mask_c_re = F.interpolate(mask_c, size=size).repeat(1, channel_num, 1, 1)
        fea_c = fea_c.repeat(3, 1, 1, 1) * mask_c_re
        mask_s_re = F.interpolate(mask_s, size=size).repeat(1, channel_num, 1, 1)
        fea_s = fea_s.repeat(3, 1, 1, 1) * mask_s_re
        # official l.181-187: visual features x 0.01 joined with the relative positions
        theta_input = torch.cat((fea_c * 0.01, diff_c), dim=1)
        phi_input = torch.cat((fea_s * 0.01, diff_s), dim=1)
        theta_target = theta_input.view(batch_size, -1, hw).permute(0, 2, 1)  # rows: the source's positions
        phi_source = phi_input.view(batch_size, -1, hw)  # columns: the reference's positions
        weight = torch.bmm(theta_target, phi_source)  # official l.190
        with torch.no_grad():  # official l.192-197: where the logits are non-zero
            weight_ind = weight.detach().nonzero().long().permute(1, 0).clone()
        weight = weight * 200  # official l.199
        weight = F.softmax(weight, dim=-1)  # official l.200: over the whole dense row
        weight = weight[weight_ind[0], weight_ind[1], weight_ind[2]]  # official l.201: keep the non-zero logits only
        return torch.sparse_coo_tensor(weight_ind, weight, (3, hw, hw))  # official l.202

    def forward(self, c, s, mask_c, mask_s, diff_c, diff_s, gamma=None, beta=None, ret=False):
        # official l.207: batch dimension of the data loader squeezed away
        c, s, mask_c, mask_s, diff_c, diff_s = [
            x.squeeze(0) if x.ndim == 5 else x for x in [c, s, mask_c, mask_s, diff_c, diff_s]
        ]
        c_tnet = self.tnet_in_conv(c)  # official l.216-219
        s = self.pnet_in(s)
        c_tnet = self.tnet_in_relu(self.tnet_in_spade(c_tnet))
        for i in range(2):  # official l.222-232
            if gamma is None:
                s = getattr(self, f"pnet_down_{i + 1}")(s)
            c_tnet = getattr(self, f"tnet_down_conv_{i + 1}")(c_tnet)
            c_tnet = getattr(self, f"tnet_down_spade_{i + 1}")(c_tnet)
            c_tnet = getattr(self, f"tnet_down_relu_{i + 1}")(c_tnet)
        cur_pnet_bottleneck = None
        for i in range(6):  # official l.236-256
            if gamma is None and i <= 2:
                cur_pnet_bottleneck = getattr(self, f"pnet_bottleneck_{i + 1}")
            cur_tnet_bottleneck = getattr(self, f"tnet_bottleneck_{i + 1}")
            if i == 3:
                if gamma is None:  # official l.243-249: matrices from MDNet, morphed by the attention
                    s, gamma, beta = self.simple_spade(s)
                    weight = self.get_weight(mask_c, mask_s, c_tnet, s, diff_c, diff_s)
                    gamma, beta = self.atten_feature(
                        mask_s, weight, gamma, beta, self.atten_bottleneck_g, self.atten_bottleneck_b
                    )
                    if ret:
                        return [gamma, beta]
                c_tnet = c_tnet * (1 + gamma) + beta  # official l.252
            if gamma is None and i <= 2:
                s = cur_pnet_bottleneck(s)
            c_tnet = cur_tnet_bottleneck(c_tnet)
        for i in range(2):  # official l.260-266
            c_tnet = getattr(self, f"tnet_up_conv_{i + 1}")(c_tnet)
            c_tnet = getattr(self, f"tnet_up_spade_{i + 1}")(c_tnet)
            c_tnet = getattr(self, f"tnet_up_relu_{i + 1}")(c_tnet)
        return self.tnet_out(c_tnet)  # official l.269-270


# ---------------------------------------------------------------------------------------------------------------
# preprocess.py
# ---------------------------------------------------------------------------------------------------------------


def official_fix(img_size: int) -> torch.Tensor:
    """pre l.74-87: ``(136, S, S)``, 68 copies of each pixel's row index, then 68 of its column index (float32)."""
    xs, ys = np.meshgrid(np.linspace(0, img_size - 1, img_size), np.linspace(0, img_size - 1, img_size))
    xs = xs[None].repeat(LANDMARK_POINTS, axis=0)
    ys = ys[None].repeat(LANDMARK_POINTS, axis=0)
    return torch.Tensor(np.concatenate([ys, xs], axis=0))


def _copy_area(tar: torch.Tensor, src: torch.Tensor, lms: np.ndarray, margin: int) -> None:
    # pre l.56-64: the eye's landmark box (lms in (y, x)) widened by eye_margin; copied from src, then cleared in src
    rect = [
        int(min(lms[:, 1])) - margin,
        int(min(lms[:, 0])) - margin,
        int(max(lms[:, 1])) + margin + 1,
        int(max(lms[:, 0])) + margin + 1,
    ]
    tar[:, :, rect[1] : rect[3], rect[0] : rect[2]] = src[:, :, rect[1] : rect[3], rect[0] : rect[2]]
    src[:, :, rect[1] : rect[3], rect[0] : rect[2]] = 0


def official_process(
    mask: torch.Tensor,
    lms: np.ndarray,
    *,
    img_size: int,
    feature_size: int,
    eye_margin: int = EYE_MARGIN,
    dtype: torch.dtype = torch.float32,
):
    """pre l.99-128 ``PreProcess.process``: a ``(1, 1, S, S)`` label map and ``(68, 2)`` landmarks in ``(y, x)`` ->
    ``(mask_aug (3, 1, S, S) lips/skin/eyes, diff_re (3, 136, F, F) masked unit relative positions)``.

    ``eye_margin``: pixels the eye boxes are widened by (16 at 256 px in the official code). ``dtype``: the type
    ``to_var`` casts to (float32 in the official code; float64 for a float64 comparison)."""
    fix = official_fix(img_size)
    lms_eye_left = lms[42:48]  # pre l.105-106
    lms_eye_right = lms[36:42]
    lms_col = lms.transpose((1, 0)).reshape(-1, 1, 1)  # pre l.107: 68 y values, then 68 x values
    diff = (fix.double() - torch.tensor(lms_col)).unsqueeze(0).to(dtype)  # pre l.109
    mask_lip = (mask == LIP_CLASS[0]).to(dtype) + (mask == LIP_CLASS[1]).to(dtype)  # pre l.111-112 (.float())
    mask_face = (mask == FACE_CLASS[0]).to(dtype) + (mask == FACE_CLASS[1]).to(dtype)
    mask_eyes = torch.zeros_like(
        mask_face
    )  # pre l.114-116 (official zeros_like(mask): same 0/1 values; the face mask loses what the eye mask takes)
    _copy_area(mask_eyes, mask_face, lms_eye_left, eye_margin)
    _copy_area(mask_eyes, mask_face, lms_eye_right, eye_margin)
    mask_aug = torch.cat([mask_lip, mask_face, mask_eyes], 0)  # pre l.119-120
    size = (feature_size, feature_size)
    mask_re = F.interpolate(mask_aug, size=size).repeat(1, diff.shape[1], 1, 1)  # pre l.121
    diff_re = F.interpolate(diff, size=size).repeat(3, 1, 1, 1)  # pre l.122
    diff_re = diff_re * mask_re  # pre l.123
    norm = torch.norm(diff_re, dim=1, keepdim=True).repeat(1, diff_re.shape[1], 1, 1)  # pre l.124-126
    norm = torch.where(norm == 0, torch.tensor(1e10, dtype=dtype), norm)
    diff_re = diff_re / norm
    return mask_aug, diff_re
