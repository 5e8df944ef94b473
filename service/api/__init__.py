"""The SPA's Looker API: typed routes and the allowlisted pass-through."""
