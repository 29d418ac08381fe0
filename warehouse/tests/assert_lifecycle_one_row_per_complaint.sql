-- assert: the accumulating snapshot holds exactly the complaints of fct_complaint.
with complaints as (
    select * from {{ ref('fct_complaint') }}
),

lifecycle as (
    select * from {{ ref('fct_complaint_lifecycle') }}
)

select complaints.complaint_key
from complaints
full outer join lifecycle
    on complaints.complaint_key = lifecycle.complaint_key
where complaints.complaint_key is null or lifecycle.complaint_key is null
