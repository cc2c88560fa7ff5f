-- An activation of the kill switch and its flattening (every working order
-- cancelled, every position exited) are one unit of work. flattened_at is
-- written with the counts when the flattening is done; an ACTIVATED event
-- without it was recorded by an engine that stopped (or lost the database)
-- mid-way, and the next engine to run finishes it before anything else.

ALTER TABLE kill_switch_events ADD COLUMN flattened_at timestamptz;

-- Activations recorded before this column: their effect was written with them.
UPDATE kill_switch_events SET flattened_at = created_at WHERE action = 'ACTIVATED';

CREATE OR REPLACE FUNCTION xcoin_kill_switch_events_kept() RETURNS trigger
    LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        RAISE EXCEPTION 'kill switch event % cannot be deleted: the record is kept', OLD.id
            USING ERRCODE = 'check_violation', CONSTRAINT = 'kill_switch_events_kept';
    END IF;
    IF OLD.action <> 'ACTIVATED'
       OR (NEW.id, NEW.action, NEW.trigger, NEW.reason, NEW.actor, NEW.created_at)
          IS DISTINCT FROM (OLD.id, OLD.action, OLD.trigger, OLD.reason, OLD.actor, OLD.created_at)
       OR (OLD.flattened_at IS NOT NULL AND NEW.flattened_at IS DISTINCT FROM OLD.flattened_at) THEN
        RAISE EXCEPTION 'kill switch event %: only an activation''s orders_cancelled, positions_exited, daily_pnl and (once) flattened_at can be written after it', OLD.id
            USING ERRCODE = 'check_violation', CONSTRAINT = 'kill_switch_events_kept';
    END IF;
    RETURN NEW;
END
$$;
