"""The Runs page: run history, details and side-by-side comparison."""
from app.pages.runs.page import RunsPage

__all__ = ["RunsPage"]
