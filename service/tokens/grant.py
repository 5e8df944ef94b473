"""The refresh-token grant against Looker's `POST /api/token`, classified.

Authlib drives the login (authorization code) exchange; the refresh grant is sent here
directly because the refresher must tell a refused refresh token (`invalid_grant`: the
user must sign in again) from a Looker that is briefly down or rate limiting (retry
later, honouring `Retry-After`), and Authlib folds both into one exception.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import httpx2

from service.config import Settings

log = logging.getLogger(__name__)

_REFUSED = {"invalid_grant", "invalid_client", "unauthorized_client", "invalid_request"}


@dataclass(frozen=True, slots=True)
class Granted:
    access_token: str
    refresh_token: str | None  # None: keep the one we have (no rotation)
    expires_in: int

    def __repr__(self) -> str:
        return f"Granted(expires_in={self.expires_in})"


@dataclass(frozen=True, slots=True)
class Refused:
    """Looker will not refresh this token again: the user has to sign in."""

    reason: str


@dataclass(frozen=True, slots=True)
class Failed:
    """Transient: network error, 5xx, 429 or junk. Retry later."""

    reason: str
    retry_after: float | None = None


Outcome = Granted | Refused | Failed


def _retry_after(response: httpx2.Response) -> float | None:
    value = response.headers.get("retry-after", "")
    try:
        return max(0.0, float(value)) if value else None
    except ValueError:
        return None


def parse_token_response(status: int, body: object) -> Outcome:
    """Classify a token endpoint answer (shared by the refresh and code grants)."""
    data = body if isinstance(body, dict) else {}
    if status == 200 and isinstance(data.get("access_token"), str) and data["access_token"]:
        refresh = data.get("refresh_token")
        try:
            expires_in = int(data.get("expires_in") or 3600)
        except (TypeError, ValueError):
            expires_in = 3600
        return Granted(data["access_token"], refresh if isinstance(refresh, str) and refresh
                       else None, max(expires_in, 1))
    error = data.get("error")
    if status in (400, 401, 403) and error in _REFUSED:
        return Refused(str(error))
    if status in (400, 401) and error is None and isinstance(data.get("message"), str):
        return Refused(f"http_{status}")  # Looker's own error shape
    # anything else (a proxy's HTML page, an unknown error) may pass: retry, sign no one out
    return Failed(f"http_{status}" + (f"_{error}" if isinstance(error, str) else ""))


async def refresh_grant(http: httpx2.AsyncClient, settings: Settings,
                        refresh_token: str) -> Outcome:
    form = {
        "grant_type": "refresh_token",
        "refresh_token": refresh_token,
        "client_id": settings.looker_client_id,
        # Looker's SDKs send it and a refresh without it has been seen failing
        "redirect_uri": settings.redirect_uri,
    }
    try:
        response = await http.post(f"{settings.looker_api_url}/api/token", data=form,
                                   headers={"Accept": "application/json"})
    except httpx2.TimeoutException:
        return Failed("timeout")
    except httpx2.TransportError as exc:
        return Failed(f"network_{type(exc).__name__}")
    if response.status_code == 429 or response.status_code >= 500:
        return Failed(f"http_{response.status_code}", _retry_after(response))
    try:
        body = response.json()
    except ValueError:
        body = None
    return parse_token_response(response.status_code, body)


async def revoke_grant(http: httpx2.AsyncClient, settings: Settings, access_token: str) -> bool:
    """`DELETE /api/logout`: Looker invalidates the access token and its refresh token.

    Best effort (True when Looker confirmed): a Looker that is down must not stop a
    sign-out.
    """
    try:
        response = await http.delete(f"{settings.looker_api_url}/api/logout",
                                     headers={"Authorization": f"Bearer {access_token}"},
                                     timeout=5.0)
    except httpx2.HTTPError as exc:
        log.warning("Looker logout failed (%s); signing out locally", type(exc).__name__)
        return False
    if response.status_code >= 300:
        log.warning("Looker logout answered %s", response.status_code)
    return response.status_code < 300
