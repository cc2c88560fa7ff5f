-- A risk cycle's writes in one call: the instruments that moved are marked
-- and, when a position moved (or the engine asks, after a fill), today's
-- row takes the day's P&L, in one round trip and one commit. The cycle used
-- to mark in one statement and write today's P&L in another, after it, on
-- every cycle with a position open: two commits where one does, and the
-- statement the cycle waited on longest after the mark.
--
-- Today's row is written by the two upserts that were the database layer's
-- own statements (the cycle's P&L-only update and the full recount), now
-- here so that the call and the layer share one text of each. The recount
-- writes the counts and then the P&L by the P&L-only update, so the day's
-- peak net P&L and its deepest drawdown from that peak have one rule.

CREATE FUNCTION xcoin_update_daily_pnl()
    RETURNS SETOF daily_stats
    LANGUAGE plpgsql AS $$
BEGIN
    RETURN QUERY
    WITH p AS (SELECT * FROM get_today_pnl())
    INSERT INTO daily_stats AS d (trading_day, gross_pnl, unrealized_pnl, total_charges, net_pnl, peak_pnl,
                                  max_drawdown)
    SELECT xcoin_today(), p.realized_pnl, p.unrealized_pnl, p.charges, p.net_pnl, greatest(0, p.net_pnl),
           greatest(0, -p.net_pnl)
      FROM p
    ON CONFLICT (trading_day) DO UPDATE SET
           gross_pnl = EXCLUDED.gross_pnl,
           unrealized_pnl = EXCLUDED.unrealized_pnl,
           total_charges = EXCLUDED.total_charges,
           net_pnl = EXCLUDED.net_pnl,
           peak_pnl = greatest(d.peak_pnl, EXCLUDED.net_pnl),
           max_drawdown = greatest(d.max_drawdown, greatest(d.peak_pnl, EXCLUDED.net_pnl) - EXCLUDED.net_pnl),
           updated_at = xcoin_now()
    RETURNING d.*;
END
$$;

-- The full recount: the day's counts, then its P&L by the function above
-- (one text of the peak and drawdown rule), in the caller's transaction.
CREATE FUNCTION xcoin_update_daily_stats()
    RETURNS SETOF daily_stats
    LANGUAGE plpgsql AS $$
BEGIN
    WITH b AS (SELECT xcoin_today() AS day, xcoin_day_start(xcoin_today()) AS s,
                      xcoin_day_start(xcoin_today() + 1) AS e),
         o AS (SELECT count(*) AS n FROM orders, b WHERE created_at >= b.s AND created_at < b.e),
         t AS (SELECT count(*) AS n FROM trades, b WHERE traded_at >= b.s AND traded_at < b.e),
         r AS (SELECT count(*) FILTER (WHERE net > 0) AS wins,
                      count(*) FILTER (WHERE net < 0) AS losses,
                      coalesce(max(net) FILTER (WHERE net > 0), 0) AS best,
                      coalesce(min(net) FILTER (WHERE net < 0), 0) AS worst
                 FROM (SELECT x.realized_pnl - x.charges AS net FROM positions x, b
                        WHERE x.status = 'CLOSED' AND x.closed_at >= b.s AND x.closed_at < b.e
                          AND NOT xcoin_closed_by_adjustment(x.id)) closed)
    INSERT INTO daily_stats AS d (trading_day, total_orders, total_trades, winning_trades, losing_trades,
                                  largest_win, largest_loss, order_to_trade_ratio)
    SELECT b.day, o.n, t.n, r.wins, r.losses, r.best, r.worst, get_order_to_trade_ratio(b.day)
      FROM b, o, t, r
    ON CONFLICT (trading_day) DO UPDATE SET
           total_orders = EXCLUDED.total_orders,
           total_trades = EXCLUDED.total_trades,
           winning_trades = EXCLUDED.winning_trades,
           losing_trades = EXCLUDED.losing_trades,
           largest_win = EXCLUDED.largest_win,
           largest_loss = EXCLUDED.largest_loss,
           order_to_trade_ratio = EXCLUDED.order_to_trade_ratio;
    RETURN QUERY SELECT * FROM xcoin_update_daily_pnl();
END
$$;

-- Marks the batch (one price per instrument, by xcoin_mark_positions'
-- rule) and, when a position moved or p_always is set, writes today's row:
-- the full recount when p_recount is set, else the P&L only. Returns
-- today's row as written, or no row when nothing was written because no
-- position moved.
CREATE FUNCTION xcoin_mark_and_total(p_symbols text[], p_exchanges text[], p_prices numeric[],
                                     p_always boolean, p_recount boolean)
    RETURNS SETOF daily_stats
    LANGUAGE plpgsql AS $$
DECLARE
    moved bigint := 0;
BEGIN
    IF cardinality(p_prices) > 0 THEN
        moved := xcoin_mark_positions(p_symbols, p_exchanges, p_prices);
    END IF;
    IF moved = 0 AND NOT p_always THEN
        RETURN;
    END IF;
    IF p_recount THEN
        RETURN QUERY SELECT * FROM xcoin_update_daily_stats();
    ELSE
        RETURN QUERY SELECT * FROM xcoin_update_daily_pnl();
    END IF;
END
$$;

DO $$
BEGIN
    PERFORM xcoin_private.ensure_reader();
    PERFORM xcoin_private.ensure_roles();
EXCEPTION WHEN insufficient_privilege THEN
    RAISE NOTICE 'reader and roles not updated (% may not grant): %', current_user, SQLERRM;
END
$$;
