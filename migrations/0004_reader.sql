-- Raw queries log in as a read-only role of this database's own.
--
-- Until now a raw query ran as the connecting (often superuser) role after
-- SET LOCAL ROLE xcoin_reader, which one statement could undo
-- (set_config('role', 'none', true)) and then read server files or any
-- table. A role one logs in as has nothing to go back to.

-- Owner-only objects: PUBLIC may not even look inside.
CREATE SCHEMA xcoin_private;
REVOKE ALL ON SCHEMA xcoin_private FROM PUBLIC;

-- The reader's login. Its password is generated here and known only to
-- this database's owner (and superusers), so XCoin can log in as the reader
-- on servers that ask for passwords as well as on trusting ones.
CREATE TABLE xcoin_private.reader_login (
    only_one   boolean PRIMARY KEY DEFAULT true CHECK (only_one),
    role_name  text NOT NULL,
    password   text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);

-- Creates this database's reader when it has none, and grants it SELECT on
-- XCoin's tables and views (those in public owned by the migrating role) and
-- nothing else. No default privileges, so a table created later is not
-- readable until granted: a migration that adds tables ends with
-- SELECT xcoin_private.ensure_reader(), which grants again.
-- Roles are cluster-wide: each database gets its own, randomly named, so
-- two migrated databases never share a reader and concurrent migrations
-- never collide. (A copy made with CREATE DATABASE ... TEMPLATE carries its
-- original's grants, and so shares its reader.)
-- Needs CREATEROLE; where the migrating role lacks it the migration goes on
-- without (raw queries then say so), and a role that has it can run
-- SELECT xcoin_private.ensure_reader() later.
CREATE FUNCTION xcoin_private.ensure_reader() RETURNS text
    LANGUAGE plpgsql AS $$
DECLARE
    reader text;
    secret text;
    t regclass;
BEGIN
    SELECT role_name INTO reader FROM xcoin_private.reader_login;
    IF reader IS NULL OR NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = reader) THEN
        reader := 'xcoin_reader_' || substr(replace(gen_random_uuid()::text, '-', ''), 1, 16);
        -- gen_random_uuid() draws from the server's strong random source.
        secret := replace(gen_random_uuid()::text || gen_random_uuid()::text, '-', '');
        EXECUTE format('CREATE ROLE %I LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOINHERIT NOREPLICATION NOBYPASSRLS PASSWORD %L',
                       reader, secret);
        EXECUTE format('ALTER ROLE %I SET default_transaction_read_only = on', reader);
        EXECUTE format('COMMENT ON ROLE %I IS %L', reader,
                       format('XCoin raw queries on database %s: SELECT on its tables only', current_database()));
        INSERT INTO xcoin_private.reader_login (role_name, password) VALUES (reader, secret)
            ON CONFLICT (only_one) DO UPDATE SET role_name = EXCLUDED.role_name, password = EXCLUDED.password,
                                                 created_at = now();
    END IF;
    EXECUTE format('GRANT CONNECT ON DATABASE %I TO %I', current_database(), reader);
    EXECUTE format('GRANT USAGE ON SCHEMA public TO %I', reader);
    FOR t IN
        SELECT c.oid::regclass FROM pg_class c
         WHERE c.relnamespace = 'public'::regnamespace AND c.relkind IN ('r', 'v', 'm', 'p')
           AND c.relowner = (SELECT oid FROM pg_roles WHERE rolname = current_user)
    LOOP
        EXECUTE format('GRANT SELECT ON %s TO %I', t, reader);
    END LOOP;
    RETURN reader;
END
$$;
REVOKE ALL ON FUNCTION xcoin_private.ensure_reader() FROM PUBLIC;

DO $$
BEGIN
    PERFORM xcoin_private.ensure_reader();
EXCEPTION WHEN insufficient_privilege THEN
    RAISE NOTICE 'no read-only role for raw queries (% may not create roles: %); a role with CREATEROLE can run SELECT xcoin_private.ensure_reader()',
        current_user, SQLERRM;
END
$$;

-- Advisory locks (every variant, shared ones included: holding the engine's
-- key shared stops an engine from starting), signalling other sessions and
-- pg_notify are PUBLIC by default (0001 took a few, and only where it could
-- create xcoin_reader). Take them all from PUBLIC in this database and give
-- them back to the application role. File and server-admin functions are
-- already superuser-only, and the reader is no superuser.
DO $$
DECLARE
    f regprocedure;
BEGIN
    FOR f IN
        SELECT p.oid::regprocedure FROM pg_proc p
         WHERE p.pronamespace = 'pg_catalog'::regnamespace
           AND (p.proname ~ '^pg_(try_)?advisory_' OR p.proname IN ('pg_cancel_backend', 'pg_terminate_backend', 'pg_notify'))
    LOOP
        EXECUTE format('REVOKE EXECUTE ON FUNCTION %s FROM PUBLIC', f);
        EXECUTE format('GRANT EXECUTE ON FUNCTION %s TO %I', f, current_user);
    END LOOP;
EXCEPTION WHEN insufficient_privilege THEN
    RAISE NOTICE 'advisory lock and signal functions left as they were: %', SQLERRM;
END
$$;
