-- Marks every open position in each instrument of a batch to that
-- instrument's last price, in one UPDATE: the engine's risk cycle marks
-- every instrument that moved since the last cycle, and calling
-- update_position_pnl once per instrument (each its own UPDATE, behind an
-- EXISTS per instrument) cost most of a cycle's time on the server. The
-- rule is the one update_position_pnl always had; update_position_pnl now
-- marks through this function, so the rule is written once. One price per
-- instrument in a batch.
CREATE FUNCTION xcoin_mark_positions(p_symbols text[], p_exchanges text[], p_prices numeric[])
    RETURNS bigint
    LANGUAGE plpgsql AS $$
DECLARE
    touched bigint;
    bad numeric;
BEGIN
    SELECT p INTO bad FROM unnest(p_prices) AS u(p) WHERE p IS NULL OR p <= 0 LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION 'last price must be positive, got %', bad USING ERRCODE = 'invalid_parameter_value';
    END IF;
    UPDATE positions p
       SET last_price = u.price,
           unrealized_pnl = u.price * p.quantity - p.cost_basis,
           highest_price = greatest(coalesce(p.highest_price, u.price), u.price),
           lowest_price = least(coalesce(p.lowest_price, u.price), u.price),
           updated_at = xcoin_now()
      FROM unnest(p_symbols, p_exchanges, p_prices) AS u(symbol, exchange, price)
     WHERE p.symbol = u.symbol AND p.exchange = u.exchange AND p.status = 'OPEN'
       AND p.last_price IS DISTINCT FROM u.price;
    GET DIAGNOSTICS touched = ROW_COUNT;
    RETURN touched;
END
$$;

CREATE OR REPLACE FUNCTION update_position_pnl(p_symbol text, p_exchange text, p_last_price numeric)
    RETURNS bigint
    LANGUAGE sql AS $$
    SELECT xcoin_mark_positions(ARRAY[p_symbol], ARRAY[p_exchange], ARRAY[p_last_price])
$$;

DO $$
BEGIN
    PERFORM xcoin_private.ensure_reader();
    PERFORM xcoin_private.ensure_roles();
EXCEPTION WHEN insufficient_privilege THEN
    RAISE NOTICE 'reader and roles not updated (% may not grant): %', current_user, SQLERRM;
END
$$;
