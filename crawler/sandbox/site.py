"""The sandbox site's run-time state around its content (`crawler/sandbox/content.py`): which questions are
listed, the late post, fault counters, edits, markup churn, rate limits. One `Site` per server.
"""

from __future__ import annotations

import html
import threading
import time
import unicodedata
from datetime import timedelta
from functools import cached_property

from crawler.sandbox.content import (
    ERAS,
    NOW,
    Comment,
    Question,
    Writer,
    comment_to_html,
    emotion_hash,
    generate,
    load_notices,
    load_seed,
    text_to_html,
)
from foundation.errors import ConfigError


class Site:
    """The sandbox's content plus its run-time state. Thread-safe; one per server."""

    def __init__(
        self,
        scale: int | None = None,
        seed: int = 0,
        *,
        late_post: bool = True,
        churn: int = 0,
        slow_s: float = 2.0,
        rate_limit: float | None = None,
        burst: int = 20,
        log_requests: bool = False,
        era: str | None = None,
        json: bool = True,
        redesign: int | None = None,
    ) -> None:
        if era is not None and era not in ERAS:
            raise ConfigError(f"--era {era}: use one of {', '.join(ERAS)} (or none: the default site)")
        if not json and era is None:
            raise ConfigError(
                "--no-json needs an --era (2019, 2021 or 2024): the default site is built on JSON"
            )
        self.era = era  # None: the default site; "2019" | "2021" | "2024": that era's markup (eras.py)
        self.json = json  # False: no JSON endpoints and no JSON embedded in pages
        # a seed: every class, id and data-* name renamed to opaque tokens (crawler/sandbox/redesign.py)
        self.redesign = redesign
        self.seed = seed
        # every request as [arrival (monotonic), method, path?query, status] when asked for (tests)
        self.request_log: list[list] | None = [] if log_requests else None
        self.lock = threading.Lock()
        questions = load_seed()
        if scale is not None:
            if scale < 0:
                raise ConfigError(f"--scale {scale}: must be ≥ 0")
            questions += generate(max(0, scale - len(questions)), seed)
        self.questions: dict[int, Question] = {q.id: q for q in questions}
        self.notices = load_notices()
        self.late_post_enabled = late_post
        self.published = not late_post  # the late post appears once a first list page was served
        self.churn = churn
        self.slow_s = slow_s
        self.rate_limit = rate_limit
        self.burst = burst
        self.hits: dict[str, int] = {}
        self._buckets: dict[str, tuple[float, float]] = {}
        self._sorted: dict[tuple, list[Question]] = {}

    # -- state changes (also reachable through POST /_sandbox/... on loopback)

    def hit(self, key: str) -> int:
        """Count a request for `key` (fault counters): 1 on the first request."""
        with self.lock:
            self.hits[key] = self.hits.get(key, 0) + 1
            return self.hits[key]

    def publish_late_post(self) -> None:
        with self.lock:
            if not self.published:
                self.published = True
                self._sorted.clear()

    def edit(self, qid: int, add_comment: bool = False) -> Question:
        """Question `qid` is edited: title and body change, lastmod moves; optionally a new comment."""
        with self.lock:
            q = self.questions.get(qid)
            if q is None or q.deleted:
                raise ConfigError(f"question {qid}: not a live sandbox question")
            q.revision += 1
            n = q.revision
            q.title = f"{q.title.split(' (수정')[0]} (수정 {n})"
            q.raw_title = html.escape(q.title, quote=False)
            addition = f"수정 {n}: 시공사와 통화해 보니 다음 주에 보수해 준다고 하네요."
            q.text = f"{q.text}\n\n{addition}" if q.text else addition
            q.raw_html = q.raw_html + text_to_html(addition)
            if add_comment:
                i = max((c.id - q.id * 100 for c in q.comments), default=0) + 1
                body = f"보수 잘 받으시길 바랍니다. (추가 댓글 {n})"
                q.comments.append(
                    Comment(
                        id=q.id * 100 + i, question_id=q.id, parent_id=None,
                        writer=Writer(7005, "벽지장인", "expert"), text=body, raw_html=comment_to_html(body),
                        created_at=NOW + timedelta(minutes=n), display_at=None, like_count=0,
                    )
                )  # fmt: skip
            self._sorted.clear()
            return q

    def set_churn(self, churn: int) -> None:
        with self.lock:
            self.churn = churn
            self.__dict__.pop("_classes", None)

    def log_request(self, method: str, target: str) -> list:
        """Log a request on arrival: `[monotonic time, method, path?query, status]` (status 0 until
        answered; the app fills it in)."""
        entry: list = [time.monotonic(), method, target, 0]
        if self.request_log is not None:
            with self.lock:
                self.request_log.append(entry)
        return entry

    def requested(self) -> list[str]:
        """Paths (with query) requested so far, in order (`Site(log_requests=True)`)."""
        if self.request_log is None:
            raise ConfigError("the request log is off: Site(log_requests=True)")
        with self.lock:
            return [target for _t, _m, target, _s in self.request_log]

    # -- rate limiting (deterministic token bucket per client)

    def take_token(self, client: str, now: float) -> float:
        """0 when the request may pass, else the seconds to wait (the Retry-After)."""
        if not self.rate_limit:
            return 0.0
        with self.lock:
            tokens, last = self._buckets.get(client, (float(self.burst), now))
            tokens = min(float(self.burst), tokens + (now - last) * self.rate_limit)
            if tokens >= 1.0:
                self._buckets[client] = (tokens - 1.0, now)
                return 0.0
            self._buckets[client] = (tokens, now)
            return (1.0 - tokens) / self.rate_limit

    # -- views

    def classes(self) -> dict[str, str]:
        cache = self.__dict__.get("_classes")
        if cache is None or cache[0] != self.churn:
            names = [
                "QuestionList", "QuestionContainer", "QuestionLink", "QuestionImage", "QuestionTitle",
                "QuestionDescription", "QuestionAuthor", "QuestionStats", "QuestionStatsItem", "KeywordList",
                "KeywordItem", "NoticeBadge", "FeedPaginatorContainer", "FeedPaginatorItem", "EmptyResult",
                "SortTab", "FilterChip", "CommentItem", "QuestionBody", "ViewCount", "PostTitle",
                # 2024 (Next.js) markup
                "PostFeed", "PostCard", "PinnedBadge", "PostCardLink", "PostCardTitle", "PostCardStats",
                "DeletedNotice", "PostDetail", "PostWriter", "PostWriterName", "PostViewCount", "PostScrapCount",
                "PostCategory", "PostDate", "PostContent", "PostKeywords", "CommentSection", "CommentCount",
                "CommentList", "CommentDate", "CommentContent", "CommentWriter", "CommentWriterName",
                "CommentBadge", "AdoptedLabel", "CommentLike", "CommentMore",
            ]  # fmt: skip
            cache = (self.churn, {n: emotion_hash(n, self.churn) for n in names})
            self.__dict__["_classes"] = cache
        return cache[1]

    def listed(self, order: str = "recent", query: str = "", no_answer: bool = False) -> list[Question]:
        """Questions on the list pages, in order. Soft- and hard-deleted ones stay listed (a stale
        list); the late post only once published."""
        key = (order, query, no_answer, self.published)
        cached = self._sorted.get(key)
        if cached is not None:
            return cached
        qs = [q for q in self.questions.values() if self.published or not q.late_post]
        if query:
            qn = unicodedata.normalize("NFC", query)
            qs = [q for q in qs if qn in q.keywords or qn in q.title or qn in q.text]
        if no_answer:
            qs = [q for q in qs if not q.comments]
        if order == "popular":
            qs.sort(key=lambda q: (-(q.view_count or 0), -q.id))
        elif order == "answered":
            qs.sort(key=lambda q: (-max([c.created_at.timestamp() for c in q.comments] or [0.0]), -q.id))
        else:
            qs.sort(key=lambda q: (-q.created_at.timestamp(), -q.id))
        with self.lock:
            self._sorted[key] = qs
        return qs

    def live_questions(self) -> list[Question]:
        return sorted((q for q in self.questions.values() if q.is_live), key=lambda q: q.id)

    @cached_property
    def seed_ids(self) -> list[int]:
        return sorted(q.id for q in load_seed())
