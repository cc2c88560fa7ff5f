//! A recorded day, replayed: a strategy runs against recorded ticks on the
//! paper exchange (the same fills model and charges as the desk's paper
//! trading), in a scratch database of its own, and the day's report comes
//! out. The engine is the desk's engine, driven by the recording's clock:
//! each tick is applied as it comes, and the engine's cycle (marking,
//! stops and targets, loss limits, then the strategies) runs every 500 ms
//! of recorded time, as it runs every 500 ms of a live day.
//!
//! The file: `time,symbol,exchange,price` after a header, `time` the IST
//! time of the recorded day (`2026-11-27 09:15:00.037`), in order. The same
//! file, parameters and seed give the same orders and fills, to the paisa.
//! Positions still open when the recording ends are exited at its last
//! price, as the broker squares off MIS at the end of the day. Every risk
//! rule applies but two that read the wall clock: market hours (the
//! recording's own hours are the day's) and the order rate per second.

use std::time::{Duration, Instant};

use chrono::{NaiveDateTime, NaiveTime};
use rust_decimal::Decimal;
use sqlx::postgres::PgConnectOptions;

use crate::broker::paper::{PaperBroker, PaperConfig};
use crate::config::Settings;
use crate::db::{Db, PoolConfig};
use crate::domain::instrument::{self, Instrument};
use crate::domain::order::Exchange;
use crate::engine::strategy::Strategy;
use crate::engine::{Engine, EngineConfig, EngineError};

/// One recorded price.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordedTick {
    /// IST, as recorded.
    pub at: NaiveDateTime,
    pub symbol: String,
    pub exchange: Exchange,
    pub price: Decimal,
}

/// How fast the recording plays.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Speed {
    /// As fast as the engine goes.
    Max,
    /// This many times real time.
    Times(f64),
}

impl std::str::FromStr for Speed {
    type Err = String;
    fn from_str(s: &str) -> Result<Speed, String> {
        if s.eq_ignore_ascii_case("max") {
            return Ok(Speed::Max);
        }
        match s.parse::<f64>() {
            Ok(n) if n.is_finite() && n > 0.0 && n <= 10_000.0 => Ok(Speed::Times(n)),
            _ => Err(format!("speed: `max` or a number of times real time above 0 and at most 10000, got `{s}`")),
        }
    }
}

/// Reads a recording, checked whole before anything runs: an error names
/// the line and the field.
pub fn read_ticks(csv: &str, instruments: &[Instrument]) -> Result<Vec<RecordedTick>, String> {
    let mut lines = csv.lines().enumerate();
    match lines.next() {
        Some((_, header)) if header.trim() == "time,symbol,exchange,price" => {}
        _ => return Err("line 1: the header must be `time,symbol,exchange,price`".into()),
    }
    let mut ticks: Vec<RecordedTick> = Vec::new();
    for (n, line) in lines {
        if line.trim().is_empty() {
            continue;
        }
        let bad = |what: String| format!("line {}: {what}", n + 1);
        let fields: Vec<&str> = line.split(',').map(str::trim).collect();
        let [time, symbol, exchange, price] = fields[..] else {
            return Err(bad(format!("expected time,symbol,exchange,price, found {} fields", fields.len())));
        };
        let at = NaiveDateTime::parse_from_str(time, "%Y-%m-%d %H:%M:%S%.f")
            .map_err(|_| bad(format!("time: `{time}` is not YYYY-MM-DD HH:MM:SS[.fff] (IST)")))?;
        let exchange: Exchange = exchange.parse().map_err(|e: crate::domain::ParseEnumError| bad(e.to_string()))?;
        let price: Decimal = price.parse().map_err(|_| bad(format!("price: `{price}` is not a number")))?;
        let Some(i) = instruments.iter().find(|i| i.symbol == symbol && i.exchange == exchange) else {
            return Err(bad(format!("symbol: {exchange}:{symbol} is not one of the desk's instruments")));
        };
        if price <= Decimal::ZERO || !crate::domain::is_on_tick(price, i.tick_size) {
            return Err(bad(format!("price: {price} is not a price on {symbol}'s {} tick", i.tick_size)));
        }
        if let Some(last) = ticks.last()
            && at < last.at
        {
            return Err(bad(format!("time: {at} is before the line above ({}); ticks must be in order", last.at)));
        }
        ticks.push(RecordedTick { at, symbol: symbol.to_string(), exchange, price });
    }
    if ticks.is_empty() {
        return Err("the recording has no ticks".into());
    }
    Ok(ticks)
}

