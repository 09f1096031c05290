"""`dobae review serve`: added to the `dobae review` group of `db.cli` by the CLI root (the app
layer adds it, so db never imports the web app)."""

from __future__ import annotations

import typer

from foundation.console import console, out


def serve_cmd(
    host: str = typer.Option(
        "127.0.0.1", "--host", help="address to listen on; any but loopback needs a token"
    ),
    port: int = typer.Option(8765, "--port", min=1, max=65535, help="port to listen on"),
    reviewer: str | None = typer.Option(
        None, "--reviewer", help="your name for the review log (default: $USER; the page can change it)"
    ),
    token: str | None = typer.Option(
        None,
        "--token",
        help="required on every request (cookie, ?token= once, or X-Dobae-Token); generated and printed "
        "when --host is not loopback",
    ),
) -> None:
    """A local review page: the queue with filters and counts per reason, each pair's card with its
    source and history, approve / reject / needs review / edit with the keyboard (a r n e, j k to move),
    bulk approval of a filtered set. Every change goes through db.review (version check, review_events).

    Example: `dobae review serve --reviewer kim` then open http://127.0.0.1:8765
    """
    import uvicorn

    from db.migrate import ensure_schema
    from db.review import default_actor
    from db.session import require_database
    from dobae.review_app.app import create_app
    from dobae.review_app.serve import is_loopback, token_for

    url = require_database()
    ensure_schema(url)
    needed = token_for(host, token)
    app = create_app(url, reviewer or default_actor(), token=needed, loopback_only=is_loopback(host))
    shown = "127.0.0.1" if host in ("0.0.0.0", "::") else host
    address = f"http://{shown}:{port}/" + (f"?token={needed}" if needed else "")
    console.print(f"review page on {host}:{port}; open (Ctrl-C stops):", markup=False)
    out.print(address, markup=False, soft_wrap=True)
    uvicorn.run(app, host=host, port=port, log_level="warning")


def register(review_app: typer.Typer) -> None:
    review_app.command("serve")(serve_cmd)
