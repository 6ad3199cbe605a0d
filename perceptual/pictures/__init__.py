"""Pictures of what VGG sees: feature-map rendering (colormaps, grids, labels) and the TensorBoard monitor."""

COLORMAP_NAMES: tuple[str, ...] = ("viridis", "magma", "gray")
"""The colormaps feature maps can be drawn with (kept here so command lines can offer them without loading torch)."""
