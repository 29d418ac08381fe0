{#- on-run-start: refuse to build on a warehouse load that stopped part way.

    The loader commits each raw table on its own, with its watermark, and keeps a row with a
    negative change_seq in raw._load_watermarks from its first upsert until every table is
    loaded (coretelecoms.warehouse.tables.LOAD_IN_PROGRESS). Until the load is resumed, raw holds
    the newest changes of some tables and not of others: a build would lift the models' marks
    above the rows the resumed load then writes, and the models would never take them. -#}
{% macro assert_raw_load_complete() -%}
    {%- if execute -%}
        {%- set marks = source('raw', '_load_watermarks') -%}
        {%- if adapter.get_relation(marks.database, marks.schema, marks.identifier) is not none -%}
            {%- set running = run_query(
                'select count(*) from ' ~ marks ~ ' where change_seq < 0').columns[0].values()[0] -%}
            {%- if running > 0 -%}
                {{ exceptions.raise_compiler_error(
                    'the warehouse load into ' ~ marks.schema ~ ' did not finish (a marker row '
                    ~ 'with change_seq < 0 in ' ~ marks ~ '): rerun it, e.g. '
                    ~ '`coretelecoms warehouse --date ...`, which resumes it, before building') }}
            {%- endif -%}
        {%- endif -%}
    {%- endif -%}
    select 1
{%- endmacro %}
