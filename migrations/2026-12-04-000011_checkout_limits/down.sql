DROP INDEX payments_processing_idx;
ALTER TABLE orders DROP COLUMN stripe_checked_at, DROP COLUMN save_card, DROP COLUMN client_key;
