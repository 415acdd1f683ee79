"""Ledger reads in one place: no SQL and no database connection of its own anywhere in livegate
outside `livegate/ledger/`. Every read goes through `livegate.ledger.queries`, every write
through `livegate.ledger.store.Ledger`.

The check reads each module's tokens: in code, the names that open or query a database
(`sqlite3`, `connect_readonly`, `iter_events`, `.execute(`, `.fetchall(`…); in string literals, SQL statements (`SELECT … FROM`,
`json_extract(`, `UPDATE … SET`, the ledger's tables…). Comments and prose in docstrings do
not count."""

from __future__ import annotations

import ast
import io
import re
import tokenize
from pathlib import Path

import pytest

import livegate

PACKAGE = Path(livegate.__file__).resolve().parent
LEDGER = PACKAGE / "ledger"

# Names that open or query a database, wherever they appear as code.
FORBIDDEN_NAMES = {"sqlite3", "sqlite_utils", "apsw", "connect_readonly", "iter_events"}
# DB-API methods, forbidden when called as an attribute: `x.execute(…)`.
FORBIDDEN_METHODS = {"execute", "executemany", "executescript", "fetchone", "fetchall", "fetchmany", "cursor"}
# SQL inside string literals (f-strings included).
SQL_PATTERNS = [
    re.compile(r"\bSELECT\s+[\s\S]+?\bFROM\b"),
    re.compile(r"\bINSERT\s+(?:OR\s+\w+\s+)?INTO\b"),
    re.compile(r"\bUPDATE\s+\w+\s+SET\b"),
    re.compile(r"\bDELETE\s+FROM\b"),
    re.compile(r"\bPRAGMA\s+\w+"),
    re.compile(r"\bCREATE\s+(?:TABLE|INDEX|TRIGGER|VIEW)\b"),
    re.compile(r"(?i)\bjson_extract\s*\("),
    # lower-case SQL: only against the ledger's own tables (prose says "select … from the list")
    re.compile(r"(?i)\b(?:select\s+[\s\S]{1,300}?\bfrom|insert\s+into|update|delete\s+from)\s+(?:events|ledger_head)\b"),
    re.compile(r"\bledger_head\b"),
]

# Code outside the ledger that may hold SQL: (module path, function) -> why. Each is a database
# that is not the ledger; the check still applies to the rest of the module.
ALLOWED = {
    ("livegate/adapters/freqtrade.py", None): "reads a Freqtrade dry-run SQLite database the operator imports, not the ledger",
}

_STRING_TOKENS = {tokenize.STRING} | ({tokenize.FSTRING_MIDDLE} if hasattr(tokenize, "FSTRING_MIDDLE") else set())


def sql_findings(source: str) -> list[tuple[int, str]]:
    """(line, what) of every database access or SQL text in `source`, in order."""
    found: list[tuple[int, str]] = []
    tokens = [t for t in tokenize.generate_tokens(io.StringIO(source).readline)
              if t.type not in (tokenize.COMMENT, tokenize.NL, tokenize.NEWLINE, tokenize.INDENT, tokenize.DEDENT)]
    for i, tok in enumerate(tokens):
        if tok.type == tokenize.NAME:
            if tok.string in FORBIDDEN_NAMES:
                found.append((tok.start[0], f"name {tok.string}"))
            elif (tok.string in FORBIDDEN_METHODS and 0 < i < len(tokens) - 1
                  and tokens[i - 1].string == "." and tokens[i + 1].string == "("):
                found.append((tok.start[0], f".{tok.string}("))
        elif tok.type in _STRING_TOKENS:
            for pattern in SQL_PATTERNS:
                match = pattern.search(tok.string)
                if match:
                    line = tok.start[0] + tok.string.count("\n", 0, match.start())
                    found.append((line, f"SQL {' '.join(match.group(0).split())[:60]!r}"))
                    break
    return sorted(found)


def _allowed_lines(path: Path, source: str) -> set[int]:
    rel = path.relative_to(PACKAGE.parent).as_posix()
    names = {name for (module, name) in ALLOWED if module == rel}
    if not names:
        return set()
    if None in names:  # the whole module is an adapter for a database that is not the ledger
        return set(range(1, source.count("\n") + 2))
    lines: set[int] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.name in names:
            lines.update(range(node.lineno, node.end_lineno + 1))
    return lines


def _modules_outside_the_ledger() -> list[Path]:
    return sorted(p for p in PACKAGE.rglob("*.py") if LEDGER not in p.parents)


def test_no_sql_and_no_connection_outside_the_ledger():
    problems = []
    for path in _modules_outside_the_ledger():
        source = path.read_text(encoding="utf-8")
        allowed = _allowed_lines(path, source)
        for line, what in sql_findings(source):
            if line not in allowed:
                problems.append(f"{path.relative_to(PACKAGE.parent)}:{line}: {what}")
    assert not problems, ("ledger reads belong in livegate/ledger/queries.py (writes: livegate.ledger.store.Ledger):\n"
                          + "\n".join(problems))


def test_the_walk_covers_the_package_and_leaves_out_only_the_ledger():
    modules = {p.relative_to(PACKAGE).as_posix() for p in _modules_outside_the_ledger()}
    assert {"services/modes.py", "services/mode_switch.py", "phases/paper/run.py", "services/monitoring/runs.py", "demo.py"} <= modules
    assert not any(m.startswith("ledger/") for m in modules)
    assert sql_findings((LEDGER / "queries.py").read_text(encoding="utf-8")), "the detector must see the SQL of the query module"


def test_every_allowed_exception_still_exists_and_still_needs_it():
    for (module, function), why in ALLOWED.items():
        path = PACKAGE.parent / module
        source = path.read_text(encoding="utf-8")
        lines = _allowed_lines(path, source)
        where = module if function is None else f"{module}:{function}"
        assert lines, f"{where}: not there any more; drop it from ALLOWED ({why})"
        assert any(line in lines for line, _ in sql_findings(source)), f"{where} holds no SQL any more; drop it from ALLOWED"


@pytest.mark.parametrize("snippet", [
    'rows = conn.execute("SELECT payload FROM events WHERE kind = ?", (k,)).fetchall()',
    'import sqlite3',
    'events = list(iter_events(conn, kinds=("signoff",)))',
    'sql = f"SELECT kind, count(*) FROM events WHERE {where} GROUP BY kind"',
    'where = "id >= ? AND json_extract(payload, \'$.run\') = ?"',
    'q = "select payload from events where id = ?"',
    'q = "delete from events"',
    'conn.executescript("PRAGMA journal_mode=WAL")',
    'ledger.db.execute("UPDATE ledger_head SET last_id = last_id WHERE id = 1")',
    'row = cur.fetchone()',
    'db.executemany(statement, rows)',
    '"""Reads\n    SELECT id\n    FROM events"""',
])
def test_the_check_catches(snippet):
    assert sql_findings(snippet + "\n")


@pytest.mark.parametrize("snippet", [
    '"""Select the latest run from the list; it is updated with every order."""',
    "# conn.execute(\"SELECT 1 FROM events\") was here once",
    "executor.execute_order(order)",
    "cursor = since_ms  # a paging cursor, not a database one",
    'message = "the operator may delete from the workspace what is not needed"',
    "queries.events(conn, kinds=(MODE_CHANGED,), limit=1, descending=True)",
    'LEDGER_FILE = "ledger.db"',
    "from livegate.ledger import queries\nn = queries.count_events(ws.ledger_path, 'drill_started')",
])
def test_the_check_leaves_alone(snippet):
    assert sql_findings(snippet + "\n") == []
