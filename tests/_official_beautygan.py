"""An independent transcription of ONE training iteration of the official BeautyGAN PyTorch code.

Source: ``wtjiang98/BeautyGAN_pytorch`` at commit ``b19fb0ade9d951116464f20e4fbab3015d5fffdf``:

* ``solver_makeup.py`` ``Solver_makeupGAN``: ``de_norm`` (l.149), ``rebound_box`` (l.198), ``mask_preprocess``
  (l.215), ``criterionHis`` (l.228) and the body of the ``train`` loop (l.260-408) with the settings that
  ``train.py``/``config.py`` hard-wire (``direct``, ``lips``, ``skin``, ``eye`` all True, ``ndis = 1``);
* ``ops/histogram_matching.py``: ``cal_hist``, ``cal_trans`` (verbatim double loop), ``histogram_matching``;
* ``ops/loss_added.py``: ``GANLoss(use_lsgan=True)`` = MSE against an all-ones / all-zeros tensor of the input's shape.

Comments of the form ``# official l.NNN: ...`` quote the line of ``solver_makeup.py`` a statement transcribes
(``# hm: ...`` quotes ``ops/histogram_matching.py``). It imports only torch, numpy and the stdlib, and nothing
from ``experiments`` or ``perceptual``: it is the reference the Lightning implementation is compared with.

Modernized only where needed: no ``Variable``/``.cuda()``; ``Variable(x.data).detach()`` -> ``x.detach()``;
``histogram_matching`` works on an explicit clone (on CPU ``detach().cpu().numpy()`` would alias the graph tensor;
the official code ran on CUDA where ``.cpu()`` copies).

Documented generalizations / deviations:

1. Batches. The official batch size is 1. For N >= 1, the adversarial, cycle, perceptual and identity terms are
   computed on the whole batch exactly as written (mean reductions). Masks and histogram terms are computed per
   sample ``i`` (``org_A[i:i+1]`` ...) and averaged over the batch (sum over samples / N).
2. Missing regions. The official ``continue`` that skips the whole iteration when an eye is missing
   (l.279-282) is NOT transcribed: a histogram term whose source or target mask is empty is 0 for that sample.
3. ``rebound_box`` slices ``[min-10 : max+11]``; a negative start would wrap around in Python (giving an empty
   slice, i.e. the raw eye mask). Here the start is clipped at 0. The margin 10 is the ``eye_margin`` argument.
4. CDF of ``cal_hist``: exact per-bin counts, ``hist[min(floor(v), 255)] += 1`` and ``cdf = cumsum(hist) / n`` in
   float64, instead of the official float32 running sum of ``torch.histc`` pdfs, which differs in rare
   top-of-range ties. ``exact_cdf=False`` in :func:`official_histogram_loss` reproduces the float32 official one.
5. ``criterionHis`` expands masks to ``(1, 3, H, H)`` (square images only); here ``(1, 3, H, W)``.
6. ``rec_scale``: the official ``loss_rec = (...) * 0.5`` (l.399); ``rec_scale=1.0`` models the paper's formula.
7. ``histogram_criterion="l2"`` swaps the official ``L1Loss`` of ``criterionHis`` for ``MSELoss``.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

__all__ = ["official_masks", "official_histogram_loss", "official_step"]


# ---------------------------------------------------------------------------------------------------------------
# solver_makeup.py helpers
# ---------------------------------------------------------------------------------------------------------------


def _de_norm(x: torch.Tensor) -> torch.Tensor:
    # official l.149-151: out = (x + 1) / 2; return out.clamp(0, 1)
    out = (x + 1) / 2
    return out.clamp(0, 1)


def _gan_loss(pred: torch.Tensor, target_is_real: bool) -> torch.Tensor:
    # ops/loss_added.py GANLoss(use_lsgan=True): self.loss = nn.MSELoss(); target = Tensor(input.size()).fill_(1 or 0)
    target = torch.ones_like(pred) if target_is_real else torch.zeros_like(pred)
    return F.mse_loss(pred, target)


def _rebound_box(mask_eye: torch.Tensor, mask_face: torch.Tensor, margin: int) -> torch.Tensor:
    """One half of the official ``rebound_box`` (l.198-213) for one eye mask (1, 1, H, W)."""
    # official l.199-201: index_tmp = mask_A.nonzero(); x_A_index = index_tmp[:, 2]; y_A_index = index_tmp[:, 3]
    index_tmp = mask_eye.nonzero()
    if index_tmp.shape[0] == 0:
        # generalization 2: the official `continue` (l.279-282) guarantees a non-empty eye; here an empty eye mask
        # stays empty, so its histogram term is 0.
        return mask_eye.clone()
    x_index = index_tmp[:, 2]
    y_index = index_tmp[:, 3]
    # official l.205: mask_A_temp = mask_A.copy_(mask_A)   (an in-place self copy, i.e. the same tensor)
    mask_temp = mask_eye.clone()
    # official l.207-208: mask_A_temp[:, :, min(x)-10:max(x)+11, min(y)-10:max(y)+11] = mask_A_face[same slice]
    # (generalization 3: the start is clipped at 0 instead of wrapping around)
    r0 = max(int(x_index.min()) - margin, 0)
    r1 = int(x_index.max()) + margin + 1
    c0 = max(int(y_index.min()) - margin, 0)
    c1 = int(y_index.max()) + margin + 1
    mask_temp[:, :, r0:r1, c0:c1] = mask_face[:, :, r0:r1, c0:c1]
    return mask_temp


def official_masks(labels: torch.Tensor, eye_margin: int = 10) -> dict[str, torch.Tensor]:
    """Region masks of ONE image as the official ``train`` loop builds them (l.263-284).

    ``labels``: (H, W) integer (or integral float, as the official loader gives) MT label map. Returns float32
    masks of shape (1, 1, H, W): ``'lip'`` (7|9), ``'skin'`` (1|6|13), ``'eye_left'``, ``'eye_right'``. The eye
    masks are ``rebound_box``-ed: the face pixels (1|6) inside each eye's (label 4 / 5) bounding box widened by
    ``eye_margin`` on each side (official ``[min-10 : max+11]`` on rows and cols, start clipped at 0 here).
    Note the official call ``rebound_box(mask_A_eye_left, mask_A_eye_right, mask_A_face)``: both boxes take the
    SAME image's face mask. An absent eye gives an all-zero mask.
    """
    if labels.dim() != 2:
        raise ValueError(f"labels must be (H, W), got {tuple(labels.shape)}")
    mask = labels.reshape(1, 1, *labels.shape)
    # mask attribute: 0:background 1:face 2:left-eyebrown 3:right-eyebrown 4:left-eye 5: right-eye 6: nose
    # 7: upper-lip 8: teeth 9: under-lip 10:hair 11: left-ear 12: right-ear 13: neck
    # official l.265: mask_A_lip = (mask_A==7).float() + (mask_A==9).float()
    mask_lip = (mask == 7).float() + (mask == 9).float()
    # official l.269: mask_A_skin = (mask_A==1).float() + (mask_A==6).float() + (mask_A==13).float()
    mask_skin = (mask == 1).float() + (mask == 6).float() + (mask == 13).float()
    # official l.273-274: mask_A_eye_left = (mask_A==4).float(); mask_A_eye_right = (mask_A==5).float()
    mask_eye_left = (mask == 4).float()
    mask_eye_right = (mask == 5).float()
    # official l.277: mask_A_face = (mask_A==1).float() + (mask_A==6).float()
    mask_face = (mask == 1).float() + (mask == 6).float()
    # official l.283: mask_A_eye_left, mask_A_eye_right = self.rebound_box(mask_A_eye_left, mask_A_eye_right,
    #                                                                       mask_A_face)
    mask_eye_left = _rebound_box(mask_eye_left, mask_face, eye_margin)
    mask_eye_right = _rebound_box(mask_eye_right, mask_face, eye_margin)
    return {"lip": mask_lip, "skin": mask_skin, "eye_left": mask_eye_left, "eye_right": mask_eye_right}


# ---------------------------------------------------------------------------------------------------------------
# ops/histogram_matching.py
# ---------------------------------------------------------------------------------------------------------------


def _cal_hist_exact(values: np.ndarray) -> list[float]:
    """Cumulative histogram of one channel's masked values in [0, 255] (generalization 4: exact counts)."""
    # hm: hist = torch.histc(channel, bins=256, min=0, max=256)  -> bin of v is floor(v) (v <= 255 < 256)
    bins = np.minimum(np.floor(values.astype(np.float64)).astype(np.int64), 255)
    counts = np.bincount(bins, minlength=256)
    # hm: pdf = [v / sum for v in hist]; pdf[i] = pdf[i - 1] + pdf[i]   (here: cumsum of counts / n in float64)
    return (np.cumsum(counts) / float(values.size)).tolist()


