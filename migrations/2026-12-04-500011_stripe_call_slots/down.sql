DROP TABLE stripe_call_slots;
