"""Spider arguments are validated before the first request; bad ones are one clear line."""

from __future__ import annotations

import subprocess
import sys

import pytest

from crawler.spiders.board import load_board_config
from crawler.spiders.ohouse import OhouseArgs, OhouseSpider
from foundation.errors import ConfigError


def test_ohouse_args_parse_keywords_and_pages():
    args = OhouseArgs.model_validate(
        {"base_url": "http://127.0.0.1:8800/", "query": "도배, 벽지,,곰팡이", "max_pages": "3"}
    )
    assert (
        args.base_url == "http://127.0.0.1:8800"
        and args.query == ["도배", "벽지", "곰팡이"]
        and args.max_pages == 3
    )
    assert OhouseArgs.model_validate({"base_url": "http://h", "incremental": "false"}).incremental is False


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"base_url": "ftp://x"}, "argument base_url: Value error, must start with http"),
        ({"base_url": "http://x", "max_pages": "0"}, "argument max_pages"),
        ({"base_url": "http://x", "maxpages": "2"}, "argument maxpages: Extra inputs are not permitted"),
        ({}, "argument base_url: Field required"),
    ],
)
def test_bad_arguments_raise_config_error(kwargs, message):
    with pytest.raises(ConfigError, match=message):
        OhouseSpider(**kwargs)


def test_board_config_errors_name_the_file(tmp_path):
    bad = tmp_path / "site.yaml"
    bad.write_text("source: x\nstart: []\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"site.yaml: start: List should have at least 1 item"):
        load_board_config(str(bad))
    broken = tmp_path / "site.toml"
    broken.write_text("source = [", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"site.toml: not valid TOML"):
        load_board_config(str(broken))
    with pytest.raises(ConfigError, match="board config 'nope' not found"):
        load_board_config("nope")


def test_cli_bad_argument_is_one_line_exit_1(tmp_path):
    proc = subprocess.run(
        [sys.executable, "-m", "crawler", "crawl", "run", "ohouse", "--base-url", "ftp://x"],
        capture_output=True, text=True, timeout=60, cwd=tmp_path,
    )  # fmt: skip
    assert proc.returncode == 1
    assert (
        proc.stderr.strip()
        == "error: spider ohouse: argument base_url: Value error, must start with http:// or https:// (got 'ftp://x')"
    )
