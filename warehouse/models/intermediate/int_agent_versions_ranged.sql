with agent_versions as (
    select * from {{ ref('stg_agent_versions') }}
),

ranged as (
    select
        agent_id,
        experience,
        valid_from,
        coalesce(
            lead(valid_from) over (partition by agent_id order by valid_from),
            cast('9999-12-31' as date)
        ) as valid_to,
        row_number() over (partition by agent_id order by valid_from) as version_number,
        _change_seq
    from agent_versions
),

final as (
    select
        *,
        valid_to = cast('9999-12-31' as date) as is_current
    from ranged
)

select * from final
