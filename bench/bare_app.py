"""A bare Bolt app that only acks ``/feel``: the baseline for bench/feel_http.py.

Run as ``python -m bench.bare_app`` with PORT, SLACK_SIGNING_SECRET, SLACK_BOT_TOKEN and
SLACK_API_URL in the environment (the same HTTP stack as Baseline, minus Baseline).
"""

from __future__ import annotations

import os

from aiohttp import web
from slack_bolt.async_app import AsyncAck, AsyncApp
from slack_sdk.web.async_client import AsyncWebClient


def main() -> None:
    client = AsyncWebClient(
        token=os.environ["SLACK_BOT_TOKEN"], base_url=os.environ["SLACK_API_URL"]
    )
    app = AsyncApp(
        token=os.environ["SLACK_BOT_TOKEN"],
        signing_secret=os.environ["SLACK_SIGNING_SECRET"],
        client=client,
    )

    @app.command("/feel")
    async def feel(ack: AsyncAck) -> None:
        await ack()

    web.run_app(
        app.web_app(path="/slack/events"),
        host="127.0.0.1",
        port=int(os.environ["PORT"]),
        print=None,
    )


if __name__ == "__main__":
    main()
