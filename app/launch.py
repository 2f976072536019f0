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
    if argv and (argv[0] in COMMANDS or argv[0] in ("-h", "--help")):
        from engine.cli import main as cli_main
        return cli_main(argv)
    from app.__main__ import main as gui_main
    return gui_main(argv)


if __name__ == "__main__":
    sys.exit(main())
