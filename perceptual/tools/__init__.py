"""Tools on the same frozen VGG: DeepDream-style activation maximization and ImageNet classification."""
