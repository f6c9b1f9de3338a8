"""Lazy references: name a callable as ``"package.module:attr"`` and import it on first use.

Registering a plugin must not import torch, Numba or scikit-learn, so ``leanml --help`` and
``leanml plugins`` stay instant however many plugins are installed. Specs therefore name
their factories, loaders, demos and solvers with a string that :func:`resolve` imports only
when the entry is used. :func:`attach` gives a plugin package the same laziness for its
public API (PEP 562 module ``__getattr__``), because importing ``leanml.<plugin>.plugin``
runs the package's ``__init__`` first.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from typing import Any

from .errors import RegistryError

__all__ = ["Ref", "attach", "is_ref", "resolve"]

#: A callable, or the string ``"package.module:attr"`` (``attr`` may be dotted) naming one.
Ref = Callable[..., Any] | str


def is_ref(value: object) -> bool:
    """Whether ``value`` is a well-formed ``"package.module:attr"`` string."""
    if not isinstance(value, str):
        return False
    module, sep, attr = value.partition(":")
    return bool(sep and module and attr) and all(
        part.isidentifier() for part in (*module.split("."), *attr.split("."))
    )


def resolve(ref: Ref, what: str = "entry") -> Callable[..., Any]:
    """Import the object a :data:`Ref` names, or return a callable unchanged.

    Parameters
    ----------
    ref
        A callable or ``"package.module:attr"``.
    what
        Names the reference in error messages, e.g. ``"factory of model 'rb-svm'"``.

    Raises
    ------
    RegistryError
        The string is malformed, the module cannot be imported (a missing optional
        dependency, say) or it has no such attribute.
    """
    if callable(ref):
        return ref
    if not is_ref(ref):
        raise RegistryError(f"{what}: {ref!r} is not a callable nor 'package.module:attr'")
    module_name, _, attr = ref.partition(":")
    try:
        obj: Any = importlib.import_module(module_name)
    except ImportError as exc:
        raise RegistryError(f"{what}: cannot import {module_name!r} ({exc})") from exc
    for part in attr.split("."):
        try:
            obj = getattr(obj, part)
        except AttributeError:
            raise RegistryError(f"{what}: {module_name!r} has no attribute {attr!r}") from None
    if not callable(obj):
        raise RegistryError(f"{what}: {ref!r} is not callable")
    return obj


def attach(
    package: str, members: Mapping[str, str]
) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """A package's lazy public API: ``__getattr__, __dir__ = attach(__name__, {...})``.

    Parameters
    ----------
    package
        The package's ``__name__``.
    members
        Public name -> submodule (relative, e.g. ``".estimators"``) that defines it.

    Returns
    -------
    getattr, dir
        Module-level ``__getattr__`` (imports the submodule on first access) and ``__dir__``.
    """

    def __getattr__(name: str) -> Any:
        try:
            submodule = members[name]
        except KeyError:
            raise AttributeError(f"module {package!r} has no attribute {name!r}") from None
        return getattr(importlib.import_module(submodule, package), name)

    def __dir__() -> list[str]:
        return sorted(members)

    return __getattr__, __dir__
