-- A page of an account's payments, newest first, in one round trip:
-- whether the account ($1) exists, whether the cursor ($2, NULL for the
-- first page) is one of its payments, and the $3 payments after it (the
-- caller asks one more than a page, to tell whether there is a next one).
-- Always at least one row (its payment columns NULL when none), so that a
-- missing account is told from one without payments. The row comparison
-- walks payments_account_history_idx from the cursor.
WITH account AS (
    SELECT id FROM accounts WHERE id = $1
), after AS (
    SELECT created_at, id FROM payments WHERE id = $2 AND account_id = $1
), bound AS (
    -- Before every payment on the first page (and when the cursor is not
    -- the account's, which the caller refuses anyway).
    SELECT coalesce(max(created_at), 'infinity') AS created_at, coalesce(max(id), '') AS id
    FROM after
)
SELECT EXISTS (SELECT 1 FROM account) AS account_found,
       ($2 IS NULL OR EXISTS (SELECT 1 FROM after)) AS cursor_found,
       page.*
FROM bound
LEFT JOIN LATERAL (
    SELECT payments.*
    FROM payments
    WHERE payments.account_id = $1
      AND (payments.created_at, payments.id) < (bound.created_at, bound.id)
    ORDER BY payments.created_at DESC, payments.id DESC
    LIMIT $3
) AS page ON true
