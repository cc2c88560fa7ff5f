//! Statements only `xcoin bench` runs, in its own scratch database: the
//! plain-SQL twin of `create_order` it compares the layer with, the day it
//! fills for timing queries, and dropping the scratch database.

use sqlx::postgres::PgConnectOptions;
use sqlx::{ConnectOptions, Connection};

use super::{Db, Result};
use xcoin_model::order::OrderRequest;

impl Db {
    /// The INSERT of [`Db::create_order`] with the same values, written as
    /// plain SQL over the same pool; the row it returns is left undecoded.
    pub async fn bench_plain_insert(&self, req: &OrderRequest) -> Result<()> {
        sqlx::query(concat!(
            "INSERT INTO orders (strategy_id, parent_order_id, symbol, exchange, side, order_type,
                                         product, validity, quantity, price, trigger_price, stop_loss,
                                         take_profit, risk_amount, broker, placed_by)
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)
                     RETURNING ",
            xcoin_model::order_columns!()
        ))
        .bind(req.strategy_id)
        .bind(req.parent_order_id)
        .bind(&req.symbol)
        .bind("NSE")
        .bind("BUY")
        .bind("LIMIT")
        .bind("MIS")
        .bind("DAY")
        .bind(req.quantity)
        .bind(req.price)
        .bind(req.trigger_price)
        .bind(req.stop_loss)
        .bind(req.take_profit)
        .bind(req.risk_amount(None))
        .bind("paper")
        .bind(&req.placed_by)
        .fetch_one(&self.pool)
        .await?;
        Ok(())
    }

    /// One commit's cost on this server through this pool: `n` one-row
    /// INSERTs, each its own transaction, timed one by one. The limit the
    /// engine's per-order writes are held against.
    pub async fn bench_commit_times(&self, n: usize) -> Result<Vec<std::time::Duration>> {
        sqlx::query(
            "CREATE TABLE IF NOT EXISTS bench_commits (id bigserial PRIMARY KEY, at timestamptz DEFAULT now())",
        )
        .execute(&self.pool)
        .await?;
        let mut times = Vec::with_capacity(n);
        for _ in 0..n {
            let t = std::time::Instant::now();
            sqlx::query("INSERT INTO bench_commits DEFAULT VALUES").execute(&self.pool).await?;
            times.push(t.elapsed());
        }
        Ok(times)
    }

    /// The server's next transaction id, read without taking one: the
    /// difference over a stretch is how many writing transactions (commits
    /// that reach the disk) the server ran in it.
    pub async fn bench_next_xid(&self) -> Result<i64> {
        Ok(sqlx::query_scalar("SELECT pg_snapshot_xmax(pg_current_snapshot())::text::bigint")
            .fetch_one(&self.pool)
            .await?)
    }

    /// The working orders fetched by the same driver and left undecoded: the
    /// floor under [`Db::active_orders`].
    pub async fn bench_raw_active_orders(&self) -> Result<usize> {
        Ok(sqlx::query(concat!(
            "SELECT ",
            xcoin_model::order_columns!(),
            " FROM orders WHERE status IN ('PENDING', 'SUBMITTED', 'OPEN', 'PARTIALLY_FILLED') ORDER BY id"
        ))
        .fetch_all(&self.pool)
        .await?
        .len())
    }

    /// Makes the day exactly `total` orders, the newest `working` of them
    /// still working, vacuumed and analysed as a desk's autovacuum leaves it.
    pub async fn bench_fill_day(&self, total: i64, working: i64) -> Result<()> {
        sqlx::query("TRUNCATE orders RESTART IDENTITY CASCADE").execute(&self.pool).await?;
        sqlx::query(
            "INSERT INTO orders (strategy_id, symbol, exchange, side, order_type, product, quantity, price)
             SELECT 1, 'INFY', 'NSE', 'BUY', 'LIMIT', 'MIS', 1, 1000 FROM generate_series(1, $1)",
        )
        .bind(total)
        .execute(&self.pool)
        .await?;
        sqlx::query(
            "UPDATE orders SET status = 'CANCELLED' WHERE status = 'PENDING'
                AND id NOT IN (SELECT id FROM orders WHERE status = 'PENDING' ORDER BY id DESC LIMIT $1)",
        )
        .bind(working)
        .execute(&self.pool)
        .await?;
        // A desk's autovacuum clears the index entries of orders that finished;
        // measure that steady state, not the moment after a bulk update (whose
        // dirty pages the server is still writing out: a checkpoint flushes
        // them first where the role may ask for one).
        sqlx::query("VACUUM ANALYZE orders").execute(&self.pool).await?;
        let _ = sqlx::query("CHECKPOINT").execute(&self.pool).await;
        Ok(())
    }
}

/// Drops the database `options` names, closing its connections.
pub async fn drop_database(options: &PgConnectOptions) -> Result<()> {
    let name = options.get_database().unwrap_or_default().to_string();
    let mut admin = options.clone().database("postgres").connect().await?;
    sqlx::query(&format!("DROP DATABASE IF EXISTS \"{}\" WITH (FORCE)", name.replace('"', "\"\"")))
        .execute(&mut admin)
        .await?;
    let _ = admin.close().await;
    Ok(())
}
