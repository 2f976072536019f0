"""The Data page: pick a dataset, set its options and split, preview it."""
from app.pages.data.page import DataPage

__all__ = ["DataPage"]
