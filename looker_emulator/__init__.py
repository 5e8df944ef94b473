"""A strict local stand-in for Looker's OAuth 2.0 (PKCE) and API 4.0. See docs/emulator.md."""

from .app import create_app
from .config import EmulatorConfig, OAuthClient, SeedUser
from .data import BIG_LOOK_ID, ONE_MB_LOOK_ID

__all__ = ["BIG_LOOK_ID", "ONE_MB_LOOK_ID", "EmulatorConfig", "OAuthClient", "SeedUser",
           "create_app"]
