"""Write two_inputs.npz, the data of two_inputs.json: an image and three
tabular features per sample, and a label that needs both.

Each sample is one of netspec's built-in ``shapes`` images (12×12, 3 shape
classes) and a code ``k`` in {0, 1, 2}, given as three noisy features (the
one-hot row of ``k`` plus normal noise of std 0.3). The label is
``(shape class + k) mod 3``: neither the image nor the features alone tell it.

    python examples/make_two_inputs.py          # writes examples/two_inputs.npz
"""

import os

import numpy as np

import netspec

images, shape_class = netspec.data.shapes(samples_per_class=200, size=12, classes=3, seed=0)
rng = np.random.default_rng(0)
code = rng.integers(0, 3, size=len(images))
meta = np.eye(3)[code] + 0.3 * rng.standard_normal((len(images), 3))
label = (shape_class + code) % 3
path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "two_inputs.npz")
np.savez_compressed(path, image=images.astype(np.float32), meta=meta.astype(np.float32), y=label)
print(f"wrote {path}: image {images.shape}, meta {meta.shape}, y {label.shape}")
