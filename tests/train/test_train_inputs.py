"""Export reading, grouped split, answer-only mask and config validation (no training)."""

from __future__ import annotations

import json

import pytest

from foundation.errors import ConfigError, InputError
from qa.pairs import read_export
from tests.train.conftest import export_rows, write_config, write_jsonl
from train.config import load_config
from train.data import IGNORE_INDEX, encode_example, metric_items, split_by_group


def test_read_export_records_sha256_and_nfc(tmp_path):
    import hashlib
    import unicodedata

    rows = export_rows()
    rows[0]["question"] = unicodedata.normalize("NFD", rows[0]["question"])
    path = write_jsonl(tmp_path / "e.jsonl", rows)
    path.write_bytes(b"\xef\xbb\xbf" + path.read_bytes())  # a BOM is accepted
    data = read_export(path)
    assert data.sha256 == hashlib.sha256(path.read_bytes()).hexdigest()
    assert len(data.pairs) == len(rows)
    assert data.pairs[0].question == unicodedata.normalize("NFC", rows[0]["question"])


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("", "no pairs"),
        ("\n\n", "no pairs"),
        (
            '{"id": 1, "group_id": "g", "question": "벽지?", "answer": "네"}\n{"id": 2, ',
            "line 2: not valid JSON",
        ),
        ("[1, 2]\n", "line 1: expected a JSON object"),
        ('{"id": 1, "group_id": "g", "question": "벽지?"}\n', "line 1: missing field\\(s\\) answer"),
        (
            '{"id": 1, "group_id": "g", "question": "  ", "answer": "네"}\n',
            "line 1: field 'question' is empty",
        ),
        (
            '{"id": 1, "group_id": "g", "question": 3, "answer": "네"}\n',
            "line 1: field 'question' must be a string",
        ),
        (
            '{"id": 1, "group_id": "g", "question": "a", "answer": "b"}\n{"id": 1, "group_id": "g", "question": "c", '
            '"answer": "d"}\n',
            "line 2: duplicate pair id '1' \\(first on line 1\\)",
        ),
        (
            '{"id": 1, "group_id": "g", "question": "a", "answer": "b", "status": "rejected"}\n',
            "line 1: pair 1 has status 'rejected'",
        ),
    ],
)
def test_bad_exports_name_file_and_line(tmp_path, content, message):
    path = tmp_path / "bad.jsonl"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(InputError, match=message) as info:
        read_export(path)
    assert str(path) in str(info.value)


def test_missing_and_non_utf8_exports(tmp_path):
    with pytest.raises(InputError, match="export file not found"):
        read_export(tmp_path / "nope.jsonl")
    bad = tmp_path / "latin.jsonl"
    bad.write_bytes('{"question": "caf\xe9"}'.encode("latin-1"))
    with pytest.raises(InputError, match="not UTF-8"):
        read_export(bad)


def test_split_keeps_groups_whole_and_is_seeded(tmp_path):
    pairs = read_export(write_jsonl(tmp_path / "e.jsonl", export_rows())).pairs
    train, val = split_by_group(pairs, 0.34, seed=7)
    tg, vg = {p.group_id for p in train}, {p.group_id for p in val}
    assert tg and vg and not tg & vg
    assert len(train) + len(val) == len(pairs)
    assert split_by_group(pairs, 0.34, seed=7) == (train, val)
    items = metric_items(val, 10)
    assert len(items) == len(vg) and all(len(refs) == 2 for _, refs in items)
    with pytest.raises(InputError, match="too few"):
        split_by_group(pairs[:2], 0.5, seed=1)  # one group only


def test_answer_only_mask_token_by_token(tiny_model):
    from transformers import AutoTokenizer

    from qa.prompt import build_prompt

    tok = AutoTokenizer.from_pretrained(tiny_model)
    q, a = "벽지가 들뜨는 원인은 무엇인가요?", "습기와 접착제 부족으로 벽지가 들뜰 수 있습니다."
    ex = encode_example(tok, q, a, max_length=128)
    ids, labels = ex["input_ids"], ex["labels"]
    prompt_ids = tok(build_prompt(q))["input_ids"]
    answer_ids = tok(a, add_special_tokens=False)["input_ids"]
    # the prompt part is exactly what the inferencer gets from tokenising build_prompt(question)
    assert ids == prompt_ids + answer_ids + [tok.eos_token_id]
    assert len(labels) == len(ids)
    for i, (tid, lab) in enumerate(zip(ids, labels, strict=True)):
        if i < len(prompt_ids):
            assert lab == IGNORE_INDEX, f"prompt token {i} ({tok.decode([tid])!r}) carries loss"
        else:
            assert lab == tid, f"answer token {i} ({tok.decode([tid])!r}) has no loss"
    assert tok.decode([t for t in labels if t != IGNORE_INDEX], skip_special_tokens=True) == a
    assert labels[-1] == tok.eos_token_id

    short = encode_example(tok, q, a, max_length=len(prompt_ids) + 3)
    assert len(short["input_ids"]) == len(prompt_ids) + 3
    assert short["labels"][-1] == tok.eos_token_id and short["labels"][: len(prompt_ids)] == [
        IGNORE_INDEX
    ] * len(prompt_ids)


def test_packed_batches_keep_the_mask(tiny_model):
    """The padding-free collator separates examples and never puts loss on a prompt token."""
    from transformers import AutoTokenizer, DataCollatorWithFlattening

    tok = AutoTokenizer.from_pretrained(tiny_model)
    exs = [
        encode_example(tok, "장판이 들떠요", "다시 붙입니다.", 64),
        encode_example(tok, "줄눈 균열?", "배합 불량입니다.", 64),
    ]
    batch = DataCollatorWithFlattening()(exs)
    n0 = len(exs[0]["input_ids"])
    assert batch["input_ids"][0].tolist() == exs[0]["input_ids"] + exs[1]["input_ids"]
    assert batch["position_ids"][0, n0].item() == 0  # the second example restarts its positions
    labels = batch["labels"][0].tolist()
    assert labels[n0] == IGNORE_INDEX  # no loss across the boundary
    assert labels[n0 + 1 : n0 + len(exs[1]["labels"])] == exs[1]["labels"][1:]


