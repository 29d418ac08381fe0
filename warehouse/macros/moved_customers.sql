{#- Customers that complaints moved away from, for customer_features_monthly.

    A complaint corrected to another customer or request date leaves the customer-month it left
    with stale counts, and maybe with no complaint left to rebuild it. fct_complaint records the
    customer it left (`_moved_from_customer_id`, from the complaint's previous row) and its
    post-hook appends those customers, with the fact row's `_change_seq`, to
    `dbt_state.moved_customers`; the feature model deletes and rebuilds every customer logged
    above its mark of the fact (max(_fct_complaint_seq): the log holds fact sequences, and the
    model's own maximum may have been lifted past them by a lifecycle built ahead of the fact).
    A full refresh of the fact compares with its previous rows too, so it logs a move it is the
    first to see. A log, not only the fact's column: a complaint that moves twice
    while the feature model does not run (a failed fct_complaint test skips it in `dbt build`;
    a `--select`) overwrites the column, but both moves stay in the log.

    The log is never pruned: the post-hook appends above the log's maximum, which pruning would
    lower, so rows written long ago would be logged again. It grows by one row per change of a
    complaint that has ever moved (the fact keeps the column until the next move, so that the
    rows of a build whose hook failed are logged by the next one), i.e. slowly. -#}

{% macro moved_customers_relation() -%}
    {{ return(dbt_state_relation('moved_customers')) }}
{%- endmacro %}

{#- on-run-start: the log exists before fct_complaint or the feature model use it. -#}
{% macro create_moved_customers() -%}
    {{ create_dbt_state_table(
        'moved_customers', 'customer_id ' ~ dbt.type_string() ~ ', change_seq bigint') }}
{%- endmacro %}

{#- post-hook of fct_complaint: the moves its rows record above the log's maximum, i.e. those
    of this build (or of an earlier one whose hook failed after its rows were written). -#}
{% macro log_moved_customers() -%}
    {%- set relation = moved_customers_relation() -%}
    insert into {{ relation }} (customer_id, change_seq)
    select _moved_from_customer_id, _change_seq
    from {{ this }}
    where _moved_from_customer_id is not null
        and _change_seq > (select coalesce(max(change_seq), -1) from {{ relation }})
{%- endmacro %}

{#- The logged customers the feature model has not consumed: above its mark of the fact. -#}
{% macro moved_customers_since(watermark) -%}
    select customer_id from {{ moved_customers_relation() }} where change_seq > {{ watermark }}
{%- endmacro %}
