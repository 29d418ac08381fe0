{{ scd2_ranges(ref('stg_agent_versions'), key='agent_id', attributes=['experience']) }}
