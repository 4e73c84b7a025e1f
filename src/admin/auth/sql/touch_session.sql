UPDATE staff_sessions AS s SET last_seen_at = now()
FROM staff
WHERE s.token_hash = $1
  AND staff.id = s.staff_id
  AND staff.disabled_at IS NULL
  AND s.last_seen_at > now() - $2 * interval '1 second'
  AND s.created_at > now() - $3 * interval '1 second'
RETURNING s.staff_id, staff.email, s.csrf_token
