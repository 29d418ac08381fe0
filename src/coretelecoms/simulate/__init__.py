"""The source simulator: all five CoreTelecoms sources, faithful to the real ones, plus the
lifecycle changes, SCD2 changes, late-arriving parents and defects the platform must handle.

What it writes (``simulate``), for ``days`` days from ``start``:

- daily complaint sources for every day, up front: ``call logs/call_logs_day_YYYY-MM-DD.csv`` and
  ``social_medias/media_complaint_day_YYYY-MM-DD.json`` under ``settings.source_uri`` (a folder or
  ``s3://``, through fsspec), and tables ``customer_complaints.web_form_request_YYYY_MM_DD`` in
  the source Postgres (``postgres.source_dsn``), loaded with COPY;
- the static sources as they are on the start date: ``customers/customers_dataset.csv`` and the
  agents workbook at ``settings.agents_sheet`` (tab ``agents``).

How static sources evolve: the real CRM export and agents sheet are overwritten in place, so
the simulator keeps every snapshot in its own area, ``settings.home / "simulator"`` (outside
every source location): the start-date snapshot and, on day ``snapshot_offset`` (default the
3rd day), a second one with new customers, ~1% changed addresses, promoted and new agents.
:func:`publish_as_of` copies the latest snapshot dated on or before a date over the source (and
returns which entities changed). The demo, the DAG tests and the e2e tests call it before
running each day, exactly as the real systems would have changed between runs.

Ground truth (never read by the pipeline) goes to ``settings.ground_truth_dir``: one JSON
sidecar per generated source (``<entity>/<YYYY-MM-DD>.json``: rows, injected defects and
changes by type, lifecycle transitions, true-orphan and late-parent ids), the latent
per-customer escalation propensity (``customer_propensity.parquet``) and ``simulation.json``
(parameters and everything written). Defect semantics: :mod:`coretelecoms.simulate.defects`.

Escalation signal: each customer has a latent propensity p ~ Beta(0.5, 2.5). It raises how often
they complain (so repeat complaints across channels concentrate on high-p customers), the chance
a complaint is Blocked or stays open (unresolved past any SLA, since complaints start months
before the file date), and the chance an In-Progress complaint ends Blocked rather than Resolved.

Determinism: every stream is seeded by (seed, purpose, day), so the same seed gives
byte-identical files (the workbook has fixed document and zip timestamps) and identical tables;
another seed differs.
"""

from coretelecoms.simulate.defects import EMAIL_SYNTAX, DefectRates, clean_email, email_is_valid
from coretelecoms.simulate.simulator import (
    SimulationResult,
    WrittenSource,
    publish_as_of,
    simulate,
    simulator_dir,
)

__all__ = [
    "EMAIL_SYNTAX",
    "DefectRates",
    "SimulationResult",
    "WrittenSource",
    "clean_email",
    "email_is_valid",
    "publish_as_of",
    "simulate",
    "simulator_dir",
]
