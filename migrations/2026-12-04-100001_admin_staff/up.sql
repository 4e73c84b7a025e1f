-- The back office (/admin): its staff, their sessions, failed sign-ins
-- (shared by every node, for the limits), and the audit log of what staff
-- did, written in the same transaction as each action.

CREATE TABLE staff (
    id                  BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    email               TEXT NOT NULL CHECK (length(email) BETWEEN 3 AND 254),
    -- argon2id, as a PHC string ($argon2id$v=19$m=...,t=...,p=...$salt$hash).
    password_hash       TEXT NOT NULL CHECK (password_hash LIKE '$argon2id$%'),
    created_at          TIMESTAMPTZ NOT NULL DEFAULT now(),
    password_changed_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    last_sign_in_at     TIMESTAMPTZ,
    -- A disabled account cannot sign in, and its sessions end.
    disabled_at         TIMESTAMPTZ
);

-- Staff sign in by email, whatever its case.
CREATE UNIQUE INDEX staff_email_idx ON staff (lower(email));

-- A signed-in browser: a random token in its cookie, only its SHA-256 here,
-- so that a copy of the database opens no session.
CREATE TABLE staff_sessions (
    token_hash   BYTEA PRIMARY KEY CHECK (length(token_hash) = 32),
    staff_id     BIGINT NOT NULL REFERENCES staff (id) ON DELETE CASCADE,
    -- Every form POST of the session must carry it.
    csrf_token   TEXT NOT NULL CHECK (length(csrf_token) >= 32),
    created_at   TIMESTAMPTZ NOT NULL DEFAULT now(),
    last_seen_at TIMESTAMPTZ NOT NULL DEFAULT now()
);

CREATE INDEX staff_sessions_staff_id_idx ON staff_sessions (staff_id);
-- The purge deletes sessions idle past the timeout.
CREATE INDEX staff_sessions_last_seen_idx ON staff_sessions (last_seen_at);

-- Sign-in attempts that failed (and those still being checked): the limits
-- count them per client address and per email typed, on every node.
CREATE TABLE staff_login_attempts (
    id         BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    -- The client's address (an IPv6 client by its /64).
    client     TEXT NOT NULL,
    -- As typed, lowercased: unknown addresses count too.
    email      TEXT NOT NULL,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now()
);

CREATE INDEX staff_login_attempts_client_idx ON staff_login_attempts (client, created_at);
CREATE INDEX staff_login_attempts_email_idx ON staff_login_attempts (email, created_at);
CREATE INDEX staff_login_attempts_created_idx ON staff_login_attempts (created_at);

-- Every staff action: who, what, on what, when, and the subject before and
-- after (JSON objects; NULL for a creation's before or a deletion's after).
CREATE TABLE audit_log (
    id         BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    -- NULL for the command line (`storefront admin ...`).
    staff_id   BIGINT REFERENCES staff (id),
    -- The staff member's email at the time, or "command line".
    actor      TEXT NOT NULL,
    action     TEXT NOT NULL CHECK (action ~ '^[a-z_]+\.[a-z_]+$'),
    -- What was acted on: "product:42", "order:K7M29QXD", "staff:3"...
    subject    TEXT NOT NULL,
    before     JSONB CHECK (jsonb_typeof(before) = 'object'),
    after      JSONB CHECK (jsonb_typeof(after) = 'object'),
    created_at TIMESTAMPTZ NOT NULL DEFAULT now()
);

CREATE INDEX audit_log_staff_id_idx ON audit_log (staff_id, id DESC);
CREATE INDEX audit_log_subject_idx ON audit_log (subject, id DESC);
