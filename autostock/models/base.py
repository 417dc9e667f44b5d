"""The one Predictor base class and the one way a predictor is registered.

The Predictor contract (``DESIGN.md``): ``__init__`` stores keyword params only (checked
against :meth:`Predictor.all_defaults`); ``fit(X, y) -> self``; ``predict(X) -> np.ndarray``;
``save(path)`` / ``load(path)``. scikit-learn and Keras predictors both derive from
:class:`Predictor`, and both are registered with :func:`register_predictor`, which declares the
name once: it registers the class in :data:`autostock.registry.PREDICTORS` and sets its
``name``. A saved directory records that name in ``params.json``; :meth:`Predictor.saved_class`
finds the class through the same registry (no per-family shadow dictionaries).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any, ClassVar, TypeVar

import numpy as np

from autostock.registry import PREDICTORS

PARAMS_FILE = "params.json"
P = TypeVar("P", bound="Predictor")


class Predictor:
    """Base of every predictor: params handling (scikit-learn style) and saved-class lookup.

    Subclasses define :meth:`all_defaults` (or ``DEFAULTS``), :meth:`fit`, :meth:`predict`,
    :meth:`save` and :meth:`load`; ``context_rows`` is the number of rows one prediction needs
    (1 for row-wise models, ``seq_len`` for sequence models).
    """

    name: ClassVar[str] = ""
    DEFAULTS: ClassVar[dict[str, Any]] = {}
    context_rows: int = 1

    def __init__(self, **params: Any) -> None:
        allowed = self.all_defaults()
        unknown = sorted(set(params) - set(allowed))
        if unknown:
            raise ValueError(
                f"{self.name or type(self).__name__}: unknown param(s) {', '.join(unknown)}; "
                f"valid: {', '.join(sorted(allowed))}"
            )
        self.params: dict[str, Any] = {**allowed, **params}
        self._check_params()

    @classmethod
    def all_defaults(cls) -> dict[str, Any]:
        """Every param this predictor takes, with its default."""
        return dict(cls.DEFAULTS)

    def _check_params(self) -> None:
        """Raise ``ValueError`` naming a bad param value (subclasses extend)."""

    # scikit-learn style parameter access
    def get_params(self, deep: bool = True) -> dict[str, Any]:
        """The constructor params (scikit-learn convention)."""
        return dict(self.params)

    def set_params(self: P, **params: Any) -> P:
        """Change params (scikit-learn convention); the model must be refitted."""
        self.__init__(**{**self.params, **params})  # type: ignore[misc]
        return self

    def __repr__(self) -> str:
        defaults = self.all_defaults()
        changed = {k: v for k, v in self.params.items() if defaults.get(k) != v}
        return f"{type(self).__name__}({', '.join(f'{k}={v!r}' for k, v in changed.items())})"

    # -- the contract -------------------------------------------------------------------
    def fit(self: P, X: Any, y: Any) -> P:  # pragma: no cover - abstract
        raise NotImplementedError

    def predict(self, X: Any) -> np.ndarray:  # pragma: no cover - abstract
        raise NotImplementedError

    def save(self, path: str | Path) -> Path:  # pragma: no cover - abstract
        raise NotImplementedError

    @classmethod
    def load(cls: type[P], path: str | Path) -> P:  # pragma: no cover - abstract
        raise NotImplementedError

    # -- persistence helpers --------------------------------------------------------------
    def _meta(self, **extra: Any) -> dict[str, Any]:
        return {
            "predictor": self.name,
            "class": f"{type(self).__module__}:{type(self).__qualname__}",
            "params": self.params,
            **extra,
        }

    @classmethod
    def saved_class(cls, folder: Path, family: type[Predictor]) -> tuple[type[Any], dict[str, Any]]:
        """The registered class a saved directory names (a subclass of ``family``) and its meta."""
        meta = json.loads((folder / PARAMS_FILE).read_text())
        name = str(meta.get("predictor", ""))
        if cls.name and cls.name == name:
            return cls, meta
        klass = PREDICTORS.get(name) if name in PREDICTORS else None
        if not (isinstance(klass, type) and issubclass(klass, family)):
            raise ValueError(f"{folder / PARAMS_FILE}: unknown {family.__name__} {name!r}")
        return klass, meta


def register_predictor(name: str) -> Callable[[type[P]], type[P]]:
    """Register a predictor class under ``name`` (in PREDICTORS) and set its ``name``."""

    def deco(cls: type[P]) -> type[P]:
        cls.name = name
        return PREDICTORS.register(name, cls)

    return deco
