-- Money to the exact paisa.
--
-- 1. Charges are stored exactly as the charge model computes them (the
--    rates are finite decimals, so every line is too) and rounded once, to
--    the paisa, where a figure is shown or settled. A column with a scale
--    would round each line on the way in and move half-paisa ties.
-- 2. A position keeps its exact cost basis (the signed cost of its open
--    quantity); the average price is derived from it, never the other way.
-- 3. A position changed without a trade (closed by an operator, or taken over
--    from the broker in reconciliation) gets an adjustment row: who, why,
--    before, after and the P&L it realised, which today's P&L counts.
-- 4. Today's P&L of a position carried from an earlier day is measured from
--    the previous close, as Kite's day P&L is.
-- 5. The order-to-trade ratio counts order messages (entries, modifications,
--    cancellations) per trade, as the exchange does.

-- ---------------------------------------------------------------------------
-- 1. exact charges
-- ---------------------------------------------------------------------------

DROP VIEW v_active_positions;

ALTER TABLE trades
    ALTER COLUMN brokerage TYPE numeric,
    ALTER COLUMN stt TYPE numeric,
    ALTER COLUMN exchange_charges TYPE numeric,
    ALTER COLUMN sebi_charges TYPE numeric,
    ALTER COLUMN gst TYPE numeric,
    ALTER COLUMN stamp_duty TYPE numeric,
    ALTER COLUMN total_charges TYPE numeric,
    ALTER COLUMN net_value TYPE numeric;

ALTER TABLE daily_stats
    ALTER COLUMN gross_pnl TYPE numeric,
    ALTER COLUMN unrealized_pnl TYPE numeric,
    ALTER COLUMN total_charges TYPE numeric,
    ALTER COLUMN net_pnl TYPE numeric,
    ALTER COLUMN peak_pnl TYPE numeric,
    ALTER COLUMN max_drawdown TYPE numeric,
    ALTER COLUMN largest_win TYPE numeric,
    ALTER COLUMN largest_loss TYPE numeric;

ALTER TABLE kill_switch_events ALTER COLUMN daily_pnl TYPE numeric;

-- ---------------------------------------------------------------------------
-- 2. exact cost basis, and 4. the day's reference for carried positions
-- ---------------------------------------------------------------------------

ALTER TABLE positions
    ALTER COLUMN charges TYPE numeric,
    ALTER COLUMN unrealized_pnl TYPE numeric,
    ADD COLUMN cost_basis numeric NOT NULL DEFAULT 0,
    -- The trading day the reference below belongs to, and the position's
    -- unrealised P&L at the previous close (0 for a position opened that day).
    ADD COLUMN day_ref_day date,
    ADD COLUMN day_ref_unrealized numeric NOT NULL DEFAULT 0;

UPDATE positions SET cost_basis = quantity * average_price;
UPDATE positions SET day_ref_day = xcoin_today()
 WHERE opened_at >= xcoin_day_start(xcoin_today());

ALTER TABLE positions ADD CONSTRAINT positions_cost_follows_quantity
    CHECK (CASE WHEN quantity = 0 THEN cost_basis = 0 ELSE sign(cost_basis) = sign(quantity::numeric) END);

-- The first write of a trading day to a position remembers its unrealised
-- P&L as it stood (at the last price of the day before): today's P&L of a
-- carried position is measured from there. The reference is the database's
-- to keep: a client cannot set it.
CREATE FUNCTION xcoin_positions_day_reference() RETURNS trigger
    LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        NEW.day_ref_day := xcoin_today();
        NEW.day_ref_unrealized := 0;
    ELSIF OLD.day_ref_day IS DISTINCT FROM xcoin_today() THEN
        NEW.day_ref_day := xcoin_today();
        NEW.day_ref_unrealized := OLD.unrealized_pnl;
    ELSE
        NEW.day_ref_day := OLD.day_ref_day;
        NEW.day_ref_unrealized := OLD.day_ref_unrealized;
    END IF;
    RETURN NEW;
