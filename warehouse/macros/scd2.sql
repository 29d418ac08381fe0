{#- SCD2 helpers shared by the customer and agent dimensions. -#}

{#- Version windows per key from the versions' valid_from alone: valid_to is the next version's
    valid_from (so windows are contiguous by construction, whatever silver's valid_to says), the
    open end is 9999-12-31 (easier joins than null). -#}
{% macro scd2_ranges(versions, key, attributes) -%}
with versions as (
    select * from {{ versions }}
),

ranged as (
    select
        {{ key }},
        {%- for attribute in attributes %}
        {{ attribute }},
        {%- endfor %}
        valid_from,
        coalesce(
            lead(valid_from) over (partition by {{ key }} order by valid_from),
            cast('9999-12-31' as date)
        ) as valid_to,
        row_number() over (partition by {{ key }} order by valid_from) as version_number,
        _change_seq
    from versions
),

final as (
    select
        *,
        valid_to = cast('9999-12-31' as date) as is_current
    from ranged
)

select * from final
{%- endmacro %}

{#- Incremental config of an SCD2 dimension: a run rebuilds every version of each key whose
    entity row or versions changed, and replaces them as a whole (delete+insert by natural key,
    on every adapter), so a new version also closes the previous one. -#}
{% macro scd2_dimension_config(key) -%}
    {{ config(
        materialized='incremental',
        unique_key=key,
        incremental_strategy='delete+insert',
        on_schema_change='fail',
    ) }}
{%- endmacro %}

{#- Body of an SCD2 dimension: each ranged version joined to the entity's current (Type 1)
    attributes, keyed by md5(key, valid_from). `_change_seq` is the later of the two sides, so
    either one changing reaches incremental consumers. Incrementally, only keys with an entity
    or version row newer than the dimension's own high-water mark are rebuilt. -#}
{% macro scd2_dimension(entity, versions, versions_ranged, key, surrogate_key_name,
                        entity_columns, version_columns) -%}
with versions_ranged as (
    select * from {{ versions_ranged }}
),

{% if is_incremental() %}
watermark as (
    select coalesce(max(_change_seq), -1) as change_seq from {{ this }}
),

-- read through ref(), not the entities CTE: DuckDB materialises a CTE used twice, i.e. would
-- copy every entity row (2.5 M customers) to rebuild a few thousand keys
changed_keys as (
    select {{ key }} from {{ entity }}
    where _change_seq > (select change_seq from watermark)
    union
    select {{ key }} from {{ versions }}
    where _change_seq > (select change_seq from watermark)
),

scoped_versions as (
    select * from versions_ranged
    where {{ key }} in (select {{ key }} from changed_keys)
),

-- the entity rows of the same keys only: the left join below matches on the key alone, so no
-- other row could join. Unfiltered, DuckDB built its hash table from every entity row (2.5 M
-- customers) to probe it with a few thousand versions (dim_customer's select on a later day at
-- scale 1: 0.77-0.91 -> 0.41-0.43 CPU s, identical rows; docs/warehouse.md, round 5)
entities as (
    select * from {{ entity }}
    where {{ key }} in (select {{ key }} from changed_keys)
),
{% else %}
scoped_versions as (
    select * from versions_ranged
),

entities as (
    select * from {{ entity }}
),
{% endif %}

versions_joined as (
    select
        {{ surrogate_key(['scoped_versions.' ~ key, 'scoped_versions.valid_from']) }}
            as {{ surrogate_key_name }},
        scoped_versions.{{ key }},
        {%- for column in entity_columns %}
        entities.{{ column }},
        {%- endfor %}
        {%- for column in version_columns %}
        scoped_versions.{{ column }},
        {%- endfor %}
        scoped_versions.version_number,
        scoped_versions.valid_from,
        scoped_versions.valid_to,
        scoped_versions.is_current,
        case
            when coalesce(entities._change_seq, 0) > scoped_versions._change_seq
                then entities._change_seq
            else scoped_versions._change_seq
        end as _change_seq
    from scoped_versions
    left join entities
        on scoped_versions.{{ key }} = entities.{{ key }}
),

final as (
    select * from versions_joined
)

select * from final
{%- endmacro %}

{#- Columns of `rows` plus the key of the `dimension` version valid on `date_column`. A row dated
    before the first version (a request before signup) falls back to version 1 and is flagged
    is_<role>_version_inferred instead of losing the key; <role>_seq carries the version's
    _change_seq for incremental consumers. One join: the windows of a key are contiguous from
    version 1 on, so exactly one version matches either "the date lies in its window" or "it is
    version 1 and the date is not on or after its start" (before it, or no date). -#}
{% macro join_version_at(rows, dimension, key, surrogate_key_name, date_column, role) -%}
    select
        {{ rows }}.*,
        version_{{ role }}.{{ surrogate_key_name }},
        not coalesce(
            {{ rows }}.{{ date_column }} >= version_{{ role }}.valid_from
            and {{ rows }}.{{ date_column }} < version_{{ role }}.valid_to,
            false
        ) as is_{{ role }}_version_inferred,
        coalesce(version_{{ role }}._change_seq, 0) as {{ role }}_seq
    from {{ rows }}
    left join {{ dimension }} as version_{{ role }}
        on {{ rows }}.{{ key }} = version_{{ role }}.{{ key }}
        and (
            (
                {{ rows }}.{{ date_column }} >= version_{{ role }}.valid_from
                and {{ rows }}.{{ date_column }} < version_{{ role }}.valid_to
            )
            or (
                version_{{ role }}.version_number = 1
                and not coalesce({{ rows }}.{{ date_column }} >= version_{{ role }}.valid_from, false)
            )
        )
{%- endmacro %}
