"""Run by test_load_crash in a subprocess: a slow multi-batch load the test kills with SIGKILL."""

from __future__ import annotations

import sys
import time
from collections.abc import Iterator
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from load_batches import CRASH_DAY, crash_complaint_batches

from coretelecoms.contracts import CALL_LOGS
from coretelecoms.load import Loader
from coretelecoms.transform.batch import TransformedBatch


def slow(batches: list[TransformedBatch], pause: float) -> Iterator[TransformedBatch]:
    for batch in batches:
        yield batch
        time.sleep(pause)


if __name__ == "__main__":
    dsn, n_batches, rows, pause = (
        sys.argv[1],
        int(sys.argv[2]),
        int(sys.argv[3]),
        float(sys.argv[4]),
    )
    Loader(dsn, CALL_LOGS, "crash-run", CRASH_DAY).load(
        slow(crash_complaint_batches(CALL_LOGS, n_batches, rows), pause)
    )
