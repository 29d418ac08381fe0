{#- forget_tested_watermark: a full build re-tests every complaint's agent version
    (macros/tested_watermarks.sql) -#}
{{ scd2_dimension_config('agent_id') }}
{{ config(pre_hook="{{ forget_tested_watermark() }}") }}

{{ scd2_dimension(
    entity=ref('stg_agents'),
    versions=ref('stg_agent_versions'),
    versions_ranged=ref('int_agent_versions_ranged'),
    key='agent_id',
    surrogate_key_name='agent_key',
    entity_columns=['agent_name', 'agent_state'],
    version_columns=['experience'],
) }}
