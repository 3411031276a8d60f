"""ROOT files for every kind: :func:`with_root_files` wraps a kind so that its ``sniff``/``read``/``write``/
``inspect`` also take ``.root`` files (a TTree through uproot, :mod:`mlfastsim.data.io.root`), and hands
everything else to the kind. The registry wraps each kind once, so a new kind has ROOT files by declaring
nothing."""

from __future__ import annotations

import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from mlfastsim.data.io.root import is_root, read_root, root_kind, write_root
from mlfastsim.data.kinds.base import DataKind

__all__ = ["RootFiles", "with_root_files"]


class RootFiles:
    """A data kind whose files may also be ROOT files (``.root``); the kind's own behaviour otherwise.

    Attributes and methods not defined here (``codec``, ``example``, ``generate``, a declared
    ``resimulate``, ...) are the wrapped kind's, so the capabilities it declares stay declared.
    """

    def __init__(self, kind: DataKind) -> None:
        self.kind = kind
        self.name, self.summary = kind.name, kind.summary
        self.default_suffix, self.data_config = kind.default_suffix, kind.data_config

    def __getattr__(self, name: str) -> Any:
        if name == "kind":  # not yet set (e.g. while unpickling)
            raise AttributeError(name)
        return getattr(self.kind, name)

    def __repr__(self) -> str:
        return f"RootFiles({self.kind.name})"

    def sniff(self, path: Path) -> bool:
        """A ROOT file recording this kind, or a file of the kind's own formats."""
        if is_root(path):
            return root_kind(path) == self.name
        return self.kind.sniff(path)

    def read(self, path: str | Path, max_events: int | None = None) -> Any:
        return read_root(path, max_events) if is_root(path) else self.kind.read(path, max_events)

    def write(self, path: str | Path, ev: Any) -> None:
        """Atomically: a ROOT file for ``.root``, else in the kind's format for the suffix."""
        if is_root(path) or Path(path).suffix.lower() == ".root":
            write_root(path, ev, self.name)
        else:
            self.kind.write(path, ev)

    def inspect(self, path: str | Path, max_events: int | None = None) -> dict[str, Any]:
        """The kind's inspection; for a ROOT file, of its events written (temporarily) in the kind's format."""
        if not is_root(path):
            return self.kind.inspect(path, max_events)
        events = read_root(path, max_events)
        with tempfile.TemporaryDirectory() as tmp:
            native = Path(tmp) / f"events{self.default_suffix}"
            self.kind.write(native, events)
            summary = self.kind.inspect(native, max_events)
        return {**summary, "path": str(path), "format": "root"}

    def format_inspection(self, summary: Mapping[str, Any]) -> str:
        return self.kind.format_inspection(summary)


def with_root_files(kind: DataKind) -> DataKind:
    """``kind`` able to read and write ROOT files too (:class:`RootFiles`)."""
    wrapped: DataKind = RootFiles(kind)
    return wrapped
