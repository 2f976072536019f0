"""The signals a worker obeys, shared with the supervisor side (engine.runner.external).

SIGTERM and SIGINT stop a run gracefully; SIGUSR1 pauses and SIGUSR2 resumes
it. Windows has neither of the last two: there those are None, and a run
that no pipe reaches is paused and resumed through the store channel only.
"""
from __future__ import annotations

import signal
from typing import Optional

PAUSE_SIGNAL: Optional[int] = getattr(signal, "SIGUSR1", None)
RESUME_SIGNAL: Optional[int] = getattr(signal, "SIGUSR2", None)
CAN_PAUSE_BY_SIGNAL = PAUSE_SIGNAL is not None and RESUME_SIGNAL is not None
