"""Serving an aiohttp app on 127.0.0.1 for the demo: the bot, the Slack simulator and the
calendar feeds each get a free port, chosen by the OS when the socket is bound (so there is
no window in which another process can take it)."""

from __future__ import annotations

import socket

from aiohttp import web


async def serve_on_loopback(app: web.Application) -> tuple[web.AppRunner, str]:
    """Start ``app`` and return its runner (``cleanup()`` stops it) and base URL."""
    # No access log: request lines carry secret calendar addresses and response URLs.
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    await web.SockSite(runner, sock).start()
    return runner, f"http://127.0.0.1:{port}"
