"""Airflow reads its configuration when first imported: point it at one embedded home shared by
every Airflow test of this pytest process, before any test module imports the DAG."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from coretelecoms.pipeline.airflow_runner import use_airflow_home

AIRFLOW_HOME = use_airflow_home(
    Path(tempfile.gettempdir()) / f"coretelecoms-pytest-airflow-{os.getpid()}"
)
