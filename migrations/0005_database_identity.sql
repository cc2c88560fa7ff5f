-- This database's identity: the paper exchange keeps one book per database
-- in the data directory, named by it, so two desks on two databases never
-- share a book. A copy of a database (CREATE DATABASE ... TEMPLATE, or a
-- restore) carries the row, but with its original's oid: the copy gets an
-- identity of its own on first use.

CREATE TABLE xcoin_private.identity (
    only_one     boolean PRIMARY KEY DEFAULT true CHECK (only_one),
    database_oid oid NOT NULL,
    id           uuid NOT NULL DEFAULT gen_random_uuid(),
    created_at   timestamptz NOT NULL DEFAULT now()
);

CREATE FUNCTION xcoin_private.database_identity() RETURNS uuid
    LANGUAGE plpgsql AS $$
DECLARE
    here oid := (SELECT oid FROM pg_database WHERE datname = current_database());
    found uuid;
BEGIN
    INSERT INTO xcoin_private.identity (database_oid) VALUES (here)
        ON CONFLICT (only_one) DO UPDATE SET database_oid = EXCLUDED.database_oid, id = gen_random_uuid(), created_at = now()
        WHERE identity.database_oid <> EXCLUDED.database_oid;
    SELECT id INTO found FROM xcoin_private.identity;
    RETURN found;
END
$$;
REVOKE ALL ON FUNCTION xcoin_private.database_identity() FROM PUBLIC;
