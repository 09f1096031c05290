"""Tiny causal language models built on the spot: a byte-level BPE tokenizer trained on given texts
and a randomly initialised Qwen2 of the requested shape, saved as an ordinary transformers folder.

They stand in for a real base model wherever one cannot be had or would be too slow: the test
suite (trainer, inference, the augmentation server), benchmarks at reduced size, smoke runs on a
machine without the prepared Gemma. Seconds on a CPU, offline, deterministic for a seed.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

# ChatML: what `transformers serve` needs to turn chat messages into a prompt
CHATML_TEMPLATE = (
    "{% for m in messages %}<|im_start|>{{ m['role'] }}\n{{ m['content'] }}<|im_end|>\n{% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)


@dataclass(frozen=True)
class TinyShape:
    """The Qwen2 configuration fields that matter here (the rest are transformers' defaults)."""

    hidden_size: int = 64
    intermediate_size: int = 128
    num_hidden_layers: int = 2
    num_attention_heads: int = 4
    num_key_value_heads: int = 2
    tie_word_embeddings: bool = False
    max_position_embeddings: int | None = None  # None: the Qwen2 default
    # the default 0.02 bounds a random model's logits so much that LoRA can barely move the loss
    initializer_range: float | None = 0.3


def build_tiny_causal_lm(
    path: Path | str,
    texts: Iterable[str],
    *,
    vocab_size: int = 600,
    shape: TinyShape = TinyShape(),
    special_tokens: tuple[str, ...] = ("<|endoftext|>", "<|im_end|>"),
    chat_template: str | None = None,
    generation_defaults: dict | None = None,
    seed: int = 0,
) -> Path:
    """Train the tokenizer on `texts`, build the model, save both to `path`; returns `path`.

    EOS is `<|im_end|>`, padding `<|endoftext|>`; `generation_defaults` go into the saved
    generation config (EOS and padding are always set)."""
    import torch
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import GenerationConfig, PreTrainedTokenizerFast, Qwen2Config, Qwen2ForCausalLM

    path = Path(path)
    torch.manual_seed(seed)
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=list(special_tokens),
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
    )
    tok.train_from_iterator(list(texts), trainer)
    fast = PreTrainedTokenizerFast(tokenizer_object=tok, eos_token="<|im_end|>", pad_token="<|endoftext|>")
    if chat_template:
        fast.chat_template = chat_template
    fast.save_pretrained(path)
    eos, pad = fast.convert_tokens_to_ids("<|im_end|>"), fast.convert_tokens_to_ids("<|endoftext|>")
    extra = {
        k: v
        for k, v in (
            ("max_position_embeddings", shape.max_position_embeddings),
            ("initializer_range", shape.initializer_range),
        )
        if v is not None
    }
    cfg = Qwen2Config(
        vocab_size=len(fast),
        hidden_size=shape.hidden_size,
        intermediate_size=shape.intermediate_size,
        num_hidden_layers=shape.num_hidden_layers,
        num_attention_heads=shape.num_attention_heads,
        num_key_value_heads=shape.num_key_value_heads,
        tie_word_embeddings=shape.tie_word_embeddings,
        eos_token_id=eos,
        pad_token_id=pad,
        **extra,
    )
    model = Qwen2ForCausalLM(cfg)
    model.generation_config = GenerationConfig(
        eos_token_id=eos, pad_token_id=pad, **(generation_defaults or {})
    )
    model.save_pretrained(path)
    return path
