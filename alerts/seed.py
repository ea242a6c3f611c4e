"""Rules from ``ALERTS_FILE``: a TOML file that seeds the rules of an unattended screen.

```toml
[[alert]]
kind = "price_above"
pair = "BTC-USD"
value = "45000"          # text or a number; TOML floats are read exactly
message = "BTC above 45k"

[[alert]]
kind = "feed_down"
exchange = "coinbase"
seconds = 120
```

Each ``[[alert]]`` takes the fields of ``POST /api/alerts``. At every start the file's rules
are made exactly the stored ``file`` rules: the same file twice adds nothing, a rule taken out
of the file is deleted, a changed one replaced (its state starts afresh).
"""

from __future__ import annotations

import tomllib
from collections.abc import Collection
from decimal import Decimal
from pathlib import Path

from .rules import Rule, RuleError, parse_rule


class AlertsFileError(ValueError):
    """The file can't be used; the message says where (``rule 2: value: ...``)."""


def load_rules(path: str | Path, exchanges: Collection[str] | None = None) -> list[Rule]:
    """Read and validate every rule of the file; raise ``AlertsFileError`` on the first problem."""
    try:
        with open(path, "rb") as file:
            data = tomllib.load(file, parse_float=Decimal)
    except OSError as exc:
        raise AlertsFileError(f"cannot read {str(path)!r}: {exc.strerror or exc}") from None
    except tomllib.TOMLDecodeError as exc:
        raise AlertsFileError(f"{str(path)!r} is not valid TOML: {exc}") from None
    unknown = [key for key in data if key != "alert"]
    if unknown:
        raise AlertsFileError(f"{unknown[0]!r}: unknown table; write each rule as [[alert]]")
    entries = data.get("alert", [])
    if not isinstance(entries, list):
        raise AlertsFileError("alert: write each rule as [[alert]]")
    rules = []
    for number, entry in enumerate(entries, start=1):
        try:
            rules.append(parse_rule(entry, exchanges).with_id(0, "file"))
        except RuleError as exc:
            raise AlertsFileError(f"rule {number}: {exc}") from None
    return rules
