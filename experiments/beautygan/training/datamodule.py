"""The LightningDataModule of the MT dataset: :class:`~beautygan.data.mt.MTDataset` splits for ``fit``,
``validate``, ``test`` and ``predict`` (the dataset itself is plain torch, in :mod:`beautygan.data.mt`)."""

from __future__ import annotations

import lightning as L
from torch.utils.data import DataLoader

from ..data.image_size import check_image_size
from ..data.mt import DatasetError, MTDataset, held_out_lists_exist

__all__ = ["MTDataModule"]


class MTDataModule(L.LightningDataModule):
    """MT dataset for ``fit`` (train list; held-out list for validation when it exists), ``validate``/``test``
    (held-out list) and ``predict`` (held-out list, fixed pairs).

    Args:
        root: dataset folder (MT layout).
        image_size: square side the images are resized to.
        batch_size: pairs per step (1 in the paper).
        num_workers: DataLoader workers.
        val_seed: seed of the fixed held-out pairs, so validation numbers compare across epochs.
        landmarks: give each image its 68 landmarks (``source_landmarks``, ``reference_landmarks``), as PSGAN's
            generator needs: from the landmark files beside the dataset, else found with dlib when the splits are
            built and cached there (:class:`~beautygan.data.mt.MTDataset`). ``beautygan fit`` sets it from
            ``model.generator``.
    """

    def __init__(
        self,
        root: str,
        *,
        image_size: int = 256,
        batch_size: int = 1,
        num_workers: int = 2,
        val_seed: int = 0,
        landmarks: bool = False,
    ) -> None:
        super().__init__()
        check_image_size(image_size)
        if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
            raise ValueError(f"batch_size must be a whole number >= 1, got {batch_size!r}")
        if isinstance(num_workers, bool) or not isinstance(num_workers, int) or num_workers < 0:
            raise ValueError(f"num_workers must be a whole number >= 0, got {num_workers!r}")
        if not isinstance(landmarks, bool):
            raise TypeError(f"landmarks must be true or false, got {landmarks!r}")
        self.save_hyperparameters()
        self.root = root
        self.image_size = image_size
        self.batch_size = batch_size
        self.num_workers = num_workers
        self.val_seed = val_seed
        self.landmarks = landmarks
        self.train_set: MTDataset | None = None
        self.held_out: MTDataset | None = None

    def setup(self, stage: str) -> None:
        """Build (and check) the splits ``stage`` needs; the problems of every split are raised in one
        :class:`DatasetError`."""
        errors: list[str] = []
        if stage == "fit" and self.train_set is None:
            try:
                self.train_set = MTDataset(
                    self.root, split="train", image_size=self.image_size, landmarks=self.landmarks
                )
            except DatasetError as err:
                errors.append(str(err))
        if self.held_out is None and (stage != "fit" or held_out_lists_exist(self.root)):
            try:
                self.held_out = MTDataset(
                    self.root, split="test", image_size=self.image_size, seed=self.val_seed, landmarks=self.landmarks
                )
            except DatasetError as err:
                errors.append(str(err))
        if errors:
            raise DatasetError("\n".join(errors))

    def _loader(self, dataset: MTDataset | None, *, shuffle: bool) -> DataLoader:
        if dataset is None:
            raise RuntimeError("MTDataModule.setup() has not built this split")
        return DataLoader(
            dataset,
            batch_size=self.batch_size,
            shuffle=shuffle,
            num_workers=self.num_workers,
            persistent_workers=self.num_workers > 0,
        )

    def train_dataloader(self) -> DataLoader:
        return self._loader(self.train_set, shuffle=True)

    def val_dataloader(self) -> DataLoader | list:
        return [] if self.held_out is None else self._loader(self.held_out, shuffle=False)

    def test_dataloader(self) -> DataLoader:
        return self._loader(self.held_out, shuffle=False)

    def predict_dataloader(self) -> DataLoader:
        return self._loader(self.held_out, shuffle=False)
