{#- The highest `column` of `relation`, -1 when it is empty, as a scalar subquery: an input's
    high-water mark, which fct_complaint and customer_features_monthly write on every row they
    build (`_dim_customer_seq`, `_fct_complaint_seq`, ...) and read back as their mark of that
    input (docs/warehouse.md, "Incremental models"). -#}
{% macro high_water_mark(relation, column='_change_seq') -%}
    (select coalesce(max({{ column }}), -1) from {{ relation }})
{%- endmacro %}
