"""`dobae review serve`: a local web page to clear the review queue (FastAPI + Jinja, plain JavaScript
served from this package). Reads through `db.review_queue`, writes only through `db.review`."""