def _cal_hist_official(values: np.ndarray) -> list[np.float32]:
    """``cal_hist`` for one channel as written: float32 ``torch.histc`` pdfs summed in a float32 running sum."""
    channel = torch.from_numpy(np.ascontiguousarray(values, dtype=np.float32))
    # hm: hist = torch.histc(channel, bins=256, min=0, max=256); hist = hist.numpy(); sum = hist.sum()
    hist = torch.histc(channel, bins=256, min=0, max=256).numpy()
    total = hist.sum()
    # hm: pdf = [v / sum for v in hist]
    pdf = [v / total for v in hist]
    # hm: for i in range(1, 256): pdf[i] = pdf[i - 1] + pdf[i]
    for i in range(1, 256):
        pdf[i] = pdf[i - 1] + pdf[i]
    return pdf


def _cal_trans(ref, adj) -> list[int]:
    """``cal_trans`` verbatim (hm l.26-38). ``ref``: CDF of the image being adjusted, ``adj``: CDF of the target."""
    table = list(range(0, 256))
    for i in list(range(1, 256)):
        for j in list(range(1, 256)):
            if ref[i] >= adj[j - 1] and ref[i] <= adj[j]:
                table[i] = j
                break
    table[255] = 255
    return table


def _histogram_matching(
    dst_img: torch.Tensor,
    ref_img: torch.Tensor,
    index: list[torch.Tensor],
    exact_cdf: bool = True,
) -> torch.Tensor:
    """``histogram_matching`` (hm l.41-65) on (3, H, W) images; returns a new detached tensor."""
    # hm: index = [x.cpu().numpy() for x in index]; dstImg = dstImg.detach().cpu().numpy(); refImg = ...
    idx = [x.cpu().numpy() for x in index]
    dst = dst_img.detach().cpu().clone().numpy()  # explicit clone: never write into the graph tensor's storage
    ref = ref_img.detach().cpu().numpy()
    # hm: dst_align = [dstImg[i, index[0], index[1]] ...]; ref_align = [refImg[i, index[2], index[3]] ...]
    dst_align = [dst[i, idx[0], idx[1]] for i in range(0, 3)]
    ref_align = [ref[i, idx[2], idx[3]] for i in range(0, 3)]
    cal_hist = _cal_hist_exact if exact_cdf else _cal_hist_official
    # hm: hist_ref = cal_hist(ref_align); hist_dst = cal_hist(dst_align)
    hist_ref = [cal_hist(c) for c in ref_align]
    hist_dst = [cal_hist(c) for c in dst_align]
    # hm: tables = [cal_trans(hist_dst[i], hist_ref[i]) for i in range(0, 3)]
    tables = [_cal_trans(hist_dst[i], hist_ref[i]) for i in range(0, 3)]
    for i in range(0, 3):
        # hm: dst_align[i][k] = tables[i][int(mid[i][k])]   (int() truncation == floor for the values >= 0 here)
        table = np.asarray(tables[i], dtype=np.int64)
        src = np.trunc(dst_align[i].astype(np.float64)).astype(np.int64)
        # hm: dstImg[i, index[0], index[1]] = dst_align[i]
        dst[i, idx[0], idx[1]] = table[src].astype(dst.dtype)
    # hm: dstImg = torch.FloatTensor(dstImg).cuda()
    return torch.from_numpy(dst).to(device=dst_img.device, dtype=dst_img.dtype)


