"""The ledger: which jobs of an output folder are finished, and with what.

One JSON line per finished job, appended (and fsynced) by the coordinating process only,
after the job's output is in place: `{"output", "key", "inputs", "frames", "finished"}`.
A job's key is the sha256 of its input files' sha256s, its result-relevant options and the
rswap version, so a re-run skips a job only when nothing that shapes its output changed and
its output is still there. Every option value naming an existing file (target, source and
reference photos, a model file or folder, an ArcFace or SCRFD file) counts as an input;
nothing here lists the options.

Hashing a large batch takes time (sha256 reads ~1 GB/s), so each entry also keeps each
input's size and mtime: an unchanged (size, mtime) reuses the hash the ledger recorded.
A torn last line (power cut while appending) is ignored; that job is simply done again.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from pathlib import Path

from rswap import __version__
from rswap.errors import RswapError

from convert.batch.plan import NOT_RESULT_OPTIONS, Job

LEDGER_NAME = ".rswap-ledger.jsonl"


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


class Ledger:
    def __init__(self, out_dir: Path):
        self.path = Path(out_dir) / LEDGER_NAME
        self.entries: dict[str, dict] = {}  # absolute output path -> its newest entry
        self._known: dict[str, list] = {}  # absolute input path -> [size, mtime_ns, sha256]
        try:
            lines = self.path.read_text(encoding="utf-8").splitlines()
        except FileNotFoundError:
            lines = []
        except OSError as e:
            raise RswapError(f"cannot read the ledger {self.path}: {e.strerror or e}") from e
        for line in lines:
            try:
                entry = json.loads(line)
                self.entries[os.path.abspath(entry["output"])] = entry
                self._known.update(entry.get("inputs", {}))
            except (ValueError, KeyError, TypeError, AttributeError):
                continue

    def _file_digest(self, path: Path) -> list:
        st = path.stat()
        key = os.path.abspath(path)
        known = self._known.get(key)
        if known and known[:2] == [st.st_size, st.st_mtime_ns]:
            return known
        self._known[key] = [st.st_size, st.st_mtime_ns, _sha256(path)]
        return self._known[key]

    def _inputs(self, job: Job) -> dict[str, list]:
        """Every file an option names (folders: every file inside, e.g. a model directory)."""
        found: dict[str, list] = {}
        for name, value in job.options.items():
            if name == "output":  # the result, not an input
                continue
            for v in value if isinstance(value, (list, tuple)) else [value]:
                if not isinstance(v, str) or not v:
                    continue
                p = Path(v)
                try:
                    if p.is_file():
                        found[os.path.abspath(p)] = self._file_digest(p)
                    elif p.is_dir():
                        for f in sorted(x for x in p.rglob("*") if x.is_file()):
                            found[os.path.abspath(f)] = self._file_digest(f)
                except OSError:
                    continue  # unreadable: the job itself fails and says why
        return found

    def key(self, job: Job) -> tuple[str, dict]:
        inputs = self._inputs(job)
        options = {k: v for k, v in job.options.items() if k not in NOT_RESULT_OPTIONS}
        blob = json.dumps({"rswap": __version__, "target": job.target,
                           "inputs": {p: d[2] for p, d in inputs.items()}, "options": options},
                          sort_keys=True, default=str)
        return hashlib.sha256(blob.encode()).hexdigest(), inputs

    def is_done(self, job: Job, key: str) -> bool:
        entry = self.entries.get(os.path.abspath(job.output))
        return bool(entry) and entry.get("key") == key and os.path.isfile(job.output)

    def record(self, job: Job, key: str, inputs: dict, frames: int) -> None:
        entry = {"output": os.path.abspath(job.output), "key": key, "inputs": inputs, "frames": frames,
                 "finished": time.strftime("%Y-%m-%dT%H:%M:%S%z")}
        try:
            with open(self.path, "a", encoding="utf-8") as f:
                f.write(json.dumps(entry) + "\n")
                f.flush()
                os.fsync(f.fileno())
        except OSError as e:
            raise RswapError(f"cannot record a finished job in the ledger {self.path}: {e.strerror or e}") from e
        self.entries[entry["output"]] = entry
