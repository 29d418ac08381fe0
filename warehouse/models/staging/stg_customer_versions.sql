with source as (
    select * from {{ source('raw', 'customer_versions') }}
),

final as (
    select
        cast(customer_id as {{ dbt.type_string() }}) as customer_id,
        street,
        city,
        state_code,
        state_name,
        zip_code,
        cast(valid_from as date) as valid_from,
        cast(valid_to as date) as valid_to,
        _change_seq
    from source
)

select * from final
