"""Curation of crawled pairs before a person sees them: machine flags with reasons, plus signals.

Built on the filter framework the generation gates use (`augment.filters`, datatrove's shape):
each flag is a small `CurationFilter` class whose `check(pair, ctx)` returns `True` or
`(False, "reason")`; defining it registers it, and the order is data
(`settings.augment.curation.order`). Flags:

- `self_answer`: the answer's author asked the question;
- `not_an_answer`: thanks, "저도 궁금해요", a question back instead of an answer;
- `contact_details`: a phone number, URL, e-mail or messenger id (exports mask them: `db.contact`);
- `advertising`: sales talk ("견적 문의 주세요", "최저가"); `seller_badge`: the answer comes from a
  seller's account (often useful, sometimes a pitch);
- `prompt_injection`: an instruction to a model ("Ignore all previous instructions", "이전 지시는
  무시하고"), the generation gates' own check (`augment.gates.has_injection`);
- `too_short` / `too_long`: the answer's length;
- `near_duplicate`: the answer nearly repeats an earlier pair's answer (MinHash-LSH over character
  5-grams: the gates' index, `augment.dedup.NearDuplicateIndex`);
- `off_domain`: no glossary term, and the pair's embedding is far from every category centroid of
  the reference pairs (DACON and approved pairs; the glossary terms when there are none).

Signals (positive, stored as reasons with a `+`): `+adopted` (the asker adopted it), `+expert`
(an expert badge), `+liked` (at least `liked_min` likes).

Every judged pair gets a review (logged in review_events by `machine:curate`): a flag listed in
`curation.reject` rejects it, any other result is `needs_review` with its flags and signals as
reasons, so a person sees why. `dobae review approve --origin crawl --no-flags` then approves, in
one logged step, the curated pairs without a flag. A verdict records the hash of the text it was
given on (`db.review.text_hash`); a re-run re-judges pairs whose current verdict is the machine's
and pairs whose text changed since any verdict (a person's decision on the text they saw is never
overwritten) and logs only changes.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import ClassVar

import numpy as np
from sqlalchemy import select
from sqlalchemy.orm import Session, aliased

from augment.dedup import NearDuplicateIndex, normalise
from augment.embedding import Embedder, default_embedder
from augment.filters import Filter, FilterPipeline, FilterResult
from augment.gates import has_injection
from augment.templates import load_glossary
from db.contact import find_contacts
from db.models import Answer, Origin, QAPair, Question, Review, ReviewStatus
from db.review import holds, is_flag, set_review
from foundation.settings import CurationSettings, Settings, get_settings
from qa.sentences import split_at_marks

ACTOR = "machine:curate"
CurationResult = FilterResult

THANKS = re.compile(r"(감사|고맙|고마워|ㄳ|ㄱㅅ|thank)", re.I)
ME_TOO = re.compile(
    r"(저도\s*(궁금|같은|그래요|그렇|알고\s*싶)|나도\s*궁금|같은\s*(고민|증상|문제)\s*(이에요|입니다|있어요|이네요)|"
    r"혹시\s*해결\s*(하셨|되셨)|해결\s*(되면|하시면)\s*(공유|알려))"
)
ACKNOWLEDGE = re.compile(
    r"^\W*(참고\s*(할게요|하겠습니다|해\s*볼게요)|저장\s*해\s*(둘게요|놓을게요|갑니다)|잘\s*(봤습니다|보고\s*갑니다)|"
    r"도움이?\s*(됐|되었|많이\s*됐)|좋은\s*(정보|글)(이네요|네요|입니다))"
)
ADVERTISING = re.compile(
    r"(견적\s*문의|상담\s*문의|시공\s*문의|문의\s*(주세요|바랍니다|환영)|연락\s*(주세요|주시면|바랍니다)|"
    r"최저가|무료\s*(견적|상담|방문)|할인\s*(행사|이벤트|중)|저렴하게\s*(해|시공)|저희\s*(업체|회사|매장)|"
    r"쪽지\s*(주세요|주시면)|DM\s*(주세요|주시면)|방문\s*견적)",
    re.I,
)
SELLER_BADGES = {"seller", "판매자", "업체", "business", "ad"}
EXPERT_BADGES = {"expert", "전문가", "pro"}


@dataclass(frozen=True)
class CrawlPair:
    """One crawled pair with what the filters look at (authors are the crawl's pseudonyms)."""

    pair_id: int
    question: str
    answer: str
    category: str | None = None
    asker: str | None = None
    answerer: str | None = None
    badge: str | None = None
    adopted: bool = False
    likes: int | None = None


class CurationContext:
    """What the filters compare against: earlier answers (near-duplicates), category centroids
    (off-domain) and the glossary."""

    def __init__(self, settings: CurationSettings, embedder: Embedder | None = None) -> None:
        self.settings = settings
        self._embedder = embedder
        self.near = NearDuplicateIndex(settings.near_dup_threshold)
        self.glossary = [normalise(t) for t in load_glossary()]
        self.reference: dict[str, list[str]] = {}  # category -> texts
        self._centroids: np.ndarray | None = None

    @property
    def embedder(self) -> Embedder:
        if self._embedder is None:
            self._embedder = default_embedder()
        return self._embedder

    def add_answers(self, items: Sequence[tuple[int, str]]) -> None:
        self.near.add_many([(pid, text) for pid, text in items if normalise(text)])

    def add_reference(self, category: str | None, text: str) -> None:
        self.reference.setdefault(category or "", []).append(text)
        self._centroids = None

    def centroids(self) -> np.ndarray:
        """One unit vector per reference category (the glossary terms when no reference pair exists)."""
        if self._centroids is None:
            groups = list(self.reference.values()) or [[t] for t in load_glossary()]
            rows = []
            for texts in groups:
                v = self.embedder.encode(texts[:200]).mean(axis=0)
                rows.append(v / (np.linalg.norm(v) or 1.0))
            self._centroids = np.vstack(rows)
        return self._centroids

    def domain_cosine(self, text: str) -> float:
        return float((self.centroids() @ self.embedder.encode([text])[0]).max())


class CurationFilter(Filter):
    """One check on a crawled pair. A subclass sets `name` and implements `check`; defining it
    registers it (`CurationFilter.registry`), and naming it in `augment.curation.order` runs it."""

    registry: ClassVar[dict[str, type[Filter]]] = {}
    noun = "filter"
    setting = "augment.curation.order"

    def check(self, p: CrawlPair, ctx: CurationContext) -> CurationResult:  # pragma: no cover
        raise NotImplementedError


class SelfAnswerFilter(CurationFilter):
    name = "self_answer"

    def check(self, p, ctx):
        if p.asker and p.answerer and p.asker == p.answerer:
            return False, "self_answer"
        return True


class NotAnAnswerFilter(CurationFilter):
    """Thanks, "저도 궁금해요", or a reply that only asks back."""

    name = "not_an_answer"
    SHORT = 40  # characters (without spaces and punctuation): a thank-you note is short

    def check(self, p, ctx):
        text = p.answer.strip()
        size = len(normalise(text))
        if THANKS.search(text) and size < self.SHORT:
            return False, "not_an_answer"
        if (ME_TOO.search(text) or ACKNOWLEDGE.search(text)) and size < 2 * self.SHORT:
            return False, "not_an_answer"
        parts = split_at_marks(text)
        if parts and all(s.endswith(("?", "？")) for s in parts):
            return False, "not_an_answer"
        return True


class ContactDetailsFilter(CurationFilter):
    name = "contact_details"

    def check(self, p, ctx):
        return (False, "contact_details") if find_contacts(p.answer) else True


class AdvertisingFilter(CurationFilter):
    name = "advertising"

    def check(self, p, ctx):
        if ADVERTISING.search(p.answer):
            return False, "advertising"
        if (p.badge or "").strip().lower() in SELLER_BADGES:
            return False, "seller_badge"  # often useful, sometimes a pitch: a person decides
        return True


class PromptInjectionFilter(CurationFilter):
    """An instruction to a model in the crawled text: it would reach a prompt (the generation gates'
    check, `augment.gates.has_injection`); a person must look."""

    name = "prompt_injection"

    def check(self, p, ctx):
        return (False, "prompt_injection") if has_injection(p.question, p.answer) else True


class TooShortFilter(CurationFilter):
    name = "too_short"

    def check(self, p, ctx):
        return (False, "too_short") if len(normalise(p.answer)) < ctx.settings.min_chars else True


class TooLongFilter(CurationFilter):
    name = "too_long"

    def check(self, p, ctx):
        return (False, "too_long") if len(p.answer) > ctx.settings.max_chars else True


class NearDuplicateFilter(CurationFilter):
    """The answer nearly repeats an earlier pair's answer (any origin; the earlier pair is kept)."""

    name = "near_duplicate"

    def check(self, p, ctx):
        hits = [pid for pid, _ in ctx.near.query(p.answer) if pid != p.pair_id] if normalise(p.answer) else []
        return (False, "near_duplicate") if hits else True


class OffDomainFilter(CurationFilter):
    name = "off_domain"

    def check(self, p, ctx):
        text = normalise(p.question + p.answer)
        if any(term and term in text for term in ctx.glossary):
            return True
        if ctx.domain_cosine(f"{p.question}\n{p.answer}") < ctx.settings.off_domain_cosine:
            return False, "off_domain"
        return True


FILTERS = CurationFilter.registry  # every curation filter by name, in the order they are defined


def signals(p: CrawlPair, settings: CurationSettings) -> list[str]:
    """Positive signals, as `+` reasons."""
    out = []
    if p.adopted:
        out.append("+adopted")
    if (p.badge or "").strip().lower() in EXPERT_BADGES:
        out.append("+expert")
    if p.likes is not None and p.likes >= settings.liked_min:
        out.append("+liked")
    return out


class CurationPipeline(FilterPipeline):
    """Runs the configured filters in order and counts flags like datatrove's per-filter stats."""

    def __init__(self, ctx: CurationContext, order: Sequence[str] | None = None) -> None:
        super().__init__(CurationFilter, ctx, list(order if order is not None else ctx.settings.order))
        self.reject = set(ctx.settings.reject)

    def judge(self, p: CrawlPair) -> tuple[ReviewStatus, list[str]]:
        flags = self.run(p)
        reasons = flags + signals(p, self.ctx.settings)
        status = ReviewStatus.rejected if self.reject & set(flags) else ReviewStatus.needs_review
        self.ctx.add_answers([(p.pair_id, p.answer)])
        return status, reasons


@dataclass
class CurationSummary:
    crawled: int = 0
    judged: int = 0
    changed: int = 0
    kept_person: int = 0  # pairs a person already decided: left alone
    clean: int = 0
    statuses: Counter = field(default_factory=Counter)
    reasons: Counter = field(default_factory=Counter)
    dry_run: bool = False


def _machine_owned(review: Review | None, p: CrawlPair) -> bool:
    """Whether the pair's verdict is still the machine's (no review, pending, set by `machine:…`),
    or no verdict holds for its current text (`db.review.holds`: a person judged another text)."""
    if review is None or review.status == ReviewStatus.pending:
        return True
    if not holds(review, p.question, p.answer):
        return True
    return review.status == ReviewStatus.needs_review and (review.reviewer or "").startswith("machine")


def _crawl_pairs(session: Session) -> list[tuple[CrawlPair, Review | None]]:
    asker = aliased(Question)
    rows = session.execute(
        select(QAPair, Review, asker.author_pseudonym, Answer)
        .outerjoin(Review, Review.pair_id == QAPair.id)
        .outerjoin(asker, asker.id == QAPair.question_id)
        .outerjoin(Answer, Answer.id == QAPair.answer_id)
        .where(QAPair.origin == Origin.crawl)
        .order_by(QAPair.id)
    ).all()
    out = []
    for pair, review, asked_by, answer in rows:
        out.append(
            (
                CrawlPair(
                    pair_id=pair.id,
                    question=pair.question_text,
                    answer=pair.answer_text,
                    category=pair.category,
                    asker=asked_by,
                    answerer=answer.author_pseudonym if answer else None,
                    badge=answer.author_badge if answer else None,
                    adopted=bool(answer.is_adopted) if answer else False,
                    likes=answer.like_count if answer else None,
                ),
                review,
            )
        )
    return out


def build_context(session: Session, settings: CurationSettings, embedder: Embedder | None = None):
    """The context: answers and category references of every non-crawled, non-rejected pair."""
    ctx = CurationContext(settings, embedder)
    rows = session.execute(
        select(QAPair.id, QAPair.answer_text, QAPair.question_text, QAPair.category, QAPair.origin)
        .outerjoin(Review, Review.pair_id == QAPair.id)
        .where(QAPair.origin != Origin.crawl)
        .where((Review.status.is_(None)) | (Review.status != ReviewStatus.rejected))
        .where((QAPair.split.is_(None)) | (QAPair.split != "test"))
        .order_by(QAPair.id)
    ).all()
    ctx.add_answers([(pid, a) for pid, a, *_ in rows])
    seen: set[str] = set()
    for _, a, q, cat, origin in rows:
        if origin == Origin.augment:
            continue
        text = f"{q}\n{a}"
        if text not in seen:
            seen.add(text)
            ctx.add_reference(cat, text)
    return ctx


def curate_crawl(
    url: str | None = None,
    settings: Settings | None = None,
    *,
    dry_run: bool = False,
    embedder: Embedder | None = None,
) -> CurationSummary:
    """Flag every crawled pair whose verdict is still the machine's, in one transaction."""
    from db.migrate import ensure_schema
    from db.session import session_factory

    settings = settings or get_settings()
    ensure_schema(url)
    summary = CurationSummary(dry_run=dry_run)
    session = session_factory(url)()
    try:
        with session.begin() as tx:
            ctx = build_context(session, settings.augment.curation, embedder)
            pipeline = CurationPipeline(ctx)
            for p, review in _crawl_pairs(session):
                summary.crawled += 1
                if not _machine_owned(review, p):
                    summary.kept_person += 1
                    if review.status != ReviewStatus.rejected:
                        ctx.add_answers([(p.pair_id, p.answer)])
                    continue
                status, reasons = pipeline.judge(p)
                summary.judged += 1
                summary.statuses[status.value] += 1
                summary.reasons.update(reasons)
                summary.clean += not any(is_flag(r) for r in reasons)
                event = set_review(
                    session, p.pair_id, status, reasons=reasons, actor=ACTOR, judged=(p.question, p.answer)
                )
                if event is not None:
                    summary.changed += 1
            if dry_run:
                tx.rollback()
    finally:
        session.close()
    return summary
