with call_logs as (
    select * from {{ ref('stg_call_logs') }}
),

social_media_complaints as (
    select * from {{ ref('stg_social_media_complaints') }}
),

web_form_complaints as (
    select * from {{ ref('stg_web_form_complaints') }}
),

calls_conformed as (
    select
        complaint_key,
        'call' as channel,
        call_id as source_complaint_id,
        customer_id,
        agent_id,
        complaint_category,
        resolution_status,
        call_started_at as requested_at,
        -- a call carries no resolution time: the call end stands for it once resolved
        case when resolution_status = 'Resolved' then call_ended_at end as resolved_at,
        {{ dbt.datediff('call_started_at', 'call_ended_at', 'minute') }} as call_duration_minutes,
        cast(null as {{ dbt.type_string() }}) as media_channel,
        generated_date,
        _change_seq
    from call_logs
),

social_media_conformed as (
    select
        complaint_key,
        'social_media' as channel,
        complaint_id as source_complaint_id,
        customer_id,
        agent_id,
        complaint_category,
        resolution_status,
        requested_at,
        resolved_at,
        cast(null as integer) as call_duration_minutes,
        media_channel,
        generated_date,
        _change_seq
    from social_media_complaints
),

web_form_conformed as (
    select
        complaint_key,
        'web_form' as channel,
        request_id as source_complaint_id,
        customer_id,
        agent_id,
        complaint_category,
        resolution_status,
        requested_at,
        resolved_at,
        cast(null as integer) as call_duration_minutes,
        cast(null as {{ dbt.type_string() }}) as media_channel,
        generated_date,
        _change_seq
    from web_form_complaints
),

final as (
    select * from calls_conformed
    union all
    select * from social_media_conformed
    union all
    select * from web_form_conformed
)

select * from final
