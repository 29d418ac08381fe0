with source as (
    select * from {{ source('raw', 'web_form_complaints') }}
),

final as (
    select
        complaint_key,
        request_id,
        cast(customer_id as {{ dbt.type_string() }}) as customer_id,
        cast(agent_id as integer) as agent_id,
        complaint_category,
        resolution_status,
        cast(requested_at as timestamp) as requested_at,
        cast(resolved_at as timestamp) as resolved_at,
        cast(generated_date as date) as generated_date,
        _change_seq
    from source
)

select * from final
