"""Issue 19's rule for the core: no function over 60 lines and no class over 250 lines in
``edge/`` and ``detectors/``, unless a comment on its ``def`` or ``class`` line says why
or the line above it (``# long: <why>``). A new long one fails here with its place and
size."""

from __future__ import annotations

import ast
from pathlib import Path

from tests.conftest import ROOT

LIMITS = {"def": 60, "class": 250}


def too_long(folders: list[Path], base: Path) -> list[str]:
    out = []
    for folder in folders:
        for path in sorted(folder.rglob("*.py")):
            lines = path.read_text(encoding="utf-8").splitlines()
            for node in ast.walk(ast.parse("\n".join(lines), str(path))):
                if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                    what = "def"
                elif isinstance(node, ast.ClassDef):
                    what = "class"
                else:
                    continue
                size = (node.end_lineno or node.lineno) - node.lineno + 1
                top = min([node.lineno, *(d.lineno for d in node.decorator_list)])
                head = lines[max(top - 2, 0) : node.body[0].lineno - 1]  # the line above it too
                if size > LIMITS[what] and not any("# long: " in line for line in head):
                    where = path.relative_to(base)
                    out.append(f"{where}:{node.lineno} {what} {node.name}: {size} lines")
    return out


def test_no_long_function_or_class_without_a_reason() -> None:
    assert too_long([ROOT / "edge", ROOT / "detectors"], ROOT) == []


def test_the_rule_names_a_long_function_and_accepts_a_reason(tmp_path: Path) -> None:
    body = "\n".join(f"    x{i} = {i}" for i in range(60))
    (tmp_path / "a.py").write_text(f"def short():\n{body[: body.rindex(chr(10))]}\n")
    (tmp_path / "b.py").write_text(f"def long(\n    y: int,\n):\n{body}\n")
    (tmp_path / "c.py").write_text(f"def why(  # long: one table, read top to bottom\n):\n{body}\n")
    (tmp_path / "d.py").write_text(f"x = 1\n# long: a reason above\ndef above():\n{body}\n")
    assert too_long([tmp_path], tmp_path) == ["b.py:1 def long: 63 lines"]
