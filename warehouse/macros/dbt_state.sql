{#- The `dbt_state` schema: the build's own bookkeeping tables (tested_watermarks.sql,
    moved_customers.sql), in a schema of their own so gold_checksums and reports do not see
    them. Every invocation creates what it needs (on-run-start), so it needs the right to
    `create schema if not exists dbt_state` on Snowflake. -#}

{% macro dbt_state_relation(identifier) -%}
    {{ return(api.Relation.create(database=target.database, schema='dbt_state',
                                  identifier=identifier)) }}
{%- endmacro %}

{#- `columns`: the column definitions, e.g. "model_name varchar, change_seq bigint". -#}
{% macro create_dbt_state_table(identifier, columns) -%}
    {%- set relation = dbt_state_relation(identifier) -%}
    {%- do adapter.create_schema(relation) -%}
    create table if not exists {{ relation }} ({{ columns }})
{%- endmacro %}
