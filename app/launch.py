"""The `layerdeck` console script: sub-commands go to engine.cli (no Qt is
imported for them), anything else opens the GUI.

It lives in app/ rather than engine/ so the engine never imports the GUI
(the boundary test holds engine/ to that).
"""
from __future__ import annotations

import sys


def main(argv: list[str] | None = None) -> int:
    from engine.cli import COMMANDS

    argv = list(sys.argv[1:] if argv is None else argv)
    first = _first_word(argv)
    if first is not None and (first in COMMANDS or first in ("-h", "--help")):
        from engine.cli import main as cli_main
        return cli_main(argv)
    from app.__main__ import main as gui_main
    return gui_main(argv)


def _first_word(argv: list[str]) -> str | None:
    """The first argument that is not the global `--db URL` (which both the
    CLI and the GUI accept before anything else)."""
    i = 0
    while i < len(argv):
        if argv[i] == "--db":
            i += 2
        elif argv[i].startswith("--db="):
            i += 1
        else:
            return argv[i]
    return None


if __name__ == "__main__":
    sys.exit(main())
