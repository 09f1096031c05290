"""Versioned Korean prompt templates (`augment/prompts/*.toml`), rendered with Jinja2.

Each file holds `name`, `version`, `description`, `output` (the pydantic model its answer must
fit), a `system` and a `user` template. Crawled text is untrusted: templates put it between
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

from dobae.errors import ConfigError

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


@dataclass(frozen=True)
class PromptTemplate:
    name: str
    version: str
    description: str
    output: str
    system: str
    user: str

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
    return PromptTemplate(
        name=str(data["name"]),
        version=str(data["version"]),
        description=str(data.get("description", "")),
        output=str(data["output"]),
        system=str(data["system"]),
        user=str(data["user"]),
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
