"""Targets and jobs-file rows -> jobs.

A job is one target, one output and a complete set of convert options. Targets named on the
command line share the command line's options. A jobs-file row is turned into the argv a user
would type (`face_select: all` -> `--face-select all`, `keep_mouth: true` -> `--keep-mouth`) and
parsed by convert's own parser on top of the command line's options, so a row reads every
per-job option exactly as the flags do; nothing here lists them.
"""

from __future__ import annotations

import argparse
import csv
import glob
import json
import os
import shlex
from dataclasses import dataclass
from pathlib import Path

from rswap.errors import RswapError
from rswap.media.paths import is_image_path, is_video_path

from convert.batch.options import has_glob

# Options that say nothing about a job's result (left out of its digest).
NOT_RESULT_OPTIONS = ("target", "output", "no_progress")


@dataclass
class Job:
    index: int
    target: str
    output: str
    options: dict  # convert's parsed options for this job (target and output included)
    frames: int = 0  # expected frames (1 for an image, 0 when unknown), for the progress view
    label: str = ""

    def __post_init__(self):
        self.label = self.label or self.target

    @property
    def is_image(self) -> bool:
        return is_image_path(self.target) and not is_video_path(self.target)


@dataclass
class Plan:
    jobs: list[Job]
    out_dir: Path


class RowParser(argparse.ArgumentParser):
    """convert's parser for jobs-file rows: an argparse error becomes an RswapError naming the row."""

    def error(self, message):
        raise RswapError(message)


def media_files_under(folder: Path, skip: Path | None) -> list[Path]:
    """Videos and images below `folder` (recursive, sorted), without hidden files (a writer's
    temporary files are hidden) and without anything inside `skip` (the output folder)."""
    found = []
    for root, dirs, files in os.walk(folder):
        root_p = Path(root)
        dirs[:] = sorted(d for d in dirs if not d.startswith(".") and (skip is None or (root_p / d).resolve() != skip))
        for f in sorted(files):
            if not f.startswith(".") and (is_video_path(f) or is_image_path(f)):
                found.append(root_p / f)
    return found


def _glob_base(pattern: str) -> Path:
    """The leading part of a glob pattern without wildcards: relative folders are kept below it."""
    parts = Path(pattern).parts
    base = []
    for p in parts:
        if has_glob(p):
            break
        base.append(p)
    return Path(*base) if base else Path(".")


def expand_targets(targets: list[str], out_dir: Path) -> list[tuple[Path, Path]]:
    """(target file, its folder relative to what was named) for files, folders and globs.
    A named file that does not exist stays in: its job fails with its own line."""
    out = []
    skip = out_dir.resolve()
    for t in targets:
        p = Path(t)
        if p.is_dir():
            out += [(f, f.parent.relative_to(p)) for f in media_files_under(p, skip)]
        elif has_glob(t) and not p.exists():
            matches = sorted(Path(m) for m in glob.glob(t, recursive=True))
            files = [m for m in matches if m.is_file() and skip not in m.resolve().parents]
            if not files:
                raise RswapError(f"no file matches {t!r}")
            base = _glob_base(t)
            out += [(m, m.parent.relative_to(base)) for m in files]
        else:
            out.append((p, Path()))
    return out


def output_name(target: Path, template: str) -> str:
    try:
        name = template.format(stem=target.stem, ext=target.suffix, name=target.name)
    except (KeyError, IndexError, ValueError) as e:
        raise RswapError(f"--name {template!r}: unknown or malformed field ({e}); use {{stem}}, {{ext}}, {{name}}") from e
    if not name or name.endswith(("/", os.sep)):
        raise RswapError(f"--name {template!r} gives an empty file name for {target}")
    return name


def row_argv(row: dict, csv_cells: bool) -> list[str]:
    """A row as the flags a user would type. true -> the bare switch; false/empty -> nothing;
    a JSON list, or a CSV cell split like a shell line, -> several values (e.g. source photos)."""
    argv = []
    for key, value in row.items():
        if key is None or not str(key).strip():
            raise RswapError("a value without a column name (more cells than header fields)")
        flag = "--" + str(key).strip().replace("_", "-")
        if value is None or value is False or (isinstance(value, str) and value.strip().lower() in ("", "false")):
            continue
        if value is True or (isinstance(value, str) and value.strip().lower() == "true"):
            argv.append(flag)
            continue
        if isinstance(value, list):
            tokens = [str(v) for v in value]
        elif isinstance(value, str) and csv_cells:
            tokens = shlex.split(value)
        else:
            tokens = [str(value)]
        # "--flag=value" keeps a value that starts with '-' a value
        argv += [f"{flag}={tokens[0]}"] if len(tokens) == 1 else [flag, *tokens]
    return argv


