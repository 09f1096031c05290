"""The one `KEY=VALUE` parser: spider arguments and Scrapy settings (`dobae crawl run -a/-s`, kept
as text), answerer options (`dobae evaluate -o`) and training-config overrides (`dobae train --set`),
typed."""

from __future__ import annotations

import tomllib
from collections.abc import Iterable
from typing import Any

from foundation.errors import DobaeError, InputError


def typed_value(raw: str) -> Any:
    """`true`/`false` in any case as a boolean, else a TOML literal when it parses (numbers, lists,
    quoted strings), else the text as written."""
    raw = raw.strip()
    if raw.lower() in ("true", "false"):
        return raw.lower() == "true"
    try:
        return tomllib.loads(f"v = {raw}")["v"]
    except tomllib.TOMLDecodeError:
        return raw


def parse_key_values(
    items: Iterable[str] | None,
    flag: str,
    example: str,
    *,
    typed: bool = False,
    error: type[DobaeError] = InputError,
) -> dict[str, Any]:
    """`["k=5", "text=a=b"]` → `{"k": "5", "text": "a=b"}` (split at the first `=`, key stripped;
    `typed`: values through `typed_value`). An item without `=` or without a key is one `error`
    naming the flag and an example."""
    out: dict[str, Any] = {}
    for item in items or []:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise error(f"{flag} {item!r}: use key=value (KEY=VALUE), e.g. {flag} {example}")
        out[key.strip()] = typed_value(value) if typed else value
    return out
