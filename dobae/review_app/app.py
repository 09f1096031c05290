"""The review web app: one page (queue, filters, counts per reason, progress, the selected pair's
card) rendered by Jinja with autoescape, and a small JSON API the page's JavaScript posts to.

Every change goes through `db.review` (`set_review` for verdicts, `apply_change` for text edits),
with the version the person saw: a pair changed meanwhile answers 409 with who changed it and its
new text, and nothing is written. A token, when set, is required on every request (cookie, the
`X-Dobae-Token` header, or `?token=` once, which sets the cookie).
"""

from __future__ import annotations

import secrets
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, JSONResponse, PlainTextResponse, RedirectResponse
from fastapi.staticfiles import StaticFiles
from pydantic import BaseModel, Field

HERE = Path(__file__).parent
COOKIE = "dobae_review_token"
LIST_LIMIT = 200  # rows listed on the page; counts and bulk approval cover the whole filter
ACTIONS = {"approve": "approved", "reject": "rejected", "needs_review": "needs_review"}


class Action(BaseModel):
    action: str
    version: int
    seen_event: int = 0  # the latest review event the card was read at
    reviewer: str = ""
    note: str | None = None
    question: str | None = None
    answer: str | None = None


class Filters(BaseModel):
    origin: str = ""
    status: str = "needs_review"
    reason: str = ""
    category: str = ""
    operation: str = ""
    sort: str = "id"


class BulkApprove(BaseModel):
    pairs: list[tuple[int, int]] = Field(default_factory=list)  # (id, version) as counted
    reviewer: str = ""
    filters: Filters = Field(default_factory=Filters)


