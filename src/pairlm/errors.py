"""Typed errors shared by every layer (the command line turns them into one-line messages)."""

from __future__ import annotations


class ConfigError(ValueError):
    """A configuration value or key is invalid; the message names the key."""
