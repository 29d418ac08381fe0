{{
    config(
        materialized='incremental',
        unique_key='complaint_key',
        incremental_strategy=var('incremental_strategy'),
        on_schema_change='fail',
    )
}}

with status_history as (
    select * from {{ ref('stg_complaint_status_history') }}
),

complaints as (
    select * from {{ ref('int_complaints_unioned') }}
),

{% if is_incremental() %}
previous as (
    select * from {{ this }}
),

watermark as (
    select coalesce(max(_change_seq), -1) as change_seq from {{ this }}
),

{% endif %}

-- incrementally: every row of the complaints that changed or gained a status observation
-- (by key, so a duplicated key reaches the unique test). The inputs are read through ref()
-- here rather than the CTEs: DuckDB materialises a CTE used twice, i.e. copies the whole
-- history and all complaints before filtering them.
scoped_complaints as (
    select *
    from complaints
    {% if is_incremental() %}
    where complaint_key in (
        select complaint_key from {{ ref('stg_complaint_status_history') }}
        where _change_seq > (select change_seq from watermark)
        union all
        select complaint_key from {{ ref('int_complaints_unioned') }}
        where _change_seq > (select change_seq from watermark)
    )
    {% endif %}
),

observed_milestones as (
    select
        complaint_key,
        min(case when resolution_status = 'Backlog' then observed_date end) as backlog_date,
        min(case when resolution_status = 'In-Progress' then observed_date end)
            as in_progress_date,
        min(case when resolution_status = 'Resolved' then observed_date end) as resolved_date,
        min(case when resolution_status = 'Blocked' then observed_date end) as blocked_date,
        min(observed_date) as first_observed_date,
        max(observed_date) as last_observed_date,
        max(_change_seq) as history_seq
    from status_history
    where complaint_key in (select complaint_key from scoped_complaints)
    group by complaint_key
),

-- accumulating snapshot: a milestone already recorded is never moved by later loads
milestones_kept as (
    select
        scoped_complaints.complaint_key,
        scoped_complaints.channel,
        scoped_complaints.customer_id,
        scoped_complaints.resolution_status as current_status,
        cast(scoped_complaints.requested_at as date) as request_date,
        cast(scoped_complaints.resolved_at as date) as resolved_at_date,
        {% if is_incremental() %}
        coalesce(previous.backlog_date, observed_milestones.backlog_date) as backlog_date,
        coalesce(previous.in_progress_date, observed_milestones.in_progress_date)
            as in_progress_date,
        coalesce(previous.resolved_date, observed_milestones.resolved_date) as resolved_date,
        coalesce(previous.blocked_date, observed_milestones.blocked_date) as blocked_date,
        coalesce(previous.first_observed_date, observed_milestones.first_observed_date)
            as first_observed_date,
        {% else %}
        observed_milestones.backlog_date,
        observed_milestones.in_progress_date,
        observed_milestones.resolved_date,
        observed_milestones.blocked_date,
        observed_milestones.first_observed_date,
        {% endif %}
        coalesce(observed_milestones.last_observed_date, scoped_complaints.generated_date)
            as last_observed_date,
        case
            when coalesce(observed_milestones.history_seq, 0) > scoped_complaints._change_seq
                then observed_milestones.history_seq
            else scoped_complaints._change_seq
        end as _change_seq
    from scoped_complaints
    left join observed_milestones
        on scoped_complaints.complaint_key = observed_milestones.complaint_key
    {% if is_incremental() %}
    left join previous
        on scoped_complaints.complaint_key = previous.complaint_key
    {% endif %}
),

-- the resolution date is the source's resolution time when it has one, else the day the
-- Resolved status was first observed; only a currently Resolved complaint has one
resolution as (
    select
        *,
        case
            when current_status = 'Resolved' then coalesce(resolved_at_date, resolved_date)
        end as resolution_date
    from milestones_kept
),

measured as (
    select
        *,
        {{ days_between('backlog_date', 'in_progress_date') }} as days_backlog_to_in_progress,
        {{ days_between('in_progress_date', 'resolved_date') }} as days_in_progress_to_resolved,
        {{ days_between('backlog_date', 'resolved_date') }} as days_backlog_to_resolved,
        {{ days_between('request_date', 'resolution_date') }} as days_to_resolve,
        {{ days_between('request_date', 'coalesce(resolution_date, last_observed_date)') }}
            as days_open
    from resolution
),

final as (
    select
        complaint_key,
        channel,
        customer_id,
        current_status,
        current_status = 'Resolved' as is_resolved,
        request_date,
        first_observed_date,
        backlog_date,
        in_progress_date,
        resolved_date,
        blocked_date,
        resolution_date,
        last_observed_date,
        days_backlog_to_in_progress,
        days_in_progress_to_resolved,
        days_backlog_to_resolved,
        days_to_resolve,
        days_open,
        coalesce(days_to_resolve <= {{ var('sla_days') }}, false) as is_sla_met,
        days_open > {{ var('sla_days') }} as is_sla_breached,
        blocked_date is not null as has_been_blocked,
        _change_seq
    from measured
)

select * from final
