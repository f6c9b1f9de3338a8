"""leanml core: the plugin contract, registries, data layer and shared metrics.

Plugins import what they need from here::

    from leanml.core import Dataset, DatasetSpec, ModelSpec, hookimpl
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

from .data import Dataset
from .errors import (
    ChecksumError,
    DataError,
    FetchError,
    InputError,
    LeanmlError,
    ParameterError,
    RegistryError,
)
from .hookspecs import CONTRACT_VERSION, hookimpl
from .package_files import PackageFile, fetch_file
from .plugins import get_plugins, load_dataset
from .registry import (
    DatasetSpec,
    DemoContext,
    DemoSpec,
    ExplainerSpec,
    MetricSpec,
    ModelSpec,
    SolverSpec,
)

try:
    __version__ = version("leanml-core")
except PackageNotFoundError:  # running from a source tree without installing
    __version__ = "0+unknown"

__all__ = [
    "CONTRACT_VERSION",
    "ChecksumError",
    "DataError",
    "Dataset",
    "DatasetSpec",
    "DemoContext",
    "DemoSpec",
    "ExplainerSpec",
    "FetchError",
    "InputError",
    "LeanmlError",
    "MetricSpec",
    "ModelSpec",
    "PackageFile",
    "ParameterError",
    "RegistryError",
    "SolverSpec",
    "__version__",
    "fetch_file",
    "get_plugins",
    "hookimpl",
    "load_dataset",
]
