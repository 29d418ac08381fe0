-- Operations schema: quarantine, data-quality issues, load state, run reconciliation, static
-- source snapshots. Literal SQL: these tables do not depend on the entity contracts.

create table if not exists ops.quarantine (
    id                  bigserial primary key,
    run_id              text not null,
    entity              text not null,
    source_uri          text,
    source_fingerprint  text,
    logical_date        date,
    batch_no            integer,
    source_row          bigint,
    reason              text not null,
    detail              text,
    natural_key         text,
    generated_date      date,
    record              jsonb,          -- the original raw record (raw headers)
    clean_record        jsonb,          -- the cleaned row, replayed when the parent arrives
    quarantined_at      timestamptz not null default now(),
    released_at         timestamptz,
    released_run_id     text,
    constraint quarantine_release_check check ((released_at is null) = (released_run_id is null))
);
create unique index if not exists quarantine_source_row_key
    on ops.quarantine (entity, source_fingerprint, source_row);
create index if not exists quarantine_open_idx
    on ops.quarantine (entity, reason) where released_at is null;
create index if not exists quarantine_run_idx on ops.quarantine (run_id);

create table if not exists ops.dq_issues (
    id                  bigserial primary key,
    run_id              text not null,
    entity              text not null,
    source_uri          text,
    source_fingerprint  text,
    logical_date        date,
    batch_no            integer,
    source_row          bigint,
    natural_key         text,
    field               text not null,
    rule                text not null,
    original_value      text,
    cleaned_value       text,
    recorded_at         timestamptz not null default now()
);
create index if not exists dq_issues_entity_date_idx on ops.dq_issues (entity, logical_date);

-- One row per committed batch, written in the batch's own transaction.
create table if not exists ops.load_checkpoints (
    entity              text not null,
    source_fingerprint  text not null,
    batch_no            integer not null,
    source_uri          text,
    logical_date        date,
    run_id              text not null,
    rows_read           bigint not null,
    rows_loaded         bigint not null,
    rows_unchanged      bigint not null,
    rows_quarantined    bigint not null,
    rows_duplicates     bigint not null,
    committed_at        timestamptz not null default now(),
    primary key (entity, source_fingerprint, batch_no),
    constraint load_checkpoints_reconcile_check check (
        rows_read = rows_loaded + rows_unchanged + rows_quarantined + rows_duplicates)
);

-- Reconciliation per run, entity and source version.
create table if not exists ops.pipeline_runs (
    run_id              text not null,
    entity              text not null,
    source_fingerprint  text not null,
    source_uri          text,
    logical_date        date,
    status              text not null,   -- running | succeeded | failed | skipped
    batches             integer not null default 0,
    rows_read           bigint not null default 0,
    rows_loaded         bigint not null default 0,
    rows_unchanged      bigint not null default 0,
    rows_quarantined    bigint not null default 0,
    rows_duplicates     bigint not null default 0,
    rows_released       bigint not null default 0,
    detail              text,
    started_at          timestamptz not null default now(),
    finished_at         timestamptz,
    primary key (run_id, entity, source_fingerprint)
);
create index if not exists pipeline_runs_started_idx on ops.pipeline_runs (started_at desc);

-- Fingerprints of loaded static sources (customers, agents).
create table if not exists ops.source_snapshots (
    entity              text not null,
    fingerprint         text not null,
    source_uri          text,
    logical_date        date,
    run_id              text not null,
    rows_read           bigint,
    loaded_at           timestamptz not null default now(),
    primary key (entity, fingerprint)
);
