DROP INDEX products_low_stock_idx;
DROP INDEX products_sold_out_idx;
DROP INDEX products_admin_search_idx;
DROP INDEX products_name_idx;
DROP TABLE stock_adjustments;
ALTER TABLE products DROP CONSTRAINT products_archived_inactive, DROP COLUMN archived_at;
