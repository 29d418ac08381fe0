{{
    config(
        materialized='incremental',
        unique_key=['customer_id', 'month_start_date'],
        incremental_strategy=var('incremental_strategy'),
        on_schema_change='fail',
        pre_hook="""
            {% if is_incremental() %}
            delete from {{ this }}
            where customer_id in ({{ moved_customers_since(
                high_water_mark(this, '_fct_complaint_seq')) }})
            {% endif %}
        """,
    )
}}

-- A complaint that moved to another customer or request date leaves a customer-month that may
-- have no complaint left to rebuild it: the pre-hook deletes every row of the customers logged
-- as moved from (macros/moved_customers.sql), and the model rebuilds the months they still
-- have.

with complaints as (
    select * from {{ ref('fct_complaint') }}
),

lifecycle as (
    select * from {{ ref('fct_complaint_lifecycle') }}
),

{% if is_incremental() %}
-- one high-water mark per input table, the highest _change_seq this table has read of it: the
-- model's own maximum cannot serve, since `--select fct_complaint_lifecycle+` builds it while
-- the fact lags, and the fact's next build writes rows below the maximum that the lifecycle
-- lifted it to. Moved customers are logged with the fact's _change_seq.
watermark as (
    select
        coalesce(max(_fct_complaint_seq), -1) as complaint_seq,
        coalesce(max(_fct_complaint_lifecycle_seq), -1) as lifecycle_seq
    from {{ this }}
),

-- A change reaches its customer's months from the month of its request less the escalation
-- window (a complaint can make one up to that much earlier a follow-up): only those months are
-- rebuilt, so a day's cost follows its changes, not each customer's whole history. A customer
-- that a complaint moved away from is rebuilt whole (the pre-hook deleted its rows). Read
-- through ref(), not the CTEs: DuckDB materialises a CTE used twice, i.e. would copy both
-- facts before filtering them.
changed_dates as (
    select customer_id, request_date from {{ ref('fct_complaint') }}
    where _change_seq > (select complaint_seq from watermark)
    union all
    select customer_id, request_date from {{ ref('fct_complaint_lifecycle') }}
    where _change_seq > (select lifecycle_seq from watermark)
),

rebuild_from as (
    select customer_id, min(start_month) as start_month
    from (
        select
            customer_id,
            cast({{ dbt.date_trunc('month', dbt.dateadd(
                'day', -var('escalation_window_days'), 'request_date')) }} as date) as start_month
        from changed_dates
        union all
        select moved.customer_id, cast('1900-01-01' as date)
        from ({{ moved_customers_since('(select complaint_seq from watermark)') }}) as moved
    ) as starts
    group by customer_id
),
{% endif %}

scoped_complaints as (
    select
        complaints.complaint_key,
        complaints.customer_id,
        complaints.agent_id,
        complaints.channel,
        complaints.complaint_category,
        complaints.requested_at,
        cast({{ dbt.date_trunc('month', 'complaints.request_date') }} as date) as month_start_date,
        lifecycle.is_resolved,
        lifecycle.days_to_resolve,
        lifecycle.has_been_blocked,
        lifecycle.is_sla_breached,
        case
            when lifecycle._change_seq > complaints._change_seq then lifecycle._change_seq
            else complaints._change_seq
        end as _change_seq
    from complaints
    inner join lifecycle
        on complaints.complaint_key = lifecycle.complaint_key
    {% if is_incremental() %}
    inner join rebuild_from
        on complaints.customer_id = rebuild_from.customer_id
        and complaints.request_date >= rebuild_from.start_month
    {% endif %}
),

