{{
    config(
        materialized='incremental',
        unique_key='complaint_key',
        incremental_strategy=var('incremental_strategy'),
        on_schema_change='fail',
        pre_hook="{{ forget_tested_watermark() }}",
        post_hook="{{ log_moved_customers() }}",
    )
}}

with complaints as (
    select * from {{ ref('int_complaints_unioned') }}
),

customers as (
    select * from {{ ref('dim_customer') }}
),

agents as (
    select * from {{ ref('dim_agent') }}
),

{% if is_incremental() %}
-- one high-water mark per input: the complaints' own, and for each dimension the highest
-- version this table has read of it. The fact's maximum _change_seq cannot stand for the
-- dimensions: `build --select fct_complaint` ahead of a dimension that lags lifts it above the
-- version the dimension's next build writes, and that version's complaints were never rebuilt.
-- It can stand for the complaints, views over raw: every build reads all of raw, and a load
-- brings sequences above all those before it (a load that stopped part way would not, so dbt
-- refuses to build until it is resumed: macros/raw_load.sql).
watermark as (
    select
        coalesce(max(_change_seq), -1) as change_seq,
        coalesce(max(_dim_customer_seq), -1) as customer_seq,
        coalesce(max(_dim_agent_seq), -1) as agent_seq
    from {{ this }}
),

-- a complaint is rebuilt when it changed, or when a version of its customer or agent changed
-- (a new version may now cover its request date). The dimensions are read through ref() here,
-- not the CTEs: DuckDB materialises a CTE used twice, i.e. would copy dim_customer first.
changed_complaints as (
    select complaints.*
    from complaints
    where complaints._change_seq > (select change_seq from watermark)
        or complaints.customer_id in (
            select customer_id from {{ ref('dim_customer') }}
            where _change_seq > (select customer_seq from watermark)
        )
        or complaints.agent_id in (
            select agent_id from {{ ref('dim_agent') }}
            where _change_seq > (select agent_seq from watermark)
        )
),
{% else %}
changed_complaints as (
    select * from complaints
),
{% endif %}

dated as (
    select
        *,
        cast(requested_at as date) as request_date
    from changed_complaints
),

-- the customer and agent versions valid on the request date (version 1, flagged, when the
-- request predates it)
customer_matched as (
    {{ join_version_at('dated', 'customers', 'customer_id', 'customer_key', 'request_date',
                       'customer') }}
),

agent_matched as (
    {{ join_version_at('customer_matched', 'agents', 'agent_id', 'agent_key', 'request_date',
                       'agent') }}
),

{#- The rows as built before, when there are any: on an incremental build, and also on a full
    refresh, which must not forget a move it is the first to see (the feature model would keep
    the month the complaint left). Not from a table built before _moved_from_customer_id. -#}
{%- set previous_rows = load_relation(this) if execute else none -%}
{%- if previous_rows is not none and '_moved_from_customer_id' not in (
        adapter.get_columns_in_relation(previous_rows) | map(attribute='name') | map('lower')
        | list) -%}
    {%- set previous_rows = none -%}
{%- endif %}
{% if previous_rows is not none %}
-- where a rebuilt complaint was before: a complaint that changed customer or request date
-- leaves its previous customer's feature rows stale (a month may now have no complaint left to
-- rebuild it), so customer_features_monthly rebuilds that customer too, from the log the
-- post-hook appends to (macros/moved_customers.sql). Kept until the next move, so the rows of
-- a build whose hook failed are logged by the next one. A new complaint has no previous row:
-- null either way.
moved as (
    select
        agent_matched.*,
        case
            when previous.customer_id is distinct from agent_matched.customer_id
                or previous.request_date is distinct from agent_matched.request_date
                then previous.customer_id
            else previous._moved_from_customer_id
        end as _moved_from_customer_id
    from agent_matched
    {% if is_incremental() %}
    left join {{ previous_rows }} as previous
    {% else %}
    -- one row per key: a full refresh is the repair for rows written into the table outside
    -- dbt, and a duplicated key would otherwise come back through this join
    left join (
        select complaint_key, customer_id, request_date, _moved_from_customer_id
        from {{ previous_rows }}
        qualify row_number() over (partition by complaint_key order by _change_seq desc) = 1
    ) as previous
    {% endif %}
        on agent_matched.complaint_key = previous.complaint_key
),
{% else %}
moved as (
    select
        *,
        cast(null as {{ dbt.type_string() }}) as _moved_from_customer_id
    from agent_matched
),
{% endif %}

final as (
    select
        complaint_key,
        channel,
        source_complaint_id,
        customer_id,
        customer_key,
        agent_id,
        agent_key,
        complaint_category,
        resolution_status,
        resolution_status = 'Resolved' as is_resolved,
        requested_at,
        request_date,
        {{ date_key('request_date') }} as request_date_key,
        resolved_at,
        {{ date_key('cast(resolved_at as date)') }} as resolution_date_key,
        call_duration_minutes,
        media_channel,
        generated_date as last_observed_date,
        is_customer_version_inferred,
        is_agent_version_inferred,
        case
            when _change_seq >= customer_seq and _change_seq >= agent_seq then _change_seq
            when customer_seq >= agent_seq then customer_seq
            else agent_seq
        end as _change_seq,
        _moved_from_customer_id,
        -- the dimensions as this build read them: the marks above, written with the rows
        {{ high_water_mark(ref('dim_customer')) }} as _dim_customer_seq,
        {{ high_water_mark(ref('dim_agent')) }} as _dim_agent_seq
    from moved
)

select * from final
