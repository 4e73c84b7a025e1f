DROP TABLE audit_log;
DROP TABLE staff_login_attempts;
DROP TABLE staff_sessions;
DROP TABLE staff;
