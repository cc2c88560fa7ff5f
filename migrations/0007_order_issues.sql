-- A working order the broker's book does not show (gone, or in a state XCoin
-- cannot read) is a reconciliation issue the operator sees, one per order.
ALTER TABLE reconciliation_log DROP CONSTRAINT reconciliation_log_issue_type_check;
ALTER TABLE reconciliation_log ADD CONSTRAINT reconciliation_log_issue_type_check CHECK (
    issue_type IN ('QUANTITY_MISMATCH', 'MISSING_LOCAL', 'MISSING_AT_BROKER', 'PRICE_MISMATCH',
                   'ORDER_MISSING_AT_BROKER'));
ALTER TABLE reconciliation_log ADD COLUMN order_id bigint REFERENCES orders (id);
ALTER TABLE reconciliation_log ADD CONSTRAINT reconciliation_order_issue_names_its_order CHECK (
    (issue_type = 'ORDER_MISSING_AT_BROKER') = (order_id IS NOT NULL));

-- One open issue per kind of mismatch per instrument, and per order for
-- order issues.
DROP INDEX reconciliation_one_open_issue;
CREATE UNIQUE INDEX reconciliation_one_open_issue
    ON reconciliation_log (issue_type, symbol, exchange, product, (coalesce(order_id, 0)))
    WHERE status = 'OPEN';
