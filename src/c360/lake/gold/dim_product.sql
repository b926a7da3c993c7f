-- gold.dim_product: the product dimension.
SELECT product_id, name, category, price, supplier, is_deleted FROM silver_products