/// What to replay and how.
#[derive(Debug, Clone)]
pub struct Options {
    /// Only ticks at or after this IST time of day.
    pub from: Option<NaiveTime>,
    /// Only ticks before this IST time of day.
    pub to: Option<NaiveTime>,
    pub speed: Speed,
    /// The paper exchange's seed.
    pub seed: u64,
    /// The strategy's parameters (its `configure`); `{}` when absent.
    pub parameters: serde_json::Value,
}

/// A replay's outcome.
pub struct Outcome {
    pub database: PgConnectOptions,
    pub ticks: usize,
    pub cycles: usize,
    /// Wall time from the first tick to the last, exits included.
    pub elapsed: Duration,
    pub strategy_id: i64,
}

impl Outcome {
    pub fn ticks_per_second(&self) -> f64 {
        self.ticks as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }
}

/// A scratch database's name for a replay: its own per run.
pub fn scratch_name() -> String {
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_nanos());
    format!("xcoin_replay_{}_{}", std::process::id(), nanos % 1_000_000_000)
}

/// Replays `ticks` for `strategy` into the (new, empty) database `options`
/// names, which it creates and migrates. The database is left as the day
/// ended: the caller prints its report and keeps or drops it.
pub async fn run(
    options: PgConnectOptions,
    settings: &Settings,
    ticks: &[RecordedTick],
    mut strategy: Box<dyn Strategy>,
    opts: &Options,
) -> Result<Outcome, EngineError> {
    let refused = |e: String| EngineError::Refused(e);
    strategy.configure(&opts.parameters).map_err(|e| refused(format!("strategy \"{}\": {e}", strategy.name())))?;
    let ticks: Vec<&RecordedTick> = ticks
        .iter()
        .filter(|t| opts.from.is_none_or(|f| t.at.time() >= f) && opts.to.is_none_or(|to| t.at.time() < to))
        .collect();
    let first = ticks.first().ok_or_else(|| refused("no recorded tick between --from and --to".into()))?;

    crate::db::schema::create_database_if_missing(&options).await?;
    // A replay is a simulation in a scratch database, made again from the
    // recording at will: its commits need not wait for the disk, as the
    // desk's own must. Six connections: a cycle's independent reads run at once.
    let session = options.clone().options([("synchronous_commit", "off")]);
    let db = Db::connect(session, PoolConfig { min: 1, max: 6, ..(&settings.database).into() }).await?;
    db.migrate().await?;
    let instruments = instrument::built_in();
    let paper = PaperConfig {
        seed: opts.seed,
        capital: Some(settings.account.capital),
        mis_leverage: settings.account.mis_leverage,
        ..PaperConfig::default()
    };
    let broker = PaperBroker::new(&instruments, paper)?;
    let mut cfg = EngineConfig::from_settings(settings);
    // The recording's clock is the day's: the wall clock's hours do not apply.
    cfg.limits.enforce_market_hours = false;
    cfg.square_off_time = None;
    // The order-rate rule counts wall-clock seconds (the broker's limit); at
    // full speed a recorded minute passes in milliseconds, and the rule would
    // refuse by the machine's pace, not the strategy's.
    cfg.limits.max_orders_per_second = u32::MAX;
    let mut engine = Engine::start(db.clone(), broker.clone(), cfg).await?;
    engine.drain_events().await?;
    let name = strategy.name().to_string();
    let mut registration = crate::domain::strategy::Registration::new(&name, strategy.strategy_type());
    registration.parameters = opts.parameters.clone();
    db.register_strategy(&registration).await?;
    let strategy_id = engine.add_strategy(strategy).await?;

    let cycle = chrono::Duration::milliseconds(500);
    let mut next_cycle = first.at + cycle;
    let mut cycles = 0;
    let started = Instant::now();
    for t in &ticks {
        if let Speed::Times(n) = opts.speed {
            let due = (t.at - first.at).to_std().unwrap_or_default().div_f64(n);
            if let Some(wait) = due.checked_sub(started.elapsed()) {
                tokio::time::sleep(wait).await;
            }
        }
        while t.at >= next_cycle {
            engine.trading_cycle().await;
            cycles += 1;
            next_cycle += cycle;
        }
        broker.set_price(&t.symbol, t.exchange, t.price)?;
        engine.drain_events().await?;
    }
    engine.trading_cycle().await;
    cycles += 1;
    square_off(&mut engine, &broker).await?;
    let elapsed = started.elapsed();
    engine.flush_journal().await;
    drop(engine);
    db.close().await;
    Ok(Outcome { database: options, ticks: ticks.len(), cycles, elapsed, strategy_id })
}

