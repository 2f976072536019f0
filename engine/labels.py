"""How a run is named wherever runs are listed."""
from __future__ import annotations


def run_label(run_id: int, name: str) -> str:
    """`digits-cnn #12`: names repeat (a spec launched twice keeps its name), ids never do."""
    return f"{name} #{run_id}"
