{#- The `dbt_state` schema: the build's own bookkeeping tables (tested_watermarks.sql,
    moved_customers.sql), in a schema of their own so gold_checksums and reports do not see
    them. Every invocation that runs hooks creates what it needs (on-run-start), so it needs the
    right to `create schema if not exists dbt_state` on Snowflake. -#}

{% macro dbt_state_relation(identifier) -%}
    {{ return(api.Relation.create(database=target.database, schema='dbt_state',
                                  identifier=identifier)) }}
{%- endmacro %}

{#- `columns`: the column definitions, e.g. "model_name varchar, change_seq bigint". The schema
    is created while the hook renders (its own committed statement), and only in the commands
    that run the hooks: `dbt compile` and `docs generate` render the on-run-start hooks on
    several threads at once, and two of them creating the schema together failed on DuckDB
    ("Catalog write-write conflict on create"). -#}
{% macro create_dbt_state_table(identifier, columns) -%}
    {%- set relation = dbt_state_relation(identifier) -%}
    {#- the commands whose tasks run the project hooks (dbt 1.11: RunTask's before_run); a
        `retry` renders as the command it retries -#}
    {%- if flags.WHICH in ['run', 'build', 'test', 'seed', 'snapshot', 'freshness'] -%}
        {%- do adapter.create_schema(relation) -%}
    {%- endif -%}
    create table if not exists {{ relation }} ({{ columns }})
{%- endmacro %}
