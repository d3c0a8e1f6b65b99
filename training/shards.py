"""On-disk datasets: shards of aligned face crops (and triplets) with a JSON index.

A dataset directory holds `index.json` and, per shard, two files:
- `<shard>.images.npy`: uint8 array (N, ..., S, S, 3) — memory-mapped when read, so a
  random-access sampler touches only the crops it uses;
- `<shard>.meta.npz`: the per-row arrays (identity numbers, landmarks, embeddings, ...).

`index.json` names the shards with their row counts and sha256 digests, plus dataset-wide
facts (crop size, template, identity names). Shards and the index are written to
temporary files and renamed, and the index is written last: a dataset either has a
complete index or is not a dataset yet. A digest mismatch or an unreadable shard is a
clear error naming the shard, not a crash deep inside a DataLoader worker.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np

from rswap.artifacts import sha256_file
from rswap.atomic import atomic_path
from rswap.errors import RswapError

INDEX = "index.json"


def _atomic_write(path: Path, write) -> None:
    with atomic_path(path) as tmp, open(tmp, "wb") as f:
        write(f)


def write_shard(directory: Path, name: str, images: np.ndarray, meta: dict[str, np.ndarray]) -> dict:
    """Write one shard; returns its index entry."""
    directory.mkdir(parents=True, exist_ok=True)
    images_path, meta_path = directory / f"{name}.images.npy", directory / f"{name}.meta.npz"
    _atomic_write(images_path, lambda f: np.save(f, np.ascontiguousarray(images, np.uint8)))
    _atomic_write(meta_path, lambda f: np.savez(f, **meta))
    files = (images_path, meta_path)
    return {
        "name": name,
        "count": int(len(images)),
        "bytes": {p.name: p.stat().st_size for p in files},
        "sha256": {p.name: sha256_file(p) for p in files},
    }


def write_index(directory: Path, index: dict) -> None:
    _atomic_write(directory / INDEX, lambda f: f.write(json.dumps(index, indent=1, sort_keys=True).encode()))


def read_index(directory: str | os.PathLike, kind: str) -> dict:
    directory = Path(directory)
    path = directory / INDEX
    if not path.is_file():
        raise RswapError(f"{directory} is not an rswap {kind} dataset (no {INDEX}; run `rswap {'prepare' if kind == 'faces' else 'triplets'}` first)")
    try:
        index = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise RswapError(f"{path} is corrupt ({e})") from None
    if index.get("format") != f"rswap-{kind}-v1":
        raise RswapError(f"{directory} is not an rswap {kind} dataset (format {index.get('format')!r})")
    return index


class ShardSet:
    """Rows of a dataset, addressed by a global row number; shards opened lazily (per process)."""

    def __init__(self, directory: str | os.PathLike, kind: str, verify: bool = False):
        self.directory = Path(directory)
        self.index = read_index(self.directory, kind)
        self.shards = self.index["shards"]
        if not self.shards or not sum(s["count"] for s in self.shards):
            raise RswapError(f"{self.directory} holds no rows")
        self.offsets = np.cumsum([0] + [s["count"] for s in self.shards])
        self._open: dict[int, tuple[np.ndarray, dict]] = {}
        self._verify = verify

    def __len__(self) -> int:
        return int(self.offsets[-1])

    def _shard(self, i: int) -> tuple[np.ndarray, dict]:
        if i not in self._open:
            entry = self.shards[i]
            files = {suffix: self.directory / f"{entry['name']}.{suffix}" for suffix in ("images.npy", "meta.npz")}
            try:
                for p in files.values():  # size always (cheap), digest on request (reads the file)
                    if p.stat().st_size != entry["bytes"][p.name] or (
                        self._verify and sha256_file(p) != entry["sha256"][p.name]
                    ):
                        raise RswapError(f"shard {p} is corrupt (differs from {INDEX}); re-run the command that wrote it")
                images = np.load(files["images.npy"], mmap_mode="r")
                with np.load(files["meta.npz"], allow_pickle=False) as z:
                    meta = {k: z[k] for k in z.files}
            except (OSError, ValueError, KeyError) as e:
                raise RswapError(f"shard {entry['name']} in {self.directory} is unreadable ({str(e).splitlines()[0]})") from None
            if len(images) != entry["count"]:
                raise RswapError(f"shard {entry['name']} in {self.directory} has {len(images)} rows, index says {entry['count']}")
            self._open[i] = (images, meta)
        return self._open[i]

    def locate(self, row: int) -> tuple[int, int]:
        shard = int(np.searchsorted(self.offsets, row, side="right") - 1)
        return shard, int(row - self.offsets[shard])

    def images(self, row: int) -> np.ndarray:
        shard, r = self.locate(row)
        return np.asarray(self._shard(shard)[0][r])

    def row_meta(self, row: int, key: str) -> np.ndarray:
        """One meta column's value for one row (opens only that row's shard)."""
        shard, r = self.locate(row)
        return self._shard(shard)[1][key][r]

    def meta(self, key: str) -> np.ndarray:
        """One meta column over the whole dataset (loads every shard's meta)."""
        return np.concatenate([self._shard(i)[1][key] for i in range(len(self.shards))])

    def verify_all(self) -> None:
        for i in range(len(self.shards)):
            self._shard(i)

    def __getstate__(self):  # DataLoader workers reopen shards themselves
        state = self.__dict__.copy()
        state["_open"] = {}
        return state
