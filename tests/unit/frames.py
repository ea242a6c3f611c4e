"""Loading the frames under ``tests/fixtures/<exchange>/`` for the parser tests."""

from __future__ import annotations

from pathlib import Path

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"


def recorded_frames(exchange: str, excerpt: str) -> list[str]:
    """The frames received in a recording excerpt, in order (sent and connect lines skipped)."""
    lines = (FIXTURES / exchange / excerpt).read_text().splitlines()
    return [line.split(": ", 1)[1] for line in lines if not line.startswith("wss://")]


def documented_frames(exchange: str) -> dict[str, str]:
    """``docs_frames.txt``: one ``name: frame`` per line, ``#`` lines say where each came from."""
    lines = (FIXTURES / exchange / "docs_frames.txt").read_text().splitlines()
    return dict(line.split(": ", 1) for line in lines if line and not line.startswith("#"))
