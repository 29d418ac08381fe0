{#- None of `columns` is null in any row: one scan of the model instead of one test (and one
    scan) per column, which matters when every daily build tests million-row tables. -#}
{% test not_null_columns(model, columns) %}
select *
from {{ model }}
where
    {%- for column in columns %}
    {{ column }} is null
    {%- if not loop.last %} or{% endif %}
    {%- endfor %}
{% endtest %}
