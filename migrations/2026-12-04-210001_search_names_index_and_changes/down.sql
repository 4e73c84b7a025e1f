DROP INDEX products_name_search_idx;

CREATE OR REPLACE FUNCTION notify_catalog_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_LEVEL = 'STATEMENT' THEN
        PERFORM pg_notify('catalog_changed', '');
    ELSIF TG_TABLE_NAME = 'collections' THEN
        PERFORM pg_notify('catalog_changed', 'collections');
    ELSIF TG_TABLE_NAME = 'collection_products' THEN
        PERFORM pg_notify('catalog_changed', (CASE WHEN TG_OP = 'DELETE' THEN OLD.product_id ELSE NEW.product_id END)::text);
        IF TG_OP = 'UPDATE' AND OLD.product_id <> NEW.product_id THEN
            PERFORM pg_notify('catalog_changed', OLD.product_id::text);
        END IF;
    ELSE
        PERFORM pg_notify('catalog_changed', (CASE WHEN TG_OP = 'DELETE' THEN OLD.id ELSE NEW.id END)::text);
    END IF;
    RETURN NULL;
END;
$$;
