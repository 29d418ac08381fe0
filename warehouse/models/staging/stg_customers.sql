with source as (
    select * from {{ source('raw', 'customers') }}
),

final as (
    select
        cast(customer_id as {{ dbt.type_string() }}) as customer_id,
        name as customer_name,
        gender,
        cast(date_of_birth as date) as date_of_birth,
        cast(signup_date as date) as signup_date,
        email,
        _change_seq
    from source
)

select * from final
