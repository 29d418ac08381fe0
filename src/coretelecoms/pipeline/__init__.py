"""Orchestration: the task functions the DAG and the CLI share, the run report, the Slack
notifier and the embedded Airflow runner.

``coretelecoms.pipeline.tasks`` imports no Airflow, so the stage commands of the CLI start
fast; ``notify`` and ``airflow_runner`` need Airflow and only the DAG and ``run``/``demo`` load
them.
"""
