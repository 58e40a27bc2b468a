"""A first end-to-end pass: signed /feel over HTTP, stored in Redis, answered via response_url."""

from __future__ import annotations

from tests.bot.conftest import RunningBot


async def test_feel_is_acked_saved_and_answered(bot: RunningBot) -> None:
    status = await bot.command("/feel", "3 tired after standup")
    assert status == 200
    await bot.slack.wait_for("response_url")
    reply = bot.slack.responses()[-1]
    assert "3" in str(reply.params.get("text"))
    entries = await bot.store.feelings("T0TEST", "U0USER", since=bot.clock.now().replace(year=2020))
    assert [(e.score, e.note) for e in entries] == [(3, "tired after standup")]
