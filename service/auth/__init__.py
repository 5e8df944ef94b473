"""Sign-in (OAuth 2.0 authorization code + PKCE through Authlib), sessions and guards."""
