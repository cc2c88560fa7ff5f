-- The day's funds and margin, as the broker last reported them (Kite's
-- equity margins in LIVE, the paper exchange's simulation in PAPER): kept
-- on the day's row so every console shows them, refreshed by the engine at
-- start, after every fill and every 30 seconds.
ALTER TABLE daily_stats
    ADD COLUMN funds_opening_balance numeric,
    ADD COLUMN funds_cash            numeric,
    ADD COLUMN funds_used_margin     numeric CHECK (funds_used_margin >= 0),
    ADD COLUMN funds_m2m_realised    numeric,
    ADD COLUMN funds_m2m_unrealised  numeric,
    ADD COLUMN funds_available       numeric,
    ADD COLUMN funds_at              timestamptz,
    ADD CONSTRAINT daily_stats_funds_whole CHECK (
        (funds_at IS NULL) = (funds_available IS NULL) AND (funds_at IS NULL) = (funds_used_margin IS NULL));
