DROP TABLE api_idempotency;
DROP TABLE payments;
DROP TABLE api_keys;
DROP TABLE accounts;
