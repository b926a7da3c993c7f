-- silver.products: the CRM product catalog, one row per product, categories as labels.
-- A product deleted at the source (_deleted_at) stays: old orders still name it.
SELECT
    {{ clean_code(product_id) }} AS product_id,
    trim(name) AS name,
    {{ clean_label(category) }} AS category,
    {{ clean_amount(price) }} AS price,
    trim(supplier) AS supplier,
    _deleted_at IS NOT NULL AS is_deleted
FROM {{ latest_rows(bronze_crm_products, product_id, _ingested_at DESC) }} AS l
