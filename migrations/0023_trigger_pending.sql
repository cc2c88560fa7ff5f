-- A stop-loss order (SL, SL-M) the broker holds untriggered is OPEN with
-- trigger_pending set: the console shows it as Kite does, TRIGGER PENDING.
-- The engine keeps it from the broker's order updates; a fill clears it.
ALTER TABLE orders ADD COLUMN trigger_pending boolean NOT NULL DEFAULT false;

-- Today's orders carry it too (a view keeps the columns it was made with;
-- replacing it with the new column last keeps every grant on it).
CREATE OR REPLACE VIEW v_today_orders AS
SELECT o.id, o.strategy_id, o.parent_order_id, o.symbol, o.exchange, o.side, o.order_type, o.product, o.validity,
       o.quantity, o.filled_quantity, o.price, o.trigger_price, o.average_price, o.stop_loss, o.take_profit,
       o.risk_amount, o.status, o.status_reason, o.status_history, o.broker, o.broker_order_id, o.placed_by,
       o.created_at, o.updated_at, o.submitted_at, o.completed_at, o.modifications, s.name AS strategy_name,
       o.trigger_pending
  FROM orders o
  JOIN strategies s ON s.id = o.strategy_id
 WHERE o.created_at >= xcoin_day_start(xcoin_today())
   AND o.created_at < xcoin_day_start(xcoin_today() + 1);