END
$$;

CREATE TRIGGER positions_day_reference BEFORE INSERT OR UPDATE ON positions
    FOR EACH ROW EXECUTE FUNCTION xcoin_positions_day_reference();

CREATE INDEX positions_day_ref_day_idx ON positions (day_ref_day);

-- Unrealised P&L from the exact cost: last × quantity − cost.
CREATE OR REPLACE FUNCTION update_position_pnl(p_symbol text, p_exchange text, p_last_price numeric) RETURNS bigint
    LANGUAGE plpgsql AS $$
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
           updated_at = now()
     WHERE symbol = p_symbol AND exchange = p_exchange AND status = 'OPEN'
       AND (last_price IS DISTINCT FROM p_last_price);
    GET DIAGNOSTICS touched = ROW_COUNT;
    RETURN touched;
END
$$;

CREATE VIEW v_active_positions AS
SELECT p.id, p.strategy_id, s.name AS strategy_name, p.symbol, p.exchange, p.product,
       p.quantity, p.average_price, p.last_price, p.unrealized_pnl, p.realized_pnl, p.charges,
       p.stop_loss, p.take_profit, p.highest_price, p.lowest_price,
       CASE WHEN p.stop_loss IS NULL OR p.last_price IS NULL THEN NULL
            WHEN p.quantity > 0 THEN p.last_price - p.stop_loss
            ELSE p.stop_loss - p.last_price END AS distance_to_stop,
       abs(p.cost_basis) AS exposure,
       p.opened_at, p.updated_at
  FROM positions p
  JOIN strategies s ON s.id = p.strategy_id
 WHERE p.status = 'OPEN';

-- ---------------------------------------------------------------------------
-- 3. position adjustments
-- ---------------------------------------------------------------------------

CREATE TABLE position_adjustments (
    id               bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    position_id      bigint NOT NULL REFERENCES positions (id),
    symbol           text NOT NULL,
    exchange         text NOT NULL CHECK (exchange IN ('NSE', 'BSE')),
    product          text NOT NULL CHECK (product IN ('MIS', 'CNC', 'NRML')),
    -- CLOSED_WITHOUT_FILL: an operator closed it (the broker already shows it
    -- flat); ACCEPT_BROKER: reconciliation took the broker's side.
    reason           text NOT NULL CHECK (reason IN ('CLOSED_WITHOUT_FILL', 'ACCEPT_BROKER')),
    actor            text NOT NULL CHECK (length(btrim(actor)) > 0),
    note             text,
    issue_id         bigint REFERENCES reconciliation_log (id),
    quantity_before  bigint NOT NULL,
    average_before   numeric NOT NULL CHECK (average_before >= 0),
    quantity_after   bigint NOT NULL,
    average_after    numeric NOT NULL CHECK (average_after >= 0),
    -- The price the units that appeared or went away changed hands at
    -- (notionally): the last price, or the broker's average when none is known.
    price            numeric NOT NULL CHECK (price > 0),
    realized_pnl     numeric NOT NULL,
    created_at       timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT position_adjustments_change_something
        CHECK (quantity_before <> quantity_after OR average_before <> average_after OR realized_pnl <> 0),
    CONSTRAINT position_adjustments_accept_names_issue CHECK ((reason = 'ACCEPT_BROKER') = (issue_id IS NOT NULL))
);

CREATE INDEX position_adjustments_created_at_idx ON position_adjustments (created_at);
CREATE INDEX position_adjustments_position_idx ON position_adjustments (position_id);

CREATE FUNCTION xcoin_position_adjustments_append_only() RETURNS trigger
    LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'position adjustment % cannot be %: adjustments are append-only', OLD.id, lower(TG_OP) || 'd'
        USING ERRCODE = 'check_violation', CONSTRAINT = 'position_adjustments_append_only';
