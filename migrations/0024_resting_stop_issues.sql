-- A position's stop loss rests at the broker as an SL-M order
-- (risk.stop_at_exchange). What the engine cannot bring back to that is a
-- reconciliation issue the operator sees: a position without its resting
-- stop, and a resting stop without its position (one per order).
ALTER TABLE reconciliation_log DROP CONSTRAINT reconciliation_log_issue_type_check;
ALTER TABLE reconciliation_log ADD CONSTRAINT reconciliation_log_issue_type_check CHECK (
    issue_type IN ('QUANTITY_MISMATCH', 'MISSING_LOCAL', 'MISSING_AT_BROKER', 'PRICE_MISMATCH',
                   'ORDER_MISSING_AT_BROKER', 'STOP_NOT_RESTING', 'STOP_WITHOUT_POSITION'));
ALTER TABLE reconciliation_log DROP CONSTRAINT reconciliation_order_issue_names_its_order;
ALTER TABLE reconciliation_log ADD CONSTRAINT reconciliation_order_issue_names_its_order CHECK (
    (issue_type IN ('ORDER_MISSING_AT_BROKER', 'STOP_WITHOUT_POSITION')) = (order_id IS NOT NULL));
