{#- `column_name` is unique over the whole model, checked from the keys (`scope_key`) rebuilt
    since the model's tests last all passed (macros/tested_watermarks.sql): their values are
    counted against every row. Without a watermark, the whole table as dbt's `unique`. Nulls are
    not counted, as in dbt's `unique`. -#}
{% test unique_since_tested(model, column_name, scope_key) %}
{%- set watermark = tested_watermark(model) %}
{%- if watermark < 0 %}
select {{ column_name }} as unique_field, count(*) as n_records
from {{ model }}
where {{ column_name }} is not null
group by {{ column_name }}
having count(*) > 1
{%- else %}
with changed_keys as (
    select {{ scope_key }} as scope_key
    from {{ model }}
    where _change_seq > {{ watermark }}
),

changed_values as (
    select {{ column_name }} as tested_value
    from {{ model }}
    where {{ scope_key }} in (select scope_key from changed_keys)
)

select {{ column_name }} as unique_field, count(*) as n_records
from {{ model }}
where {{ column_name }} in (select tested_value from changed_values)
group by {{ column_name }}
having count(*) > 1
{%- endif %}
{% endtest %}