END
$$;

CREATE TRIGGER position_adjustments_append_only BEFORE UPDATE OR DELETE ON position_adjustments
    FOR EACH ROW EXECUTE FUNCTION xcoin_position_adjustments_append_only();

CREATE TRIGGER position_adjustments_notify AFTER INSERT ON position_adjustments
    FOR EACH ROW EXECUTE FUNCTION xcoin_notify_change('xcoin_changes');

-- ---------------------------------------------------------------------------
-- Today's P&L, with adjustments and carried positions
-- ---------------------------------------------------------------------------

-- realized_pnl: realised by today's fills and today's adjustments;
-- unrealized_pnl: how much the unrealised P&L of positions moved today (from
-- the previous close for a carried position, from cost for one opened today);
-- charges: of today's fills; net_pnl: realised + unrealised − charges;
-- open_unrealized_pnl: the lifetime unrealised P&L of open positions.
DROP FUNCTION get_today_pnl();
CREATE FUNCTION get_today_pnl()
    RETURNS TABLE (realized_pnl numeric, unrealized_pnl numeric, charges numeric, net_pnl numeric,
                   open_unrealized_pnl numeric)
    LANGUAGE sql STABLE AS $$
    WITH d AS (SELECT xcoin_today() AS day, xcoin_day_start(xcoin_today()) AS s, xcoin_day_start(xcoin_today() + 1) AS e),
    t AS (
        SELECT coalesce(sum(realized_pnl), 0) AS realized, coalesce(sum(total_charges), 0) AS charges
          FROM trades, d WHERE traded_at >= d.s AND traded_at < d.e
    ), a AS (
        SELECT coalesce(sum(realized_pnl), 0) AS realized
          FROM position_adjustments, d WHERE created_at >= d.s AND created_at < d.e
    ), p AS (
        SELECT coalesce(sum(unrealized_pnl - day_ref_unrealized), 0) AS moved
          FROM positions, d WHERE day_ref_day = d.day
    ), o AS (
        SELECT coalesce(sum(unrealized_pnl), 0) AS open FROM positions WHERE status = 'OPEN'
    )
    SELECT t.realized + a.realized, p.moved, t.charges, t.realized + a.realized + p.moved - t.charges, o.open
      FROM t, a, p, o
$$;

-- Order messages (entries that reached the broker, their modifications, and
-- cancellations) per trade on an IST trading day (today by default), as the
-- exchange computes it for its order-to-trade ratio charges; NULL when
-- nothing traded. The exchange leaves out orders priced within a band of the
-- last price; the desk counts every message, so the figure errs high.
CREATE OR REPLACE FUNCTION get_order_to_trade_ratio(p_day date DEFAULT NULL) RETURNS numeric
    LANGUAGE sql STABLE AS $$
    WITH d AS (SELECT coalesce(p_day, xcoin_today()) AS day),
    o AS (
        SELECT count(*) + coalesce(sum(modifications), 0) + count(*) FILTER (WHERE status = 'CANCELLED') AS n
          FROM orders, d
         WHERE created_at >= xcoin_day_start(d.day) AND created_at < xcoin_day_start(d.day + 1)
           AND broker_order_id IS NOT NULL
    ), t AS (
        SELECT count(*) AS n FROM trades, d
         WHERE traded_at >= xcoin_day_start(d.day) AND traded_at < xcoin_day_start(d.day + 1)
    )
    SELECT CASE WHEN t.n = 0 THEN NULL ELSE round(o.n::numeric / t.n, 4) END FROM o, t
$$;

-- The raw-query reader reads the new table and the recreated view too.
DO $$
BEGIN
    PERFORM xcoin_private.ensure_reader();
EXCEPTION WHEN insufficient_privilege THEN
    RAISE NOTICE 'read-only role not updated (% may not grant): %', current_user, SQLERRM;
END
$$;
