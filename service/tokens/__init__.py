"""Looker tokens: encrypted storage, on-demand renewal and the background refresher."""
