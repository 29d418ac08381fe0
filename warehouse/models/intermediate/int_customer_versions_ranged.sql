{{ scd2_ranges(
    ref('stg_customer_versions'),
    key='customer_id',
    attributes=['street', 'city', 'state_code', 'state_name', 'zip_code'],
) }}
