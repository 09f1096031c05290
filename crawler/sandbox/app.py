"""The sandbox web application (Starlette): every route of `CONTRACT.md`.

`create_app(site)` assembles the routes — grouped by page kind in `routes/` (site files, lists,
questions, the JSON API, faults, admin), the boards (`boards.py`) and, with `--era`, the era's own
list, question and JSON routes in their place (`routes/eras.py`, markup parts in `eras.py`) — around one `Site` (content + run-time
state), and wraps the app in the rate limit, the redesign and the request log when asked for.
Responses carry the site's fixed clock in `Date` (`responses.py`).
"""

from __future__ import annotations

from types import SimpleNamespace

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from crawler.sandbox import boards, payloads, render, responses
from crawler.sandbox.middleware import RateLimit, RequestLog
from crawler.sandbox.routes import admin, api, faults, lists, questions, site_files
from crawler.sandbox.site import Site

# the routes an era replaces with its own (`eras.routes`)
ERA_REPLACES = {
    "/questions", "/questions.json", "/questions/{qid:int}.json", "/questions/{qid:int}/comments.json",
    "/questions/{qid:int}", "/spa/questions", "/spa/questions/{qid:int}", "/community/posts/{slug_id}",
}  # fmt: skip


def site_routes() -> list[Route]:
    """Every route of the default site, in the order Starlette tries them."""
    return [
        Route("/robots.txt", site_files.robots),
        Route("/sitemap.xml", site_files.sitemap_index),
        Route("/sitemaps/questions-{n:int}.xml", site_files.sitemap_urls),
        Route("/questions", lists.question_list),
        Route("/questions/", questions.trailing_slash),
        Route("/questions.json", api.question_list_json),
        Route("/questions/new", questions.new_question),
        Route("/questions/{qid:int}.json", api.question_json_route),
        Route("/questions/{qid:int}/comments.json", api.comments_json),
        Route("/questions/{qid:int}/report", questions.report),
        Route("/questions/{qid:int}", questions.question_page),
        Route("/questions/{qid:int}/", questions.trailing_slash),
        Route("/users/sign_in", questions.sign_in),
        Route("/users/{uid:int}", questions.user_page),
        Route("/spa/questions", lists.spa_list),
        Route("/spa/questions/{qid:int}", questions.spa_question),
        Route("/community/posts/{slug_id}", questions.community_post),
        Route("/faults/500", faults.fault_500),
        Route("/faults/503", faults.fault_503),
        Route("/faults/429", faults.fault_429),
        Route("/faults/slow", faults.fault_slow),
        Route("/faults/truncated.json", faults.fault_truncated),
        Route("/faults/short", faults.fault_short),
        Route("/faults/login", faults.fault_login),
        Route("/static/img/{path:path}", site_files.image),
        Route("/_sandbox/questions/{qid:int}/edit", admin.admin_edit, methods=["POST"]),
        Route("/_sandbox/churn", admin.admin_churn, methods=["POST"]),
        Route("/_sandbox/state", admin.admin_state),
        *boards.routes(responses.respond),
    ]


def era_helpers() -> SimpleNamespace:
    """What an era's routes use of the default site (`eras.routes(site, h)`)."""
    return SimpleNamespace(
        render=render.render, respond=responses.respond, respond_json=responses.respond_json,
        not_found=responses.not_found, bad_request=responses.bad_request, fault=faults.question_fault,
        count=render.count, long_date=render.long_date, short_date=render.short_date,
        excerpt=payloads.excerpt, react_props=payloads.react_props, Markup=render.Markup,
        int_param=responses.int_param, ORDERS=lists.ORDERS, question_list_json=api.question_list_json,
        question_json_route=api.question_json_route, comments_json=api.comments_json,
        render_feed=render.render_feed, page=render.era_page, next_data=payloads.next_data_json,
    )  # fmt: skip


async def _not_found(request: Request, exc: Exception) -> Response:
    return responses.not_found()


def create_app(site: Site):
    """The ASGI app serving `site`."""
    routes = site_routes()
    if site.era is not None:
        from crawler.sandbox.routes import eras

        routes = eras.routes(site, era_helpers()) + [r for r in routes if r.path not in ERA_REPLACES]
    app = Starlette(routes=routes, exception_handlers={404: _not_found})
    app.state.site = site
    wrapped = RateLimit(app, site) if site.rate_limit else app
    if site.redesign is not None:
        from crawler.sandbox.redesign import Redesign

        wrapped = Redesign(wrapped, site.redesign)
    return RequestLog(wrapped, site) if site.request_log is not None else wrapped
