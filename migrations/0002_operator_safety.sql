-- Operator safety: modification counts, strategies that can be paused, and
-- commands bounded in what they may carry.

-- Kite refuses the 26th modification of an order; the engine counts them and
-- refuses the 26th before it reaches the broker.
ALTER TABLE orders ADD COLUMN modifications integer NOT NULL DEFAULT 0
    CONSTRAINT orders_modifications_range CHECK (modifications BETWEEN 0 AND 25);

-- A strategy is active (may place orders) or paused. `is_active` is the state;
-- who paused it, when and why are kept beside it. Only operator commands and
-- the kill switch change it, and every change notifies consoles.
ALTER TABLE strategies
    ADD COLUMN paused_at     timestamptz,
    ADD COLUMN paused_by     text,
    ADD COLUMN paused_reason text,
    ADD CONSTRAINT strategies_pause_recorded CHECK (
        (is_active AND paused_at IS NULL AND paused_by IS NULL AND paused_reason IS NULL)
        OR (NOT is_active AND paused_at IS NOT NULL AND length(btrim(paused_by)) > 0
            AND length(btrim(paused_reason)) BETWEEN 1 AND 500)
    );

-- Commands: two new kinds, and a bound on what a row may carry. A console
-- that sends more is refused by the database, not stored and logged.
ALTER TABLE operator_commands DROP CONSTRAINT operator_commands_command_check;
ALTER TABLE operator_commands ADD CONSTRAINT operator_commands_command_check CHECK (
    command IN ('PLACE_ORDER', 'CANCEL_ORDER', 'MODIFY_ORDER', 'EXIT_POSITION', 'EXIT_ALL',
                'KILL_SWITCH_ON', 'KILL_SWITCH_OFF', 'RESOLVE_RECONCILIATION',
                'PAUSE_STRATEGY', 'RESUME_STRATEGY'));
ALTER TABLE operator_commands
    ADD CONSTRAINT operator_commands_payload_size CHECK (octet_length(payload::text) <= 16384),
    ADD CONSTRAINT operator_commands_requested_by_length CHECK (length(requested_by) <= 64);

-- Reasons and notes an operator types are bounded where they are stored.
ALTER TABLE kill_switch_events
    ADD CONSTRAINT kill_switch_events_reason_length CHECK (length(reason) <= 500);
ALTER TABLE reconciliation_log
    ADD CONSTRAINT reconciliation_log_note_length CHECK (resolution_note IS NULL OR length(resolution_note) <= 500);

-- The view of today's orders carries every order column, the new one too.
DROP VIEW v_today_orders;
CREATE VIEW v_today_orders AS
SELECT o.*, s.name AS strategy_name
  FROM orders o
  JOIN strategies s ON s.id = o.strategy_id
 WHERE o.created_at >= xcoin_day_start(xcoin_today())
   AND o.created_at < xcoin_day_start(xcoin_today() + 1);

DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'xcoin_reader') THEN
        EXECUTE 'GRANT SELECT ON v_today_orders TO xcoin_reader';
    END IF;
EXCEPTION WHEN insufficient_privilege THEN
    RAISE NOTICE 'xcoin_reader privileges not set: %', SQLERRM;
END
$$;
