-- The operators' audit trail: every authenticated change made through the API. Append
-- only: a trigger refuses UPDATE, DELETE and TRUNCATE, and each row carries the hash of
-- the row before it, so an edit or a deletion by someone who gets past the trigger (a
-- superuser) breaks the chain where it happened (`npm run audit -- verify`).
CREATE TABLE audit_log (
  seq             bigint      PRIMARY KEY,
  at              timestamptz NOT NULL,
  principal       text        NOT NULL,
  via             text        NOT NULL,
  token_id        text        NULL,
  action          text        NOT NULL,
  target          text        NULL,
  status          integer     NOT NULL,
  correlation_id  text        NOT NULL,
  detail          jsonb       NOT NULL,
  prev_hash       text        NOT NULL,
  hash            text        NOT NULL UNIQUE
);
CREATE INDEX audit_log_principal_idx ON audit_log (principal, seq);
CREATE INDEX audit_log_action_idx ON audit_log (action, seq);

CREATE FUNCTION audit_log_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'audit_log is append-only (% refused)', TG_OP;
END;
$$;
CREATE TRIGGER audit_log_no_update BEFORE UPDATE OR DELETE ON audit_log FOR EACH ROW EXECUTE FUNCTION audit_log_refuse_change();
CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log FOR EACH STATEMENT EXECUTE FUNCTION audit_log_refuse_change();
