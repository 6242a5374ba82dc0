"""The provider simulator: a real HTTP server on 127.0.0.1 speaking kyy, newapi and ark.

Our stand-in for the providers in tests, benchmarks and `seedance-tui demo`; see
`tui.sim.server` for the routes, `tui.sim.tasks` for the status answers and `tui.sim.create`
for the create calls.
"""

from tui.sim.create import CreateRecord, CreateShape, fingerprint
from tui.sim.faults import ACTIONS as FAULT_ACTIONS
from tui.sim.faults import Fault, FaultPlan
from tui.sim.request_log import LoggedRequest, Violation
from tui.sim.server import DEFAULT_KEYS, SimServer
from tui.sim.simulator import Simulator
from tui.sim.tasks import NASTY_MESSAGE, SimTask

__all__ = [
    "DEFAULT_KEYS",
    "FAULT_ACTIONS",
    "NASTY_MESSAGE",
    "CreateRecord",
    "CreateShape",
    "Fault",
    "FaultPlan",
    "LoggedRequest",
    "SimServer",
    "SimTask",
    "Simulator",
    "Violation",
    "fingerprint",
]
