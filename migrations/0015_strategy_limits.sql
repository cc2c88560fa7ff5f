-- Strategies as registered parts of the desk: the instruments each trades,
-- its own limits beside the desk's, the secret its webhook signals carry,
-- and the last thing it decided (shown on the console).
ALTER TABLE strategies
    ADD COLUMN instruments text[] NOT NULL DEFAULT '{}',
    ADD COLUMN max_positions integer CHECK (max_positions BETWEEN 1 AND 1000),
    ADD COLUMN max_daily_loss numeric(16, 2) CHECK (max_daily_loss > 0),
    -- sha256 (hex) of the strategy's webhook token; the token itself is shown once.
    ADD COLUMN webhook_token_sha256 text CHECK (webhook_token_sha256 ~ '^[0-9a-f]{64}$'),
    ADD COLUMN last_decision text,
    ADD COLUMN last_decision_at timestamptz,
    ADD CONSTRAINT strategies_instruments_named CHECK (array_position(instruments, '') IS NULL);

-- A signal from outside carries its own id: the same id again is the same
-- command, answered with the first one's result and never placed twice.
ALTER TABLE operator_commands ADD COLUMN client_id text CHECK (length(client_id) BETWEEN 1 AND 64);
CREATE UNIQUE INDEX operator_commands_client_id ON operator_commands (requested_by, client_id)
    WHERE client_id IS NOT NULL;