/// Exits what is still open at the recording's last prices, and cancels
/// what still works: the day ends flat, as MIS does at the broker. The last
/// prices are quoted again until the exits have filled (the exchange fills
/// a market order up to its liquidity per tick).
async fn square_off(engine: &mut Engine<PaperBroker>, broker: &PaperBroker) -> Result<(), EngineError> {
    for o in engine.db.active_orders().await? {
        engine.cancel_order(o.id).await?;
    }
    for p in engine.db.open_positions().await? {
        engine.exit_position(p.id, "replay end").await?;
    }
    for _ in 0..1_000 {
        let working = engine.db.active_orders().await?;
        if working.is_empty() {
            return Ok(());
        }
        for o in working {
            let last = broker.last_price(&o.symbol, o.exchange).expect("an order's instrument is quoted");
            broker.set_price(&o.symbol, o.exchange, last)?;
        }
        engine.drain_events().await?;
    }
    Err(EngineError::Refused("the end-of-recording exits did not fill in 1,000 quotes".into()))
}

/// A URL for the database `o` names, without its password (for the console
/// to open a kept replay; add the password when the login needs one).
pub fn url_of(o: &PgConnectOptions) -> String {
    let db = o.get_database().unwrap_or("postgres");
    match o.get_socket() {
        Some(dir) => format!("postgres://{}@/{db}?host={}&port={}", o.get_username(), dir.display(), o.get_port()),
        None => format!("postgres://{}@{}:{}/{db}", o.get_username(), o.get_host(), o.get_port()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_recording_is_checked_whole_and_an_error_names_line_and_field() {
        let instruments = instrument::built_in();
        let head = "time,symbol,exchange,price\n";
        let ok = format!("{head}2026-11-27 09:15:00.250,INFY,NSE,1512.30\n2026-11-27 09:15:01,TCS,NSE,3120.75\n");
        let ticks = read_ticks(&ok, &instruments).unwrap();
        assert_eq!(ticks.len(), 2);
        assert_eq!(ticks[0].at.time(), NaiveTime::from_hms_milli_opt(9, 15, 0, 250).unwrap());
        assert_eq!(ticks[1].price, Decimal::new(312075, 2));
        for (body, error) in [
            ("symbol,price\n".to_string(), "line 1: the header must be `time,symbol,exchange,price`"),
            (format!("{head}09:15,INFY,NSE,1512.30\n"), "line 2: time: `09:15` is not YYYY-MM-DD HH:MM:SS[.fff] (IST)"),
            (
                format!("{head}2026-11-27 09:15:00,ACME,NSE,10\n"),
                "line 2: symbol: NSE:ACME is not one of the desk's instruments",
            ),
            (
                format!("{head}2026-11-27 09:15:00,INFY,NSE,1512.32\n"),
                "line 2: price: 1512.32 is not a price on INFY's 0.05 tick",
            ),
            (format!("{head}2026-11-27 09:15:00,INFY,NYSE,1512.30\n"), "line 2: exchange: `NYSE` is not allowed"),
            (
                format!("{head}2026-11-27 09:15:01,INFY,NSE,1512.30\n2026-11-27 09:15:00,INFY,NSE,1512.30\n"),
                "line 3: time: 2026-11-27 09:15:00 is before the line above",
            ),
            (
                format!("{head}2026-11-27 09:15:00,INFY,NSE\n"),
                "line 2: expected time,symbol,exchange,price, found 3 fields",
            ),
            (head.to_string(), "the recording has no ticks"),
        ] {
            let e = read_ticks(&body, &instruments).unwrap_err();
            assert!(e.starts_with(error), "{e} / {error}");
        }
    }

    #[test]
    fn speed_is_max_or_a_multiple_of_real_time() {
        assert_eq!("max".parse::<Speed>(), Ok(Speed::Max));
        assert_eq!("20".parse::<Speed>(), Ok(Speed::Times(20.0)));
        let refused =
            |s: &str| Err(format!("speed: `max` or a number of times real time above 0 and at most 10000, got `{s}`"));
        for bad in ["0", "fast", "10000.5", "inf", "NaN"] {
            assert_eq!(bad.parse::<Speed>(), refused(bad), "{bad}");
        }
    }
}
