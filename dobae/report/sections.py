"""The report's sections: for each, the tables and the plots (matplotlib figures as PNG data URIs)
drawn from the data `dobae.report.data.load` gathered; `dobae.report.render` puts them on the page."""

from __future__ import annotations

import json
import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

from dobae.report.plots import png
from foundation.console import console

HANGUL = re.compile(r"[가-힣]")


def count_sentences(text: str) -> int:
    """Sentences as the seed team counted them: runs ending in . ! ? (`split_at_marks`; at least one
    per non-empty text)."""
    from qa.sentences import split_at_marks

    return len(split_at_marks(text))


class TextStats(NamedTuple):
    bytes: int  # UTF-8
    syllables: int  # Hangul syllables
    sentences: int


def text_stats(text: str) -> TextStats:
    """UTF-8 bytes, Hangul syllables and sentences of one text."""
    return TextStats(len(text.encode("utf-8")), len(HANGUL.findall(text)), count_sentences(text))


@dataclass
class Section:
    title: str
    note: str = ""
    images: list[str] = field(default_factory=list)
    tables: list[tuple[str, list[str], list[list[Any]]]] = field(default_factory=list)


def _describe(values: list[int]) -> list[Any]:
    import numpy as np

    if not values:
        return [0, "-", "-", "-", "-"]
    a = np.asarray(values)
    return [len(a), f"{a.mean():.1f}", int(np.median(a)), int(a.min()), int(a.max())]


SET_COLOURS = {"DACON": "#4c72b0", "crawled": "#dd8452"}
ORIGIN_COLOURS = {"dacon": "#4c72b0", "crawl": "#dd8452", "augment": "#55a868", "manual": "#8172b2"}


