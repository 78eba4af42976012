"""``glassnet playground``: train a network live in the browser and click any weight to see
its backpropagation with the last step's numbers (optional extra ``glassnet[playground]``).

``session`` holds the model side (validation of every message, one tab's training session)
and needs only glassnet; ``server`` is the Starlette/uvicorn application; ``static/`` the page
(plain HTML, CSS and JavaScript, nothing fetched from elsewhere). See docs/playground.md.
"""

__all__ = ["serve", "create_app"]


def serve(host: str = "127.0.0.1", port: int = 8765, open_browser: bool = True) -> None:
    """Start the playground's server (imports Starlette and uvicorn only now)."""
    from .server import serve as _serve

    _serve(host=host, port=port, open_browser=open_browser)


def create_app(debug_endpoints: bool = False):  # type: ignore[no-untyped-def]
    """The ASGI application (see ``server.create_app``)."""
    from .server import create_app as _create_app

    return _create_app(debug_endpoints=debug_endpoints)
