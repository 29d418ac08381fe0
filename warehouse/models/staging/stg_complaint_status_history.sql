with source as (
    select * from {{ source('raw', 'complaint_status_history') }}
),

final as (
    select
        complaint_key,
        channel,
        resolution_status,
        cast(observed_date as date) as observed_date,
        _change_seq
    from source
)

select * from final
