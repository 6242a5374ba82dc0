"""The provider simulator: a real HTTP server on 127.0.0.1 speaking kyy, newapi and ark.

Our stand-in for the providers in tests, benchmarks and `seedance-tui demo`; see
`tui.sim.server` for the routes and `tui.sim.tasks` for the response shapes.
"""

from tui.sim.faults import ACTIONS as FAULT_ACTIONS
from tui.sim.faults import Fault, FaultPlan
from tui.sim.server import DEFAULT_KEYS, LoggedRequest, Simulator, Violation
from tui.sim.tasks import NASTY_MESSAGE, SimTask

__all__ = [
    "DEFAULT_KEYS",
    "FAULT_ACTIONS",
    "NASTY_MESSAGE",
    "Fault",
    "FaultPlan",
    "LoggedRequest",
    "SimTask",
    "Simulator",
    "Violation",
]
