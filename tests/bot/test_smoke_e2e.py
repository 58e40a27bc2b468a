"""A first end-to-end pass: signed /feel over HTTP, stored in Redis, answered in the ack."""

from __future__ import annotations

import json

from tests.bot.conftest import RunningBot
from tests.support.signing import slash_command_body


async def test_feel_is_acked_saved_and_answered(bot: RunningBot) -> None:
    body = slash_command_body(command="/feel", text="3 tired after standup")
    status, reply = await bot.post_for_json(body)
    assert status == 200
    assert "3" in str(reply.get("text"))
    assert "tired" not in json.dumps(reply)  # the note is never echoed back
    assert bot.slack.responses() == []
    entries = await bot.store.feelings("T0TEST", "U0USER", since=bot.clock.now().replace(year=2020))
    assert [(e.score, e.note) for e in entries] == [(3, "tired after standup")]
