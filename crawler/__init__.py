"""Scrapy project: spiders for 오늘의집-style Q&A, the sandbox site, pipelines into the database."""
