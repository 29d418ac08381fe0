{#- Per key, SCD2 windows [valid_from, valid_to) never overlap and leave no gap: each version
    ends exactly where the next begins, the last one ends at the open-end date and is the only
    current one. With since_tested, only the keys rebuilt since the model's tests last all passed
    (macros/tested_watermarks.sql): the property is per key and a key is rebuilt as a whole. -#}
{% test scd2_contiguous(model, key, valid_from='valid_from', valid_to='valid_to',
                        is_current='is_current', open_end='9999-12-31', since_tested=false) %}
with versions as (
    select
        {{ key }} as scd_key,
        {{ valid_from }} as valid_from,
        {{ valid_to }} as valid_to,
        {{ is_current }} as is_current,
        lead({{ valid_from }}) over (partition by {{ key }} order by {{ valid_from }}) as next_from
    from {{ model }}
    {%- set watermark = tested_watermark(model) if since_tested else -1 %}
    {%- if watermark >= 0 %}
    where {{ key }} in (
        select {{ key }} from {{ model }} where _change_seq > {{ watermark }}
    )
    {%- endif %}
),

violations as (
    select *
    from versions
    where valid_to <= valid_from
        or (next_from is not null and valid_to <> next_from)
        or (next_from is null and valid_to <> cast('{{ open_end }}' as date))
        or (next_from is null and not is_current)
        or (next_from is not null and is_current)
)

select * from violations
{% endtest %}