@pytest.mark.parametrize(
    ("extra", "overrides", "message"),
    [
        ("", ["train.learning_rate=-1"], "train.learning_rate"),
        ("", ["train.precision=fp8"], "train.precision"),
        ("", ["data.context_k=-1"], "data.context_k"),
        ("", ["data.context_k=true"], "data.context_k"),
        ("", ["lora.rank=8"], "lora.rank: Extra inputs are not permitted"),
        ("", ["train.batch_size"], "use key=value"),
        ('[sweep]\n"train.optimizer" = ["adam"]\n', [], "not sweepable"),
        ('[sweep]\n"train.learning_rate" = []\n', [], "non-empty list"),
    ],
)
def test_bad_configs_give_clear_errors(tmp_path, export_file, extra, overrides, message):
    path = write_config(tmp_path / "c.toml", model=tmp_path, export=export_file, out=tmp_path / "runs")
    path.write_text(path.read_text(encoding="utf-8") + extra, encoding="utf-8")
    with pytest.raises(ConfigError, match=message):
        load_config(path, overrides)


def test_config_file_errors_and_overrides(tmp_path, export_file):
    with pytest.raises(ConfigError, match="does not exist"):
        load_config(tmp_path / "none.toml")
    bad = tmp_path / "bad.toml"
    bad.write_text("[train\nbatch_size = 2", encoding="utf-8")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_config(bad)
    nodata = tmp_path / "nodata.toml"
    nodata.write_text('base_model = "x"\n', encoding="utf-8")
    with pytest.raises(ConfigError, match="data: Field required"):
        load_config(nodata)
    good = write_config(tmp_path / "g.toml", model=tmp_path, export=export_file, out=tmp_path / "runs")
    cfg = load_config(
        good, ["train.learning_rate=1e-3", "lora.target_modules=['q_proj','v_proj']", "output.name=custom"]
    )
    assert cfg.train.learning_rate == 1e-3 and cfg.lora.target_modules == ["q_proj", "v_proj"]
    assert cfg.run_name() == "custom"
    assert load_config(good).run_name() == "g"  # default: the file's stem


def test_base_model_resolution_errors(tmp_path, isolated_settings):
    from train.models import resolve_base_model

    with pytest.raises(ConfigError, match="dobae models prepare gemma3-270m"):
        resolve_base_model("gemma3-270m")  # the isolated cache has no prepared model
    with pytest.raises(ConfigError, match="no config.json"):
        resolve_base_model(str(tmp_path))
    with pytest.raises(ConfigError, match="no such folder"):
        resolve_base_model("not-a-model")


def test_shipped_configs_validate(tmp_path):
    from pathlib import Path

    root = Path(__file__).resolve().parents[2] / "train" / "configs"
    names = sorted(p.name for p in root.glob("*.toml"))
    assert names == ["cpu-smoke.toml", "gpu-gemma3-270m.toml"]
    for p in root.glob("*.toml"):
        cfg = load_config(p)
        assert cfg.base_model == "gemma3-270m" and cfg.sweep_combinations()
    assert json.dumps(load_config(root / "gpu-gemma3-270m.toml").model_dump(mode="json"))


def test_cli_errors_are_one_line(tmp_path):
    """`dobae train` with a bad export: exit 1, one stderr line naming the file and line."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    export = tmp_path / "e.jsonl"
    export.write_text('{"id": 1, "group_id": "g", "question": "벽지?"}\n', encoding="utf-8")
    cfg = write_config(tmp_path / "c.toml", model=tmp_path, export=export, out=tmp_path / "runs")
    (tmp_path / "config.json").write_text("{}", encoding="utf-8")  # passes the folder check; data fails first
    env = dict(os.environ, DOBAE_DATA_DIR=str(tmp_path / "data"))
    root = Path(__file__).resolve().parents[2]
    res = subprocess.run(
        [sys.executable, "-m", "dobae.cli", "train", "--config", str(cfg)],
        capture_output=True,
        text=True,
        env=env,
        cwd=root,
        timeout=120,
    )
    assert res.returncode == 1
    lines = [ln for ln in res.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and f"{export}, line 1: missing field(s) answer" in lines[0].replace("\n", "")


def test_packed_examples_do_not_see_each_other(tiny_model):
    """Packed rows (position_ids restarting at 0) give the same logits as each example alone.

    (With transformers' default KV cache on, they did not: the trainer's loader must switch it off.)
    """
    import torch
    from transformers import AutoTokenizer, DataCollatorWithFlattening

    from train.trainer import load_base_for_training

    tok = AutoTokenizer.from_pretrained(tiny_model)
    model = load_base_for_training(str(tiny_model))  # the trainer's own loader, in train mode
    exs = [
        encode_example(tok, "장판이 들떠요", "다시 붙입니다.", 64),
        encode_example(tok, "줄눈 균열?", "배합 불량입니다.", 64),
    ]
    batch = DataCollatorWithFlattening()(exs)
    with torch.no_grad():
        packed = model(input_ids=batch["input_ids"], position_ids=batch["position_ids"]).logits[0]
        alone = model(input_ids=torch.tensor([exs[1]["input_ids"]])).logits[0]
    n0 = len(exs[0]["input_ids"])
    torch.testing.assert_close(packed[n0:], alone, rtol=1e-4, atol=1e-4)
