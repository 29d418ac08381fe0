with customers as (
    select * from {{ ref('stg_customers') }}
),

customer_versions as (
    select * from {{ ref('int_customer_versions_ranged') }}
),

versions_joined as (
    select
        {{ surrogate_key(['customer_versions.customer_id', 'customer_versions.valid_from']) }}
            as customer_key,
        customer_versions.customer_id,
        customers.customer_name,
        customers.gender,
        customers.date_of_birth,
        customers.signup_date,
        customers.email,
        customer_versions.street,
        customer_versions.city,
        customer_versions.state_code,
        customer_versions.state_name,
        customer_versions.zip_code,
        customer_versions.version_number,
        customer_versions.valid_from,
        customer_versions.valid_to,
        customer_versions.is_current,
        -- either side changing must reach incremental consumers
        case
            when coalesce(customers._change_seq, 0) > customer_versions._change_seq
                then customers._change_seq
            else customer_versions._change_seq
        end as _change_seq
    from customer_versions
    left join customers
        on customer_versions.customer_id = customers.customer_id
),

final as (
    select * from versions_joined
)

select * from final
