-- Every app node keeps the active products in memory (src/catalog/cache.rs)
-- and listens on this channel: any change to products (stock reserved or
-- released, a price, a new product) tells them, at commit, to read them again.
-- Row triggers, so a statement that changes no product (a checkout of
-- unlimited-stock products) notifies nobody.
CREATE FUNCTION notify_catalog_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('catalog_changed', '');
    RETURN NULL;
END;
$$;

CREATE TRIGGER products_changed AFTER INSERT OR UPDATE OR DELETE ON products
    FOR EACH ROW EXECUTE FUNCTION notify_catalog_changed();
CREATE TRIGGER products_truncated AFTER TRUNCATE ON products
    FOR EACH STATEMENT EXECUTE FUNCTION notify_catalog_changed();
