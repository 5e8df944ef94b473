"""One Looker call on behalf of the signed-in user, with the token renewed at most once.

lease -> call -> on 401: renew once (shared with concurrent callers) and call again -> a
second 401 means the user must sign in again (`reauth_required`).
"""

from __future__ import annotations

from collections.abc import Mapping

from service.auth.sessions import CurrentSession
from service.errors import ReauthRequired
from service.looker.client import UpstreamResponse
from service.runtime import Runtime


async def call_looker(
    runtime: Runtime, session: CurrentSession, method: str, path: str, *,
    query: str = "", body: bytes | None = None, headers: Mapping[str, str] | None = None,
    kind: str = "api",
) -> UpstreamResponse:
    lease = await runtime.tokens.lease(session.user_id)
    response = await runtime.looker.send(method, path, token=lease.access_token, query=query,
                                         body=body, headers=headers, kind=kind)
    if response.status != 401:
        return response
    await response.aclose()
    lease = await runtime.tokens.renew(session.user_id, lease)
    response = await runtime.looker.send(method, path, token=lease.access_token, query=query,
                                         body=body, headers=headers, kind=kind)
    if response.status == 401:
        await response.aclose()
        await runtime.tokens.mark_rejected(session.user_id, lease)
        raise ReauthRequired("Looker rejected the renewed token: sign in again")
    return response
