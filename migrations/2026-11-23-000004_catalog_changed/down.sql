DROP TRIGGER products_truncated ON products;
DROP TRIGGER products_changed ON products;
DROP FUNCTION notify_catalog_changed();
