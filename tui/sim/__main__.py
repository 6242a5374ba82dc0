"""`python -m tui.sim`: run the simulator on its own, with a demo batch, until Ctrl-C.

Prints each provider's base URL and key (simulator keys, not secrets) so a config file or
`curl` can point at it; `--ids PATH` writes the task ids for `seedance-tui add --file PATH`.
"""

from __future__ import annotations

import argparse
import sys
import threading
from collections.abc import Sequence
from pathlib import Path

from tui.core.clock import Clock, ScaledClock, SystemClock
from tui.core.dialects import KINDS
from tui.sim.simulator import Simulator


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m tui.sim", description="Run the Seedance provider simulator."
    )
    parser.add_argument("--speed", type=float, default=30.0, help="clock speed (default 30x)")
    parser.add_argument("--tasks", type=int, default=200, help="demo tasks to create")
    parser.add_argument("--kinds", default="newapi,kyy", help="provider kinds for the tasks")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--port", type=int, default=0, help="port (default: a free one)")
    parser.add_argument("--ids", type=Path, metavar="PATH", help="write the task ids here")
    args = parser.parse_args(argv)
    kinds = tuple(k.strip() for k in args.kinds.split(",") if k.strip())
    bad = [k for k in kinds if k not in KINDS]
    if bad or not kinds or args.speed <= 0 or args.tasks < 0:
        parser.error(f"--kinds takes {', '.join(KINDS)}; --speed > 0; --tasks >= 0")
    clock: Clock = SystemClock() if args.speed == 1 else ScaledClock(args.speed)
    sim = Simulator(clock=clock, seed=args.seed, port=args.port).start()
    try:
        batch = sim.demo_batch(args.tasks, kinds=kinds)
        for kind in KINDS:
            print(f"{kind:<7} {sim.provider_url(kind)}  key: {sim.key(kind)}")
        print(f"{len(batch)} tasks ({', '.join(kinds)}), clock x{args.speed:g}; Ctrl-C to stop")
        if args.ids:
            args.ids.write_text("".join(f"{task_id}\n" for _, task_id in batch))
            print(f"ids written to {args.ids}")
        sys.stdout.flush()
        threading.Event().wait()
    except KeyboardInterrupt:
        return 0
    finally:
        sim.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
