with source as (
    select * from {{ source('raw', 'call_logs') }}
),

final as (
    select
        complaint_key,
        call_id,
        cast(customer_id as {{ dbt.type_string() }}) as customer_id,
        cast(agent_id as integer) as agent_id,
        complaint_category,
        resolution_status,
        cast(call_started_at as timestamp) as call_started_at,
        cast(call_ended_at as timestamp) as call_ended_at,
        cast(generated_date as date) as generated_date,
        _change_seq
    from source
)

select * from final
