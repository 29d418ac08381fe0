{#- on-run-start: refuse to build on a warehouse load that stopped part way, or is running.

    The loader commits each raw table on its own, with its watermark, and keeps a row with a
    negative change_seq in raw._load_watermarks from its start until every table is loaded
    (coretelecoms.warehouse.tables.LOAD_IN_PROGRESS). Until then raw may hold the newest changes
    of some tables and not of others: a build would lift the models' marks above the rows the
    rest of the load then writes, and the models would never take them. Only commands that
    write models are refused: compile, docs generate and test only read, and an operator
    looking into a failed load needs them. -#}
{% macro assert_raw_load_complete() -%}
    {#- the commands that write models and run hooks (a `retry` renders as the command it
        retries; `clone` runs no hooks, so no on-run-start guard can stop it) -#}
    {%- if execute and flags.WHICH in ['run', 'build', 'seed', 'snapshot'] -%}
        {%- set marks = source('raw', '_load_watermarks') -%}
        {%- if adapter.get_relation(marks.database, marks.schema, marks.identifier) is not none -%}
            {%- set running = run_query(
                'select count(*) from ' ~ marks ~ ' where change_seq < 0').columns[0].values()[0] -%}
            {%- if running > 0 -%}
                {{ exceptions.raise_compiler_error(
                    'the warehouse load into ' ~ marks.schema ~ ' did not finish or is still '
                    ~ 'running (a marker row with change_seq < 0 in ' ~ marks ~ '). Once no '
                    ~ 'load runs, rerun it before building: it resumes (clear the DAG task '
                    ~ 'load_warehouse, or `coretelecoms warehouse --date ...`); docs/operations.md') }}
            {%- endif -%}
        {%- endif -%}
    {%- endif -%}
    select 1
{%- endmacro %}
