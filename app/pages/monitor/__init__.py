"""The Monitor page (objectName page_monitor): GPUs, CPU and RAM live, and
the running workers. See page.py."""
from app.pages.monitor.page import MonitorPage

__all__ = ["MonitorPage"]
