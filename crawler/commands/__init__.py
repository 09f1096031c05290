"""Scrapy commands of the project (`COMMANDS_MODULE`): `crawl` with an exit status that says whether
the crawl worked."""
