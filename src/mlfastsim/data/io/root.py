"""ROOT files of any data kind, written and read through uproot: one TTree ``events``, one entry per event.

Layout, derived from the kind's container (a dataclass of per-event arrays):

* an array field ``[N, ...]`` → one branch of that fixed shape (``float[5]``, ``std::array<…>`` …);
* a list field of per-event structured arrays (generator-level particles, regions) → variable-length
  branches ``<field>_<column>`` with the counter ``n<field>``;
* a float array field with more than half of its cells zero (jet images, showers, TPC windows) → its
  non-zero cells as variable-length branches ``<field>_index`` (flat index into the event's cells, int32) and
  ``<field>_value`` with the counter ``n<field>`` (the hits a ROOT user loops over);
* a TObjString ``mlfastsim`` beside the tree: JSON with the kind, the container, the layout and the events'
  provenance (``attrs``: producer, configuration, seed, version, wall time per event).

Written atomically; read back into the same container, equal array by array.
"""

from __future__ import annotations

import dataclasses
import importlib
import json
import os
from pathlib import Path
from typing import Any

import numpy as np

from mlfastsim._utils import InputError, MissingExtraError, atomic_path, jsonable

__all__ = ["ROOT_SUFFIX", "TREE", "is_root", "read_root", "root_kind", "write_root"]

ROOT_SUFFIX = ".root"
TREE = "events"
_META = "mlfastsim"
_MAGIC = b"root"


def _uproot() -> tuple[Any, Any]:
    try:
        import awkward
        import uproot
    except ImportError:
        raise MissingExtraError("ROOT files need uproot and awkward: pip install 'mlfastsim[root]'") from None
    return uproot, awkward


def is_root(path: str | os.PathLike[str]) -> bool:
    """True when ``path`` is a ROOT file (its first four bytes), or is to be written as one (``.root``)."""
    path = Path(path)
    if path.is_file():
        with path.open("rb") as f:
            if f.read(4) == _MAGIC:
                return True
    return path.suffix.lower() == ROOT_SUFFIX and not path.is_file()


def _open(path: Path) -> Any:
    uproot, _ = _uproot()
    try:
        return uproot.open(path)
    except Exception as exc:  # uproot raises many kinds on a damaged file
        raise InputError(
            f"{path}: unreadable ROOT file ({type(exc).__name__}: {exc}); regenerate it"
        ) from None


def _meta(f: Any, path: Path) -> dict[str, Any]:
    if _META not in f or TREE not in f:
        raise InputError(f"{path}: a ROOT file without mlfastsim's '{TREE}' tree and provenance; not ours")
    meta: dict[str, Any] = json.loads(str(f[_META]))
    return meta


def root_kind(path: str | os.PathLike[str]) -> str | None:
    """The data kind recorded in the ROOT file ``path`` (None when it is not one of ours)."""
    path = Path(path)
    try:
        with _open(path) as f:
            return str(_meta(f, path)["kind"])
    except (InputError, KeyError, ValueError):
        return None


def _sparse(values: np.ndarray) -> bool:
    return values.ndim >= 2 and values.dtype.kind == "f" and values.size > 0 and np.mean(values == 0) > 0.5


