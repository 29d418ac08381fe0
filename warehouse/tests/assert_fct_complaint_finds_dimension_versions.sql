-- assert: every complaint joins the customer and agent version valid on its request date (or, flagged as inferred, the first version when the request predates it).
with complaints as (
    select * from {{ ref('fct_complaint') }}
),

customers as (
    select * from {{ ref('dim_customer') }}
),

agents as (
    select * from {{ ref('dim_agent') }}
),

checked as (
    select
        complaints.complaint_key,
        customers.customer_key is not null as has_customer_version,
        agents.agent_key is not null as has_agent_version
    from complaints
    left join customers
        on complaints.customer_key = customers.customer_key
        and complaints.customer_id = customers.customer_id
        and (
            (complaints.request_date >= customers.valid_from
                and complaints.request_date < customers.valid_to)
            or (complaints.is_customer_version_inferred
                and customers.version_number = 1
                and complaints.request_date < customers.valid_from)
        )
    left join agents
        on complaints.agent_key = agents.agent_key
        and complaints.agent_id = agents.agent_id
        and (
            (complaints.request_date >= agents.valid_from
                and complaints.request_date < agents.valid_to)
            or (complaints.is_agent_version_inferred
                and agents.version_number = 1
                and complaints.request_date < agents.valid_from)
        )
)

select *
from checked
where not has_customer_version or not has_agent_version