-- complaints followed by another complaint of the same customer on a different channel within
-- the escalation window: a semi-join (exists) yields each such complaint once, where a left
-- join of all pairs needed a group by over every complaint key (~10 % of this model's CPU)
followed_up as (
    select earlier.complaint_key
    from scoped_complaints as earlier
    where exists (
        select 1
        from scoped_complaints as later
        where later.customer_id = earlier.customer_id
            and later.channel <> earlier.channel
            and later.requested_at > earlier.requested_at
            and later.requested_at <= {{ dbt.dateadd(
                'day', var('escalation_window_days'), 'earlier.requested_at') }}
    )
),

-- escalated: became Blocked, stayed unresolved beyond the SLA, or was followed by a complaint
-- on another channel within the escalation window
escalations as (
    select
        scoped_complaints.*,
        (
            scoped_complaints.has_been_blocked
            or coalesce(scoped_complaints.is_sla_breached, false)
            or followed_up.complaint_key is not null
        ) as is_escalated
    from scoped_complaints
    left join followed_up
        on scoped_complaints.complaint_key = followed_up.complaint_key
),

monthly as (
    select
        customer_id,
        month_start_date,
        count(*) as complaint_count,
        sum(case when channel = 'call' then 1 else 0 end) as call_count,
        sum(case when channel = 'social_media' then 1 else 0 end) as social_media_count,
        sum(case when channel = 'web_form' then 1 else 0 end) as web_form_count,
        sum(case when complaint_category = 'Technician Support' then 1 else 0 end)
            as technician_support_count,
        sum(case when complaint_category = 'Network Failure' then 1 else 0 end)
            as network_failure_count,
        sum(case when complaint_category = 'Router Delivery' then 1 else 0 end)
            as router_delivery_count,
        sum(case when complaint_category = 'Payments' then 1 else 0 end) as payments_count,
        sum(case when is_resolved then 1 else 0 end) as resolved_count,
        sum(case when has_been_blocked then 1 else 0 end) as blocked_count,
        sum(case when coalesce(is_sla_breached, false) then 1 else 0 end) as sla_breached_count,
        avg(cast(days_to_resolve as {{ dbt.type_float() }})) as avg_days_to_resolve,
        count(distinct agent_id) as distinct_agent_count,
        sum(case when is_escalated then 1 else 0 end) as escalation_count,
        max(_change_seq) as _change_seq
    from escalations
    group by customer_id, month_start_date
),

-- the rebuilt months, and on an incremental run the eleven months before each customer's first
-- rebuilt one as built before: the rolling windows reach back into them
{%- set monthly_columns = [
    'customer_id', 'month_start_date', 'complaint_count', 'call_count', 'social_media_count',
    'web_form_count', 'technician_support_count', 'network_failure_count',
    'router_delivery_count', 'payments_count', 'resolved_count', 'blocked_count',
    'sla_breached_count', 'avg_days_to_resolve', 'distinct_agent_count', 'escalation_count',
    '_change_seq'] %}
months as (
    select {{ monthly_columns | join(', ') }}, true as is_rebuilt
    from monthly
    {% if is_incremental() %}
    union all
    select
        {%- for column in monthly_columns %} built.{{ column }},{% endfor %}
        false as is_rebuilt
    from {{ this }} as built
    inner join rebuild_from
        on built.customer_id = rebuild_from.customer_id
        and built.month_start_date < rebuild_from.start_month
        and built.month_start_date >= {{ dbt.dateadd('month', -11, 'rebuild_from.start_month') }}
    {% endif %}
),

-- rolling counts and the previous month over a month number (year * 12 + month): range
-- windows over each customer's months instead of a self-join
month_numbered as (
    select
        *,
        cast(extract(year from month_start_date) * 12 + extract(month from month_start_date)
            as integer) as month_number
    from months
),

rolling as (
    select
        *,
        sum(complaint_count) over (
            partition by customer_id order by month_number
            range between 2 preceding and current row
        ) as rolling_3m_complaint_count,
        sum(complaint_count) over (
            partition by customer_id order by month_number
            range between 5 preceding and current row
        ) as rolling_6m_complaint_count,
        sum(complaint_count) over (
            partition by customer_id order by month_number
            range between 11 preceding and current row
        ) as rolling_12m_complaint_count,
        sum(complaint_count) over (
            partition by customer_id order by month_number
            range between 1 preceding and 1 preceding
        ) as previous_month_complaint_count
    from month_numbered
),

final as (
    select
        {{ surrogate_key(['monthly.customer_id', 'monthly.month_start_date']) }}
            as customer_month_key,
        monthly.customer_id,
        monthly.month_start_date,
        monthly.complaint_count,
        cast(monthly.call_count as bigint) as call_count,
        cast(monthly.social_media_count as bigint) as social_media_count,
        cast(monthly.web_form_count as bigint) as web_form_count,
        cast(monthly.technician_support_count as bigint) as technician_support_count,
        cast(monthly.network_failure_count as bigint) as network_failure_count,
        cast(monthly.router_delivery_count as bigint) as router_delivery_count,
        cast(monthly.payments_count as bigint) as payments_count,
        cast(monthly.resolved_count as bigint) as resolved_count,
        cast(monthly.blocked_count as bigint) as blocked_count,
        cast(monthly.sla_breached_count as bigint) as sla_breached_count,
        round(1.0 * monthly.resolved_count / monthly.complaint_count, 4) as resolution_rate,
        monthly.avg_days_to_resolve,
        monthly.distinct_agent_count,
        cast(monthly.rolling_3m_complaint_count as bigint) as rolling_3m_complaint_count,
        cast(monthly.rolling_6m_complaint_count as bigint) as rolling_6m_complaint_count,
        cast(monthly.rolling_12m_complaint_count as bigint) as rolling_12m_complaint_count,
        monthly.complaint_count
            - cast(coalesce(monthly.previous_month_complaint_count, 0) as bigint)
            as complaint_count_mom_change,
        cast(monthly.escalation_count as bigint) as escalation_count,
        monthly._change_seq,
        -- the inputs as this build read them: the marks above, written with the rows
        {{ high_water_mark(ref('fct_complaint')) }} as _fct_complaint_seq,
        {{ high_water_mark(ref('fct_complaint_lifecycle')) }} as _fct_complaint_lifecycle_seq
    from rolling as monthly
    where monthly.is_rebuilt
)

select * from final
