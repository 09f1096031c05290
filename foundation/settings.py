"""The one typed settings object. Every stage reads its configuration from here.

Layering: defaults < `.env` file < environment variables (`DOBAE_` prefix, `__` for nesting,
e.g. `DOBAE_LLM__BASE_URL`). Secrets are `SecretStr` and never printed.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


class LLMSettings(BaseModel):
    """Any OpenAI-compatible server (vLLM, llama.cpp, `transformers serve`, OpenAI itself)."""

    base_url: str = Field("http://127.0.0.1:8011/v1", description="OpenAI-compatible base URL")
    api_key: SecretStr = Field(SecretStr("local"), description="API key (never logged)")
    model: str = Field("", description="model name as the server knows it; empty: the local default model")
    concurrency: int = Field(8, ge=1, le=1024, description="requests in flight at once")
    timeout_s: float = Field(120.0, gt=0, description="per-request timeout")
    max_retries: int = Field(5, ge=0, le=20, description="retries on 429/5xx/timeouts")
    transport: Literal["sdk", "aiohttp"] = Field(
        "sdk",
        description="chat requests through the async openai SDK (default, ~1 ms of client CPU per request) "
        "or posted directly with one aiohttp session (~0.4 ms; for high-volume jobs on small machines)",
    )
    mode: Literal["chat", "completion", "auto"] = Field(
        "auto",
        description="chat: /chat/completions with instructions (instruction-tuned models); completion: "
        "few-shot text prompts through /completions with stop sequences (base models such as the shipped "
        "Gemma-3-270M); auto: completion unless the model's name says it is instruction-tuned "
        "(instruct, chat, -it) or the server has no /completions (probed once)",
    )
    temperature: float = Field(0.7, ge=0, le=2)
    max_tokens: int = Field(512, ge=1)
    seed: int = Field(0)


class CrawlSettings(BaseModel):
    pseudonymize_authors: bool = Field(True, description="store author ids/nicknames as salted hashes")
    author_salt: SecretStr = Field(SecretStr("dobae-default-salt"), description="salt for author pseudonyms")
    user_agent: str = Field("dobae-crawler/0.1 (+https://github.com/dobae)", description="crawler User-Agent")


class FetchSettings(BaseModel):
    """Limits of one fetch of a URL the user names (`docs add URL`, `crawl probe URL`; foundation/fetch.py)."""

    max_mb: float = Field(50.0, gt=0, description="largest body read, in MiB (decompressed)")
    deadline_s: float = Field(60.0, gt=0, description="longest time one fetch may take in all")
    idle_s: float = Field(20.0, gt=0, description="longest wait for the connection or the next bytes")


class GateSettings(BaseModel):
    """Quality gates for generated pairs (augment/gates.py). Order is data: gates run in `order`."""

    order: list[str] = Field(
        default_factory=lambda: [
            "parse_error",
            "empty",
            "too_short",
            "too_long",
            "not_korean",
            "refusal",
            "prompt_injection",
            "exact_duplicate",
            "near_duplicate",
            "test_leakage",
            "semantic_duplicate",
            "semantic_drift",
            "ungrounded",
            "repetition",
            "not_a_question",
        ],
        description="gate names, run in this order",
    )
    min_chars: int = Field(8, ge=0, description="shorter generated text: too_short")
    max_chars: int = Field(1500, ge=1, description="longer generated text: too_long")
    min_hangul_ratio: float = Field(
        0.4, ge=0, le=1, description="Hangul share of letters below this: not_korean"
    )
    drift_min_cosine: float = Field(
        0.5, ge=-1, le=1, description="cosine to the source below this: semantic_drift"
    )
    semantic_dup_cosine: float = Field(
        0.97, ge=-1, le=1, description="cosine to another group at/above: semantic_duplicate"
    )
    leakage_cosine: float = Field(
        0.9, ge=-1, le=1, description="cosine to a test question at/above: test_leakage"
    )
    near_dup_threshold: float = Field(
        0.8, gt=0, le=1, description="MinHash Jaccard estimate at/above: near_duplicate"
    )
    ground_lexical_min: float = Field(
        0.5,
        ge=0,
        le=1,
        description="ungrounded: an answer sentence is supported by its chunk when at least this share of its "
        "character bigrams occur in the chunk …",
    )
    ground_cosine_min: float = Field(
        0.6,
        ge=-1,
        le=1,
        description="… or its embedding's cosine to the closest chunk sentence is at least this",
    )
    minhash_ngram: int = Field(5, ge=1, description="character n-gram size for MinHash")
    minhash_num_perm: int = Field(128, ge=16, description="MinHash permutations")
    reject: list[str] = Field(
        default_factory=lambda: [
            "parse_error",
            "empty",
            "not_korean",
            "refusal",
            "prompt_injection",
            "exact_duplicate",
            "test_leakage",
            "ungrounded",
            "repetition",
            "not_a_question",
        ],
        description="reasons that reject a pair; any other reason means needs_review",
    )


class CurationSettings(BaseModel):
    """Machine flags on crawled pairs before a person sees them (augment/curation.py)."""

    order: list[str] = Field(
        default_factory=lambda: [
            "self_answer",
            "not_an_answer",
            "contact_details",
            "advertising",
            "prompt_injection",
            "too_short",
            "too_long",
            "near_duplicate",
            "off_domain",
        ],
        description="crawl filters, run in this order",
    )
    min_chars: int = Field(15, ge=0, description="shorter answer (letters and digits): too_short")
    max_chars: int = Field(1500, ge=1, description="longer answer: too_long")
    near_dup_threshold: float = Field(
        0.8, gt=0, le=1, description="MinHash Jaccard estimate to an earlier answer at/above: near_duplicate"
    )
    off_domain_cosine: float = Field(
        0.25,
        ge=-1,
        le=1,
        description="best cosine of the pair to any category centroid below this (and no glossary term): "
        "off_domain",
    )
    liked_min: int = Field(10, ge=1, description="likes at/above this: +liked signal")
    reject: list[str] = Field(
        default_factory=list, description="flags that reject a crawled pair; any other flag: needs_review"
    )


class DocsSettings(BaseModel):
    """Reference documents (augment/documents.py) and the Q&A grounded on them (`from-docs`, augment/operations/grounded.py)."""

    chunk_chars: int = Field(350, ge=50, description="longest chunk of whole sentences, in characters")
    overlap_chars: int = Field(
        120, ge=0, description="at most this many characters of sentences repeated from the previous chunk"
    )
    max_chunks: int = Field(
        2000,
        ge=1,
        description="most chunks kept of one document (a warning names what is left out); Kiwi splits "
        "≈ 30-40 µs a character, so 2,000 chunks of 350 characters take ≈ 30 s",
    )
    pairs_per_chunk: int = Field(
        2, ge=1, le=10, description="Q&A pairs asked for per chunk (chat mode; completion mode: 1)"
    )


class AugmentSettings(BaseModel):
    """LLM augmentation (augment/): paraphrases, keywords, keyword-seeded and compound pairs."""

    structured_output: bool = Field(True, description="send response_format json_schema (dropped if refused)")
    backoff_base_s: float = Field(0.5, ge=0, description="first retry delay; doubles per retry, plus jitter")
    backoff_max_s: float = Field(30.0, ge=0, description="longest wait between retries")
    question_paraphrases: int = Field(
        2, ge=1, le=10, description="paraphrases per register (formal, colloquial)"
    )
    answer_paraphrases: int = Field(3, ge=1, le=10, description="answer paraphrases per pair")
    keywords_per_pair: int = Field(5, ge=1, le=20)
    seeded_per_keyword: int = Field(2, ge=1, le=10, description="new pairs per glossary keyword")
    seeded_context_pairs: int = Field(
        3, ge=1, le=10, description="retrieved pairs shown to ground a seeded pair"
    )
    compound_per_pair: int = Field(1, ge=1, le=10, description="compound questions built per selected pair")
    gates: GateSettings = Field(default_factory=GateSettings)
    curation: CurationSettings = Field(default_factory=CurationSettings)
    docs: DocsSettings = Field(default_factory=DocsSettings)


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="DOBAE_", env_nested_delimiter="__", env_file=".env", extra="ignore"
    )

    data_dir: Path = Field(Path("data"), description="where the database, exports and runs live")
    cache_dir: Path | None = Field(None, description="model/vector cache; default DATA_DIR/cache")
    database_url: str | None = Field(None, description="SQLAlchemy URL; default sqlite:///DATA_DIR/dobae.db")
    embedder: str = Field("auto", description="auto|distiluse|muse3|PATH: the scorer's embedder")
    seed: int = Field(42, description="global seed for splits and sampling")
    llm: LLMSettings = Field(default_factory=LLMSettings)
    crawl: CrawlSettings = Field(default_factory=CrawlSettings)
    fetch: FetchSettings = Field(default_factory=FetchSettings)
    augment: AugmentSettings = Field(default_factory=AugmentSettings)

    @property
    def db_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'dobae.db').as_posix()}"

    @property
    def cache_path(self) -> Path:
        return self.cache_dir if self.cache_dir is not None else self.data_dir / "cache"

    def redacted(self) -> dict:
        """Settings as plain data with secrets masked and the database password hidden."""
        data = self.model_dump(mode="json")
        data["database_url"] = mask_url(self.db_url)
        data["cache_dir"] = str(self.cache_path)
        return data


def mask_url(url: str) -> str:
    """`url` with its password shown as `***`, also when it is not a valid SQLAlchemy URL."""
    import re

    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return re.sub(r"(://[^/:@]*:)[^@/]*@", r"\1***@", url)


_SECRET_PARTS = ("key", "salt", "password", "secret", "token", "url")


def _setting_problem(err: Mapping[str, Any]) -> str:
    """One `ValidationError` entry as `DOBAE_LLM__TIMEOUT_S='abc': what it accepts`."""
    loc = [str(p) for p in err.get("loc", ()) if not isinstance(p, int)]
    name = "DOBAE_" + "__".join(p.upper() for p in loc)
    shown = ""
    if "input" in err and not any(part in name.lower() for part in _SECRET_PARTS):
        value = str(err["input"])
        shown = f"={value[:40]!r}" if len(value) <= 40 else f"={value[:40]!r}…"
    return f"{name}{shown}: {err.get('msg', 'not accepted').rstrip('.')}"


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The settings; a value that does not validate is one `ConfigError` line naming the variable."""
    from pydantic import ValidationError
    from pydantic_settings import SettingsError

    from foundation.errors import ConfigError

    try:
        return Settings()
    except ValidationError as exc:
        problems = "; ".join(_setting_problem(e) for e in exc.errors())
        raise ConfigError(
            f"invalid setting: {problems} (from the environment or .env; fix or unset it)"
        ) from None
    except SettingsError as exc:  # DOBAE_LLM=abc, DOBAE_AUGMENT__GATES__ORDER=x: not JSON
        import re

        field = re.search(r'field "(\w+)"', str(exc))
        name = f"DOBAE_{field.group(1).upper()}" if field else "a DOBAE_ variable"
        reason = str(exc.__cause__ or exc).splitlines()[0]
        raise ConfigError(
            f"invalid setting: {name} (or a {name}__… variable): a group or a list must be JSON, "
            f'e.g. DOBAE_AUGMENT__GATES__ORDER=\'["empty","too_long"]\' ({reason}); fix or unset it'
        ) from None


def reset_settings() -> None:
    """Forget the cached settings (tests, or after changing the environment)."""
    get_settings.cache_clear()
