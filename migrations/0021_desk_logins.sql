-- One desk's logins cannot touch another desk. The group roles
-- (xcoin_operator, xcoin_viewer) are cluster-wide, and every desk granted
-- them CONNECT (and PUBLIC kept its default CONNECT): a login made on one
-- desk could connect to every XCoin database on the server and enqueue
-- commands there. Now CONNECT on a desk goes to each login made on it
-- (`xcoin user add` grants it), to the engine's group and to the desk's
-- raw-query reader; PUBLIC and the operator and viewer groups lose it.
--
-- Logins made before this version cannot be told apart by desk, so none is
-- granted here: the desk's owner binds each to its desk again with
-- GRANT CONNECT ON DATABASE <desk> TO <login> (README, "Running a desk
-- across machines").

CREATE OR REPLACE FUNCTION xcoin_private.ensure_roles() RETURNS void
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
    -- A login connects to the desk it was made on only: CONNECT goes to each
    -- login `xcoin user add` makes here, never to PUBLIC or to the
    -- cluster-wide groups (which every desk on the server shares).
    EXECUTE format('GRANT CONNECT ON DATABASE %I TO xcoin_engine', current_database());
    EXECUTE format('REVOKE CONNECT ON DATABASE %I FROM PUBLIC, xcoin_operator, xcoin_viewer', current_database());
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

DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'xcoin_operator') THEN
        PERFORM xcoin_private.ensure_roles();
    END IF;
EXCEPTION WHEN insufficient_privilege THEN
    RAISE NOTICE 'desk logins not bound (% may not grant): %', current_user, SQLERRM;
END
$$;
