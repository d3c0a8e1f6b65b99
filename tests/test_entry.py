"""Entry points: every command runs through the core's rswap.entry (one-line errors, interrupts),
and no app imports cli/, which imports the apps by name."""

from __future__ import annotations

import ast
import platform
import subprocess
import sys
from pathlib import Path

import pytest

from cli.main import main as rswap

REPO = Path(__file__).resolve().parents[1]
APPS_AND_CORE = ("rswap", "realtime", "convert", "training", "engine_build", "evaluation", "benchmarks")


def _imported_modules(path: Path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def test_no_app_and_not_the_core_imports_cli():
    offenders = [
        str(path.relative_to(REPO))
        for package in APPS_AND_CORE
        for path in sorted((REPO / package).rglob("*.py"))
        if any(m == "cli" or m.startswith("cli.") for m in _imported_modules(path))
    ]
    assert offenders == []


def test_rswap_fixer_is_a_subcommand_with_one_line_errors(tmp_path, capsys):
    assert rswap(["--help"]) == 0
    assert "fixer" in capsys.readouterr().out
    code = rswap(["fixer", "--faces", str(tmp_path / "missing"), "--out", str(tmp_path / "f.safetensors")])
    err = capsys.readouterr().err.strip()
    assert code == 2 and err.startswith("rswap: error:") and "\n" not in err, err
    assert not (tmp_path / "f.safetensors").exists()


def test_product_code_never_imports_the_test_fixtures():
    """rswap.testing and realtime.testing (rendered clips, a synthetic camera) are for tests,
    benchmarks and the demo only."""
    product = ("rswap", "realtime", "convert", "training", "engine_build", "evaluation", "cli")
    allowed = {"rswap/testing/render.py", "realtime/testing.py", "convert/demo.py"}
    offenders = [
        str(path.relative_to(REPO))
        for package in product
        for path in sorted((REPO / package).rglob("*.py"))
        if str(path.relative_to(REPO)) not in allowed
        and any(m.startswith(("rswap.testing", "realtime.testing")) for m in _imported_modules(path))
    ]
    assert offenders == []


_FAULTS = """
import resource, sys
import numpy as np
if sys.argv[1] == "keep":
    from rswap.entry import keep_freed_memory
    keep_freed_memory()
def frame():  # a swap's worth of whole-crop temporaries, made, written and freed
    arrays = [np.zeros((256, 256), np.float32) for _ in range(8)]
    for a in arrays:
        a += 1
for _ in range(3):
    frame()
before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
for _ in range(20):
    frame()
print(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
"""


@pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="keep_freed_memory tunes glibc's malloc")
def test_commands_reuse_the_memory_a_frame_freed_instead_of_faulting_in_fresh_pages():
    """keep_freed_memory (every command calls it): a frame's freed arrays are reused by the
    next frame, where glibc's defaults gave them back to the kernel and each page of the next
    frame's arrays came back zeroed at a page fault."""
    faults = {mode: int(subprocess.run([sys.executable, "-c", _FAULTS, mode], capture_output=True, text=True,
                                       check=True).stdout) for mode in ("default", "keep")}
    assert faults["default"] > 200  # ~30 of each array's 64 pages, every frame
    assert faults["keep"] < 20
