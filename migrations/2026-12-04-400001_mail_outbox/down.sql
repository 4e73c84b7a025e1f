DROP INDEX orders_email_lower_idx;
DROP TABLE orders_link_requests;
DROP TABLE mail_outbox;
