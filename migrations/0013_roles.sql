-- Who may do what, enforced by the database. Three group roles (NOLOGIN),
-- shared by the cluster's XCoin databases and granted on each:
--   xcoin_engine    reads and writes the trading tables (the engine);
--   xcoin_operator  reads everything a console shows and may only INSERT
--                   into operator_commands (the engine does the rest);
--   xcoin_viewer    reads only.
-- `xcoin user add NAME --role operator|viewer` makes a login role in one of
-- them. The database owner (the role that migrates, and the managed local
-- cluster's role) keeps doing everything, so a desk with no roles set up
-- works as before.
-- Needs CREATEROLE to create the group roles; without it the migration goes
-- on (a role that has it runs SELECT xcoin_private.ensure_roles() later).

CREATE FUNCTION xcoin_private.ensure_roles() RETURNS void
    LANGUAGE plpgsql AS $$
DECLARE
    r text;
    f regprocedure;
BEGIN
    FOREACH r IN ARRAY ARRAY['xcoin_engine', 'xcoin_operator', 'xcoin_viewer'] LOOP
        IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = r) THEN
            BEGIN
                EXECUTE format('CREATE ROLE %I NOLOGIN', r);
            EXCEPTION WHEN duplicate_object OR unique_violation THEN
                NULL; -- another database's migration made it at the same moment
            END;
        END IF;
    END LOOP;
    EXECUTE format('GRANT CONNECT ON DATABASE %I TO xcoin_engine, xcoin_operator, xcoin_viewer', current_database());
    GRANT USAGE ON SCHEMA public TO xcoin_engine, xcoin_operator, xcoin_viewer;
    GRANT SELECT ON ALL TABLES IN SCHEMA public TO xcoin_engine, xcoin_operator, xcoin_viewer;
    GRANT INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO xcoin_engine;
    GRANT USAGE ON ALL SEQUENCES IN SCHEMA public TO xcoin_engine;
    GRANT INSERT ON operator_commands TO xcoin_operator;
    -- Writing a row notifies the consoles (the triggers call pg_notify, which
    -- this database took from PUBLIC); the engine also holds its advisory lock.
    GRANT EXECUTE ON FUNCTION pg_notify(text, text) TO xcoin_engine, xcoin_operator;
    FOR f IN
        SELECT p.oid::regprocedure FROM pg_proc p
         WHERE p.pronamespace = 'pg_catalog'::regnamespace AND p.proname ~ '^pg_(try_)?advisory_'
    LOOP
        EXECUTE format('GRANT EXECUTE ON FUNCTION %s TO xcoin_engine', f);
    END LOOP;
    -- Nobody else writes: not even through PUBLIC.
    REVOKE INSERT, UPDATE, DELETE, TRUNCATE ON ALL TABLES IN SCHEMA public FROM PUBLIC;
END
$$;
REVOKE ALL ON FUNCTION xcoin_private.ensure_roles() FROM PUBLIC;

DO $$
BEGIN
    PERFORM xcoin_private.ensure_roles();
EXCEPTION WHEN insufficient_privilege THEN
    RAISE NOTICE 'roles not set up (% may not create roles): %', current_user, SQLERRM;
END
$$;

-- Whether the session is bound to its own name: a login role that writes
-- through xcoin_operator only (not the owner, not the engine, not a
-- superuser). Its commands carry its role name, whatever the client says.
CREATE FUNCTION xcoin_session_is_operator() RETURNS boolean
    LANGUAGE sql STABLE AS $$
    SELECT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'xcoin_operator')
       AND pg_has_role(session_user, 'xcoin_operator', 'MEMBER')
       AND NOT (SELECT rolsuper FROM pg_roles WHERE rolname = session_user)
       AND NOT (EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'xcoin_engine')
                AND pg_has_role(session_user, 'xcoin_engine', 'MEMBER'))
       AND session_user <> (SELECT pg_get_userbyid(relowner) FROM pg_class WHERE oid = 'operator_commands'::regclass)
$$;

-- requested_by: an operator's session writes its own role name (the
-- default), and any other value is refused, so the audit trail cannot be
-- forged by a client. The owner's and the engine's sessions (one desk on one
-- machine, the engine recording who asked) name the operator themselves.
ALTER TABLE operator_commands ALTER COLUMN requested_by SET DEFAULT session_user;

CREATE FUNCTION xcoin_command_requested_by() RETURNS trigger
    LANGUAGE plpgsql AS $$
BEGIN
    IF xcoin_session_is_operator() AND NEW.requested_by IS DISTINCT FROM session_user THEN
        RAISE EXCEPTION 'requested_by must be your database role "%", not "%"', session_user, NEW.requested_by
            USING ERRCODE = 'insufficient_privilege', CONSTRAINT = 'operator_commands_requested_by_is_session';
    END IF;
    RETURN NEW;
END
$$;

CREATE TRIGGER operator_commands_requested_by BEFORE INSERT ON operator_commands
    FOR EACH ROW EXECUTE FUNCTION xcoin_command_requested_by();
