-- An account is found by its Stripe customer only. The email a shopper types
-- on Stripe's payment page is not verified, so it must not join an account
-- (nor move one to another customer); it is kept to show.
DROP INDEX accounts_email_idx;
