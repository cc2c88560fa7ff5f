-- A round trip is a position a fill took back to flat. A position closed by
-- reconciliation (ACCEPT_BROKER) or by an operator (CLOSED_WITHOUT_FILL) is
-- an adjustment: its P&L is shown as reconciliation adjustments, outside
-- round trips, wins, losses, the win rate and the losing streak.
CREATE FUNCTION xcoin_closed_by_adjustment(p_position bigint) RETURNS boolean
    LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT EXISTS (SELECT 1 FROM position_adjustments WHERE position_id = p_position AND quantity_after = 0)
$$;
