-- Claims up to $1 due debits from the queue, oldest first, skipping rows
-- another worker has locked, and leases them for $2 ms (a worker whose
-- node dies leaves them to another after that); marks their payments
-- `processing`: they are being sent to Stripe. Answers each payment as it
-- was, with the description to send and the tries so far.
WITH claimed AS (
    UPDATE debit_queue AS q
    SET run_at = now() + $2 * interval '1 millisecond', attempts = q.attempts + 1
    FROM (
        SELECT payment_id FROM debit_queue
        WHERE run_at <= now()
        ORDER BY queued_at, payment_id
        LIMIT $1
        FOR UPDATE SKIP LOCKED
    ) AS due
    WHERE q.payment_id = due.payment_id
    RETURNING q.payment_id, q.description, q.attempts
), sending AS (
    UPDATE payments SET status = 'processing', updated_at = now()
    FROM claimed
    WHERE payments.id = claimed.payment_id AND payments.status = 'queued'
)
SELECT payments.*, claimed.description AS sent_description, claimed.attempts
FROM payments JOIN claimed ON payments.id = claimed.payment_id
ORDER BY payments.created_at, payments.id
