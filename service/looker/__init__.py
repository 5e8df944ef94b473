"""The upstream Looker API client."""
