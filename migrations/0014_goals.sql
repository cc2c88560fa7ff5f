-- Daily goals reached: once per trading day, scope (the desk, or a
-- strategy by name) and goal, with the figures that reached it and what
-- the engine did. Notified, so every console shows them.
CREATE TABLE goal_events (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    trading_day  date NOT NULL,
    scope        text NOT NULL CHECK (length(btrim(scope)) > 0),
    goal         text NOT NULL CHECK (goal IN ('PROFIT_TARGET', 'MAX_TRADES', 'LOSING_STREAK', 'GIVE_BACK')),
    figures      text NOT NULL,
    action       text NOT NULL CHECK (action IN ('notify', 'pause', 'exit_pause')),
    reached_at   timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT goal_events_once_a_day UNIQUE (trading_day, scope, goal)
);

CREATE TRIGGER goal_events_notify AFTER INSERT ON goal_events
    FOR EACH ROW EXECUTE FUNCTION xcoin_notify_change('xcoin_changes');

DO $$
BEGIN
    PERFORM xcoin_private.ensure_reader();
    PERFORM xcoin_private.ensure_roles();
EXCEPTION WHEN insufficient_privilege THEN
    RAISE NOTICE 'reader and roles not updated (% may not grant): %', current_user, SQLERRM;
END
$$;
