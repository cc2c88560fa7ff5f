-- The desk's clock in SQL. Every "now" that stamps a row or decides the
-- trading day is xcoin_now(): the server's now(), shifted by the session
-- setting xcoin.clock_shift_ms when the database layer sets it (tests and
-- drills set the desk to a Saturday, a holiday or one second before IST
-- midnight; a desk never sets it, and then xcoin_now() is now()).

CREATE FUNCTION xcoin_now() RETURNS timestamptz
    LANGUAGE sql STABLE PARALLEL SAFE
    RETURN now() + make_interval(secs => coalesce(nullif(current_setting('xcoin.clock_shift_ms', true), ''), '0')::numeric / 1000);

CREATE OR REPLACE FUNCTION xcoin_today() RETURNS date
    LANGUAGE sql STABLE PARALLEL SAFE
    RETURN (xcoin_now() AT TIME ZONE 'Asia/Kolkata')::date;

CREATE OR REPLACE FUNCTION update_position_pnl(p_symbol text, p_exchange text, p_last_price numeric)
 RETURNS bigint
 LANGUAGE plpgsql
AS $function$
DECLARE
    touched bigint;
BEGIN
    IF p_last_price IS NULL OR p_last_price <= 0 THEN
        RAISE EXCEPTION 'last price must be positive, got %', p_last_price USING ERRCODE = 'invalid_parameter_value';
    END IF;
    UPDATE positions
       SET last_price = p_last_price,
           unrealized_pnl = p_last_price * quantity - cost_basis,
           highest_price = greatest(coalesce(highest_price, p_last_price), p_last_price),
           lowest_price = least(coalesce(lowest_price, p_last_price), p_last_price),
           updated_at = xcoin_now()
     WHERE symbol = p_symbol AND exchange = p_exchange AND status = 'OPEN'
       AND (last_price IS DISTINCT FROM p_last_price);
    GET DIAGNOSTICS touched = ROW_COUNT;
    RETURN touched;
END
$function$;

CREATE OR REPLACE FUNCTION xcoin_orders_guard()
 RETURNS trigger
 LANGUAGE plpgsql
AS $function$
BEGIN
    IF TG_OP = 'INSERT' THEN
        IF NEW.status <> 'PENDING' THEN
            RAISE EXCEPTION 'a new order must start PENDING, not %', NEW.status
                USING ERRCODE = 'check_violation', CONSTRAINT = 'orders_lifecycle';
        END IF;
        NEW.status_history := jsonb_build_array(jsonb_build_object('status', NEW.status, 'at', NEW.created_at));
        RETURN NEW;
    END IF;

    IF NEW.status IS DISTINCT FROM OLD.status THEN
        IF NOT xcoin_order_transition_allowed(OLD.status, NEW.status) THEN
            RAISE EXCEPTION 'order % cannot go from % to %', OLD.id, OLD.status, NEW.status
                USING ERRCODE = 'check_violation', CONSTRAINT = 'orders_lifecycle';
        END IF;
        NEW.status_history := OLD.status_history || jsonb_build_array(jsonb_strip_nulls(
            jsonb_build_object('status', NEW.status, 'at', xcoin_now(), 'reason', NEW.status_reason)));
        IF NEW.status = 'SUBMITTED' AND NEW.submitted_at IS NULL THEN
            NEW.submitted_at := xcoin_now();
        END IF;
        IF NEW.status IN ('FILLED', 'CANCELLED', 'REJECTED') AND NEW.completed_at IS NULL THEN
            NEW.completed_at := xcoin_now();
        END IF;
    ELSE
        NEW.status_history := OLD.status_history;
    END IF;

    IF NEW.filled_quantity < OLD.filled_quantity THEN
        RAISE EXCEPTION 'order % filled quantity cannot shrink from % to %', OLD.id, OLD.filled_quantity, NEW.filled_quantity
            USING ERRCODE = 'check_violation', CONSTRAINT = 'orders_fills_only_grow';
    END IF;
    NEW.updated_at := xcoin_now();
    RETURN NEW;
END
$function$;

CREATE OR REPLACE FUNCTION xcoin_desk_events_append_only()
 RETURNS trigger
 LANGUAGE plpgsql
AS $function$
BEGIN
    IF TG_OP = 'DELETE' AND OLD.at < xcoin_now() - interval '30 days' THEN
        RETURN OLD;
    END IF;
    RAISE EXCEPTION 'desk event % cannot be %: the desk log is append-only and kept 30 days', OLD.id,
        lower(TG_OP) || 'd'
        USING ERRCODE = 'check_violation', CONSTRAINT = 'desk_events_append_only';
END
$function$;

ALTER TABLE daily_stats ALTER COLUMN updated_at SET DEFAULT xcoin_now();
ALTER TABLE desk_events ALTER COLUMN at SET DEFAULT xcoin_now();
ALTER TABLE goal_events ALTER COLUMN reached_at SET DEFAULT xcoin_now();
ALTER TABLE kill_switch_events ALTER COLUMN created_at SET DEFAULT xcoin_now();
ALTER TABLE operator_commands ALTER COLUMN requested_at SET DEFAULT xcoin_now();
ALTER TABLE orders ALTER COLUMN created_at SET DEFAULT xcoin_now();
ALTER TABLE orders ALTER COLUMN updated_at SET DEFAULT xcoin_now();
ALTER TABLE position_adjustments ALTER COLUMN created_at SET DEFAULT xcoin_now();
ALTER TABLE positions ALTER COLUMN opened_at SET DEFAULT xcoin_now();
ALTER TABLE positions ALTER COLUMN updated_at SET DEFAULT xcoin_now();
ALTER TABLE reconciliation_log ALTER COLUMN first_seen_at SET DEFAULT xcoin_now();
ALTER TABLE reconciliation_log ALTER COLUMN last_seen_at SET DEFAULT xcoin_now();
ALTER TABLE strategies ALTER COLUMN created_at SET DEFAULT xcoin_now();
ALTER TABLE strategies ALTER COLUMN updated_at SET DEFAULT xcoin_now();
ALTER TABLE trades ALTER COLUMN created_at SET DEFAULT xcoin_now();
ALTER TABLE trades ALTER COLUMN traded_at SET DEFAULT xcoin_now();
