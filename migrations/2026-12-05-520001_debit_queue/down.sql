DROP TABLE debit_queue;
DROP FUNCTION notify_debits_queued();
-- Debits never sent to Stripe: nothing was charged.
UPDATE payments SET status = 'failed', failure_code = 'payment_not_created',
    failure_message = 'The payment provider never received this debit: nothing was charged.'
    WHERE status = 'queued';
ALTER TABLE payments DROP CONSTRAINT payments_status_check;
ALTER TABLE payments ADD CONSTRAINT payments_status_check CHECK (status IN
    ('processing', 'succeeded', 'failed', 'requires_action'));
