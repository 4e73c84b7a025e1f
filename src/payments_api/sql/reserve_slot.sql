-- Takes the next turn at Stripe in bucket $1, calls spaced $2 µs apart,
-- unless it is more than $3 µs away: how long to wait for it, in µs, or no
-- row when the queue is too long (nothing taken).
INSERT INTO stripe_call_slots AS slots (bucket, next_at)
VALUES ($1, clock_timestamp() + $2 * interval '1 microsecond')
ON CONFLICT (bucket) DO UPDATE
SET next_at = greatest(slots.next_at, clock_timestamp()) + $2 * interval '1 microsecond'
WHERE greatest(slots.next_at, clock_timestamp()) <= clock_timestamp() + $3 * interval '1 microsecond'
RETURNING greatest(0, (extract(epoch FROM slots.next_at - clock_timestamp()) * 1000000)::bigint - $2) AS wait_us
