"""Page extraction apart from the spiders: `ohouse_json` (the endpoints' JSON and the JSON embedded
in pages → items), `ohouse_html` (the HTML pages → fields), `ohouse_urls` (which page a URL is),
`selectors` (the era selectors) and `generic`, the structural fallback used when no selector of an
era matches (see docs/crawler.md, "When the site changes")."""
