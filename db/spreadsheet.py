"""CSV cells that a spreadsheet would run as formulas (OWASP "CSV injection"), made inert and back.

Crawled text is written by strangers, and the review workflow opens exports in a spreadsheet: a
cell starting with `=`, `+`, `-`, `@`, a tab or a carriage return may be evaluated there
(`=HYPERLINK(…)`, `=cmd|' /C calc'!A0`). `neutralise` prefixes such a cell with an apostrophe,
which spreadsheets show as text; a cell that already starts with an apostrophe gets one more, so
`restore` (used by `dobae review import` on CSV files) undoes it exactly: `restore(neutralise(x))
== x` for every string. JSONL and Parquet are not evaluated by anything and stay untouched.
"""

from __future__ import annotations

from typing import Any

TRIGGERS = ("=", "+", "-", "@", "\t", "\r")
QUOTE = "'"
_ESCAPED = (*TRIGGERS, QUOTE)


def neutralise(value: Any) -> Any:
    """A string that no spreadsheet evaluates; non-strings are returned as they are."""
    if isinstance(value, str) and value.startswith(_ESCAPED):
        return QUOTE + value
    return value


def restore(value: Any) -> Any:
    """The text `neutralise` was given: one leading apostrophe dropped where it added one.

    A lone apostrophe is an empty cell: `neutralise` never makes one, but a guarded tab or CR
    alone (`'\t`) becomes one when the reader strips the whitespace, and spreadsheets show it empty."""
    if (
        isinstance(value, str)
        and value.startswith(QUOTE)
        and (value == QUOTE or value[1:].startswith(_ESCAPED))
    ):
        return value[1:]
    return value
