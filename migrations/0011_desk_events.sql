-- The desk's log: what the engine did and saw (orders placed and refused
-- with their reasons, fills, exits, the kill switch, reconciliation,
-- strategies paused and resumed, broker and ticker health, operators'
-- commands), kept in the database so every console — in the engine's
-- process, attached or read-only — shows the same log, live.
CREATE TABLE desk_events (
    id       bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    at       timestamptz NOT NULL DEFAULT now(),
    level    text NOT NULL CHECK (level IN ('INFO', 'WARN', 'ERROR')),
    kind     text NOT NULL CHECK (kind IN ('ENGINE', 'ORDER', 'FILL', 'EXIT', 'KILL_SWITCH', 'RECONCILIATION',
                                           'STRATEGY', 'COMMAND', 'BROKER')),
    message  text NOT NULL CHECK (length(btrim(message)) > 0 AND length(message) <= 2000)
);

CREATE INDEX desk_events_at_idx ON desk_events (at);

-- Append-only, with a retention of 30 days: an event cannot be changed, and
-- only one older than 30 days can be deleted (the engine prunes them).
CREATE FUNCTION xcoin_desk_events_append_only() RETURNS trigger
    LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' AND OLD.at < now() - interval '30 days' THEN
        RETURN OLD;
    END IF;
    RAISE EXCEPTION 'desk event % cannot be %: the desk log is append-only and kept 30 days', OLD.id,
        lower(TG_OP) || 'd'
        USING ERRCODE = 'check_violation', CONSTRAINT = 'desk_events_append_only';
END
$$;

CREATE TRIGGER desk_events_append_only BEFORE UPDATE OR DELETE ON desk_events
    FOR EACH ROW EXECUTE FUNCTION xcoin_desk_events_append_only();

CREATE TRIGGER desk_events_notify AFTER INSERT ON desk_events
    FOR EACH ROW EXECUTE FUNCTION xcoin_notify_change('xcoin_changes');

-- The raw-query reader reads the new table too.
DO $$
BEGIN
    PERFORM xcoin_private.ensure_reader();
EXCEPTION WHEN insufficient_privilege THEN
    RAISE NOTICE 'read-only role not updated (% may not grant): %', current_user, SQLERRM;
END
$$;
