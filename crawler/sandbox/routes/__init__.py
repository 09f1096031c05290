"""The sandbox's routes by page kind; `crawler/sandbox/app.py` assembles them into the site.

- `site_files`: robots.txt, the sitemaps, the static images;
- `lists`: the HTML question lists (server-rendered and JavaScript-only);
- `questions`: the question pages (default, JavaScript-only, Next.js community posts), sign-in
  and user pages;
- `api`: the JSON endpoints (`/questions.json`, `/questions/{id}.json`, `comments.json`);
- `faults`: a question's own fault and the faults on demand (`/faults/…`);
- `admin`: the loopback-only edits and state (`/_sandbox/…`).

Each handler reads the `Site` from the request (`responses.site_of`).
"""