def official_histogram_loss(
    input_data: torch.Tensor,
    target_data: torch.Tensor,
    mask_src: torch.Tensor,
    mask_tar: torch.Tensor,
    criterion: str = "l1",
    exact_cdf: bool = True,
) -> torch.Tensor:
    """``criterionHis`` (official l.228-240) for ONE sample.

    ``input_data``/``target_data``: (1, 3, H, W) in [-1, 1] (``input_data`` keeps its graph); masks (1, 1, H, W).
    de_norm -> *255 -> masked; the masked input is histogram-matched towards the masked target over the mask
    pixels (``index = mask.nonzero()`` as in ``mask_preprocess``), the transfer table comes from the verbatim
    ``cal_trans`` double loop; loss = ``L1Loss(input_masked, matched)`` (mean over 3*H*W), ``MSELoss`` for
    ``criterion="l2"``. CDFs from exact per-bin counts in float64 (``exact_cdf=False``: the official float32 sum).
    Returns a zero tensor attached to nothing if either mask is empty.
    """
    if criterion not in ("l1", "l2"):
        raise ValueError(f"criterion must be 'l1' or 'l2', got {criterion!r}")
    if input_data.shape[0] != 1 or target_data.shape[0] != 1:
        raise ValueError("official_histogram_loss works on one sample: (1, 3, H, W)")
    # official l.215-221 (mask_preprocess): index_tmp = mask_A.nonzero(); x_A_index = index_tmp[:, 2]; ...
    #   index = [x_A_index, y_A_index, x_B_index, y_B_index]   (src pixels first, then target pixels)
    index_src = mask_src.nonzero()
    index_tar = mask_tar.nonzero()
    if index_src.shape[0] == 0 or index_tar.shape[0] == 0:
        # generalization 2: the official code would divide by zero in cal_hist (or `continue` for eyes).
        return input_data.new_zeros(())
    index = [index_src[:, 2], index_src[:, 3], index_tar[:, 2], index_tar[:, 3]]
    height, width = input_data.shape[-2:]
    # official l.229: input_data = (self.de_norm(input_data) * 255).squeeze()
    input_data = (_de_norm(input_data) * 255)[0]
    # official l.230: target_data = (self.de_norm(target_data) * 255).squeeze()
    target_data = (_de_norm(target_data) * 255)[0]
    # official l.231-232: mask_src = mask_src.expand(1, 3, mask_src.size(2), mask_src.size(2)).squeeze()
    mask_src = mask_src.to(input_data.dtype).expand(1, 3, height, width)[0]
    mask_tar = mask_tar.to(target_data.dtype).expand(1, 3, height, width)[0]
    # official l.233-234: input_masked = input_data * mask_src; target_masked = target_data * mask_tar
    input_masked = input_data * mask_src
    target_masked = target_data * mask_tar
    # official l.237: input_match = histogram_matching(input_masked, target_masked, index)
    input_match = _histogram_matching(input_masked, target_masked, index, exact_cdf=exact_cdf)
    # official l.239: loss = self.criterionL1(input_masked, input_match)
    if criterion == "l1":
        return F.l1_loss(input_masked, input_match)
    return F.mse_loss(input_masked, input_match)


