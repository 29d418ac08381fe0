with customer_versions as (
    select * from {{ ref('stg_customer_versions') }}
),

ranged as (
    select
        customer_id,
        street,
        city,
        state_code,
        state_name,
        zip_code,
        valid_from,
        -- derived from the next version rather than trusted from silver: windows are
        -- contiguous by construction; the open end is 9999-12-31 (easier joins than null)
        coalesce(
            lead(valid_from) over (partition by customer_id order by valid_from),
            cast('9999-12-31' as date)
        ) as valid_to,
        row_number() over (partition by customer_id order by valid_from) as version_number,
        _change_seq
    from customer_versions
),

final as (
    select
        *,
        valid_to = cast('9999-12-31' as date) as is_current
    from ranged
)

select * from final
