with source as (
    select * from {{ source('raw', 'agents') }}
),

final as (
    select
        cast(agent_id as integer) as agent_id,
        name as agent_name,
        state as agent_state,
        _change_seq
    from source
)

select * from final
