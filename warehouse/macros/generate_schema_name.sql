{#- Folder schemas are used verbatim (staging, intermediate, gold) rather than dbt's default
    "<target schema>_<custom>", so analysts and the risk model find `gold.dim_customer`. -#}
{% macro generate_schema_name(custom_schema_name, node) -%}
    {%- if custom_schema_name is none -%}
        {{ target.schema }}
    {%- else -%}
        {{ custom_schema_name | trim }}
    {%- endif -%}
{%- endmacro %}
