{#- md5 of the '|'-joined text casts of the given columns; nulls become a sentinel so
    (null, 'a') and ('', 'a') differ. Same value on DuckDB and Snowflake. -#}
{% macro surrogate_key(columns) -%}
    md5(
    {%- for column in columns %}
        coalesce(cast({{ column }} as {{ dbt.type_string() }}), '_null_')
        {%- if not loop.last %} || '|' || {% endif -%}
    {% endfor %}
    )
{%- endmacro %}
