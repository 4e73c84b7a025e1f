-- Fails if two accounts now share an email (customers who typed the same
-- address): merge or clear them first.
CREATE UNIQUE INDEX accounts_email_idx ON accounts (lower(email));
