-- Each trading day's realised P&L, charges and position adjustments by
-- strategy, kept by the database as fills and adjustments are written
-- (trades and adjustments are never changed afterwards, and numeric sums are
-- exact, so the running totals equal the sums over the rows). Today's P&L —
-- read by every placement's risk check, each risk cycle and every console —
-- then costs the same at the day's first order as at its thousandth, where
-- summing the day's trades grew with every fill.
CREATE TABLE pnl_by_day (
    trading_day  date    NOT NULL,
    strategy_id  bigint  NOT NULL,
    realized     numeric NOT NULL DEFAULT 0,
    charges      numeric NOT NULL DEFAULT 0,
    adjusted     numeric NOT NULL DEFAULT 0,
    PRIMARY KEY (trading_day, strategy_id)
);

-- The IST trading day an instant falls in: the inverse of xcoin_day_start.
CREATE FUNCTION xcoin_ist_day(t timestamptz) RETURNS date
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    RETURN (t AT TIME ZONE 'Asia/Kolkata')::date;

CREATE FUNCTION xcoin_pnl_by_day_trade() RETURNS trigger
    LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO pnl_by_day (trading_day, strategy_id, realized, charges)
    VALUES (xcoin_ist_day(NEW.traded_at), NEW.strategy_id, coalesce(NEW.realized_pnl, 0), coalesce(NEW.total_charges, 0))
    ON CONFLICT (trading_day, strategy_id) DO UPDATE
       SET realized = pnl_by_day.realized + EXCLUDED.realized,
           charges = pnl_by_day.charges + EXCLUDED.charges;
    RETURN NULL;
END
$$;

CREATE TRIGGER trades_pnl_by_day AFTER INSERT ON trades
    FOR EACH ROW EXECUTE FUNCTION xcoin_pnl_by_day_trade();

CREATE FUNCTION xcoin_pnl_by_day_adjustment() RETURNS trigger
    LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO pnl_by_day (trading_day, strategy_id, adjusted)
    SELECT xcoin_ist_day(NEW.created_at), p.strategy_id, coalesce(NEW.realized_pnl, 0)
      FROM positions p WHERE p.id = NEW.position_id
    ON CONFLICT (trading_day, strategy_id) DO UPDATE
       SET adjusted = pnl_by_day.adjusted + EXCLUDED.adjusted;
    RETURN NULL;
END
$$;

CREATE TRIGGER position_adjustments_pnl_by_day AFTER INSERT ON position_adjustments
    FOR EACH ROW EXECUTE FUNCTION xcoin_pnl_by_day_adjustment();

-- What was written before.
INSERT INTO pnl_by_day (trading_day, strategy_id, realized, charges)
SELECT xcoin_ist_day(traded_at), strategy_id, coalesce(sum(realized_pnl), 0), coalesce(sum(total_charges), 0)
  FROM trades GROUP BY 1, 2;
INSERT INTO pnl_by_day (trading_day, strategy_id, adjusted)
SELECT xcoin_ist_day(a.created_at), p.strategy_id, coalesce(sum(a.realized_pnl), 0)
  FROM position_adjustments a JOIN positions p ON p.id = a.position_id GROUP BY 1, 2
ON CONFLICT (trading_day, strategy_id) DO UPDATE SET adjusted = pnl_by_day.adjusted + EXCLUDED.adjusted;

-- Today's movement of unrealised P&L comes only from positions whose
-- unrealised P&L differs from their reference (a position closed today
-- holds 0 against 0): the others add exactly nothing to the sum.
CREATE INDEX positions_moved_idx ON positions (day_ref_day)
    WHERE unrealized_pnl IS DISTINCT FROM day_ref_unrealized;

CREATE OR REPLACE FUNCTION get_today_pnl()
    RETURNS TABLE (realized_pnl numeric, unrealized_pnl numeric, charges numeric, net_pnl numeric,
                   open_unrealized_pnl numeric)
    LANGUAGE sql STABLE AS $$
    WITH t AS (
        SELECT coalesce(sum(realized), 0) AS realized, coalesce(sum(charges), 0) AS charges,
               coalesce(sum(adjusted), 0) AS adjusted
          FROM pnl_by_day WHERE trading_day = xcoin_today()
    ), p AS (
        SELECT coalesce(sum(unrealized_pnl - day_ref_unrealized), 0) AS moved
          FROM positions
         WHERE day_ref_day = xcoin_today() AND unrealized_pnl IS DISTINCT FROM day_ref_unrealized
    ), o AS (
        SELECT coalesce(sum(unrealized_pnl), 0) AS open FROM positions WHERE status = 'OPEN'
    )
    SELECT t.realized + t.adjusted, p.moved, t.charges, t.realized + t.adjusted + p.moved - t.charges, o.open
      FROM t, p, o
$$;

DO $$
BEGIN
    PERFORM xcoin_private.ensure_reader();
    PERFORM xcoin_private.ensure_roles();
EXCEPTION WHEN insufficient_privilege THEN
    RAISE NOTICE 'reader and roles not updated (% may not grant): %', current_user, SQLERRM;
END
$$;
