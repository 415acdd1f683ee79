"""First-party imports stand at the top of each module, where the dependency graph (and the
layer contract of `lint-imports`) can see them. Two exceptions keep start-up light: the
command-line group, which `livegate --help` loads, imports the workspace and alert services only
when needed; and the workspace loads YAML and pydantic only to validate its config afresh, since
`status` reads the effective config from its cache."""

from __future__ import annotations

import ast
from pathlib import Path

import livegate

PACKAGE = Path(livegate.__file__).parent
ALLOWED = {
    "cli/__init__.py": "`livegate --help` must not load the workspace or alert services",
    "config/workspace.py": "`livegate status` must not load YAML or pydantic's config models on a cache hit",
}


def first_party_imports_in_functions(source: str) -> list[int]:
    lines = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            for sub in ast.walk(node):
                if isinstance(sub, ast.ImportFrom) and (sub.module or "").startswith("livegate") and sub.level == 0:
                    lines.append(sub.lineno)
                elif isinstance(sub, ast.ImportFrom) and sub.level > 0:
                    lines.append(sub.lineno)
                elif isinstance(sub, ast.Import) and any(a.name.split(".")[0] == "livegate" for a in sub.names):
                    lines.append(sub.lineno)
    return sorted(set(lines))


def test_first_party_imports_are_at_module_level():
    found = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        rel = path.relative_to(PACKAGE).as_posix()
        lines = first_party_imports_in_functions(path.read_text(encoding="utf-8"))
        if lines and rel not in ALLOWED:
            found[rel] = lines
    assert not found, f"first-party imports inside functions (move them to the top): {found}"


def test_the_check_sees_an_import_inside_a_function():
    assert first_party_imports_in_functions("def f():\n    from livegate.core import errors\n") == [2]
    assert first_party_imports_in_functions("def f():\n    if x:\n        import livegate.cli\n") == [3]
    assert first_party_imports_in_functions("import numpy\ndef f():\n    import numpy as np\n") == []