def create_app(url: str, reviewer: str, token: str | None = None, loopback_only: bool = True) -> FastAPI:
    """The app on database `url`; `reviewer` is the default name in the review log. With
    `loopback_only`, requests must name a loopback Host (no DNS rebinding)."""
    from jinja2 import Environment, FileSystemLoader

    from db.session import session_scope
    from dobae.review_app.serve import is_loopback

    app = FastAPI(title="dobae review", docs_url=None, redoc_url=None, openapi_url=None)
    env = Environment(loader=FileSystemLoader(HERE / "templates"), autoescape=True)
    app.mount("/static", StaticFiles(directory=HERE / "static"), name="static")

    @app.middleware("http")
    async def guard(request: Request, call_next):
        if loopback_only:
            host = (request.headers.get("host") or "").rsplit(":", 1)[0].strip("[]")
            if not is_loopback(host):
                return PlainTextResponse("this review page answers on 127.0.0.1 only", status_code=403)
        if token is not None:
            given = request.query_params.get("token")
            if given is not None and secrets.compare_digest(given, token):
                params = [(k, v) for k, v in request.query_params.multi_items() if k != "token"]
                target = request.url.path + ("?" + urlencode(params) if params else "")
                response = RedirectResponse(target, status_code=303)
                response.set_cookie(COOKIE, token, httponly=True, samesite="strict")
                return response
            seen = request.cookies.get(COOKIE) or request.headers.get("x-dobae-token") or ""
            if not secrets.compare_digest(seen, token):
                return PlainTextResponse(
                    "a token is required: open the address `dobae review serve` printed", status_code=401
                )
        if request.method == "POST" and request.headers.get("content-type", "").split(";")[0] != (
            "application/json"
        ):  # a cross-site form cannot send JSON without a preflight this app never answers
            return PlainTextResponse("send JSON", status_code=415)
        return await call_next(request)

    @app.get("/", response_class=HTMLResponse)
    def page(
        origin: str = "",
        status: str = "needs_review",
        reason: str = "",
        category: str = "",
        operation: str = "",
        sort: str = "id",
        pair: int | None = None,
    ) -> HTMLResponse:
        from db.review_queue import SORTS, QueueFilter, card, last_event_id, load_queue, progress

        f = QueueFilter(origin, "" if status == "any" else status, reason, category, operation, sort)
        with session_scope(url) as s:
            queue = load_queue(s, f)
            ids = [r.id for r in queue.rows]
            current = pair if pair is not None else (ids[0] if ids else None)
            the_card = card(s, current) if current is not None else None
            seen_event = last_event_id(s, current) if the_card else 0
            prog = progress(s)
        params = dict(f.as_params(), status=status)
        if the_card and the_card["chunk"]:
            from dobae.review_app.highlight import support
            from foundation.settings import get_settings

            chunk, answer = support(
                the_card["answer"], the_card["chunk"]["text"], get_settings().augment.gates.ground_lexical_min
            )
            the_card["chunk"]["sentences"] = chunk
            the_card["answer_support"] = answer
        at = ids.index(current) if current in ids else -1
        near = {
            "next": ids[at + 1] if 0 <= at < len(ids) - 1 else None,
            "prev": ids[at - 1] if at > 0 else None,
        }
        if at < 0 and ids:  # a pair outside the filter (just judged): next is the first listed
            near["next"] = ids[0]

        def link(**kw: Any) -> str:
            merged = {**params, **kw}
            return "/?" + urlencode({k: v for k, v in merged.items() if v not in ("", None)})

        html = env.get_template("review.html.j2").render(
            f=f,
            status_param=status,
            queue=queue,
            rows=queue.rows[:LIST_LIMIT],
            limit=LIST_LIMIT,
            approvable=sum(1 for r in queue.rows if r.status != "approved"),
            card=the_card,
            seen_event=seen_event,
            near=near,
            link=link,
            sorts=SORTS,
            progress=prog,
            reviewer=reviewer,
        )
        return HTMLResponse(html)

    @app.post("/api/pairs/{pair_id}")
    def act(pair_id: int, body: Action) -> JSONResponse:
        from sqlalchemy.exc import IntegrityError

        from db.models import QAPair, Review
        from db.review import ConflictError, apply_change, set_review
        from db.review_queue import last_event_id
        from foundation.errors import InputError

        who = _actor(body.reviewer, reviewer)
        if body.action not in (*ACTIONS, "edit"):
            return JSONResponse({"error": f"unknown action {body.action!r}"}, status_code=400)
        try:
            with session_scope(url) as s:
                pair = s.get(QAPair, pair_id)
                if pair is None:
                    return JSONResponse({"error": f"no pair with id {pair_id}"}, status_code=404)
                if pair.version != body.version or last_event_id(s, pair_id) != body.seen_event:
                    raise ConflictError(f"pair {pair_id} changed since it was read")
                if body.action == "edit":
                    apply_change(
                        s,
                        pair_id,
                        actor=who,
                        question_text=_nfc(body.question),
                        answer_text=_nfc(body.answer),
                        expected_version=body.version,
                    )
                else:
                    review = s.get(Review, pair_id)
                    set_review(
                        s,
                        pair_id,
                        ACTIONS[body.action],
                        reasons=list(review.reasons or []) if review else [],
                        actor=who,
                        note=_nfc(body.note) if body.note is not None else (review.note if review else None),
                        expected_version=body.version,
                    )
                s.flush()
                version = s.get(QAPair, pair_id).version
        except (ConflictError, IntegrityError):  # IntegrityError: a first verdict inserted meanwhile
            return JSONResponse({"conflict": _conflict(url, pair_id)}, status_code=409)
        except InputError as exc:
            return JSONResponse({"error": str(exc)}, status_code=400)
        return JSONResponse({"ok": True, "version": version})

    @app.post("/api/bulk/preview")
    def bulk_preview(f: Filters) -> JSONResponse:
        from db.review_queue import QueueFilter, load_queue

        qf = QueueFilter(f.origin, "" if f.status == "any" else f.status, f.reason, f.category, f.operation)
        with session_scope(url) as s:
            rows = [r for r in load_queue(s, qf).rows if r.status != "approved"]
        return JSONResponse({"count": len(rows), "pairs": [[r.id, r.version] for r in rows]})

    @app.post("/api/bulk/approve")
    def bulk_approve(body: BulkApprove) -> JSONResponse:
        """All the counted pairs or none: one changed since it was counted stops the whole batch."""
        from sqlalchemy.exc import IntegrityError

        from db.models import Review
        from db.review import ConflictError, set_review

        who = _actor(body.reviewer, reviewer)
        note = (
            "approved in bulk (dobae review serve: "
            + (
                ", ".join(f"{k}={v}" for k, v in body.filters.model_dump().items() if v and k != "sort")
                or "all"
            )
            + ")"
        )
        try:
            with session_scope(url) as s:
                for pair_id, version in body.pairs:
                    review = s.get(Review, pair_id)
                    set_review(
                        s,
                        pair_id,
                        "approved",
                        reasons=list(review.reasons or []) if review else [],
                        actor=who,
                        note=note,
                        expected_version=version,
                    )
        except (ConflictError, IntegrityError) as exc:
            why = str(exc) if isinstance(exc, ConflictError) else "a pair got its first verdict meanwhile"
            return JSONResponse({"error": f"{why}; nothing was approved: count again"}, status_code=409)
        return JSONResponse({"approved": len(body.pairs)})

    return app


def _actor(given: str | None, default: str) -> str:
    """The name for the review log: the page's reviewer field (NFC, at most 100 characters, the
    column's size), else the server's `--reviewer`."""
    name = _nfc(given or "") or ""
    return name[:100].strip() or default


def _nfc(text: str | None) -> str | None:
    import unicodedata

    return None if text is None else unicodedata.normalize("NFC", text.replace("\r\n", "\n")).strip()


def _conflict(url: str, pair_id: int) -> dict[str, Any]:
    """What a stale card shows: the pair as it is now and who changed it last."""
    from sqlalchemy import select

    from db.models import ReviewEvent
    from db.review_queue import card, last_event_id
    from db.session import session_scope

    with session_scope(url) as s:
        now = card(s, pair_id) or {}
        last = s.scalars(
            select(ReviewEvent).where(ReviewEvent.pair_id == pair_id).order_by(ReviewEvent.id.desc()).limit(1)
        ).first()
        return {
            "by": last.actor if last else "",
            "at": last.at.strftime("%Y-%m-%d %H:%M:%S UTC") if last else "",
            "status": now.get("status", ""),
            "question": now.get("question", ""),
            "answer": now.get("answer", ""),
            "version": now.get("version"),
            "seen_event": last_event_id(s, pair_id),
        }
