"""Versioned Korean prompt templates (`augment/prompts/*.toml`), rendered with Jinja2.

Each file holds `name`, `version`, `description`, `output` (the pydantic model its answer must
fit), a `system` and a `user` template, and optionally a `[completion]` table: the few-shot text
prompt that base models get in completion mode (`llm.mode`). Crawled text is untrusted: templates put it between
`<자료>` and `</자료>`, and `render()` strips those delimiters from the values so a crawled text
cannot close the block early. The template name and version go on every generation row.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import jinja2

from foundation.errors import ConfigError

PROMPTS_DIR = Path(__file__).resolve().parent / "prompts"
_DELIMITERS = ("<자료>", "</자료>")
_ENV = jinja2.Environment(undefined=jinja2.StrictUndefined, autoescape=False, keep_trailing_newline=False)


def neutralise(text: str) -> str:
    """Untrusted text with the untrusted-block delimiters removed (so it cannot escape the block)."""
    for d in _DELIMITERS:
        text = text.replace(d, "")
    return text.strip()


def _clean(value: Any) -> Any:
    if isinstance(value, str):
        return neutralise(value)
    if isinstance(value, list | tuple):
        return [_clean(v) for v in value]
    return value


def _one_line(value: Any) -> Any:
    """A completion prompt's value on one line (its examples and answers are newline-separated)."""
    if isinstance(value, str):
        return " ".join(neutralise(value).split())
    return value


@dataclass(frozen=True)
class CompletionTemplate:
    """Few-shot text for base models (`llm.mode = completion`): header, examples, then the query the
    model continues; generation stops at `stop`. `examples` are the template's own written examples
    (lists of values in the order the operation names them), used when the database has none."""

    header: str
    example: str
    query: str
    stop: tuple[str, ...]
    max_tokens: int | None
    examples: tuple[tuple[str, ...], ...]

    def render(self, examples: list[dict[str, Any]], **values: Any) -> str:
        try:
            shots = "".join(
                _ENV.from_string(self.example).render(**{k: _one_line(v) for k, v in ex.items()})
                for ex in examples
            )
            query = _ENV.from_string(self.query).render(**{k: _one_line(v) for k, v in values.items()})
        except jinja2.UndefinedError as exc:
            raise ConfigError(f"completion template: {exc}") from exc
        return self.header + shots + query


@dataclass(frozen=True)
class PromptTemplate:
    name: str
    version: str
    description: str
    output: str
    system: str
    user: str
    completion: CompletionTemplate | None = None

    def render(self, **values: Any) -> list[dict[str, str]]:
        """Chat messages for these values (every string value is treated as untrusted)."""
        clean = {k: _clean(v) for k, v in values.items()}
        try:
            user = _ENV.from_string(self.user).render(**clean).strip()
        except jinja2.UndefinedError as exc:
            raise ConfigError(f"prompt template {self.name} v{self.version}: {exc}") from exc
        return [{"role": "system", "content": self.system.strip()}, {"role": "user", "content": user}]


@lru_cache(maxsize=32)
def load_template(name: str, prompts_dir: Path = PROMPTS_DIR) -> PromptTemplate:
    """The template `prompts_dir/NAME.toml`."""
    path = prompts_dir / f"{name}.toml"
    if not path.exists():
        known = ", ".join(sorted(p.stem for p in prompts_dir.glob("*.toml")))
        raise ConfigError(f"no prompt template {path}; known: {known}")
    data = tomllib.loads(path.read_text(encoding="utf-8-sig"))
    missing = [k for k in ("name", "version", "output", "system", "user") if k not in data]
    if missing:
        raise ConfigError(f"{path}: missing keys {', '.join(missing)}")
    completion = None
    if "completion" in data:
        c = data["completion"]
        missing = [k for k in ("header", "example", "query") if k not in c]
        if missing:
            raise ConfigError(f"{path}: [completion] is missing {', '.join(missing)}")
        completion = CompletionTemplate(
            header=str(c["header"]),
            example=str(c["example"]),
            query=str(c["query"]),
            stop=tuple(str(x) for x in c.get("stop", [])),
            max_tokens=int(c["max_tokens"]) if "max_tokens" in c else None,
            examples=tuple(tuple(str(v) for v in ex) for ex in c.get("examples", [])),
        )
    return PromptTemplate(
        name=str(data["name"]),
        version=str(data["version"]),
        description=str(data.get("description", "")),
        output=str(data["output"]),
        system=str(data["system"]),
        user=str(data["user"]),
        completion=completion,
    )


GLOSSARY_PATH = Path(__file__).resolve().parent / "glossary.txt"


def load_glossary(path: Path = GLOSSARY_PATH) -> list[str]:
    """Domain keywords, one per line (`#` comments, blank lines ignored), NFC-normalised, in order."""
    import unicodedata

    if not path.exists():
        raise ConfigError(f"glossary file {path} does not exist")
    terms: list[str] = []
    for line in path.read_text(encoding="utf-8-sig").splitlines():
        term = unicodedata.normalize("NFC", line.split("#", 1)[0].strip())
        if term and term not in terms:
            terms.append(term)
    return terms
