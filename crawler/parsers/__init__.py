"""Page extraction apart from the spiders: `generic` is the structural fallback used when no
selector of an era matches (see docs/crawler.md, "When the site changes")."""
