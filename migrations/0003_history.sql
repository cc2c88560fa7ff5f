-- The database refuses impossible history, whoever writes the SQL (defence in
-- depth behind the application's own checks):
--   * a trade matches its order (symbol, exchange, side, product, strategy,
--     broker, broker order id), belongs to an order that was sent, and the
--     trades of an order never add up past its quantity;
--   * trades are append-only; an order with trades is never deleted, and the
--     columns its trades copied never change;
--   * a finished (DONE/FAILED) operator command is kept as it finished, and
--     commands move only PENDING -> RUNNING -> DONE | FAILED;
--   * kill switch events alternate (ACTIVATED, DEACTIVATED, ACTIVATED, ...)
--     and are kept; only an activation's effect is written after it.
-- Every refusal is a check_violation naming its rule as the constraint.
-- Existing rows are not re-checked: the rules hold from here on.

-- ---------------------------------------------------------------------------
-- trades
-- ---------------------------------------------------------------------------

CREATE FUNCTION xcoin_trades_match_order() RETURNS trigger
    LANGUAGE plpgsql AS $$
DECLARE
    o orders%ROWTYPE;
    traded bigint;
    mismatch text;
BEGIN
    -- Locking the order serialises every trade of one order (Db::record_fill
    -- already holds this lock), so two concurrent trades cannot both fit
    -- under its quantity. Rows earlier in the same statement are counted too.
    SELECT * INTO o FROM orders WHERE id = NEW.order_id FOR NO KEY UPDATE;
    IF NOT FOUND THEN
        RETURN NEW; -- the foreign key names the missing order
    END IF;
    -- submitted_at is set when an order becomes SUBMITTED, and nothing that
    -- never reached a broker can have been filled by one. A CANCELLED order
    -- that was sent keeps its trades: a fill can race the cancel.
    IF o.status = 'PENDING' OR o.submitted_at IS NULL THEN
        RAISE EXCEPTION 'order % is % and was never sent: only an order that reached the broker has trades', o.id, o.status
            USING ERRCODE = 'check_violation', CONSTRAINT = 'trades_order_sent';
    END IF;
    mismatch := concat_ws('; ',
        CASE WHEN NEW.symbol IS DISTINCT FROM o.symbol
             THEN format('symbol %s where the order has %s', NEW.symbol, o.symbol) END,
        CASE WHEN NEW.exchange IS DISTINCT FROM o.exchange
             THEN format('exchange %s where the order has %s', NEW.exchange, o.exchange) END,
        CASE WHEN NEW.side IS DISTINCT FROM o.side
             THEN format('side %s where the order has %s', NEW.side, o.side) END,
        CASE WHEN NEW.product IS DISTINCT FROM o.product
             THEN format('product %s where the order has %s', NEW.product, o.product) END,
        CASE WHEN NEW.strategy_id IS DISTINCT FROM o.strategy_id
             THEN format('strategy %s where the order has %s', NEW.strategy_id, o.strategy_id) END,
        CASE WHEN NEW.broker IS DISTINCT FROM o.broker
             THEN format('broker %s where the order has %s', NEW.broker, o.broker) END,
        CASE WHEN NEW.broker_order_id IS DISTINCT FROM o.broker_order_id
             THEN format('broker order id %s where the order has %s',
                         coalesce(NEW.broker_order_id, 'none'), coalesce(o.broker_order_id, 'none')) END);
    IF mismatch <> '' THEN
        RAISE EXCEPTION 'trade for order %: %', o.id, mismatch
            USING ERRCODE = 'check_violation', CONSTRAINT = 'trades_match_order';
    END IF;
    SELECT coalesce(sum(quantity), 0) INTO traded FROM trades WHERE order_id = o.id;
    IF traded + NEW.quantity > o.quantity THEN
        RAISE EXCEPTION 'order % is for % and has % traded: a trade of % would take it past its quantity',
            o.id, o.quantity, traded, NEW.quantity
            USING ERRCODE = 'check_violation', CONSTRAINT = 'trades_within_order_quantity';
    END IF;
    RETURN NEW;
END
$$;

CREATE TRIGGER trades_match_order BEFORE INSERT ON trades
    FOR EACH ROW EXECUTE FUNCTION xcoin_trades_match_order();

-- A trade is what the broker reported, once: it is never corrected in place.
-- (TRUNCATE, an owner's whole-table operation, is left to the owner.)
CREATE FUNCTION xcoin_trades_append_only() RETURNS trigger
    LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'trade % cannot be %: trades are append-only', OLD.id, lower(TG_OP) || 'd'
        USING ERRCODE = 'check_violation', CONSTRAINT = 'trades_append_only';
END
$$;

CREATE TRIGGER trades_append_only BEFORE UPDATE OR DELETE ON trades
    FOR EACH ROW EXECUTE FUNCTION xcoin_trades_append_only();

-- ---------------------------------------------------------------------------
-- orders with trades
-- ---------------------------------------------------------------------------

-- The foreign key already refuses deleting an order with trades; this names
-- the rule. What a trade copied from its order stays true of the order, and
-- a modification cannot cut the quantity below what has traded.
CREATE FUNCTION xcoin_orders_trades_kept() RETURNS trigger
    LANGUAGE plpgsql AS $$
DECLARE
    traded bigint;
    changed text;
BEGIN
    IF TG_OP = 'DELETE' THEN
        IF EXISTS (SELECT 1 FROM trades WHERE order_id = OLD.id) THEN
            RAISE EXCEPTION 'order % has trades: only an order without trades can be deleted', OLD.id
                USING ERRCODE = 'check_violation', CONSTRAINT = 'orders_trades_kept';
        END IF;
        RETURN OLD;
    END IF;

    changed := CASE
        WHEN NEW.symbol IS DISTINCT FROM OLD.symbol THEN 'symbol'
        WHEN NEW.exchange IS DISTINCT FROM OLD.exchange THEN 'exchange'
        WHEN NEW.side IS DISTINCT FROM OLD.side THEN 'side'
        WHEN NEW.product IS DISTINCT FROM OLD.product THEN 'product'
        WHEN NEW.strategy_id IS DISTINCT FROM OLD.strategy_id THEN 'strategy'
        WHEN NEW.broker IS DISTINCT FROM OLD.broker THEN 'broker'
        WHEN NEW.broker_order_id IS DISTINCT FROM OLD.broker_order_id THEN 'broker order id'
    END;
    IF changed IS NOT NULL AND EXISTS (SELECT 1 FROM trades WHERE order_id = OLD.id) THEN
        RAISE EXCEPTION 'order % has trades: its % cannot change (symbol, exchange, side, product, strategy, broker and broker order id are fixed once it trades)',
            OLD.id, changed
            USING ERRCODE = 'check_violation', CONSTRAINT = 'orders_trades_kept';
    END IF;
    IF NEW.quantity < OLD.quantity THEN
        SELECT coalesce(sum(quantity), 0) INTO traded FROM trades WHERE order_id = OLD.id;
        IF traded > NEW.quantity THEN
            RAISE EXCEPTION 'order % has % traded: its quantity cannot drop to %', OLD.id, traded, NEW.quantity
                USING ERRCODE = 'check_violation', CONSTRAINT = 'orders_trades_kept';
        END IF;
    END IF;
    RETURN NEW;
END
$$;

CREATE TRIGGER orders_trades_kept BEFORE UPDATE OR DELETE ON orders
    FOR EACH ROW EXECUTE FUNCTION xcoin_orders_trades_kept();

-- ---------------------------------------------------------------------------
-- operator_commands
-- ---------------------------------------------------------------------------

-- A command is the audit of an operator's action: what was asked never
-- changes, it moves only forward, and once DONE or FAILED it is kept exactly.
-- A command still PENDING or RUNNING may be deleted (withdrawn).
CREATE FUNCTION xcoin_operator_commands_kept() RETURNS trigger
    LANGUAGE plpgsql AS $$
BEGIN
    IF OLD.status IN ('DONE', 'FAILED') THEN
        RAISE EXCEPTION 'command % is %: a finished command cannot be %', OLD.id, OLD.status, lower(TG_OP) || 'd'
            USING ERRCODE = 'check_violation', CONSTRAINT = 'operator_commands_finished_kept';
    END IF;
    IF TG_OP = 'DELETE' THEN
        RETURN OLD;
    END IF;
    IF (NEW.command, NEW.payload, NEW.requested_by, NEW.requested_at)
       IS DISTINCT FROM (OLD.command, OLD.payload, OLD.requested_by, OLD.requested_at) THEN
        RAISE EXCEPTION 'command %: what was requested (command, payload, requested by, requested at) never changes', OLD.id
            USING ERRCODE = 'check_violation', CONSTRAINT = 'operator_commands_request_kept';
    END IF;
    IF NEW.status IS DISTINCT FROM OLD.status
       AND NOT (OLD.status = 'PENDING' AND NEW.status = 'RUNNING')
       AND NOT (OLD.status = 'RUNNING' AND NEW.status IN ('DONE', 'FAILED')) THEN
        RAISE EXCEPTION 'command % cannot go from % to % (a command goes PENDING → RUNNING → DONE or FAILED)',
            OLD.id, OLD.status, NEW.status
            USING ERRCODE = 'check_violation', CONSTRAINT = 'operator_commands_lifecycle';
    END IF;
    RETURN NEW;
END
$$;

CREATE TRIGGER operator_commands_kept BEFORE UPDATE OR DELETE ON operator_commands
    FOR EACH ROW EXECUTE FUNCTION xcoin_operator_commands_kept();

-- ---------------------------------------------------------------------------
-- kill_switch_events
-- ---------------------------------------------------------------------------

-- The latest event is the switch's state, so events must alternate: an
-- ACTIVATED follows a DEACTIVATED (or nothing), a DEACTIVATED follows an
-- ACTIVATED. The table lock is the one Db::activate_kill_switch and
-- Db::deactivate_kill_switch take first, so for them it is already held; two
-- direct inserts racing each other may end in a deadlock error, which still
-- refuses one of them.
CREATE FUNCTION xcoin_kill_switch_events_alternate() RETURNS trigger
    LANGUAGE plpgsql AS $$
DECLARE
    last kill_switch_events%ROWTYPE;
BEGIN
    LOCK TABLE kill_switch_events IN SHARE ROW EXCLUSIVE MODE;
    SELECT * INTO last FROM kill_switch_events ORDER BY id DESC LIMIT 1;
    IF NEW.action = 'ACTIVATED' AND last.action = 'ACTIVATED' THEN
        RAISE EXCEPTION 'the kill switch is already active (event %): an ACTIVATED event must follow a DEACTIVATED one or none', last.id
            USING ERRCODE = 'check_violation', CONSTRAINT = 'kill_switch_events_alternate';
    END IF;
    IF NEW.action = 'DEACTIVATED' AND last.action IS DISTINCT FROM 'ACTIVATED' THEN
        RAISE EXCEPTION 'the kill switch is not active: a DEACTIVATED event must follow an ACTIVATED one'
            USING ERRCODE = 'check_violation', CONSTRAINT = 'kill_switch_events_alternate';
    END IF;
    RETURN NEW;
END
$$;

CREATE TRIGGER kill_switch_events_alternate BEFORE INSERT ON kill_switch_events
    FOR EACH ROW EXECUTE FUNCTION xcoin_kill_switch_events_alternate();

-- Events are kept. The one write after the fact is Db::record_kill_switch_effect
-- filling in what an activation did (orders cancelled, positions exited, the
-- day's P&L then); every other column of every event stays as inserted.
CREATE FUNCTION xcoin_kill_switch_events_kept() RETURNS trigger
    LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        RAISE EXCEPTION 'kill switch event % cannot be deleted: the record is kept', OLD.id
            USING ERRCODE = 'check_violation', CONSTRAINT = 'kill_switch_events_kept';
    END IF;
    IF OLD.action <> 'ACTIVATED'
       OR (NEW.id, NEW.action, NEW.trigger, NEW.reason, NEW.actor, NEW.created_at)
          IS DISTINCT FROM (OLD.id, OLD.action, OLD.trigger, OLD.reason, OLD.actor, OLD.created_at) THEN
        RAISE EXCEPTION 'kill switch event %: only an activation''s orders_cancelled, positions_exited and daily_pnl can be written after it', OLD.id
            USING ERRCODE = 'check_violation', CONSTRAINT = 'kill_switch_events_kept';
    END IF;
    RETURN NEW;
END
$$;

CREATE TRIGGER kill_switch_events_kept BEFORE UPDATE OR DELETE ON kill_switch_events
    FOR EACH ROW EXECUTE FUNCTION xcoin_kill_switch_events_kept();
