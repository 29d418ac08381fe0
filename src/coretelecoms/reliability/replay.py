"""Run already simulated days through the DAG in one process, publishing the static sources as
of each day first: what ``coretelecoms demo`` does after simulating, without simulating.

The end-to-end benchmark measures this process (``python -m coretelecoms.reliability.replay
--start 2025-11-20 --days 4``); settings come from the ``CORETELECOMS_*`` environment. Exits 1
when a day fails (later days are not run).
"""

from __future__ import annotations

import argparse
import sys
from datetime import date, timedelta

from coretelecoms.config import get_settings


def main(argv: list[str] | None = None) -> int:
    from coretelecoms.pipeline.airflow_runner import run_days
    from coretelecoms.simulate import publish_as_of

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--start", type=date.fromisoformat, default=date(2025, 11, 20))
    parser.add_argument("--days", type=int, default=4)
    args = parser.parse_args(argv)
    settings = get_settings()
    days = [args.start + timedelta(days=n) for n in range(args.days)]
    outcomes = run_days(settings, days, before_day=lambda d: publish_as_of(settings, d))
    for outcome in outcomes:
        print(f"{outcome.logical_date}: {outcome.state} in {outcome.seconds:.1f}s", flush=True)
    return 0 if len(outcomes) == len(days) and all(o.succeeded for o in outcomes) else 1


if __name__ == "__main__":
    sys.exit(main())
