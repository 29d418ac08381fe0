{#- Every fact row's `column_name` (a surrogate key) is the version of its entity (`natural_key`,
    same name in both models) in `to` valid on the row's `date_column`: valid_from <= date <
    valid_to, or, when the row says the version was inferred (`inferred`), the entity's first
    version for a date before it. A null key fails as well.

    With since_tested, only the fact rows above the fact's tested watermark
    (macros/tested_watermarks.sql), and every row of an entity with a dimension row above the
    lower of that watermark and the dimension's own entry (`<model>><to>`, its maximum when the
    fact's tests passed). The fact rebuilds the complaints of an entity with a dimension row
    above its mark of that dimension (_dim_customer_seq), and such a row may keep its
    _change_seq (it stays on its old version): the lower watermark reaches every dimension row
    the fact's tests have not seen, among them one built after they passed. A row outside both
    parts is the row that passed, and its entity's versions are those it passed against. -#}
{% test dimension_version_at(model, column_name, to, natural_key, date_column, inferred,
                             since_tested=false) %}
{%- set watermark = tested_watermark(model) if since_tested else -1 %}
{%- set dimension_watermark = tested_watermark(model, to) if since_tested else -1 %}
with facts as (
    select
        {{ column_name }} as version_key,
        {{ natural_key }} as natural_key,
        {{ date_column }} as fact_date,
        {{ inferred }} as is_inferred
    from {{ model }}
    {%- if watermark >= 0 and dimension_watermark >= 0 %}
    where _change_seq > {{ watermark }}
        or {{ natural_key }} in (
            select {{ natural_key }} from {{ to }}
            where _change_seq > {{ [watermark, dimension_watermark] | min }}
        )
    {%- endif %}
),

versions as (
    select
        {{ column_name }} as version_key,
        {{ natural_key }} as natural_key,
        valid_from,
        valid_to,
        version_number
    from {{ to }}
)

select facts.*
from facts
left join versions
    on facts.version_key = versions.version_key
    and facts.natural_key = versions.natural_key
    and (
        (facts.fact_date >= versions.valid_from and facts.fact_date < versions.valid_to)
        or (facts.is_inferred
            and versions.version_number = 1
            and facts.fact_date < versions.valid_from)
    )
where versions.version_key is null
{% endtest %}
