"""Keep ``tscrm --help`` fast: defer two rich modules that typer's help formatter imports but we never use.

typer's help module imports ``rich.markdown`` (markdown-it, ~25 ms; for help written in Markdown,
ours is plain) and ``rich.traceback`` (pygments and attrs, ~25 ms; for pretty exceptions, which we
turn off). When a help page is all the process will do, stand-in modules answer typer's
``from rich.markdown import Markdown`` and load the real module only if something actually uses it.
"""

from __future__ import annotations

import importlib
import sys
import types
from typing import Any

DEFERRED = {"rich.markdown": "Markdown", "rich.traceback": "Traceback"}


def _real(name: str) -> types.ModuleType:
    if isinstance(sys.modules.get(name), _Deferred):
        del sys.modules[name]
    return importlib.import_module(name)


def _stand_in_class(module: str, name: str) -> type:
    def real_class() -> type:
        return getattr(_real(module), name)

    class Meta(type):
        def __getattr__(cls, attr: str) -> Any:  # class methods such as Traceback.from_exception
            return getattr(real_class(), attr)

        def __instancecheck__(cls, obj: Any) -> bool:
            return isinstance(obj, real_class())

    class StandIn(metaclass=Meta):
        """Builds the real class (loading its module) when first used."""

        def __new__(cls, *args: Any, **kwargs: Any) -> Any:
            return real_class()(*args, **kwargs)

    StandIn.__name__ = StandIn.__qualname__ = name
    return StandIn


class _Deferred(types.ModuleType):
    def __getattr__(self, name: str) -> Any:
        if name == DEFERRED[self.__name__]:
            return _stand_in_class(self.__name__, name)
        if name.startswith("__"):  # the import system probing (__path__, __spec__...): not a use
            raise AttributeError(name)
        return getattr(_real(self.__name__), name)


def defer_rich_extras_for_help(argv: list[str]) -> None:
    """Install the stand-ins when the command line asks only for help."""
    if not ({"--help", "-h"} & set(argv)):
        return
    for name in DEFERRED:
        if name not in sys.modules:
            parent, _dot, child = name.rpartition(".")
            stand_in = _Deferred(name)
            sys.modules[name] = stand_in
            setattr(importlib.import_module(parent), child, stand_in)  # as the import system would
