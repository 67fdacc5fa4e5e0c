"""The house rules that keep the layout readable, checked on every `make test`: the import contracts
(pyproject.toml: data flows one way, no circles), no private name imported from another package,
ruff's lint and format, and the docs site building strictly."""

import ast
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import REPO

SRC = REPO / "src" / "mnistlab"
BIN = Path(sys.executable).parent


def _package(module: str) -> str:
    """The stage a module belongs to: `mnistlab.training.core` -> `mnistlab.training`; a top-level
    module (`mnistlab.images`) is its own."""
    parts = module.split(".")
    return ".".join(parts[:2])


def _module_name(path: Path) -> str:
    rel = path.relative_to(SRC.parent).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def test_no_private_name_is_imported_from_another_package():
    crossings = []
    for path in SRC.rglob("*.py"):
        importer = _module_name(path)
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("mnistlab"):
                for alias in node.names:
                    private = alias.name.startswith("_") and not alias.name.startswith("__")
                    if private and _package(node.module) != _package(importer):
                        crossings.append(f"{importer}: from {node.module} import {alias.name}")
    assert not crossings, "\n".join(crossings)


def test_the_import_contracts_hold():
    """import-linter: the layers (data -> models -> runs -> training -> inference -> reading ->
    batch / serving / export -> api -> cli) and no circles between a package's modules."""
    res = subprocess.run([str(BIN / "lint-imports")], cwd=REPO, capture_output=True, text=True)
    assert res.returncode == 0, res.stdout[-3000:]


def test_ruff_lints_and_formats_clean():
    check = subprocess.run(
        [str(BIN / "ruff"), "check", "src", "tests", "benchmarks", "tools"],
        cwd=REPO,
        capture_output=True,
        text=True,
    )
    assert check.returncode == 0, check.stdout[-3000:]
    fmt = subprocess.run(
        [str(BIN / "ruff"), "format", "--check", "src", "tests", "benchmarks", "tools"],
        cwd=REPO,
        capture_output=True,
        text=True,
    )
    assert fmt.returncode == 0, fmt.stdout[-3000:]


@pytest.mark.timeout(300)
def test_the_docs_site_builds_strictly_offline(tmp_path):
    if not (BIN / "mkdocs").exists() and not shutil.which("mkdocs"):
        pytest.skip("mkdocs is not installed (pip install -e '.[dev]')")
    res = subprocess.run(
        [str(BIN / "mkdocs"), "build", "--strict", "--site-dir", str(tmp_path / "site")],
        cwd=REPO,
        capture_output=True,
        text=True,
        env={**os.environ, "NO_MKDOCS_2_WARNING": "1"},
    )
    assert res.returncode == 0, res.stderr[-3000:]
    for page in (tmp_path / "site").glob("*.html"):  # nothing loaded from elsewhere: it works offline
        html = page.read_text()
        assert not re.search(r"""<(script|link|img)[^>]+(src|href)=["']https?://""", html), page.name
    cli = (tmp_path / "site" / "cli.html").read_text()
    assert "mnistlab read" in cli and "--jsonl" in cli  # generated from the parser itself
    api = (tmp_path / "site" / "api.html").read_text()
    assert "read_many" in api  # from the docstrings
