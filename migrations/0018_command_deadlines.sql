-- Commands in flight: a deadline, the urgent first, and no flood.
--
-- * A placement or a modification carries a deadline (expires_at), set here
--   from the sender's choice (`xcoin order --wait`) or, when a sender gives
--   none (the console, the webhook, a login's own INSERT), the desk's
--   commands.order_ttl_secs after it was requested (30 s unless configured;
--   the engine writes the setting here at start), and never more than an
--   hour. Past it, the command ends EXPIRED with nothing sent. Cancels,
--   exits, exit-all and the kill switch never expire.
-- * The kill switch, exit-all, exits and cancels are claimed before queued
--   placements and modifications (xcoin_command_urgency).
-- * A login may hold at most xcoin_private.command_limits.max_pending_per_login
--   commands waiting; the database refuses more at INSERT.

ALTER TABLE operator_commands ADD COLUMN expires_at timestamptz;

ALTER TABLE operator_commands DROP CONSTRAINT operator_commands_status_check;
ALTER TABLE operator_commands ADD CONSTRAINT operator_commands_status_check
    CHECK (status IN ('PENDING', 'RUNNING', 'DONE', 'FAILED', 'EXPIRED'));
ALTER TABLE operator_commands DROP CONSTRAINT operator_commands_states;
ALTER TABLE operator_commands ADD CONSTRAINT operator_commands_states CHECK (
    (status = 'PENDING' AND claimed_at IS NULL AND completed_at IS NULL)
    OR (status = 'RUNNING' AND claimed_at IS NOT NULL AND completed_at IS NULL)
    OR (status IN ('DONE', 'FAILED') AND claimed_at IS NOT NULL AND completed_at IS NOT NULL AND result IS NOT NULL)
    OR (status = 'EXPIRED' AND claimed_at IS NULL AND completed_at IS NOT NULL AND result IS NOT NULL)
);

-- 0 the kill switch, 1 exit all, 2 an exit, 3 a cancel, 9 everything else.
CREATE FUNCTION xcoin_command_urgency(command text) RETURNS int
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    RETURN CASE command WHEN 'KILL_SWITCH_ON' THEN 0 WHEN 'EXIT_ALL' THEN 1 WHEN 'EXIT_POSITION' THEN 2
                        WHEN 'CANCEL_ORDER' THEN 3 ELSE 9 END;

DROP INDEX operator_commands_pending_idx;
CREATE INDEX operator_commands_pending_idx ON operator_commands (xcoin_command_urgency(command), id)
    WHERE status = 'PENDING';
CREATE INDEX operator_commands_pending_by_idx ON operator_commands (requested_by) WHERE status = 'PENDING';

CREATE TABLE xcoin_private.command_limits (
    only_one              boolean PRIMARY KEY DEFAULT true CHECK (only_one),
    max_pending_per_login integer NOT NULL DEFAULT 50 CHECK (max_pending_per_login BETWEEN 1 AND 100000),
    order_ttl_secs        integer NOT NULL DEFAULT 30 CHECK (order_ttl_secs BETWEEN 1 AND 3600)
);
INSERT INTO xcoin_private.command_limits DEFAULT VALUES;

-- Sets a new command's deadline and refuses a login's command beyond its
-- limit of waiting ones. SECURITY DEFINER: an operator's login reads the
-- limit without a grant on xcoin_private.
CREATE FUNCTION xcoin_command_admitted() RETURNS trigger
    LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
    waiting bigint;
    most integer;
    ttl integer;
BEGIN
    SELECT max_pending_per_login, order_ttl_secs INTO most, ttl FROM xcoin_private.command_limits;
    IF NEW.command IN ('PLACE_ORDER', 'MODIFY_ORDER') THEN
        NEW.expires_at := least(coalesce(NEW.expires_at, NEW.requested_at + make_interval(secs => ttl)),
                                NEW.requested_at + interval '1 hour');
    ELSE
        NEW.expires_at := NULL;
    END IF;
    SELECT count(*) INTO waiting FROM operator_commands
     WHERE requested_by = NEW.requested_by AND status = 'PENDING'
       AND (expires_at IS NULL OR expires_at > xcoin_now());
    IF waiting >= most THEN
        RAISE EXCEPTION '% already has % commands waiting: at most % may wait at once (commands.max_pending_per_login)',
            NEW.requested_by, waiting, most
            USING ERRCODE = 'check_violation', CONSTRAINT = 'operator_commands_max_pending';
    END IF;
    RETURN NEW;
END
$$;
REVOKE ALL ON FUNCTION xcoin_command_admitted() FROM PUBLIC;

-- After the trigger that names the sender (operator_commands_requested_by).
CREATE TRIGGER operator_commands_zz_admitted BEFORE INSERT ON operator_commands
    FOR EACH ROW EXECUTE FUNCTION xcoin_command_admitted();

-- The lifecycle: PENDING may also end EXPIRED (past its deadline, never claimed).
CREATE OR REPLACE FUNCTION xcoin_operator_commands_kept() RETURNS trigger
    LANGUAGE plpgsql AS $$
BEGIN
    IF OLD.status IN ('DONE', 'FAILED', 'EXPIRED') THEN
        RAISE EXCEPTION 'command % is %: a finished command cannot be %', OLD.id, OLD.status, lower(TG_OP) || 'd'
            USING ERRCODE = 'check_violation', CONSTRAINT = 'operator_commands_finished_kept';
    END IF;
    IF TG_OP = 'DELETE' THEN
        RETURN OLD;
    END IF;
    IF (NEW.command, NEW.payload, NEW.requested_by, NEW.requested_at, NEW.expires_at)
       IS DISTINCT FROM (OLD.command, OLD.payload, OLD.requested_by, OLD.requested_at, OLD.expires_at) THEN
        RAISE EXCEPTION 'command %: what was requested (command, payload, requested by, requested at, expires at) never changes', OLD.id
            USING ERRCODE = 'check_violation', CONSTRAINT = 'operator_commands_request_kept';
    END IF;
    IF NEW.status IS DISTINCT FROM OLD.status
       AND NOT (OLD.status = 'PENDING' AND NEW.status IN ('RUNNING', 'EXPIRED'))
       AND NOT (OLD.status = 'RUNNING' AND NEW.status IN ('DONE', 'FAILED')) THEN
        RAISE EXCEPTION 'command % cannot go from % to % (a command goes PENDING → RUNNING → DONE or FAILED, or PENDING → EXPIRED)',
            OLD.id, OLD.status, NEW.status
            USING ERRCODE = 'check_violation', CONSTRAINT = 'operator_commands_lifecycle';
    END IF;
    RETURN NEW;
END
$$;

-- The engine writes the desk's settings at start (operators cannot: not granted).
CREATE FUNCTION xcoin_set_command_limits(max_pending integer, ttl integer) RETURNS void
    LANGUAGE sql SECURITY DEFINER SET search_path = public, pg_temp AS $$
    UPDATE xcoin_private.command_limits SET max_pending_per_login = max_pending, order_ttl_secs = ttl;
$$;
REVOKE ALL ON FUNCTION xcoin_set_command_limits(integer, integer) FROM PUBLIC;
DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'xcoin_engine') THEN
        GRANT EXECUTE ON FUNCTION xcoin_set_command_limits(integer, integer) TO xcoin_engine;
    END IF;
END
$$;
