-- The client address a checkout came from (as the rate limits count it: an
-- IPv6 client by its /64), to cap the pending checkouts one address holds.
ALTER TABLE orders ADD COLUMN client_key TEXT;
CREATE INDEX orders_pending_client_idx ON orders (client_key) WHERE status = 'pending';
-- A browser's pending checkouts, superseded by its next one.
CREATE INDEX orders_pending_browser_idx ON orders (browser_id) WHERE status = 'pending';
-- The shopper ticked "Save my card": only then does the browser remember
-- the Stripe customer that paid.
ALTER TABLE orders ADD COLUMN save_card BOOLEAN NOT NULL DEFAULT false;
-- When the return page last asked Stripe about this pending order: it asks
-- at most every few seconds, however often the page is loaded.
ALTER TABLE orders ADD COLUMN stripe_checked_at TIMESTAMPTZ;
-- The debit reconciler looks for debits left processing.
CREATE INDEX payments_processing_idx ON payments (created_at) WHERE status = 'processing';
