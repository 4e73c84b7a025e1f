-- Every node keeps the API keys it has verified (src/payments_api/key_cache.rs).
-- A revocation or deletion tells every node to forget them all: keys are
-- few and revoked rarely, and a node reads a key again on its next use.
-- Not on last_used_at: noting a key's use must not empty every cache.
CREATE FUNCTION notify_api_keys_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('api_keys_changed', '');
    RETURN NULL;
END;
$$;

CREATE TRIGGER api_keys_changed AFTER UPDATE OF key_hash, revoked_at OR DELETE ON api_keys
    FOR EACH STATEMENT EXECUTE FUNCTION notify_api_keys_changed();
CREATE TRIGGER api_keys_truncated AFTER TRUNCATE ON api_keys
    FOR EACH STATEMENT EXECUTE FUNCTION notify_api_keys_changed();
