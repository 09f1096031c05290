"""The prompt form a model gets: `chat` (messages through its chat template) or `completion` (a
plain few-shot prompt, which base models need: they echo a chat prompt)."""

from __future__ import annotations

import json
import logging
import re
from pathlib import Path

from foundation.errors import ConfigError
from foundation.settings import LLMSettings

log = logging.getLogger(__name__)
_INSTRUCT_NAME = re.compile(r"(instruct|chat|(?<![a-z])it(?![a-z])|sft|dpo|rlhf|assistant)", re.I)


def resolve_mode(llm: LLMSettings, model: str | None = None) -> str:
    """`llm.mode`, with `auto` resolved: `chat` when the model's name says it is instruction-tuned
    (…-Instruct, …-chat, gemma-…-it) or when the server has no `/completions` (one probe request of
    one token); otherwise `completion`, which base models need (they echo a chat prompt)."""
    if llm.mode != "auto":
        return llm.mode
    name = Path(model or llm.model or "").name
    if name and _INSTRUCT_NAME.search(name.replace("_", "-")):
        return "chat"
    import urllib.error
    import urllib.request

    body = json.dumps({"model": model or llm.model, "prompt": "도배", "max_tokens": 1}).encode("utf-8")
    req = urllib.request.Request(
        llm.base_url.rstrip("/") + "/completions",
        data=body,
        headers={
            "Content-Type": "application/json",
            "Authorization": f"Bearer {llm.api_key.get_secret_value() or 'none'}",
        },
    )
    try:
        with urllib.request.urlopen(req, timeout=llm.timeout_s) as resp:
            return "completion" if resp.status == 200 else "chat"
    except urllib.error.HTTPError as exc:
        if exc.code in (404, 405, 501):
            log.warning("the server has no /completions (HTTP %s): chat mode", exc.code)
            return "chat"
        raise ConfigError(
            f"probing {llm.base_url}/completions for llm.mode=auto failed: HTTP {exc.code}"
        ) from exc
    except (urllib.error.URLError, OSError) as exc:
        # No answer at all: the requests themselves will fail and name the cause (refused, DNS,
        # TLS, timeout) per item; the probe only decides the prompt form.
        log.warning(
            "cannot reach %s to probe llm.mode=auto (%s): chat mode; set DOBAE_LLM__MODE=chat|completion "
            "to skip the probe",
            llm.base_url,
            exc,
        )
        return "chat"
