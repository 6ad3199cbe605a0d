"""perceptual.pictures.pca: the PCA view (every channel at once): the projection against numpy's SVD of the same
features, the documented sign, and the RGB pixels against a numpy computation of the joint per-component scaling."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from perceptual.pictures.pca import pca_projection, render_pca
from perceptual.pictures.render import GridStyle


def _features(seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """(C, H, W) real and generated features with three dominant directions (a clear spectrum) plus noise."""
    rng = np.random.default_rng(seed)
    channels = 12
    directions = rng.normal(size=(3, channels))
    real = (rng.normal(size=(6 * 7, 3)) * [9.0, 4.0, 2.0]) @ directions + 0.1 * rng.normal(size=(42, channels))
    generated = (rng.normal(size=(5 * 4, 3)) * [9.0, 4.0, 2.0]) @ directions + 0.1 * rng.normal(size=(20, channels))
    return real.T.reshape(channels, 6, 7), generated.T.reshape(channels, 5, 4)


def _numpy_pca(*maps: np.ndarray, k: int = 3) -> tuple[list[np.ndarray], np.ndarray, np.ndarray]:
    """Scores by numpy's SVD of the centred samples (every position of every map is one sample of C values)."""
    samples = np.concatenate([m.reshape(m.shape[0], -1).T for m in maps])  # (P, C)
    centred = samples - samples.mean(axis=0)
    _, singular, vt = np.linalg.svd(centred, full_matrices=False)
    scores = centred @ vt[:k].T  # (P, k)
    sizes = np.cumsum([m.shape[1] * m.shape[2] for m in maps])[:-1]
    parts = [part.T.reshape(k, *m.shape[1:]) for part, m in zip(np.split(scores, sizes), maps)]
    return parts, vt[:k], singular**2 / (singular**2).sum()


class TestProjection:
    def test_against_numpy_svd_up_to_sign(self):
        real, generated = _features()
        (ours_real, ours_generated), explained = pca_projection(torch.from_numpy(real), torch.from_numpy(generated))
        (ref_real, ref_generated), _, ratios = _numpy_pca(real, generated)
        assert ours_real.shape == (3, 6, 7) and ours_generated.shape == (3, 5, 4)
        for component in range(3):
            ours = np.concatenate((ours_real[component].numpy().ravel(), ours_generated[component].numpy().ravel()))
            ref = np.concatenate((ref_real[component].ravel(), ref_generated[component].ravel()))
            sign = np.sign(ours @ ref)
            np.testing.assert_allclose(ours, sign * ref, rtol=1e-4, atol=1e-3)
        np.testing.assert_allclose(explained.numpy(), ratios[:3], rtol=1e-4)

    def test_sign_makes_the_largest_loading_positive(self):
        real, generated = _features(1)
        (ours_real, _), _ = pca_projection(torch.from_numpy(real), torch.from_numpy(generated))
        (ref_real, _), vt, _ = _numpy_pca(real, generated)
        flips = np.sign(vt[np.arange(3), np.abs(vt).argmax(axis=1)])  # sklearn's svd_flip on the loadings
        np.testing.assert_allclose(ours_real.numpy(), flips[:, None, None] * ref_real, rtol=1e-4, atol=1e-3)
        (negated, _), _ = pca_projection(torch.from_numpy(-real), torch.from_numpy(-generated))
        np.testing.assert_allclose(negated.numpy(), -ours_real.numpy(), rtol=1e-4, atol=1e-3)

    def test_fewer_channels_than_components(self):
        rng = np.random.default_rng(2)
        maps = torch.from_numpy(rng.normal(size=(2, 3, 3)) * np.array([3.0, 1.0])[:, None, None])
        (scores,), explained = pca_projection(maps)
        assert scores.shape == (3, 3, 3)
        assert torch.equal(scores[2], torch.zeros(3, 3))
        (reference,), _, ratios = _numpy_pca(maps.numpy(), k=2)
        np.testing.assert_allclose(np.abs(scores[:2].numpy()), np.abs(reference), rtol=1e-4, atol=1e-4)
        np.testing.assert_allclose(explained.numpy(), [*ratios[:2], 0.0], rtol=1e-4, atol=1e-7)

    def test_errors(self):
        with pytest.raises(ValueError, match="at least one"):
            pca_projection()
        with pytest.raises(ValueError, match=r"same number of channels, got \[3, 4\]"):
            pca_projection(torch.rand(3, 2, 2), torch.rand(4, 2, 2))
        with pytest.raises(ValueError, match="k must be a positive integer"):
            pca_projection(torch.rand(3, 2, 2), k=0)


class TestRender:
    def test_pixels_against_numpy_joint_scaling(self):
        real, generated = _features(3)
        real = real[:, :5, :4]  # both 5x4
        style = GridStyle(padding=1)  # no resizing; min-max over both panels per component
        picture = render_pca(torch.from_numpy(real), torch.from_numpy(generated), style=style, gap=2)
        (ref_real, ref_generated), vt, _ = _numpy_pca(real, generated)
        flips = np.sign(vt[np.arange(3), np.abs(vt).argmax(axis=1)])
        both = np.concatenate((ref_real.reshape(3, -1), ref_generated.reshape(3, -1)), axis=1) * flips[:, None]
        low, high = both.min(axis=1), both.max(axis=1)

        def colours(scores: np.ndarray) -> np.ndarray:
            unit = (scores * flips[:, None, None] - low[:, None, None]) / (high - low)[:, None, None]
            return np.minimum(np.floor(256 * unit), 255).transpose(1, 2, 0)  # component i -> colour channel i

        assert picture.shape == (5 + 2, 1 + 4 + 2 + 4 + 1, 3)
        got = picture.numpy().astype(int)
        assert np.abs(got[1:6, 1:5] - colours(ref_real)).max() <= 1  # float32 vs float64 at a level boundary
        assert np.abs(got[1:6, 7:11] - colours(ref_generated)).max() <= 1
        assert (got[0] == 255).all() and (got[:, 5:7] == 255).all()  # border and gap: the padding colour

    def test_one_colour_means_one_thing_in_both_panels(self):
        rng = np.random.default_rng(4)
        real = rng.normal(size=(8, 6, 6))
        generated = real.copy()
        generated[:, 3:, 3:] += 5 * rng.normal(size=(8, 1, 1))  # one corner changed
        picture = render_pca(torch.from_numpy(real), torch.from_numpy(generated), style=GridStyle(padding=0), gap=0)
        left, right = picture[:, :6], picture[:, 6:]
        unchanged = np.ones((6, 6), dtype=bool)
        unchanged[3:, 3:] = False
        assert torch.equal(left[unchanged], right[unchanged])
        assert (left[~unchanged] != right[~unchanged]).any()

    def test_titles_and_size_rules(self):
        maps = torch.rand(5, 8, 8)
        plain = render_pca(maps, style=GridStyle(min_size=32, padding=0))
        assert plain.shape == (32, 32, 3)  # 8 px maps upscaled x4
        titled = render_pca(maps, style=GridStyle(min_size=32, padding=0), titles=["real"])
        assert titled.shape == (32 + 10, 32, 3) and torch.equal(titled[10:], plain)
        with pytest.raises(ValueError, match="titles must have 1 entries, got 2"):
            render_pca(maps, titles=["a", "b"])
