"""Exceptions as words for the page, the status bar or a message label."""
from __future__ import annotations


def error_text(e: BaseException) -> str:
    """Every message an engine error carries (SpecError, ModelError and DataError
    keep a list in `.errors`), joined; else the exception's own text."""
    errors = getattr(e, "errors", None)
    if isinstance(errors, list) and errors and all(isinstance(x, str) for x in errors):
        return "; ".join(errors)
    return str(e) or type(e).__name__
