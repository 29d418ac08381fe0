with agents as (
    select * from {{ ref('stg_agents') }}
),

agent_versions as (
    select * from {{ ref('int_agent_versions_ranged') }}
),

versions_joined as (
    select
        {{ surrogate_key(['agent_versions.agent_id', 'agent_versions.valid_from']) }} as agent_key,
        agent_versions.agent_id,
        agents.agent_name,
        agents.agent_state,
        agent_versions.experience,
        agent_versions.version_number,
        agent_versions.valid_from,
        agent_versions.valid_to,
        agent_versions.is_current,
        case
            when coalesce(agents._change_seq, 0) > agent_versions._change_seq
                then agents._change_seq
            else agent_versions._change_seq
        end as _change_seq
    from agent_versions
    left join agents
        on agent_versions.agent_id = agents.agent_id
),

final as (
    select * from versions_joined
)

select * from final
