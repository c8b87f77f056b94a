"""Public names imported on first use: a package's ``__getattr__`` and ``__dir__``, and the
module class that keeps a function bound when its same-named submodule loads.

``norwoodkit --help`` imports the packages whose enums its options use; importing their
public names eagerly would pull in pandas, pyarrow, numpy or torch (issue 15: start-up).
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable, Iterable, Mapping
from types import ModuleType
from typing import Any

__all__ = ["exports", "keep_functions"]


def exports(
    package: str, homes: Mapping[str, str], public: Iterable[str]
) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """``__getattr__`` and ``__dir__`` for ``package``: each name in ``homes`` is imported from
    ``package.<home>`` when first asked for; ``__dir__`` lists ``public`` whether imported or not.
    """
    names = sorted(public)

    def __getattr__(name: str) -> Any:
        home = homes.get(name)
        if home is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        return getattr(importlib.import_module(f"{package}.{home}"), name)

    def __dir__() -> list[str]:
        return sorted({*vars(sys.modules[package]), *names})

    return __getattr__, __dir__


def keep_functions(package: str, names: Iterable[str]) -> None:
    """Keep ``package.<name>`` the function (or object) of that name when its submodule loads.

    Loading a submodule binds it on its package under its own name; eager imports used to
    rebind the function right after, and this keeps it so when the submodule loads later.
    """
    kept = frozenset(names)

    class _Package(ModuleType):
        def __setattr__(self, name: str, value: Any) -> None:
            if name in kept and isinstance(value, ModuleType):
                return
            super().__setattr__(name, value)

    sys.modules[package].__class__ = _Package
