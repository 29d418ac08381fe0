{%- set channels = complaint_channels() -%}

with
{% for spec in channels %}
{{ spec.table }} as (
    select * from {{ ref('stg_' ~ spec.table) }}
),
{% endfor %}

{%- for spec in channels %}
{{ spec.channel }}_conformed as (
    select
        complaint_key,
        '{{ spec.channel }}' as channel,
        {{ spec.source_id }} as source_complaint_id,
        customer_id,
        agent_id,
        complaint_category,
        resolution_status,
        {{ spec.requested_at }} as requested_at,
        {{ spec.resolved_at }} as resolved_at,
        {{ spec.call_duration_minutes }} as call_duration_minutes,
        {{ spec.media_channel }} as media_channel,
        generated_date,
        _change_seq
    from {{ spec.table }}
),
{% endfor %}

final as (
    {%- for spec in channels %}
    select * from {{ spec.channel }}_conformed
    {%- if not loop.last %}
    union all
    {%- endif %}
    {%- endfor %}
)

select * from final
