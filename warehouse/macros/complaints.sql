{#- The three complaint channels, in one place: what differs between them is data here, and
    the staging models and int_complaints_unioned loop over it instead of repeating themselves.
    Each entry: the raw table and its staging model, the source id column, the timestamps the
    source carries, extra text columns, and how the channel maps onto the unified shape (a call
    carries no resolution time: the call end stands for it once the call is Resolved). -#}
{% macro complaint_channels() -%}
    {{ return([
        {
            'channel': 'call',
            'table': 'call_logs',
            'source_id': 'call_id',
            'timestamps': ['call_started_at', 'call_ended_at'],
            'text_columns': [],
            'requested_at': 'call_started_at',
            'resolved_at': "case when resolution_status = 'Resolved' then call_ended_at end",
            'call_duration_minutes': dbt.datediff('call_started_at', 'call_ended_at', 'minute'),
            'media_channel': 'cast(null as ' ~ dbt.type_string() ~ ')',
        },
        {
            'channel': 'social_media',
            'table': 'social_media_complaints',
            'source_id': 'complaint_id',
            'timestamps': ['requested_at', 'resolved_at'],
            'text_columns': ['media_channel'],
            'requested_at': 'requested_at',
            'resolved_at': 'resolved_at',
            'call_duration_minutes': 'cast(null as integer)',
            'media_channel': 'media_channel',
        },
        {
            'channel': 'web_form',
            'table': 'web_form_complaints',
            'source_id': 'request_id',
            'timestamps': ['requested_at', 'resolved_at'],
            'text_columns': [],
            'requested_at': 'requested_at',
            'resolved_at': 'resolved_at',
            'call_duration_minutes': 'cast(null as integer)',
            'media_channel': 'cast(null as ' ~ dbt.type_string() ~ ')',
        },
    ]) }}
{%- endmacro %}

{% macro complaint_channel(table) -%}
    {%- for spec in complaint_channels() if spec.table == table -%}
        {{ return(spec) }}
    {%- endfor -%}
    {{ exceptions.raise_compiler_error('no complaint channel reads raw table ' ~ table) }}
{%- endmacro %}

{#- Body of a complaint staging model (stg_<raw table>): rename and cast, nothing else. -#}
{% macro stage_complaints(table) -%}
{%- set spec = complaint_channel(table) -%}
with source as (
    select * from {{ source('raw', table) }}
),

final as (
    select
        complaint_key,
        {{ spec.source_id }},
        cast(customer_id as {{ dbt.type_string() }}) as customer_id,
        cast(agent_id as integer) as agent_id,
        complaint_category,
        resolution_status,
        {%- for column in spec.timestamps %}
        cast({{ column }} as timestamp) as {{ column }},
        {%- endfor %}
        {%- for column in spec.text_columns %}
        {{ column }},
        {%- endfor %}
        cast(generated_date as date) as generated_date,
        _change_seq
    from source
)

select * from final
{%- endmacro %}