def write_root(path: str | os.PathLike[str], ev: Any, kind: str) -> None:
    """Write the events ``ev`` (a dataclass container of kind ``kind``) as a ROOT file, atomically."""
    uproot, ak = _uproot()
    path = Path(path)
    if path.suffix.lower() != ROOT_SUFFIX:
        raise InputError(f"{path}: ROOT files are written with the suffix .root")
    n = len(ev)
    branches: dict[str, Any] = {}
    layout: dict[str, Any] = {}
    for field in dataclasses.fields(ev):
        value = getattr(ev, field.name)
        if field.name == "attrs" or value is None:
            continue
        if isinstance(value, np.ndarray) and _sparse(value):
            flat = value.reshape(n, -1)
            rows = [np.flatnonzero(row).astype(np.int32) for row in flat]
            index = ak.Array(rows)
            hits = ak.Array([flat[i, r] for i, r in enumerate(rows)])
            branches[field.name] = ak.zip({"index": index, "value": hits})
            layout[field.name] = {"sparse": list(value.shape[1:]), "dtype": value.dtype.str}
        elif isinstance(value, np.ndarray):
            branches[field.name] = value
            layout[field.name] = {"dense": list(value.shape[1:]), "dtype": value.dtype.str}
        elif isinstance(value, list) and len(value) == n and all(isinstance(v, np.ndarray) for v in value):
            dtype = value[0].dtype if n else np.dtype([])
            if dtype.names is None:
                raise InputError(f"{field.name}: lists of plain arrays have no ROOT layout yet")
            columns = {c: ak.Array([v[c] for v in value]) for c in dtype.names}
            branches[field.name] = ak.zip(columns)
            layout[field.name] = {"jagged": [[c, dtype[c].str] for c in dtype.names]}
        else:
            raise InputError(f"{field.name}: {type(value).__name__} has no ROOT layout")
    container = type(ev)
    meta = {
        "kind": kind,
        "container": f"{container.__module__}:{container.__qualname__}",
        "n_events": n,
        "layout": layout,
        "attrs": jsonable(ev.attrs),
    }
    types = {k: (v.type if isinstance(v, ak.Array) else (v.dtype, v.shape[1:])) for k, v in branches.items()}
    with atomic_path(path) as tmp, uproot.recreate(tmp) as f:
        f[_META] = json.dumps(meta)
        tree = f.mktree(
            TREE,
            types,
            title=f"mlfastsim {kind} events",
            counter_name=lambda name: f"n{name}",
            field_name=lambda outer, inner: f"{outer}_{inner}",
        )
        if n:
            tree.extend(branches)


def _container(meta: dict[str, Any], path: Path) -> type:
    module, _, name = str(meta.get("container", "")).partition(":")
    if not module.startswith("mlfastsim."):
        raise InputError(f"{path}: container {meta.get('container')!r} is not one of mlfastsim's")
    try:
        cls = getattr(importlib.import_module(module), name)
    except (ImportError, AttributeError):
        raise InputError(f"{path}: container {meta['container']} unknown to this version") from None
    if not dataclasses.is_dataclass(cls):
        raise InputError(f"{path}: container {meta['container']} is not a data container")
    return cls  # type: ignore[return-value]


def read_root(path: str | os.PathLike[str], max_events: int | None = None) -> Any:
    """The events of a ROOT file written by :func:`write_root` (the first ``max_events`` when given)."""
    _, ak = _uproot()
    path = Path(path)
    if max_events is not None and max_events <= 0:
        raise InputError(f"max_events must be positive, got {max_events}")
    with _open(path) as f:
        meta = _meta(f, path)
        cls = _container(meta, path)
        tree = f[TREE]
        stop = tree.num_entries if max_events is None else min(max_events, tree.num_entries)
        values: dict[str, Any] = {}
        try:
            for name, spec in meta["layout"].items():
                if "dense" in spec:
                    values[name] = np.asarray(tree[name].array(library="np", entry_stop=stop), spec["dtype"])
                elif "sparse" in spec:
                    index = tree[f"{name}_index"].array(entry_stop=stop)
                    hits = tree[f"{name}_value"].array(entry_stop=stop)
                    dense = np.zeros((stop, int(np.prod(spec["sparse"]))), spec["dtype"])
                    rows = np.repeat(np.arange(stop), ak.to_numpy(ak.num(index)))
                    dense[rows, ak.to_numpy(ak.flatten(index))] = ak.to_numpy(ak.flatten(hits))
                    values[name] = dense.reshape(stop, *spec["sparse"])
                else:
                    columns = {c: tree[f"{name}_{c}"].array(entry_stop=stop) for c, _ in spec["jagged"]}
                    dtype = np.dtype([(c, t) for c, t in spec["jagged"]])
                    counts = ak.to_numpy(tree[f"n{name}"].array(entry_stop=stop))
                    flat = np.zeros(int(counts.sum()), dtype)
                    for c in dtype.names or ():
                        flat[c] = ak.to_numpy(ak.flatten(columns[c]))
                    values[name] = np.split(flat, np.cumsum(counts)[:-1]) if stop else []
        except (KeyError, ValueError) as exc:
            raise InputError(f"{path}: the ROOT tree does not match its recorded layout ({exc})") from None
    if stop == 0:
        raise InputError(f"{path}: no events; the file is empty")
    try:
        return cls(**values, attrs=meta.get("attrs", {}))
    except (TypeError, ValueError) as exc:
        raise InputError(f"{path}: inconsistent {cls.__name__} in the ROOT file ({exc})") from None
