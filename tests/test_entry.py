"""Entry points: every command runs through the core's rswap.entry (one-line errors, interrupts),
and no app imports cli/, which imports the apps by name."""

from __future__ import annotations

import ast
from pathlib import Path

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
