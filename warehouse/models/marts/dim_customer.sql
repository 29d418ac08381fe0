{#- forget_tested_watermark: a full build re-tests every customer, and every complaint's customer
    version (macros/tested_watermarks.sql) -#}
{{ scd2_dimension_config('customer_id') }}
{{ config(pre_hook="{{ forget_tested_watermark() }}") }}

{{ scd2_dimension(
    entity=ref('stg_customers'),
    versions=ref('stg_customer_versions'),
    versions_ranged=ref('int_customer_versions_ranged'),
    key='customer_id',
    surrogate_key_name='customer_key',
    entity_columns=['customer_name', 'gender', 'date_of_birth', 'signup_date', 'email'],
    version_columns=['street', 'city', 'state_code', 'state_name', 'zip_code'],
) }}
