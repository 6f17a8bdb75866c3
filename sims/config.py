"""Base of the simulators' parameter dataclasses: JSON round trip and routing by name.

Each actor package has a small frozen dataclass of the parameters its model reads
(:class:`sims.homes.config.HomesConfig`, :class:`sims.grid.network.GridConfig`,
:class:`sims.dso.config.DsoRunConfig`...). Their attribute names are the names of the
scenario fields they come from, so the model code reads ``cfg.seed``, ``cfg.penetration``...
and the study layer fills them with :meth:`Config.from_attrs` (a field added to both the
scenario and a config is routed by its name, with no mapping code). A mosaik simulator takes
the config as ``cfg.to_dict()`` (JSON-serialisable) and rebuilds it with
:meth:`Config.from_dict`.
"""

from __future__ import annotations

import dataclasses
from typing import Any, TypeVar

from sims.serial import from_jsonable, to_jsonable

__all__ = ["Config"]

C = TypeVar("C", bound="Config")


class Config:
    """Mixin of frozen dataclasses of simulator parameters (see the module docstring)."""

    def to_dict(self) -> dict[str, Any]:
        """The parameters as a JSON-serialisable dict (the form simulators take)."""
        return to_jsonable(self)

    @classmethod
    def from_dict(cls: type[C], data: dict[str, Any]) -> C:
        """Rebuild from :meth:`to_dict` (fields missing from ``data`` take their default).

        Raises
        ------
        ValueError
            ``data`` names a field this config does not have.
        """
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - names)
        if unknown:
            raise ValueError(f"{cls.__name__}: unknown parameter(s) {', '.join(unknown)}")
        return from_jsonable(cls, data)

    @classmethod
    def from_attrs(cls: type[C], source: Any, **overrides: Any) -> C:
        """Take every field from the attribute of the same name of ``source`` (a scenario).

        Parameters
        ----------
        source
            Any object with the attributes (fields it lacks take their default).
        overrides
            Values that replace or complete those of ``source``.

        Raises
        ------
        TypeError
            A field without default is neither on ``source`` nor in ``overrides``.
        """
        kwargs = {}
        for f in dataclasses.fields(cls):
            if f.name in overrides:
                kwargs[f.name] = overrides[f.name]
            elif hasattr(source, f.name):
                kwargs[f.name] = getattr(source, f.name)
        return cls(**kwargs)
