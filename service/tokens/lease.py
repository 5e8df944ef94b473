"""What a request holds while it calls Looker for a user."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True, slots=True)
class TokenLease:
    user_id: int
    access_token: str
    version: int  # looker_tokens.version the token was read at; renew() compares it
    expires_at: datetime

    def __repr__(self) -> str:  # never print the token
        return f"TokenLease(user_id={self.user_id}, version={self.version})"
