UPDATE refunds AS r SET status = $2, failure_reason = COALESCE($3, r.failure_reason), updated_at = now()
FROM (SELECT id, status AS previous FROM refunds WHERE id = $1 FOR UPDATE) AS before
WHERE r.id = before.id
  AND (CASE before.previous WHEN 'requested' THEN 0 WHEN 'pending' THEN 1 WHEN 'requires_action' THEN 1 WHEN 'succeeded' THEN 2 ELSE 3 END) < $4
RETURNING before.previous
