SELECT ceil(extract(epoch FROM created_at + $3 * interval '1 second' - now()))::bigint AS seconds
FROM staff_login_attempts
WHERE client = $1 AND created_at > now() - $3 * interval '1 second'
ORDER BY created_at DESC
OFFSET $2 - 1 LIMIT 1
