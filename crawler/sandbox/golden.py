"""Golden rows: exactly what a correct crawl of the sandbox stores, computed from the canonical
content (never by running a spider).

One JSON object per live question (comments nested), keyed by (`source`, `external_id`); values
normalised as the pipeline stores them (the rules are in CONTRACT.md, "Golden rows"):

    python -m crawler.sandbox.golden           # rewrite crawler/sandbox/golden/*.jsonl
    python -m crawler.sandbox.golden --check   # exit 1 if the committed files are out of date
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from crawler.normalize import content_hash
from crawler.sandbox.boards import COOK, KIN, BoardPost
from crawler.sandbox.content import Comment, Question, utc_iso
from crawler.sandbox.site import Site

GOLDEN_DIR = Path(__file__).resolve().parent / "golden"
HASHED_OUT = ("view_count", "scrap_count", "like_count", "comment_count", "content_hash")


def _id(value: int | None) -> str | None:
    return None if value is None else str(value)


def comment_row(c: Comment) -> dict:
    if c.is_deleted:  # the pipeline keeps a deleted comment's place, not its text or author
        return {"external_id": str(c.id), "parent_external_id": _id(c.parent_id), "body": None,
                "author_id": None, "author_name": None, "author_badge": None, "is_adopted": False,
                "like_count": c.like_count, "posted_at": utc_iso(c.created_at), "is_deleted": True}  # fmt: skip
    return {
        "external_id": str(c.id),
        "parent_external_id": _id(c.parent_id),
        "body": c.text,
        "author_id": _id(c.writer.id),
        "author_name": c.writer.nickname,
        "author_badge": c.writer.badge,
        "is_adopted": c.is_adopted,
        "like_count": c.like_count,
        "posted_at": utc_iso(c.created_at),
        "is_deleted": False,
    }


def with_hash(row: dict) -> dict:
    """Add `content_hash`: sha256 of the row's text fields (counts and likes left out, so a new view
    does not look like an edit; comments' `like_count` too)."""
    hashed = {k: v for k, v in row.items() if k not in HASHED_OUT}
    hashed["comments"] = [{k: v for k, v in c.items() if k != "like_count"} for c in row.get("comments", [])]
    row["content_hash"] = content_hash(hashed)
    return row


def question_row(q: Question, source: str = "ohouse") -> dict:
    return with_hash({
        "source": source,
        "external_id": str(q.id),
        "url": f"/questions/{q.id}",
        "title": q.title,
        "body": q.text,
        "category": q.category,
        "keywords": list(q.keywords),
        "author_id": _id(q.writer.id),
        "author_name": q.writer.nickname,
        "posted_at": utc_iso(q.created_at),
        "view_count": q.view_count,
        "comment_count": len(q.comments),
        "scrap_count": q.scrap_count,
        "like_count": None,
        "is_deleted": False,
        "comments": [comment_row(c) for c in q.comments],
    })  # fmt: skip


def golden_rows(site: Site | None = None) -> list[dict]:
    """Rows of every live question of `site` (default: the seed content), ordered by id. For an era
    site (`Site(era=…, json=…)`): what that era's pages can show — the same content, but a JSON-less
    era keeps only the comments its HTML renders and marks the rest `comments_incomplete`."""
    site = site if site is not None else Site()
    if site.era is None:
        return [question_row(q) for q in site.live_questions()]
    return [era_row(site, q) for q in site.live_questions()]


def era_row(site: Site, q: Question) -> dict:
    from crawler.sandbox.eras import post_path, shown_comments

    row = question_row(q)
    row.pop("content_hash")
    if site.era == "2024":
        row["url"] = post_path(q.id)
    shown = q.comments if site.json else shown_comments(site, q)
    row["comments"] = [comment_row(c) for c in shown]
    row["comments_incomplete"] = len(shown) < len(q.comments)
    return with_hash(row)


def era_file(era: str, json: bool = True) -> str:
    return f"ohouse-{era}{'' if json else '-nojson'}.jsonl"


def deleted_ids(site: Site | None = None) -> dict[str, str]:
    """External ids of the deleted questions → "soft" | "hard" (a crawl marks known rows deleted)."""
    site = site if site is not None else Site()
    return {str(q.id): q.deleted for q in site.questions.values() if q.deleted}


def unreachable_ids(site: Site | None = None) -> dict[str, str]:
    """Listed questions a correct crawl cannot store: members-only (302 to sign-in), always 500."""
    site = site if site is not None else Site()
    return {str(q.id): "members_only" if q.members_only else "always500"
            for q in site.questions.values() if q.members_only or q.fault == "always500"}  # fmt: skip


def board_row(source: str, post: BoardPost, url: str) -> dict:
    return with_hash({
        "source": source,
        "external_id": post.id,
        "url": url,
        "title": post.title,
        "body": post.text,
        "posted_at": utc_iso(post.at),
        "view_count": post.views,
        "comment_count": len(post.answers),
        "is_deleted": False,
        "comments": [
            {"external_id": f"{post.id}:{a.id}", "body": a.text, "author_id": a.user, "author_name": a.author,
             "is_adopted": a.adopted, "posted_at": utc_iso(a.at), "is_deleted": False}
            for a in post.answers
        ],
    })  # fmt: skip


def board_rows(source: str) -> list[dict]:
    """Live posts of the `kin` or `82cook` board (their notices are not questions)."""
    if source == "kin":
        return [board_row("kin", p, f"/kin/detail?docId={p.id}") for p in KIN if not p.deleted]
    if source == "82cook":
        return [board_row("82cook", p, f"/82/read.php?bn=15&num={p.id}") for p in COOK if not p.deleted]
    raise ValueError(f"unknown board {source!r}: kin or 82cook")


def render_jsonl(rows: list[dict]) -> str:
    return "".join(json.dumps(r, ensure_ascii=False, sort_keys=True) + "\n" for r in rows)


def expected_files() -> dict[str, str]:
    from crawler.sandbox.content import ERAS

    eras = {
        era_file(e, j): render_jsonl(golden_rows(Site(era=e, json=j))) for e in ERAS for j in (True, False)
    }
    return {
        "ohouse.jsonl": render_jsonl(golden_rows()),
        **eras,
        "kin.jsonl": render_jsonl(board_rows("kin")),
        "82cook.jsonl": render_jsonl(board_rows("82cook")),
    }


def write_golden(directory: Path = GOLDEN_DIR) -> list[Path]:
    directory.mkdir(parents=True, exist_ok=True)
    paths = []
    for name, text in expected_files().items():
        path = directory / name
        path.write_text(text, encoding="utf-8")
        paths.append(path)
    return paths


def stale_files(directory: Path = GOLDEN_DIR) -> list[str]:
    """Names of golden files that differ from what the content gives now."""
    out = []
    for name, text in expected_files().items():
        path = directory / name
        if not path.exists() or path.read_text(encoding="utf-8") != text:
            out.append(name)
    return out


def load_golden(name: str = "ohouse.jsonl", directory: Path = GOLDEN_DIR) -> list[dict]:
    with open(directory / name, encoding="utf-8-sig") as fh:
        return [json.loads(line) for line in fh if line.strip()]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--check", action="store_true", help="only check that the committed files are current"
    )
    ns = parser.parse_args(argv)
    if ns.check:
        stale = stale_files()
        if stale:
            print(f"golden files out of date: {', '.join(stale)} (run python -m crawler.sandbox.golden)")
            return 1
        print("golden files are up to date")
        return 0
    for path in write_golden():
        print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
