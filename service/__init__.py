"""looker-bff: a backend-for-frontend between a single-page app and Looker."""

__version__ = "0.1.0"
