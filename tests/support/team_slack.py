"""A fake Slack that also knows channels, roles and user groups: what recovery windows and
the team view ask Slack (a subclass, so the shared fake stays as it is)."""

from __future__ import annotations

from typing import Any

from tests.support.fake_slack import FakeSlack, JsonObject, _SlackError


class TeamSlack(FakeSlack):
    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.admins: set[str] = set()
        self.owners: set[str] = set()
        self.channel_members: dict[str, list[str]] = {}
        """conversations.members per channel id (paged by `page_size`)."""
        self.channel_creator: dict[str, str] = {}
        self.usergroups: dict[str, tuple[str, list[str]]] = {}
        """handle → (usergroup id, member ids)."""
        self.page_size = 2
        self._methods.update(
            {
                "users.info": self._team_users_info,
                "conversations.info": self._conversations_info,
                "conversations.members": self._conversations_members,
                "usergroups.list": self._usergroups_list,
                "usergroups.users.list": self._usergroups_users_list,
            }
        )

    def _team_users_info(self, params: dict[str, Any]) -> JsonObject:
        answer = self._users_info(params)
        user_id = answer["user"]["id"]
        answer["user"]["is_admin"] = user_id in self.admins or user_id in self.owners
        answer["user"]["is_owner"] = user_id in self.owners
        return answer

    def _conversations_info(self, params: dict[str, Any]) -> JsonObject:
        channel = str(params.get("channel", ""))
        if channel not in self.channel_members:
            raise _SlackError("channel_not_found")
        return {"channel": {"id": channel, "creator": self.channel_creator.get(channel, "")}}

    def _conversations_members(self, params: dict[str, Any]) -> JsonObject:
        channel = str(params.get("channel", ""))
        if channel not in self.channel_members:
            raise _SlackError("channel_not_found")
        members = self.channel_members[channel]
        start = int(params.get("cursor") or 0)
        end = start + self.page_size
        cursor = str(end) if end < len(members) else ""
        return {"members": members[start:end], "response_metadata": {"next_cursor": cursor}}

    def _usergroups_list(self, params: dict[str, Any]) -> JsonObject:
        return {
            "usergroups": [
                {"id": group_id, "handle": handle}
                for handle, (group_id, _) in self.usergroups.items()
            ]
        }

    def _usergroups_users_list(self, params: dict[str, Any]) -> JsonObject:
        wanted = str(params.get("usergroup", ""))
        for group_id, users in self.usergroups.values():
            if group_id == wanted:
                return {"users": users}
        raise _SlackError("no_such_subteam")


def team_slack(fake: FakeSlack) -> TeamSlack:
    """The running bot's fake Slack, as the TeamSlack the team tests start it with."""
    assert isinstance(fake, TeamSlack)
    return fake
