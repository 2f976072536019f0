"""Options every sub-command shares, declared once."""
from __future__ import annotations

import argparse

DB_HELP = "Run store URL or file (default: LAYERDECK_DB or the user data dir)."


def add_db_option(parser: argparse.ArgumentParser) -> None:
    """Accept `--db URL` on this (sub-)parser as well as before the command.

    SUPPRESS: a default here would overwrite the `layerdeck --db URL CMD ...`
    value the top-level parser already put in the namespace.
    """
    parser.add_argument("--db", default=argparse.SUPPRESS, help=DB_HELP)
