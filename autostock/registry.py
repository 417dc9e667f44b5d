"""Explicit plugin registries.

Each registry maps a name to a class. Names come from three places, in this order:

1. built-ins, registered when their modules are imported (listed per registry);
2. installed packages declaring an entry point in the group ``autostock.<kind>``;
3. a reference given in place of a name: ``path/to/file.py:ClassName`` or
   ``package.module:ClassName``.

A duplicate name raises; an unknown name lists the valid ones.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
from collections.abc import Iterator
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any

from autostock.errors import PluginError


class Registry:
    """A named collection of plugin classes of one kind (strategies, sizers, ...)."""

    def __init__(self, kind: str, builtin_modules: tuple[str, ...] = ()) -> None:
        self.kind = kind
        self.group = f"autostock.{kind}"
        self._builtin_modules = builtin_modules
        self._items: dict[str, Any] = {}
        self._sources: dict[str, str] = {}
        self._loaded = False

    # -- registration -------------------------------------------------------------------
    def register(self, name: str, obj: Any = None, source: str = "built-in") -> Any:
        """Register ``obj`` under ``name``; usable as a decorator when ``obj`` is omitted."""
        if obj is None:
            return lambda o: self.register(name, o, source)
        if not name or not name.replace("_", "").replace("-", "").isalnum():
            raise PluginError(f"invalid {self.kind} name {name!r}: use letters, digits, _ or -")
        if name in self._items and self._items[name] is not obj:
            raise PluginError(
                f"{self.kind} name clash: {name!r} from {source} is already registered by {self._sources[name]}"
            )
        self._items[name] = obj
        self._sources[name] = source
        return obj

    def _load(self) -> None:
        if self._loaded:
            return
        self._loaded = True
        for module in self._builtin_modules:
            importlib.import_module(module)
        for ep in entry_points(group=self.group):
            dist = getattr(ep, "dist", None)
            source = f"entry point {ep.value}" + (f" ({dist.name})" if dist else "")
            try:
                obj = ep.load()
            except Exception as exc:  # a broken third-party package must not hide the others
                raise PluginError(f"cannot load {self.kind} entry point {ep.name!r} ({ep.value}): {exc}") from exc
            self.register(ep.name, obj, source)

    # -- lookup -------------------------------------------------------------------------
    def names(self) -> list[str]:
        self._load()
        return sorted(self._items)

    def items(self) -> Iterator[tuple[str, Any]]:
        self._load()
        for name in sorted(self._items):
            yield name, self._items[name]

    def source(self, name: str) -> str:
        self._load()
        return self._sources.get(name, "reference")

    def __contains__(self, name: str) -> bool:
        self._load()
        return name in self._items

    def __len__(self) -> int:
        self._load()
        return len(self._items)

    def __iter__(self) -> Iterator[str]:
        """Names in registration order (built-ins in the order their modules define them)."""
        self._load()
        return iter(list(self._items))

    def __getitem__(self, name: str) -> Any:
        return self.get(name)

    def values(self) -> list[Any]:
        """Registered objects in registration order."""
        self._load()
        return list(self._items.values())

    def get(self, ref: str) -> Any:
        """Return the class for a registered name or a ``file.py:Class`` / ``module:Class`` ref."""
        self._load()
        if ref in self._items:
            return self._items[ref]
        if ":" in ref:
            return load_reference(ref, self.kind)
        valid = ", ".join(self.names()) or "(none)"
        singular = "strategy" if self.kind == "strategies" else self.kind.rstrip("s")
        raise PluginError(f"unknown {singular} {ref!r}; valid: {valid}")


def load_reference(ref: str, kind: str = "plugin") -> Any:
    """Load ``path/to/file.py:ClassName`` or ``package.module:ClassName``."""
    target, _, attr = ref.rpartition(":")
    if not target or not attr:
        raise PluginError(f"bad {kind} reference {ref!r}: expected path.py:Class or module:Class")
    if target.endswith(".py") or "/" in target or "\\" in target:
        path = Path(target).expanduser().resolve()
        if not path.is_file():
            raise PluginError(f"{kind} file not found: {target}")
        mod_name = f"autostock_user_{path.stem}_{abs(hash(str(path))) & 0xFFFFFF:x}"
        module = sys.modules.get(mod_name)
        if module is None:
            spec = importlib.util.spec_from_file_location(mod_name, path)
            if spec is None or spec.loader is None:
                raise PluginError(f"cannot import {kind} file {target}")
            module = importlib.util.module_from_spec(spec)
            sys.modules[mod_name] = module
            try:
                spec.loader.exec_module(module)
            except Exception as exc:
                del sys.modules[mod_name]
                raise PluginError(f"error importing {target}: {type(exc).__name__}: {exc}") from exc
    else:
        try:
            module = importlib.import_module(target)
        except ImportError as exc:
            raise PluginError(f"cannot import module {target!r} for {kind} {ref!r}: {exc}") from exc
    try:
        return getattr(module, attr)
    except AttributeError:
        raise PluginError(f"{target} has no attribute {attr!r}") from None


STRATEGIES = Registry(
    "strategies",
    (
        "autostock.strategies.buy_hold",
        "autostock.strategies.sma_cross",
        "autostock.strategies.rsi",
        "autostock.strategies.mean_reversion",
        "autostock.strategies.momentum",
        "autostock.strategies.ml_signal",
        "autostock.strategies.rl_policy",
        "autostock.strategies.ensemble",
        "autostock.strategies.sector_rotation",
    ),
)
SIZERS = Registry("sizers", ("autostock.sizers.basic", "autostock.sizers.risk_sizers"))
ANALYZERS = Registry("analyzers", ("autostock.risk.exposure",))
# Keras predictors import keras lazily, so listing them does not start TensorFlow
PREDICTORS = Registry("predictors", ("autostock.models.sklearn_models", "autostock.models.keras_models"))
# named causal features (autostock.models.features.Feature objects), in definition order
FEATURES = Registry("features", ("autostock.models.features",))
# data sources from plugins: a callable (symbols, start, end, benchmark, seed) -> Market
FEEDS = Registry("feeds", ())

ALL: dict[str, Registry] = {r.kind: r for r in (STRATEGIES, SIZERS, ANALYZERS, PREDICTORS, FEATURES, FEEDS)}
