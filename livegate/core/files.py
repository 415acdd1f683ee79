"""Reading an input file the operator named, with one clear error instead of a traceback."""

from __future__ import annotations

from pathlib import Path

from livegate.core.errors import LivegateError, UsageError


def read_input(path: Path, name: str, error: type[LivegateError] = UsageError) -> bytes:
    """The file's bytes; a missing file, a directory or an unreadable file raise `error`
    naming it."""
    try:
        return Path(path).read_bytes()
    except FileNotFoundError:
        raise error(f"{name}: no such file") from None
    except IsADirectoryError:
        raise error(f"{name}: is a directory, expected a file") from None
    except OSError as exc:
        raise error(f"{name}: cannot read the file ({exc.strerror or exc})") from None
