"""The options layer: each option's default, choices and help are defined once, in the core's
dataclasses (rswap.options turns them into flags and config sections)."""

from __future__ import annotations

import argparse
import importlib
from dataclasses import dataclass

import pytest

from cli.main import SUBCOMMANDS
from rswap.errors import RswapError
from rswap.options import add_options, from_args, from_section, option, to_section


def _parser(subcommand: str) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog=f"rswap {subcommand}")
    importlib.import_module(SUBCOMMANDS[subcommand][0]).add_arguments(parser)
    return parser


def _flags(parser: argparse.ArgumentParser) -> dict[str, argparse.Action]:
    return {a.option_strings[-1]: a for a in parser._actions if a.option_strings and a.dest != "help"}


@pytest.fixture(scope="module")
def parsers():
    pytest.importorskip("torch")  # train and build declare their flags beside torch models
    return {name: _parser(name) for name in SUBCOMMANDS}


def test_every_flag_has_help_text(parsers):
    from benchmarks.cli import BENCHMARKS

    every = dict(parsers)
    for name, (module, _) in BENCHMARKS.items():  # `rswap bench WHAT` parses its own flags
        every[f"bench {name}"] = p = argparse.ArgumentParser()
        importlib.import_module(module).add_arguments(p)
    missing = [f"{name} {flag}" for name, p in every.items() for flag, a in _flags(p).items() if not a.help]
    assert missing == []


def test_every_flags_choices_come_from_the_cores_table(parsers):
    from realtime.backends import BACKENDS, NAMES
    from rswap.face.align import TEMPLATES
    from rswap.face.box_detectors import BOX_DETECTORS
    from rswap.face.select import MODES
    from rswap.models.generator import PRESETS
    from rswap.models.identity_encoders import IDENTITY_ENCODERS
    from rswap.swap.options import BACKEND_NAMES, COLOR_METHODS, COMPOSE_ON, CUDA_GRAPHS, PRECISIONS

    tables = {
        "--color": COLOR_METHODS, "--backend": BACKEND_NAMES, "--precision": PRECISIONS, "--compose-on": COMPOSE_ON,
        "--cuda-graphs": tuple(CUDA_GRAPHS), "--face-select": MODES, "--detector": tuple(BOX_DETECTORS),
        "--identity-encoder": tuple(IDENTITY_ENCODERS), "--generator": tuple(PRESETS), "--template": tuple(TEMPLATES),
    }
    assert NAMES == BACKEND_NAMES == ("auto", *BACKENDS)  # the app's backend table is keyed by the core's names
    seen = set()
    for name, p in parsers.items():
        for flag, action in _flags(p).items():
            if flag in tables and not (name == "build" and flag == "--precision"):  # build exports fp32/fp16 only
                assert tuple(action.choices) == tuple(tables[flag]), f"rswap {name} {flag}"
                seen.add(flag)
    assert seen == set(tables)  # each table feeds at least one flag


def test_a_shared_option_is_the_same_flag_everywhere(parsers):
    """--reshape, --color, --keep-mouth ... in live, convert, eval and triplets: one default, one choice list."""
    by_flag: dict[str, set] = {}
    for name in ("live", "convert", "eval", "triplets"):
        for flag, a in _flags(parsers[name]).items():
            by_flag.setdefault(flag, set()).add((repr(a.default), repr(a.choices)))
    for flag in ("--reshape", "--color", "--keep-mouth", "--keep-eyes", "--blend-levels"):
        assert len(by_flag[flag]) == 1, (flag, by_flag[flag])
    assert by_flag["--reshape"] == {("0.6", "None")}


@dataclass
class _Demo:
    size: int = option(256, "crop side", metavar="N")
    mode: str = option("fast", "how", choices=("fast", "slow"))
    smooth: bool = option(True, "smooth it")
    quiet: bool = option(False, "say less")
    tags: list[str] = option(None, "labels", nargs="+", factory=list)
    hook: object = None  # not an option: no flag


def test_a_dataclass_becomes_flags_with_help_defaults_and_choices():
    p = argparse.ArgumentParser()
    add_options(p, _Demo, "demo")
    flags = _flags(p)
    assert set(flags) == {"--size", "--mode", "--no-smooth", "--quiet", "--tags"}
    assert flags["--size"].help == "crop side (default 256)" and flags["--mode"].choices == ("fast", "slow")
    got = from_args(_Demo, p.parse_args(["--size", "128", "--no-smooth", "--tags", "a", "b"]), hook=print)
    assert got == _Demo(size=128, mode="fast", smooth=False, quiet=False, tags=["a", "b"], hook=print)
    assert from_args(_Demo, p.parse_args([])) == _Demo()
    with pytest.raises(SystemExit):
        p.parse_args(["--mode", "medium"])


def test_layered_flags_override_a_config_section_which_overrides_defaults():
    p = argparse.ArgumentParser()
    add_options(p, _Demo, layered=True)
    section = {"size": 64, "smooth": False}
    assert from_args(_Demo, p.parse_args([]), section) == _Demo(size=64, smooth=False)
    assert from_args(_Demo, p.parse_args(["--size", "32", "--smooth"]), section) == _Demo(size=32, smooth=True)
    assert from_section(_Demo, to_section(_Demo(size=7))) == _Demo(size=7)
    with pytest.raises(RswapError, match="unknown demo config keys: colour"):
        from_section(_Demo, {"colour": "red"}, "demo config")
    with pytest.raises(RswapError, match="must be a JSON object"):
        from_section(_Demo, ["size"], "demo config")