def analysis_section(plt, pairs: list[dict], embedder: Any | None) -> list[Section]:
    """The seed team's analysis, for the DACON-format pairs and (when there are some) the crawled ones."""
    import numpy as np

    sets = [
        (label, rows)
        for label, rows in (
            ("DACON", [p for p in pairs if p["origin"] == "dacon"]),
            ("crawled", [p for p in pairs if p["origin"] == "crawl"]),
        )
        if rows
    ]
    sec = Section(
        "Data analysis (DACON-format and crawled pairs)",
        "; ".join(
            f"{label}: {len(rows)} pairs, {len({p['q'] for p in rows})} distinct questions, "
            f"{len({p['a'] for p in rows})} distinct answers"
            for label, rows in sets
        )
        + (". " if sets else "No pairs yet. ")
        + "Bytes are UTF-8 bytes, syllables are Hangul syllables (가–힣), sentences end in . ! ? or a line break "
        "(each distinct text counted once).",
    )
    table = []
    stats: dict[tuple[str, str], dict[str, list[int]]] = {}
    for label, rows in sets:
        for name, key in (("question", "q"), ("answer", "a")):
            st = [text_stats(t) for t in dict.fromkeys(p[key] for p in rows)]
            stats[label, name] = {measure: [getattr(x, measure) for x in st] for measure in TextStats._fields}
            for measure, vals in stats[label, name].items():
                table.append([label, name, measure, *_describe(vals)])
    sec.tables.append(
        ("Per field", ["data", "field", "measure", "texts", "mean", "median", "min", "max"], table)
    )
    if sets:
        fig, axes = plt.subplots(len(sets), 2, figsize=(11, 2.9 * len(sets)), squeeze=False)
        for row, (label, _rows) in enumerate(sets):
            for col, name in enumerate(("question", "answer")):
                ax = axes[row][col]
                vals = np.asarray(stats[label, name]["syllables"] or [0])
                top = float(np.percentile(vals, 99))  # a few huge texts would flatten the rest
                cut = int((vals > top).sum())
                ax.hist(vals[vals <= top], bins=30, color=SET_COLOURS[label])
                ax.set_title(
                    f"{label} {'질문' if name == 'question' else '답변'} 길이 (음절)"
                    + (f" — {cut} longer than {top:.0f} not shown" if cut else "")
                )
                ax.set_xlabel("Hangul syllables")
                ax.set_ylabel("texts")
        sec.images.append(png(fig))

        cats = {label: Counter(p["category"] for p in rows) for label, rows in sets}
        names = sorted(  # most pairs first; ties by name, so every run writes the same table
            {c for cnt in cats.values() for c in cnt}, key=lambda c: (-sum(n[c] for n in cats.values()), c)
        )
        longest = max(len(c) for c in cats.values())
        fig, axes = plt.subplots(1, len(cats), figsize=(11, 0.32 * max(3, longest) + 1.2), squeeze=False)
        for ax, (label, cnt) in zip(axes[0], cats.items(), strict=True):  # one scale per data set
            order = sorted(cnt, key=lambda c: (-cnt[c], c))[::-1]  # ties by name: the same plot every run
            ax.barh(order, [cnt[c] for c in order], color=SET_COLOURS[label])
            ax.set_title(f"{label} 카테고리별 쌍 수")
            ax.set_xlabel("pairs")
        sec.images.append(png(fig))
        sec.tables.append(
            ("Categories", ["category", *[f"{label} pairs" for label in cats]],
             [[c, *[cats[label].get(c, 0) for label in cats]] for c in names])
        )  # fmt: skip
    out = [sec]

    if embedder is not None and sets:
        sim = Section(
            "Similarity",
            f"Cosine similarity with the project's embedder ({getattr(embedder, 'name', embedder)}): each "
            "question with its answer, and the paraphrased questions of one DACON row with each other "
            "(at most 3,000 pairs per data set).",
        )
        samples = {label: rows[:3000] for label, rows in sets}
        texts = list(dict.fromkeys(t for rows in samples.values() for p in rows for t in (p["q"], p["a"])))
        with console.status(f"embedding {len(texts)} texts for the similarity plots…"):
            vecs = np.asarray(embedder.encode(texts), dtype=np.float64)
        vecs /= np.linalg.norm(vecs, axis=1, keepdims=True) + 1e-12
        index = {t: i for i, t in enumerate(texts)}
        qa = {
            label: [float(vecs[index[p["q"]]] @ vecs[index[p["a"]]]) for p in rows]
            for label, rows in samples.items()
        }
        by_group: dict[str, list[str]] = {}
        for p in samples.get("DACON", []):
            qs = by_group.setdefault(p["group"], [])
            if p["q"] not in qs:
                qs.append(p["q"])
        qq = [
            float(vecs[index[qs[i]]] @ vecs[index[qs[j]]])
            for qs in by_group.values()
            for i in range(len(qs))
            for j in range(i + 1, len(qs))
        ]
        fig, axes = plt.subplots(1, 2, figsize=(11, 3.2))
        for label, vals in qa.items():  # shares, so a small data set is visible next to a large one
            axes[0].hist(vals or [0], bins=30, range=(-0.2, 1.0), alpha=0.65, label=f"{label} ({len(vals)})",
                         color=SET_COLOURS[label], weights=np.full(max(1, len(vals)), 1 / max(1, len(vals))))  # fmt: skip
        axes[0].set_title("질문–답변 유사도")
        axes[0].set_ylabel("share of pairs")
        axes[0].legend(fontsize=8)
        axes[1].hist(qq or [0], bins=30, range=(-0.2, 1.0), color=SET_COLOURS["DACON"])
        axes[1].set_title("질문–질문 유사도 (DACON 같은 행)")
        axes[1].set_ylabel("question pairs")
        for ax in axes:
            ax.set_xlabel("cosine")
        sim.images.append(png(fig))
        rows_ = [(f"question–answer ({label})", v) for label, v in qa.items()]
        rows_.append(("question–question (DACON, same row)", qq))
        sim.tables.append(
            ("Similarity summary", ["pairing", "n", "mean", "min", "max"],
             [[name, len(v), f"{np.mean(v):.3f}" if v else "-", f"{min(v):.3f}" if v else "-",
               f"{max(v):.3f}" if v else "-"] for name, v in rows_])
        )  # fmt: skip
        out.append(sim)
    return out


def _seconds(c: dict) -> float | None:
    if c["started"] and c["finished"]:
        return round((c["finished"] - c["started"]).total_seconds(), 1)
    return c["stats"].get("elapsed_s")


