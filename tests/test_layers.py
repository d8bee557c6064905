"""The core does not import upward (issue 19): ``edge/`` is the core; ``detectors/`` and
``integrations/`` build on it. Only the modules named in :data:`ALLOWED`, each with the
reason, may import a detector or an integration (at any depth: a lazy import inside a
function counts too). A new upward import fails here with the module and the line."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
UPWARD = ("detectors", "integrations")

ALLOWED = {
    "edge/app.py": "the composition root: it finds the detectors and hands them to the hub "
    "(their contract is the core's, edge/contract.py), wires the integrations, and the "
    "commands reach an integration through it",
}


def upward_imports(path: Path) -> list[tuple[int, str]]:
    """(line, module) of every import of a detector or integration module in ``path``."""
    found: list[tuple[int, str]] = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [node.module]
        found += [(node.lineno, n) for n in names if n.split(".")[0] in UPWARD]
    return found


def test_the_core_imports_no_detector_or_integration() -> None:
    wrong = [
        f"{rel}:{line} imports {module}"
        for path in sorted((ROOT / "edge").rglob("*.py"))
        if (rel := path.relative_to(ROOT).as_posix()) not in ALLOWED
        for line, module in upward_imports(path)
    ]
    assert wrong == []


def test_each_allowed_module_still_needs_its_exception() -> None:
    """An exception nobody uses any more is taken out of the list."""
    unused = [rel for rel in ALLOWED if not upward_imports(ROOT / rel)]
    assert unused == []


def test_the_check_sees_lazy_imports(tmp_path: Path) -> None:
    sample = tmp_path / "m.py"
    sample.write_text("def f():\n    from integrations.central import FlatStats\n")
    assert upward_imports(sample) == [(2, "integrations.central")]
