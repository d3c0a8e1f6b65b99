"""One options layer: a dataclass owns each option's field, default, choices and help text;
`add_options` turns it into an argparse group, `from_args` and `from_section` read it back
from parsed flags or from a config file's section.

    @dataclass
    class SwapOptions:
        reshape: float = option(0.6, "how far the face contour moves", metavar="0..1")
        color: str = option("reinhard", "colour transfer", choices=COLOR_METHODS)

The flag is the field's name with dashes (`--keep-mouth`); a bool that defaults to False is a
switch, one that defaults to True gets `--x/--no-x`, and so does one that defaults to None (each
command decides; its help says how); "(default X)" is added to the help text.
`layered=True` leaves every flag's argparse default at None, so flags override a config file
that overrides the dataclass defaults (`rswap train --config`). No global state: the objects
are plain values passed to whoever needs them. (facefusion keeps its choices in one module;
this project's TrainConfig showed the dataclass way.)
"""

from __future__ import annotations

import argparse
import dataclasses
import types
import typing
from typing import Any, Iterable

from rswap.errors import RswapError


def option(default: Any, help: str, *, choices: Iterable | None = None, metavar: str | None = None,
           flag: str | None = None, nargs: str | None = None, factory=None) -> Any:
    """A dataclass field that knows its command-line flag. `flag`: the flag's name where it is not
    the field's (`--arcface` sets `insightface_root`); `factory`: a default_factory (mutable
    defaults). `choices` is the table the flag takes its choices from."""
    meta = {"help": help, "choices": tuple(choices) if choices is not None else None, "metavar": metavar,
            "flag": flag, "nargs": nargs}
    if factory is not None:
        return dataclasses.field(default_factory=factory, metadata={"option": meta})
    return dataclasses.field(default=default, metadata={"option": meta})


def option_fields(cls) -> list[dataclasses.Field]:
    """The fields of `cls` that are options (made with `option`)."""
    return [f for f in dataclasses.fields(cls) if "option" in f.metadata]


def flag_of(f: dataclasses.Field) -> str:
    return f.metadata["option"]["flag"] or "--" + f.name.replace("_", "-")


def _default(f: dataclasses.Field) -> Any:
    return f.default_factory() if f.default is dataclasses.MISSING else f.default


def _value_type(cls, f: dataclasses.Field):
    """int / float / str / bool from the annotation (`X | None` -> X, `list[X]` -> X)."""
    hint = typing.get_type_hints(cls)[f.name]
    args = [a for a in typing.get_args(hint) if a is not type(None)]
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType) and len(args) == 1:
        hint = args[0]
        args, origin = list(typing.get_args(hint)), typing.get_origin(hint)
    if origin in (list, tuple) and args:
        return args[0]
    return hint


def add_options(parser: argparse.ArgumentParser, cls, title: str | None = None, *, layered: bool = False,
                skip: Iterable[str] = (), only: Iterable[str] | None = None) -> argparse._ArgumentGroup:
    """An argument group (or `parser` itself without a title) with one flag per option field of
    `cls`: all of them, or `only` these, minus `skip`."""
    group = parser.add_argument_group(title) if title else parser
    for f in option_fields(cls):
        if f.name in skip or (only is not None and f.name not in only):
            continue
        meta = f.metadata["option"]
        default = _default(f)
        shown = "" if default is None or default is False or default in ("", [], ()) else f" (default {_shown(default)})"
        kw: dict[str, Any] = {"dest": f.name, "help": meta["help"] + shown, "default": None if layered else default}
        value_type = _value_type(cls, f)
        if value_type is bool:  # a switch when off by default; --x/--no-x when on, the command's, or layered over a file
            kw["action"] = argparse.BooleanOptionalAction if default is not False or layered else "store_true"
            kw["help"] = meta["help"] + (" (default on)" if default is True else "")
        else:
            kw["type"] = value_type
            for key in ("choices", "metavar", "nargs"):
                if meta[key] is not None:
                    kw[key] = meta[key]
        group.add_argument(flag_of(f), **kw)
    return group


def _shown(value: Any) -> str:
    return " ".join(map(str, value)) if isinstance(value, (list, tuple)) else str(value)


def from_args(cls, args: argparse.Namespace, section: dict | None = None, where: str = "config", **values):
    """`cls` from parsed flags over a config file's `section` (a flag given wins; one left out,
    None, keeps the section's value, then the default), plus `values` for fields that are not flags."""
    merged = dict(section or {})
    for f in option_fields(cls):
        got = getattr(args, f.name, None)
        if got is not None:
            merged[f.name] = got
    merged.update(values)
    return from_section(cls, merged, where)


def from_section(cls, section: dict, where: str = "config"):
    """`cls` from a config file's section (a dict): unknown keys are one clear error; keys left
    out keep their defaults."""
    if not isinstance(section, dict):
        raise RswapError(f"{where} must be a JSON object")
    unknown = set(section) - {f.name for f in dataclasses.fields(cls)}
    if unknown:
        raise RswapError(f"unknown {where} keys: {', '.join(sorted(unknown))}")
    return cls(**section)


def to_section(obj) -> dict:
    """The config-file section of an options object (what `from_section` reads back)."""
    return dataclasses.asdict(obj)
