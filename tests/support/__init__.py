"""Test support: a throwaway Redis, a fake Slack Web API, and signed Slack requests.

The identifiers below are the test workspace both the fake Slack and the request builders use,
so that what Bolt learns from `auth.test` matches the requests the tests send.
"""

from __future__ import annotations

TEAM_ID = "T0TEST"
TEAM_DOMAIN = "baseline-test"
API_APP_ID = "A0BASELINE"
BOT_USER_ID = "U0BOT"
BOT_ID = "B0BOT"
USER_ID = "U0USER"
CHANNEL_ID = "C0GENERAL"
# The deprecated verification token Slack still sends in payloads; Bolt ignores it.
VERIFICATION_TOKEN = "verification-token"
