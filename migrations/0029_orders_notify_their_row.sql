-- An order's notification carries the order, so a console applies it as it
-- arrives instead of reading it back: one round trip less between the
-- engine's commit and the operator's screen, and no read at all per change on
-- a busy desk.
--
-- {"table":"orders","op":"INSERT"|"UPDATE","id":…,"row":{…}} where "row" is
-- the order's columns as JSON (numerics as PostgreSQL prints them, so they are
-- read back exactly) without its status history, which only an order's
-- detail shows and which grows with every change. A DELETE, and a row whose
-- notification would pass the server's 8,000-byte limit (a very long
-- rejection reason), carry the keys only, as every other table's do: the
-- reader fetches the row then.
--
-- Notifications arrive in commit order, so the newest one of an order always
-- carries what the table holds; a reader that loaded a snapshot meanwhile
-- converges on it by applying them in order.

CREATE FUNCTION xcoin_notify_order() RETURNS trigger
    LANGUAGE plpgsql AS $$
DECLARE
    payload text;
BEGIN
    IF TG_OP = 'DELETE' THEN
        payload := json_build_object('table', TG_TABLE_NAME, 'op', TG_OP, 'id', OLD.id)::text;
    ELSE
        payload := json_build_object('table', TG_TABLE_NAME, 'op', TG_OP, 'id', NEW.id,
                                     'row', to_jsonb(NEW) - 'status_history')::text;
        IF octet_length(payload) >= 8000 THEN
            payload := json_build_object('table', TG_TABLE_NAME, 'op', TG_OP, 'id', NEW.id)::text;
        END IF;
    END IF;
    PERFORM pg_notify(TG_ARGV[0], payload);
    RETURN NULL;
END
$$;

DROP TRIGGER orders_notify ON orders;
CREATE TRIGGER orders_notify AFTER INSERT OR UPDATE OR DELETE ON orders
    FOR EACH ROW EXECUTE FUNCTION xcoin_notify_order('xcoin_changes');

DO $$
BEGIN
    PERFORM xcoin_private.ensure_reader();
    PERFORM xcoin_private.ensure_roles();
EXCEPTION WHEN insufficient_privilege THEN
    RAISE NOTICE 'reader and roles not updated (% may not grant): %', current_user, SQLERRM;
END
$$;