# ---------------------------------------------------------------------------------------------------------------
# solver_makeup.py Solver_makeupGAN.train: one iteration
# ---------------------------------------------------------------------------------------------------------------


def _labels_per_sample(labels: torch.Tensor, n: int) -> list[torch.Tensor]:
    if labels.dim() == 2:
        labels = labels.unsqueeze(0)
    if labels.dim() == 4:
        if labels.shape[1] != 1:
            raise ValueError(f"labels must be (N, H, W) or (N, 1, H, W), got {tuple(labels.shape)}")
        labels = labels[:, 0]
    if labels.dim() != 3 or labels.shape[0] != n:
        raise ValueError(f"labels must be (N, H, W) or (N, 1, H, W) with N={n}, got {tuple(labels.shape)}")
    return [labels[i] for i in range(n)]


def official_step(
    G: nn.Module,
    D_A: nn.Module,
    D_B: nn.Module,
    opt_G: torch.optim.Optimizer,
    opt_D_A: torch.optim.Optimizer,
    opt_D_B: torch.optim.Optimizer,
    vgg: Callable[[torch.Tensor], torch.Tensor],
    org_A: torch.Tensor,
    ref_B: torch.Tensor,
    labels_A: torch.Tensor,
    labels_B: torch.Tensor,
    *,
    lambda_A: float = 10.0,
    lambda_B: float = 10.0,
    lambda_idt: float = 0.5,
    lambda_vgg: float = 5e-3,
    rec_scale: float = 0.5,
    lambda_his_lip: float = 1.0,
    lambda_his_skin_1: float = 0.1,
    lambda_his_skin_2: float = 0.1,
    lambda_his_eye: float = 1.0,
    eye_margin: int = 10,
    histogram_criterion: str = "l1",
) -> dict[str, float]:
    """One iteration of the official ``train`` loop: D_A step, D_B step, then (ndis = 1) the G step.

    ``G(x, y) -> (out_A, out_B)`` like ``Generator_branch``: ``x`` non-makeup (org_A), ``y`` makeup (ref_B);
    ``out_A`` = x wearing y's makeup (fake_A), ``out_B`` = y without makeup (fake_B). ``D_A`` judges the makeup
    domain (real ref_B, fake fake_A), ``D_B`` the non-makeup domain (real org_A, fake fake_B); both return raw
    score maps (LSGAN). ``vgg(x)`` returns the content-layer features of x in [-1, 1]. ``org_A``/``ref_B``:
    (N, 3, H, W) in [-1, 1]; ``labels_A``/``labels_B``: (N, H, W) or (N, 1, H, W) MT label maps ((H, W) for N = 1).

    Returns the values (floats) of the terms that were backpropagated: ``d_makeup``, ``d_nonmakeup``, ``d_total``,
    ``g_adversarial``, ``g_cycle``, ``g_perceptual``, ``g_identity``, ``g_lips``, ``g_skin``, ``g_eye_shadow``,
    ``g_total``.
    """
    n = org_A.shape[0]
    if ref_B.shape[0] != n:
        raise ValueError("org_A and ref_B must have the same batch size")
    # official l.263-286: masks are built from the label maps before the D step (per sample here, generalization 1)
    masks_A = [official_masks(lab.to(org_A.device), eye_margin) for lab in _labels_per_sample(labels_A, n)]
    masks_B = [official_masks(lab.to(ref_B.device), eye_margin) for lab in _labels_per_sample(labels_B, n)]

    # ================== Train D ================== #
    # training D_A, D_A aims to distinguish class B
    # official l.295-296: out = D_A(ref_B); d_loss_real = self.criterionGAN(out, True)
    out = D_A(ref_B)
    d_loss_real = _gan_loss(out, True)
    # official l.298-300: fake_A, fake_B = self.G(org_A, ref_B); fake_A = Variable(fake_A.data).detach(); (fake_B)
    fake_A, fake_B = G(org_A, ref_B)
    fake_A = fake_A.detach()
    fake_B = fake_B.detach()
    # official l.301-303: out = D_A(fake_A); d_loss_fake = self.criterionGAN(out, False)
    out = D_A(fake_A)
    d_loss_fake = _gan_loss(out, False)
    # official l.306-309: d_loss = (d_loss_real + d_loss_fake) * 0.5; zero_grad; backward(retain_graph=True); step
    d_loss = (d_loss_real + d_loss_fake) * 0.5
    opt_D_A.zero_grad()
    d_loss.backward(retain_graph=True)
    opt_D_A.step()
    d_makeup = d_loss.item()

    # training D_B, D_B aims to distinguish class A
    # official l.317-318: out = D_B(org_A); d_loss_real = self.criterionGAN(out, True)
    out = D_B(org_A)
    d_loss_real = _gan_loss(out, True)
    # official l.320-322: out = D_B(fake_B); d_loss_fake = self.criterionGAN(out, False)
    out = D_B(fake_B)
    d_loss_fake = _gan_loss(out, False)
    # official l.325-328: d_loss = (d_loss_real + d_loss_fake) * 0.5; zero_grad; backward(retain_graph=True); step
    d_loss = (d_loss_real + d_loss_fake) * 0.5
    opt_D_B.zero_grad()
    d_loss.backward(retain_graph=True)
    opt_D_B.step()
    d_nonmakeup = d_loss.item()

    # ================== Train G ================== #  (official l.333: (self.i + 1) % self.ndis == 0, ndis = 1)
    # identity loss
    # official l.338: if self.lambda_idt > 0:
    if lambda_idt > 0:
        # official l.340-341: idt_A1, idt_A2 = self.G(org_A, org_A); idt_B1, idt_B2 = self.G(ref_B, ref_B)
        idt_A1, idt_A2 = G(org_A, org_A)
        idt_B1, idt_B2 = G(ref_B, ref_B)
        # official l.342-345: loss_idt_XN = self.criterionL1(idt_XN, X) * self.lambda_X * self.lambda_idt
        loss_idt_A1 = F.l1_loss(idt_A1, org_A) * lambda_A * lambda_idt
        loss_idt_A2 = F.l1_loss(idt_A2, org_A) * lambda_A * lambda_idt
        loss_idt_B1 = F.l1_loss(idt_B1, ref_B) * lambda_B * lambda_idt
        loss_idt_B2 = F.l1_loss(idt_B2, ref_B) * lambda_B * lambda_idt
        # official l.347: loss_idt = (loss_idt_A1 + loss_idt_A2 + loss_idt_B1 + loss_idt_B2) * 0.5
        loss_idt = (loss_idt_A1 + loss_idt_A2 + loss_idt_B1 + loss_idt_B2) * 0.5
    else:
        # official l.349: loss_idt = 0
        loss_idt = 0

    # GAN loss D_A(G_A(A))
    # official l.353: fake_A, fake_B = self.G(org_A, ref_B)
    fake_A, fake_B = G(org_A, ref_B)
    # official l.354-355: pred_fake = D_A(fake_A); g_A_loss_adv = self.criterionGAN(pred_fake, True)
    pred_fake = D_A(fake_A)
    g_A_loss_adv = _gan_loss(pred_fake, True)
    # official l.358-359: pred_fake = D_B(fake_B); g_B_loss_adv = self.criterionGAN(pred_fake, True)
    pred_fake = D_B(fake_B)
    g_B_loss_adv = _gan_loss(pred_fake, True)
    # official l.360: rec_B, rec_A = self.G(fake_B, fake_A)
    rec_B, rec_A = G(fake_B, fake_A)

    # color_histogram loss (official l.363-382), per sample and batch-averaged (generalization 1)
    def his(inp: torch.Tensor, tar: torch.Tensor, m_src: torch.Tensor, m_tar: torch.Tensor) -> torch.Tensor:
        return official_histogram_loss(inp, tar, m_src, m_tar, criterion=histogram_criterion)

    lip_A = lip_B = skin_A = skin_B = eye_left_A = eye_left_B = eye_right_A = eye_right_B = 0
    for i in range(n):
        fA, fB, oA, rB = fake_A[i : i + 1], fake_B[i : i + 1], org_A[i : i + 1], ref_B[i : i + 1]
        mA, mB = masks_A[i], masks_B[i]
        # official l.367: g_A_lip_loss_his = self.criterionHis(fake_A, ref_B, mask_A_lip, mask_B_lip, index_A_lip)
        #                                     * self.lambda_his_lip
        lip_A = lip_A + his(fA, rB, mA["lip"], mB["lip"]) * lambda_his_lip
        # official l.368: g_B_lip_loss_his = self.criterionHis(fake_B, org_A, mask_B_lip, mask_A_lip, index_B_lip)
        #                                     * self.lambda_his_lip
        lip_B = lip_B + his(fB, oA, mB["lip"], mA["lip"]) * lambda_his_lip
        # official l.372: g_A_skin_loss_his = self.criterionHis(fake_A, ref_B, mask_A_skin, mask_B_skin, ...)
        #                                      * self.lambda_his_skin_1
        skin_A = skin_A + his(fA, rB, mA["skin"], mB["skin"]) * lambda_his_skin_1
        # official l.373: g_B_skin_loss_his = self.criterionHis(fake_B, org_A, mask_B_skin, mask_A_skin, ...)
        #                                      * self.lambda_his_skin_2
        skin_B = skin_B + his(fB, oA, mB["skin"], mA["skin"]) * lambda_his_skin_2
        # official l.377-380: eye_left / eye_right, A: (fake_A, ref_B, mask_A_eye_x, mask_B_eye_x),
        #                     B: (fake_B, org_A, mask_B_eye_x, mask_A_eye_x), each * self.lambda_his_eye
        eye_left_A = eye_left_A + his(fA, rB, mA["eye_left"], mB["eye_left"]) * lambda_his_eye
        eye_left_B = eye_left_B + his(fB, oA, mB["eye_left"], mA["eye_left"]) * lambda_his_eye
        eye_right_A = eye_right_A + his(fA, rB, mA["eye_right"], mB["eye_right"]) * lambda_his_eye
        eye_right_B = eye_right_B + his(fB, oA, mB["eye_right"], mA["eye_right"]) * lambda_his_eye
    lip_A, lip_B, skin_A, skin_B = lip_A / n, lip_B / n, skin_A / n, skin_B / n
    eye_left_A, eye_left_B, eye_right_A, eye_right_B = eye_left_A / n, eye_left_B / n, eye_right_A / n, eye_right_B / n
    # official l.364-365: g_A_loss_his = 0; g_B_loss_his = 0
    g_A_loss_his = 0
    g_B_loss_his = 0
    # official l.369-370: g_A_loss_his += g_A_lip_loss_his; g_B_loss_his += g_B_lip_loss_his
    g_A_loss_his = g_A_loss_his + lip_A
    g_B_loss_his = g_B_loss_his + lip_B
    # official l.374-375: g_A_loss_his += g_A_skin_loss_his; g_B_loss_his += g_B_skin_loss_his
    g_A_loss_his = g_A_loss_his + skin_A
    g_B_loss_his = g_B_loss_his + skin_B
    # official l.381-382: g_A_loss_his += g_A_eye_left_loss_his + g_A_eye_right_loss_his  (same for B)
    g_A_loss_his = g_A_loss_his + (eye_left_A + eye_right_A)
    g_B_loss_his = g_B_loss_his + (eye_left_B + eye_right_B)

    # cycle loss
    # official l.385-386: g_loss_rec_A = self.criterionL1(rec_A, org_A) * self.lambda_A; (rec_B, ref_B, lambda_B)
    g_loss_rec_A = F.l1_loss(rec_A, org_A) * lambda_A
    g_loss_rec_B = F.l1_loss(rec_B, ref_B) * lambda_B

    # vgg loss
    # official l.389-392: vgg_org = self.vgg(org_A, self.content_layer)[0]; vgg_org = Variable(vgg_org.data).detach()
    #                     vgg_fake_A = self.vgg(fake_A, ...)[0]
    #                     g_loss_A_vgg = self.criterionL2(vgg_fake_A, vgg_org) * self.lambda_A * self.lambda_vgg
    vgg_org = vgg(org_A)
    vgg_org = vgg_org.detach()
    vgg_fake_A = vgg(fake_A)
    g_loss_A_vgg = F.mse_loss(vgg_fake_A, vgg_org) * lambda_A * lambda_vgg
    # official l.394-397: the same with ref_B / fake_B and lambda_B
    vgg_ref = vgg(ref_B)
    vgg_ref = vgg_ref.detach()
    vgg_fake_B = vgg(fake_B)
    g_loss_B_vgg = F.mse_loss(vgg_fake_B, vgg_ref) * lambda_B * lambda_vgg

    # official l.399: loss_rec = (g_loss_rec_A + g_loss_rec_B + g_loss_A_vgg + g_loss_B_vgg) * 0.5   (rec_scale)
    loss_rec = (g_loss_rec_A + g_loss_rec_B + g_loss_A_vgg + g_loss_B_vgg) * rec_scale

    # Combined loss
    # official l.404: g_loss = g_A_loss_adv + g_B_loss_adv + loss_rec + loss_idt + g_A_loss_his + g_B_loss_his
    g_loss = g_A_loss_adv + g_B_loss_adv + loss_rec + loss_idt + g_A_loss_his + g_B_loss_his

    # official l.406-408: self.g_optimizer.zero_grad(); g_loss.backward(retain_graph=True); self.g_optimizer.step()
    opt_G.zero_grad()
    g_loss.backward(retain_graph=True)
    opt_G.step()

    def value(x) -> float:
        return float(x.item()) if isinstance(x, torch.Tensor) else float(x)

    return {
        "d_makeup": d_makeup,
        "d_nonmakeup": d_nonmakeup,
        "d_total": d_makeup + d_nonmakeup,
        "g_adversarial": value(g_A_loss_adv + g_B_loss_adv),
        "g_cycle": value((g_loss_rec_A + g_loss_rec_B) * rec_scale),
        "g_perceptual": value((g_loss_A_vgg + g_loss_B_vgg) * rec_scale),
        "g_identity": value(loss_idt),
        "g_lips": value(lip_A + lip_B),
        "g_skin": value(skin_A + skin_B),
        "g_eye_shadow": value(eye_left_A + eye_right_A + eye_left_B + eye_right_B),
        "g_total": value(g_loss),
    }
