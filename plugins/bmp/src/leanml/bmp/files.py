"""Package files behind the registered data sets (imports only leanml.core)."""

from __future__ import annotations

from leanml.core import PackageFile

__all__ = ["INDIAN_PINES", "INDIAN_PINES_GT"]

_TL = ("tensorly", "0.10.0")

#: AVIRIS Indian Pines, 145 x 145 pixels x 200 bands (water bands removed), uint16.
INDIAN_PINES = PackageFile(
    *_TL,
    "tensorly/datasets/data/Indian_pines_corrected.npy",
    "8f038e4d81569e38ebfc72a15c9984c150de42580ab260be10a13442e912e451",
)

#: Its ground truth: 145 x 145 uint8 labels 0 (unlabelled) to 16.
INDIAN_PINES_GT = PackageFile(
    *_TL,
    "tensorly/datasets/data/Indian_pines_gt.npy",
    "44610d21625b311b05b8e0c4ba9a6cc755c2fbb9df48e4d89419024aa6ad3f9d",
)

#: Licence of the Indian Pines data as stated by TensorLy's loader.
INDIAN_PINES_LICENCE = (
    "CC BY 3.0 (Baumgardner, Biehl, Landgrebe 2015, Purdue, doi:10.4231/R7RX991C); "
    "package BSD-3-Clause (TensorLy)"
)
