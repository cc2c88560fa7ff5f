//! The database layer against plain SQL on the same pool: order creation
//! and the queries the desk runs most.

use std::time::Instant;

use rust_decimal_macros::dec;

use xcoin::db::Db;
use xcoin::domain::order::{OrderRequest, OrderType, Side};
use xcoin::engine::EngineError;

use super::*;

/// Orders per second created by `writers` concurrent tasks: through the
/// database layer (`Db::create_order`: the request checked, its risk priced,
/// one INSERT returning the row decoded into an [`Order`]) and by the same
/// INSERT with the same values written as plain SQL over the same pool, its
/// row left undecoded. Rounds alternate and each side keeps its best, so a
/// drift of the machine does not favour one side.
pub async fn create_order_rates(db: &Db, writers: usize, total: usize) -> Result<(f64, f64), EngineError> {
    let req = OrderRequest {
        order_type: OrderType::Limit,
        price: Some(dec!(1000)),
        ..bench_request("INFY", Side::Buy, dec!(1000))
    };
    let per_writer = total / writers;
    let mut best = [0.0f64; 2];
    for round in 0..4 {
        let plain = round % 2 == 1;
        let started = Instant::now();
        let mut tasks = Vec::new();
        for _ in 0..writers {
            let (db, req) = (db.clone(), req.clone());
            tasks.push(tokio::spawn(async move {
                for _ in 0..per_writer {
                    if plain {
                        db.bench_plain_insert(&req).await?;
                    } else {
                        db.create_order(&req, xcoin::domain::order::BrokerKind::Paper, dec!(0.05), None).await?;
                    }
                }
                Ok::<_, xcoin::db::DbError>(())
            }));
        }
        for t in tasks {
            t.await.expect("writer task")?;
        }
        let rate = (per_writer * writers) as f64 / started.elapsed().as_secs_f64();
        best[usize::from(plain)] = best[usize::from(plain)].max(rate);
    }
    Ok((best[0], best[1]))
}

/// Fills the day to `total` orders with `working` of them still working,
/// then times the two queries the desk runs most (decoded into our types).
pub async fn query_times(db: &Db, total: i64, working: i64, runs: usize) -> Result<(f64, f64, f64), EngineError> {
    // Exactly `total` orders: what the earlier measurements wrote is cleared
    // (this is the bench's scratch database).
    db.bench_fill_day(total, working).await?;
    for _ in 0..20 {
        let warm = db.active_orders().await?;
        if warm.len() as i64 != working {
            return Err(EngineError::Refused(format!("{} working orders instead of {working}", warm.len())));
        }
    }
    let mut active = Vec::with_capacity(runs);
    let mut raw = Vec::with_capacity(runs);
    let mut today = Vec::with_capacity(runs.min(10));
    for r in 0..runs {
        let t = Instant::now();
        db.active_orders().await?;
        active.push(t.elapsed());
        let t = Instant::now();
        db.bench_raw_active_orders().await?;
        raw.push(t.elapsed());
        if r < 10 {
            let t = Instant::now();
            db.today_orders().await?;
            today.push(t.elapsed());
        }
    }
    active.sort();
    raw.sort();
    today.sort();
    Ok((percentile(&active, 0.5), percentile(&today, 0.5), percentile(&raw, 0.5)))
}
