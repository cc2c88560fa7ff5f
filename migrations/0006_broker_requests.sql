-- Every write request sent to the broker today (placements, modifications,
-- cancellations, those its risk system refused too): Kite caps them per day,
-- so the count is kept where it survives an engine restart.
ALTER TABLE daily_stats ADD COLUMN broker_writes bigint NOT NULL DEFAULT 0
    CONSTRAINT daily_stats_broker_writes_positive CHECK (broker_writes >= 0);
