-- What the pre-trade risk check reads changes far less often than orders
-- are placed: between two fills a burst of orders reads the same positions,
-- P&L, kill switch and strategy limits each time. The database keeps one
-- count that moves whenever any of it changes, in the same transaction as
-- the change, so the engine can keep what it read and know, from the count
-- its next order's own write returns, whether that was still the truth.
CREATE TABLE risk_generation (
    only_row  boolean PRIMARY KEY DEFAULT true CHECK (only_row),
    n         bigint  NOT NULL DEFAULT 0,
    -- The transaction that last raised the count: one raise per transaction.
    last_xid  xid8
);
INSERT INTO risk_generation DEFAULT VALUES;

-- Raised at commit (the triggers are deferred), after the transaction has
-- taken every other lock it needs: two writers wait for each other here
-- only in commit order, never in a circle. (A transaction that writes one
-- of these tables and then alters it, as a migration might, runs
-- SET CONSTRAINTS ALL IMMEDIATE first: a table with pending trigger events
-- cannot be altered.)
CREATE FUNCTION xcoin_risk_changed() RETURNS trigger
    LANGUAGE plpgsql AS $$
BEGIN
    UPDATE risk_generation SET n = n + 1, last_xid = pg_current_xact_id()
     WHERE last_xid IS DISTINCT FROM pg_current_xact_id();
    RETURN NULL;
END
$$;

-- Positions: held quantities, open counts, exposure and unrealised P&L.
CREATE CONSTRAINT TRIGGER positions_risk_changed AFTER INSERT OR UPDATE OR DELETE ON positions
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION xcoin_risk_changed();
-- Realised P&L, charges and adjustments by day and strategy.
CREATE CONSTRAINT TRIGGER pnl_by_day_risk_changed AFTER INSERT OR UPDATE OR DELETE ON pnl_by_day
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION xcoin_risk_changed();
-- The kill switch.
CREATE CONSTRAINT TRIGGER kill_switch_risk_changed AFTER INSERT OR UPDATE OR DELETE ON kill_switch_events
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION xcoin_risk_changed();
-- A strategy's pause and its limits (not its last decision, written every cycle).
CREATE CONSTRAINT TRIGGER strategies_risk_changed
    AFTER INSERT OR DELETE OR UPDATE OF is_active, max_positions, max_daily_loss, capital_allocated ON strategies
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION xcoin_risk_changed();
-- The day's peak P&L (not the day's counts, raised by every placement; a
-- day's row made by its first placement holds the peak 0 a missing row means).
CREATE CONSTRAINT TRIGGER daily_stats_peak_added AFTER INSERT ON daily_stats
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW WHEN (NEW.peak_pnl <> 0)
    EXECUTE FUNCTION xcoin_risk_changed();
CREATE CONSTRAINT TRIGGER daily_stats_peak_removed AFTER DELETE ON daily_stats
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW WHEN (OLD.peak_pnl <> 0)
    EXECUTE FUNCTION xcoin_risk_changed();
CREATE CONSTRAINT TRIGGER daily_stats_peak_changed AFTER UPDATE ON daily_stats
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW
    WHEN (OLD.peak_pnl IS DISTINCT FROM NEW.peak_pnl OR OLD.trading_day IS DISTINCT FROM NEW.trading_day)
    EXECUTE FUNCTION xcoin_risk_changed();

-- Emptied tables (a reset) move the count too.
CREATE TRIGGER positions_risk_truncated AFTER TRUNCATE ON positions
    FOR EACH STATEMENT EXECUTE FUNCTION xcoin_risk_changed();
CREATE TRIGGER pnl_by_day_risk_truncated AFTER TRUNCATE ON pnl_by_day
    FOR EACH STATEMENT EXECUTE FUNCTION xcoin_risk_changed();
CREATE TRIGGER kill_switch_risk_truncated AFTER TRUNCATE ON kill_switch_events
    FOR EACH STATEMENT EXECUTE FUNCTION xcoin_risk_changed();
CREATE TRIGGER strategies_risk_truncated AFTER TRUNCATE ON strategies
    FOR EACH STATEMENT EXECUTE FUNCTION xcoin_risk_changed();
CREATE TRIGGER daily_stats_risk_truncated AFTER TRUNCATE ON daily_stats
    FOR EACH STATEMENT EXECUTE FUNCTION xcoin_risk_changed();

DO $$
BEGIN
    PERFORM xcoin_private.ensure_reader();
    PERFORM xcoin_private.ensure_roles();
EXCEPTION WHEN insufficient_privilege THEN
    RAISE NOTICE 'reader and roles not updated (% may not grant): %', current_user, SQLERRM;
END
$$;
