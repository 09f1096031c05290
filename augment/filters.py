"""One filter framework for the generation gates (`augment.gates`) and the crawl curation
(`augment.curation`), shaped like datatrove's filters.

A filter is one small class: it sets `name` and implements `check(item, ctx)`, which returns `True`
or `(False, "reason")` (`False` alone means the filter's name is the reason). Defining the class
registers it in its family (`Gate.registry`, `CurationFilter.registry`), so a new gate or curation
flag is that class and its name in the configured order (`settings.augment.gates.order`,
`settings.augment.curation.order`): the order is data, not code.

`FilterPipeline` runs a family's filters in the configured order, collects each failing reason
once and counts them per reason; the gates and the curation map the reasons to a review status.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import Any, ClassVar

from foundation.errors import ConfigError

FilterResult = bool | tuple[bool, str]


class Filter:
    """One check. A family (a direct subclass that sets `registry`, `noun` and `setting`) collects
    its members: every subclass with a `name` registers itself when it is defined."""

    name: ClassVar[str]
    registry: ClassVar[dict[str, type[Filter]]]
    noun: ClassVar[str] = "filter"  # in messages: "unknown gate(s) …"
    setting: ClassVar[str] = ""  # where the order is configured, for messages

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "registry" in cls.__dict__:
            return  # a family base
        name = cls.__dict__.get("name")
        if name:
            if name in cls.registry and cls.registry[name].__qualname__ != cls.__qualname__:
                raise ConfigError(
                    f"two {cls.noun}s are named {name!r}: {cls.registry[name].__qualname__}, {cls.__qualname__}"
                )
            cls.registry[name] = cls

    def check(self, item: Any, ctx: Any) -> FilterResult:  # pragma: no cover - interface
        raise NotImplementedError


class FilterPipeline:
    """Runs a family's filters in `order`; `reasons(item)` lists each failing reason once and
    `counts` tallies them (`clean` for an item no filter flagged) like datatrove's per-filter stats."""

    def __init__(self, family: type[Filter], ctx: Any, order: Sequence[str], clean: str = "clean") -> None:
        unknown = [n for n in order if n not in family.registry]
        if unknown:
            raise ConfigError(
                f"unknown {family.noun}(s) {', '.join(unknown)} in {family.setting}; "
                f"known: {', '.join(family.registry)}"
            )
        self.ctx = ctx
        self.filters = [family.registry[n]() for n in order]
        self.clean = clean
        self.counts: Counter[str] = Counter()

    def run(self, item: Any, filters: Sequence[Filter] | None = None) -> list[str]:
        """The reasons `item` fails (configured order, each once); counted."""
        reasons: list[str] = []
        for f in self.filters if filters is None else filters:
            result = f.check(item, self.ctx)
            if result is True:
                continue
            ok, reason = result if isinstance(result, tuple) else (bool(result), f.name)
            if not ok and reason not in reasons:
                reasons.append(reason)
        self.counts.update(reasons or [self.clean])
        return reasons