def read_rows(path: Path) -> tuple[list[dict], bool]:
    """(rows, whether they are CSV cells)."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise RswapError(f"jobs file not found: {path}") from None
    except (OSError, UnicodeDecodeError) as e:
        raise RswapError(f"cannot read jobs file {path}: {e}") from e
    if path.suffix.lower() == ".csv":
        return [r for r in csv.DictReader(text.splitlines()) if any((v or "").strip() for v in r.values() if isinstance(v, str))], True
    if path.suffix.lower() in (".jsonl", ".ndjson"):
        rows = []
        for n, line in enumerate(text.splitlines(), 1):
            if line.strip():
                try:
                    row = json.loads(line)
                except json.JSONDecodeError as e:
                    raise RswapError(f"{path} line {n}: not JSON ({e.msg})") from None
                if not isinstance(row, dict):
                    raise RswapError(f"{path} line {n}: expected a JSON object")
                rows.append(row)
        return rows, False
    raise RswapError(f"jobs file must be .csv or .jsonl: {path}")


def _job_options(ns: argparse.Namespace, batch_dests: list[str]) -> dict:
    return {k: v for k, v in vars(ns).items() if k not in batch_dests}


def plan_jobs(args: argparse.Namespace, parser_factory, batch_dests: list[str]) -> Plan:
    """All jobs of this command, in order. `parser_factory()` gives convert's parser (for rows)."""
    if not args.output:
        raise RswapError("a batch needs -o/--output: the output folder")
    out_dir = Path(args.output)
    if out_dir.exists() and not out_dir.is_dir():
        raise RswapError(f"with several targets -o must be a folder, and {out_dir} is a file")
    if not out_dir.exists() and (is_video_path(out_dir) or is_image_path(out_dir)):
        raise RswapError(f"a batch writes into a folder: -o {out_dir} looks like a file name (give a folder)")
    base = argparse.Namespace(**vars(args))
    jobs: list[Job] = []

    def add(target: Path, output: Path, ns: argparse.Namespace):
        if not ns.source:
            raise RswapError(f"no source photo for {target}: give -s/--source (or a 'source' column in the jobs file)")
        ns.target, ns.output = str(target), str(output)
        jobs.append(Job(len(jobs), str(target), str(output), _job_options(ns, batch_dests)))

    for target, rel in expand_targets(list(args.target or []), out_dir):
        add(target, out_dir / rel / output_name(target, args.name), argparse.Namespace(**vars(base)))

    if args.jobs:
        path = Path(args.jobs)
        rows, csv_cells = read_rows(path)
        parser = parser_factory()
        for n, row in enumerate(rows, 2 if csv_cells else 1):
            where = f"{path} {'row' if csv_cells else 'line'} {n}"
            keys = {str(k).strip().replace("-", "_") for k in row if k is not None}
            batch_keys = sorted(keys & set(batch_dests))
            if batch_keys:
                raise RswapError(f"{where}: {batch_keys[0]!r} is a batch option, not a per-job one")
            start = argparse.Namespace(**{**vars(base), "target": None, "output": None})
            try:
                ns = parser.parse_args(row_argv(row, csv_cells), namespace=start)
            except RswapError as e:
                raise RswapError(f"{where}: {e}") from None
            if not ns.target or len(ns.target) != 1:
                raise RswapError(f"{where}: give exactly one target")
            target = Path(ns.target[0])
            output = out_dir / ns.output if ns.output else out_dir / output_name(target, args.name)
            add(target, output, ns)

    if not jobs:
        raise RswapError("nothing to convert: no target given (-t FILE|FOLDER|GLOB ... or --jobs FILE)")
    _check_outputs(jobs)
    return Plan(jobs, out_dir)


def _check_outputs(jobs: list[Job]) -> None:
    seen: dict[str, Job] = {}
    for j in jobs:
        key = os.path.abspath(j.output)
        if key == os.path.abspath(j.target):
            raise RswapError(f"output would overwrite the target {j.target}; choose another -o folder or --name")
        if key in seen:
            raise RswapError(f"two jobs would write {j.output}: {seen[key].target} and {j.target} (use --name or a jobs file)")
        seen[key] = j
