"""Errors shared by several parts of girflow; every layer may import this module (it imports nothing)."""
from __future__ import annotations


class UserError(Exception):
    """Bad input from the user: printed as `girflow: error: ...` with exit code 2, no traceback."""

    exit_code: int = 2
