"""The crawler reads the project's settings through one Scrapy add-on (`crawler.addon.DobaeSettings`),
never around `from_crawler`: the add-on fills `DOBAE_*` and `USER_AGENT` from `foundation.settings`,
`-s` (command-line priority) still wins, and a crawler built without it is told what is missing."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
from scrapy.crawler import Crawler
from scrapy.utils.test import get_crawler

from crawler.pipelines import DatabasePipeline, NormalizePipeline
from crawler.run import crawl_settings
from crawler.spiders.board import BoardSpider
from foundation.errors import ConfigError
from foundation.settings import reset_settings

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def project_env(monkeypatch, tmp_path):
    monkeypatch.setenv("DOBAE_DATABASE_URL", f"sqlite:///{tmp_path / 'env.db'}")
    monkeypatch.setenv("DOBAE_CRAWL__USER_AGENT", "env-agent/1.0")
    monkeypatch.setenv("DOBAE_CRAWL__AUTHOR_SALT", "env-salt")
    reset_settings()
    yield tmp_path
    reset_settings()


def _project_crawler(settings):
    """A crawler of the project's settings with its add-ons applied, as at a crawl's start (without
    starting the crawl, so no reactor)."""
    crawler = Crawler(BoardSpider, settings)
    crawler.addons.load_settings(crawler.settings)
    return crawler


def test_the_add_on_fills_the_crawlers_settings_from_the_project_settings(project_env):
    crawler = _project_crawler(crawl_settings())
    s = crawler.settings
    assert s["DOBAE_DATABASE_URL"] == f"sqlite:///{project_env / 'env.db'}"
    assert s["USER_AGENT"] == "env-agent/1.0"
    assert s.getbool("DOBAE_PSEUDONYMIZE_AUTHORS") is True
    pipe = NormalizePipeline.from_crawler(crawler)
    assert pipe.salt == "env-salt" and pipe.pseudonymize


def test_the_command_line_overrides_the_add_on(project_env):
    settings = crawl_settings(db_url="sqlite:///cmdline.db", overrides={"USER_AGENT": "cli-agent"})
    crawler = _project_crawler(settings)
    assert crawler.settings["DOBAE_DATABASE_URL"] == "sqlite:///cmdline.db"
    assert crawler.settings["USER_AGENT"] == "cli-agent"


def test_a_crawler_built_without_the_add_on_is_told_what_is_missing():
    crawler = get_crawler(BoardSpider, {"ITEM_PIPELINES": {}})
    with pytest.raises(ConfigError, match=r"DOBAE_AUTHOR_SALT is not set.*crawler\.addon\.DobaeSettings"):
        NormalizePipeline.from_crawler(crawler)
    with pytest.raises(ConfigError, match=r"DOBAE_DATABASE_URL is not set"):
        DatabasePipeline.from_crawler(crawler)


def test_no_crawler_component_reads_the_project_settings_itself():
    """Only the add-on (and the tools outside a crawl: probe, the sandbox, the CLI) read the project's
    settings object; pipelines, middlewares, spiders, the store and the distributed parts read
    `crawler.settings`."""
    outside_a_crawl = {"addon.py", "probe.py", "cli.py"}
    bad = []
    for path in sorted((ROOT / "crawler").rglob("*.py")):
        rel = path.relative_to(ROOT / "crawler")
        if rel.parts[0] == "sandbox" or str(rel) in outside_a_crawl:
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.module == "foundation.settings":
                bad += [f"crawler/{rel} imports {a.name}" for a in node.names if a.name == "get_settings"]
            elif isinstance(node, ast.Attribute) and node.attr == "get_settings":
                bad.append(f"crawler/{rel} calls get_settings")
    assert bad == []