def crawl_section(plt, crawls: list[dict], posted: list[Any]) -> Section:
    """Crawl runs over time (crawl_runs.stats, written by the Scrapy pipeline) and the crawled
    questions by the date the site says they were posted."""
    sec = Section(
        "Crawl runs over time",
        "Per crawl run (crawl_runs.stats): pages received, questions scraped and dropped, what the database "
        "pipeline did with them (new / updated / unchanged / marked deleted), retries and HTTP statuses, "
        "where the questions were read from (JSON endpoint, JSON embedded in the page, HTML) and how many were "
        "stored with fewer comments than their page stated (comments incomplete: no comment JSON answered); "
        "then the crawled questions by the date they were posted on the site.",
    )
    import numpy as np

    rows, statuses = [], []
    for c in crawls:
        st = c["stats"]
        codes = {
            k.rsplit("/", 1)[1]: v for k, v in st.items() if k.startswith("downloader/response_status_count/")
        }
        statuses.append(codes)
        rows.append([c["id"], c["spider"], c["status"], str(c["started"])[:19], _seconds(c) or "-",
                     st.get("response_received_count", st.get("pages", 0)),
                     st.get("item_scraped_count", st.get("items", 0)),
                     st.get("item_dropped_count", st.get("dropped", 0)),
                     st.get("db/questions_inserted", 0), st.get("db/questions_updated", 0),
                     st.get("db/questions_unchanged", 0), st.get("db/questions_deleted", 0),
                     st.get("retry/count", 0),
                     " ".join(f"{k}:{v}" for k, v in sorted(codes.items())) or "-",
                     " ".join(f"{k.rsplit('/', 1)[1]}:{v}" for k, v in sorted(st.items())
                              if k.endswith(("/parsed/json", "/parsed/embedded", "/parsed/html"))) or "-",
                     sum(v for k, v in st.items() if k.endswith("/comments_incomplete"))])  # fmt: skip
    sec.tables.append(
        ("Crawl runs", ["id", "spider", "status", "started (UTC)", "seconds", "pages", "items", "dropped",
                        "new", "updated", "unchanged", "deleted", "retries", "HTTP statuses", "parsed from",
                        "comments incomplete"], rows)
    )  # fmt: skip
    if crawls:
        fig, axes = plt.subplots(1, 2, figsize=(11, 3.2))
        labels = [f"#{c['id']}\n{str(c['started'])[5:16]}" for c in crawls]  # chronological
        xs = np.arange(len(crawls))
        for j, (col, name) in enumerate(((5, "pages"), (6, "items"), (8, "new questions"))):
            axes[0].bar(xs + (j - 1) * 0.27, [r[col] or 0 for r in rows], 0.27, label=name)
        axes[0].set_xticks(xs, labels, fontsize=7)
        axes[0].set_xlim(-0.8, max(len(crawls), 4) - 0.2)
        axes[0].legend(fontsize=8)
        axes[0].set_title("크롤링 실행별 수집량")
        axes[0].set_xlabel("crawl run (started, UTC)")
        codes = sorted({k for st in statuses for k in st})
        bottom = [0] * len(crawls)
        for code in codes:
            vals = [st.get(code, 0) for st in statuses]
            axes[1].bar(xs, vals, 0.6, bottom=bottom, label=f"HTTP {code}")
            bottom = [a + b for a, b in zip(bottom, vals, strict=True)]
        axes[1].set_xticks(xs, labels, fontsize=7)
        axes[1].set_xlim(-0.8, max(len(crawls), 4) - 0.2)  # a lone run gets a normal-width bar
        axes[1].set_title("실행별 HTTP 응답 상태")
        axes[1].set_xlabel("crawl run")
        if codes:
            axes[1].legend(fontsize=7)
        sec.images.append(png(fig))
    days = Counter(d.date().isoformat() for d in posted if d is not None)
    undated = sum(1 for d in posted if d is None)
    if days:
        fig, ax = plt.subplots(figsize=(11, 2.8))
        xs = sorted(days)
        ax.bar(xs, [days[x] for x in xs], color="#4c72b0")
        ax.set_title("게시일별 수집된 질문 수")
        ax.set_ylabel("questions")
        step = max(1, len(xs) // 15)
        ax.set_xticks(range(0, len(xs), step), xs[::step], rotation=30, fontsize=7)
        sec.images.append(png(fig))
    sec.tables.append(
        ("Crawled questions by posting date", ["posted (date)", "questions"],
         [[d, n] for d, n in sorted(days.items())] + ([["(no date)", undated]] if undated else []))
    )  # fmt: skip
    return sec


def review_section(plt, pairs: list[dict], progress: Any = None) -> list[Section]:
    from dobae.status import progress_rows

    status = Counter(p["status"] for p in pairs)
    reasons = Counter(r for p in pairs for r in p["reasons"])
    sec = Section("Review status and reasons", "Machine review flags (augment gates) and human decisions.")
    if progress is not None:  # the numbers `dobae status` and `dobae review serve` show
        sec.tables.append(
            ("Review progress", ["what", "who", "pairs"], [list(r) for r in progress_rows(progress)])
        )
    sec.tables.append(("Review status", ["status", "pairs"], [[k, v] for k, v in status.most_common()]))
    sec.tables.append(("Machine reasons", ["reason", "pairs"], [[k, v] for k, v in reasons.most_common()]))
    fig, axes = plt.subplots(1, 2, figsize=(10, 3))
    axes[0].bar_label(axes[0].bar(list(status), list(status.values()), color="#8172b2"), fontsize=8)
    axes[0].set_title("검토 상태")
    if reasons:
        axes[1].barh(list(reasons), list(reasons.values()), color="#ccb974")
    axes[1].set_title("사유")
    sec.images.append(png(fig))

    origin_cat = Counter((p["origin"], p["category"]) for p in pairs)
    origins = sorted({o for o, _ in origin_cat})
    cats = sorted({c for _, c in origin_cat})
    sec2 = Section("Pairs by origin and category")
    sec2.tables.append(
        ("Pairs", ["category", *origins, "total"],
         [[c, *[origin_cat.get((o, c), 0) for o in origins], sum(origin_cat.get((o, c), 0) for o in origins)]
          for c in cats])
    )  # fmt: skip
    if cats:  # one panel per origin: crawled or augmented pairs stay visible next to thousands of DACON ones
        fig, axes = plt.subplots(1, len(origins), figsize=(11, 0.3 * max(3, len(cats)) + 1.2), squeeze=False,
                                 sharey=True)  # fmt: skip
        for ax, o in zip(axes[0], origins, strict=True):
            vals = [origin_cat.get((o, c), 0) for c in cats]
            bars = ax.barh(cats, vals, color=ORIGIN_COLOURS.get(o, "#8c8c8c"))
            ax.bar_label(bars, labels=[str(v) if v else "" for v in vals], fontsize=7)
            ax.set_title(f"{o} 쌍 수")
            ax.set_xlabel("pairs")
            ax.set_xlim(0, max(vals) * 1.25 + 1)
        sec2.images.append(png(fig))
    return [sec, sec2]


def _num(x: Any) -> str:
    return f"{x:.4f}" if isinstance(x, int | float) else "-"


def training_section(plt, runs: list[dict]) -> Section:
    sec = Section("Training loss", "From each run folder's log.jsonl (transformers Trainer log history).")
    rows = []
    fig, ax = plt.subplots(figsize=(8, 3))
    plotted = False
    for r in runs:
        m = r["metrics"]
        rows.append([r["id"], r["name"], "/".join(Path(r["dir"]).parts[-3:]), r["status"], m.get("steps", "-"),
                     _num(m.get("train_loss")), _num(m.get("eval_loss")), _num(m.get("metric"))])  # fmt: skip
        log = Path(r["dir"]) / "log.jsonl"
        if not log.is_file():
            continue
        hist = [json.loads(line) for line in log.read_text(encoding="utf-8").splitlines() if line.strip()]
        tr = [(h["step"], h["loss"]) for h in hist if "loss" in h and "step" in h]
        ev = [(h["step"], h["eval_loss"]) for h in hist if "eval_loss" in h and "step" in h]
        if tr:
            ax.plot(*zip(*tr, strict=True), label=f"#{r['id']} {r['name']} train")
            plotted = True
        if ev:
            ax.plot(*zip(*ev, strict=True), marker="o", linestyle="--", label=f"#{r['id']} {r['name']} eval")
            plotted = True
    sec.tables.append(
        (
            "Training runs",
            ["id", "name", "folder", "status", "steps", "train loss", "eval loss", "metric"],
            rows,
        )
    )
    if plotted:
        ax.set_xlabel("step")
        ax.set_ylabel("loss")
        ax.legend(fontsize=7)
        ax.set_title("학습 손실")
        sec.images.append(png(fig))
    else:
        plt.close(fig)
    return sec


def score_section(plt, evals: list[dict]) -> Section:
    sec = Section(
        "Scores", "Cross-validated DACON metric (evaluations table); by category and single/double."
    )
    sec.tables.append(
        ("Evaluations", ["id", "answerer", "embedder", "data sha256", "folds", "mean", "std", "at (UTC)"],
         [[e["id"], e["answerer"], e["embedder"], (e["data"] or "-")[:12], e["folds"], f"{e['mean']:.4f}",
           f"{e['std']:.4f}", str(e["at"])[:16]] for e in evals])
    )  # fmt: skip
    if not evals:
        return sec
    latest: dict[str, dict] = {}
    for e in evals:
        latest[e["answerer"]] = e
    kinds = sorted({k for e in latest.values() for k in e["breakdown"].get("by_kind", {})})
    cats = sorted({k for e in latest.values() for k in e["breakdown"].get("by_category", {})})
    sec.tables.append(
        ("By single/double (latest per answerer)", ["answerer", *kinds],
         [[a, *[f"{e['breakdown'].get('by_kind', {}).get(k, float('nan')):.4f}" for k in kinds]]
          for a, e in latest.items()])
    )  # fmt: skip
    sec.tables.append(
        ("By category (latest per answerer)", ["category", *latest],
         [[c, *[f"{e['breakdown'].get('by_category', {}).get(c, float('nan')):.4f}" for e in latest.values()]]
          for c in cats])
    )  # fmt: skip
    fig, axes = plt.subplots(1, 2, figsize=(11, 0.3 * max(4, len(cats)) + 1.5))
    width = 0.8 / max(1, len(latest))
    for i, (a, e) in enumerate(latest.items()):
        bk = e["breakdown"].get("by_kind", {})
        axes[0].bar([j + i * width for j in range(len(kinds))], [bk.get(k, 0) for k in kinds], width, label=a)
        bc = e["breakdown"].get("by_category", {})
        axes[1].barh([j + i * width for j in range(len(cats))], [bc.get(c, 0) for c in cats], width, label=a)
    axes[0].set_xticks(range(len(kinds)), kinds)
    axes[0].set_title("단일/복합 질문 점수")
    axes[1].set_yticks(range(len(cats)), cats)
    axes[1].set_title("카테고리별 점수")
    axes[0].legend(fontsize=7)
    sec.images.append(png(fig))
    return sec


def ablation_section(plt, evals: list[dict]) -> Section | None:
    """The latest `dobae evaluate --add-origin` run: score with and without each source."""
    runs: dict[str, list[dict]] = {}
    for e in evals:
        ab = e["breakdown"].get("ablation")
        if ab:
            runs.setdefault(ab["run"], []).append(e)
    if not runs:
        return None
    rows = runs[list(runs)[-1]]
    sec = Section(
        "Data sources",
        "What each source adds (`dobae evaluate --add-origin …`): the same grouped folds and questions, "
        "trained with and without each source's approved pairs; Δ against the base with a 95 % paired "
        "bootstrap interval.",
    )
    table = []
    for e in rows:
        ab = e["breakdown"]["ablation"]
        ci = ab.get("ci95") or [0.0, 0.0]
        base = ab["name"] == "base"
        table.append([ab["name"], ab["extra_pairs"], f"{e['mean']:.4f} ± {e['std']:.4f}",
                      "" if base else f"{ab['delta']:+.4f}", "" if base else f"[{ci[0]:+.4f}, {ci[1]:+.4f}]"])  # fmt: skip
    sec.tables.append(
        (f"Ablation ({rows[0]['answerer']}, {rows[0]['folds']} folds, {rows[0]['embedder']})",
         ["training data", "extra pairs", "mean ± sd", "Δ vs base", "95 % interval"], table)
    )  # fmt: skip
    others = [e for e in rows if e["breakdown"]["ablation"]["name"] != "base"]
    if others:
        fig, ax = plt.subplots(figsize=(7, 0.5 * len(others) + 1.5))
        names = [e["breakdown"]["ablation"]["name"] for e in others]
        deltas = [e["breakdown"]["ablation"]["delta"] for e in others]
        lo = [d - e["breakdown"]["ablation"]["ci95"][0] for d, e in zip(deltas, others, strict=True)]
        hi = [e["breakdown"]["ablation"]["ci95"][1] - d for d, e in zip(deltas, others, strict=True)]
        ax.barh(range(len(others)), deltas, xerr=[lo, hi], capsize=4, color="#4c72b0")
        ax.axvline(0, color="black", linewidth=0.8)
        ax.set_yticks(range(len(others)), names)
        ax.set_xlabel("Δ score vs base (95% CI)")
        ax.set_title("데이터 출처별 효과")
        sec.images.append(png(fig))
    return sec
