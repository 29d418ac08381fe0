{#- One row per day from start_date to end_date inclusive, column `date_day`. Built from a
    cross join of digits so it runs unchanged on DuckDB and Snowflake (up to 100 000 days). -#}
{% macro date_spine(start_date, end_date) -%}
    with digits as (
        select 0 as d union all select 1 union all select 2 union all select 3
        union all select 4 union all select 5 union all select 6 union all select 7
        union all select 8 union all select 9
    ),

    day_offsets as (
        select
            d1.d + d2.d * 10 + d3.d * 100 + d4.d * 1000 + d5.d * 10000 as day_offset
        from digits as d1
        cross join digits as d2
        cross join digits as d3
        cross join digits as d4
        cross join digits as d5
    ),

    spine as (
        select
            cast({{ dbt.dateadd('day', 'day_offset', "cast('" ~ start_date ~ "' as date)") }} as date)
                as date_day
        from day_offsets
    )

    select date_day
    from spine
    where date_day <= cast('{{ end_date }}' as date)
{%- endmacro %}
