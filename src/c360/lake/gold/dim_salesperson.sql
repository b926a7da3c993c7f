-- gold.dim_salesperson: the salesperson dimension.
SELECT salesperson_id, store_id, first_name, last_name, email, hired_date FROM silver_salespeople
