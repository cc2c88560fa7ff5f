-- Only the engine finishes a command: an operator's login may send one only
-- as PENDING, with no claim, completion or result, and stamped with the
-- server's time (so neither a forged outcome nor a forged age — which would
-- move its deadline — reaches the audit trail).

CREATE FUNCTION xcoin_command_sent_pending() RETURNS trigger
    LANGUAGE plpgsql AS $$
BEGIN
    IF xcoin_session_is_operator() THEN
        IF NEW.status <> 'PENDING' OR NEW.claimed_at IS NOT NULL OR NEW.completed_at IS NOT NULL
           OR NEW.result IS NOT NULL THEN
            RAISE EXCEPTION 'a command is sent PENDING, with no claim, completion or result: only the engine moves it on'
                USING ERRCODE = 'insufficient_privilege', CONSTRAINT = 'operator_commands_sent_pending';
        END IF;
        NEW.requested_at := xcoin_now();
    END IF;
    RETURN NEW;
END
$$;

-- Before the deadline is set from requested_at (operator_commands_zz_admitted).
CREATE TRIGGER operator_commands_sent_pending BEFORE INSERT ON operator_commands
    FOR EACH ROW EXECUTE FUNCTION xcoin_command_sent_pending();
