-- assert: milestone dates never run backwards: Backlog <= In-Progress <= Resolved when set, and every milestone lies within the complaint's observed window.
with lifecycle as (
    select * from {{ ref('fct_complaint_lifecycle') }}
)

select *
from lifecycle
where backlog_date > in_progress_date
    or in_progress_date > resolved_date
    or backlog_date > resolved_date
    or first_observed_date > coalesce(backlog_date, in_progress_date, resolved_date, blocked_date)
    or last_observed_date < first_observed_date
