with source as (
    select * from {{ source('raw', 'agent_versions') }}
),

final as (
    select
        cast(agent_id as integer) as agent_id,
        experience,
        cast(valid_from as date) as valid_from,
        cast(valid_to as date) as valid_to,
        _change_seq
    from source
)

select * from final
