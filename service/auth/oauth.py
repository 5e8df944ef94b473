"""Authlib's Starlette client, registered for Looker.

Looker's OAuth clients are public (no secret): PKCE S256, and `client_id` in the token
request body (`token_endpoint_auth_method="none"`); Looker answers HTTP Basic with
"Failed Basic Authentication".
"""

from __future__ import annotations

import logging
import ssl
from typing import Any

from service.auth.transactions import BrowserBoundOAuth, LoginTransactionStore
from service.config import Settings
from service.crypto import TokenCipher
from service.db import SessionMaker

# Authlib logs the PKCE verifier at DEBUG: never let that reach a log.
logging.getLogger("authlib").setLevel(logging.WARNING)

LookerOAuth = Any  # Authlib's StarletteOAuth2App (untyped)


def build_oauth(settings: Settings, db: SessionMaker, cipher: TokenCipher,
                tls: ssl.SSLContext) -> LookerOAuth:
    """Authlib builds an httpx2 client per call: hand it a prebuilt TLS context (a new one
    costs ~40 ms of CPU on the event loop) and keep the environment's proxies out."""
    oauth = BrowserBoundOAuth(cache=LoginTransactionStore(db, cipher))
    return oauth.register(
        name="looker",
        client_id=settings.looker_client_id,
        client_secret=None,
        authorize_url=f"{settings.looker_base_url}/auth",
        access_token_url=f"{settings.looker_api_url}/api/token",
        client_kwargs={
            "scope": "cors_api",
            "code_challenge_method": "S256",
            "token_endpoint_auth_method": "none",
            "timeout": settings.looker_timeout_seconds,
            "verify": tls,
            "trust_env": False,
        },
    )
