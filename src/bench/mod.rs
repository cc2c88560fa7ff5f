//! `xcoin bench`: measures this build against the configured database
//! server. It writes only to a scratch database of its own
//! (`xcoin_bench_<pid>`, dropped afterwards), never to the desk's.
//!
//! Measured: pre-trade validation time per order; the engine end to end on
//! the paper exchange (place: validate, persist PENDING, send, SUBMITTED; and
//! the fills applied to orders and positions); the change feed from a commit
//! to the console's view model under a paced and an unpaced writer, next to
//! the rate the database reaches with nobody listening; the time to draw each
//! console tab and the resident memory with 100,000 orders and 10,000 trades
//! loaded.

use std::io::Write;
use std::time::{Duration, Instant};

use serde::Serialize;

use xcoin::config::Config;
use xcoin::db::Target;
use xcoin::db::schema::create_database_if_missing;
use xcoin::db::{Db, PoolConfig};
use xcoin::engine::{EngineConfig, EngineError};

mod console;
mod engine;
mod feed;
mod queries;

use console::{first_frame, probe};
pub use console::{large_app, memory_probe, render_times};
pub use engine::validation_ns;
use engine::{bench_request, engine_run, replay_run};
pub use feed::feed_run;
pub use queries::{create_order_rates, query_times};

/// One measurement run's figures.
#[derive(Debug, Clone, Serialize)]
pub struct BenchReport {
    pub database: String,
    pub cpus: usize,
    pub validation_ns_per_order: f64,
    pub validations: u64,
    pub place_p50_ms: f64,
    pub place_p99_ms: f64,
    /// place → SUBMITTED by stage, p50 each: the check (with its risk read,
    /// if any), the PENDING write, the broker, the SUBMITTED write.
    pub place_stages_p50_ms: [f64; 4],
    pub engine_orders: usize,
    pub engine_orders_per_second: f64,
    /// The limits the figures are held against, measured in the same run.
    pub limits: Limits,
    /// Commit to console view model at a paced rate.
    pub feed: FeedReport,
    /// The same writers unpaced, with the console listening.
    pub feed_unpaced: FeedReport,
    /// The unpaced writers' rate with nobody listening.
    pub database_writes_per_second: f64,
    /// Milliseconds to draw each tab (p50, p99) with the large store loaded.
    pub render_ms: Vec<(String, f64, f64)>,
    /// A console process's resident memory with the large store loaded and
    /// drawn (measured in a process of its own), and with nothing loaded.
    pub resident_mb: f64,
    pub resident_empty_mb: f64,
    /// What 100,000 orders (and 10,000 trades) add.
    pub mb_per_100k_orders: f64,
    pub loaded_orders: usize,
    pub loaded_trades: usize,
    /// (writers, through the database layer per second, plain SQL per second).
    pub create_order: Vec<(usize, f64, f64)>,
    /// With 100,000 orders in the day, 1,000 of them working: p50 ms.
    pub active_orders_p50_ms: f64,
    pub today_orders_p50_ms: f64,
    /// With those 100,000 orders: a console's loader started → its first
    /// frame drawn, and → every order of the day in.
    pub first_frame_ms: f64,
    pub all_orders_ms: f64,
    /// `xcoin replay` at full speed on a synthetic recording.
    pub replay: ReplayBench,
}

/// This server's own limits, measured in the same run, and each figure as a
/// ratio to its limit (so a slow day on a shared machine reads the same).
#[derive(Debug, Clone, Default, Serialize)]
pub struct Limits {
    /// A one-row INSERT + COMMIT through the same pool.
    pub commit_p50_ms: f64,
    pub commit_p99_ms: f64,
    /// A trigger's NOTIFY to the listening loader (commit → notified, the
    /// paced feed's first stage, no fetch).
    pub notify_p99_ms: f64,
    /// The working orders' rows fetched by the same driver, undecoded.
    pub raw_active_ms: f64,
    /// Writing transactions per order placed: on its path (place →
    /// SUBMITTED), and with the desk log's writer caught up.
    pub commits_per_order: f64,
    pub commits_per_order_all: f64,
    /// Writing transactions per fill applied.
    pub commits_per_fill: f64,
    /// The pre-trade check's reads of the database per order placed in the
    /// timed run (an order checked against kept inputs reads nothing).
    pub risk_reads_per_order: f64,
    /// place → SUBMITTED p50 ÷ commit p50.
    pub place_ratio: f64,
    /// commit → console p99 ÷ notify p99.
    pub feed_ratio: f64,
    /// active orders decoded ÷ undecoded.
    pub active_ratio: f64,
}

/// A replay of the demo at full speed: every built-in instrument ticking
/// ten times a second of recorded time.
#[derive(Debug, Clone, Default, Serialize)]
pub struct ReplayBench {
    pub ticks: usize,
    pub instruments: usize,
    pub recorded_seconds: u32,
    /// Engine cycles (every 500 ms of recorded time).
    pub cycles: usize,
    pub fills: i64,
    pub seconds: f64,
    pub ticks_per_second: f64,
}

/// The change feed under one writer load.
#[derive(Debug, Clone, Default, Serialize)]
pub struct FeedReport {
    pub target_per_second: Option<u32>,
    pub seconds: f64,
    pub committed: usize,
    pub committed_per_second: f64,
    pub received: usize,
    pub p50_ms: f64,
    pub p95_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
    /// Changes committed but not yet in the model one second after the writers stopped.
    pub backlog: usize,
    /// Each stage of the trip: commit → the loader takes the notification →
    /// rows fetched → applied to the view model → drawn (the next frame).
    pub stages: Vec<Figures>,
    /// Commit → applied, per 10 s of the run (by commit time).
    pub windows: Vec<Figures>,
}

/// p50 / p99 / max of one stage or window, in ms.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Figures {
    pub name: String,
    pub changes: usize,
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
}

impl Figures {
    fn of(name: String, mut d: Vec<Duration>) -> Figures {
        d.sort();
        Figures {
            name,
            changes: d.len(),
            p50_ms: percentile(&d, 0.50),
            p99_ms: percentile(&d, 0.99),
            max_ms: d.last().map_or(0.0, |d| d.as_secs_f64() * 1000.0),
        }
    }
}

/// When one change passed each stage on its way to the screen.
#[derive(Debug, Clone, Copy, Default)]
struct Stamps {
    notified: Option<Instant>,
    fetched: Option<Instant>,
    applied: Option<Instant>,
    drawn: Option<Instant>,
}

fn percentile(sorted: &[Duration], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i].as_secs_f64() * 1000.0
}

/// Runs every measurement and prints a table (or JSON). Long by design: the
/// whole protocol in order, in one place, so a run reads as it measures.
pub async fn run<W: Write>(
    config: &Config,
    json: bool,
    engine_orders: usize,
    feed_seconds: f64,
    out: &mut W,
) -> Result<BenchReport, EngineError> {
    let s = &config.settings;
    let target = Target::from_config(config).map_err(|e| EngineError::Refused(e.to_string()))?;
    let cfg = EngineConfig::from_settings(s);

    let validations = 1_000_000;
    let validation = validation_ns(&cfg, validations);

    let scratch = format!("xcoin_bench_{}", std::process::id());
    let options = target.connect_options().database(&scratch);
    create_database_if_missing(&options).await?;
    let db = Db::connect(options.clone(), PoolConfig::from(&s.database)).await?;
    db.migrate().await?;
    let measured = engine_run(db.clone(), cfg, engine_orders).await;
    let commit_times = db.bench_commit_times(500).await;
    let feeds = async {
        // A desk's tables are not new each morning: 5 s of the same writers,
        // unmeasured, first, so the server's first statistics runs on a
        // table growing from empty fall outside the measured run.
        feed_run(&db, Some(1000), 5.0, false).await?;
        let paced = feed_run(&db, Some(1000), feed_seconds, true).await?;
        let quiet = feed_run(&db, None, feed_seconds.min(5.0), false).await?;
        let unpaced = feed_run(&db, None, feed_seconds.min(5.0), true).await?;
        Ok::<_, EngineError>((paced, quiet, unpaced))
    }
    .await;
    let writes = async {
        let mut rows = Vec::new();
        for writers in [1, 4, 8] {
            let (layer, plain) = create_order_rates(&db, writers, 2_000).await?;
            rows.push((writers, layer, plain));
        }
        let (active, today, raw) = query_times(&db, 100_000, 1_000, 200).await?;
        let first = first_frame(&db).await?;
        Ok::<_, EngineError>((rows, active, today, raw, first))
    }
    .await;
    db.close().await;
    xcoin::db::bench::drop_database(&options).await?;
    let replay = replay_run(&target, s).await;
    let engine::EngineRun { latencies, stages, elapsed, commits } = measured?;
    let replay = replay?;
    let (feed, quiet, feed_unpaced) = feeds?;
    let (create_order, active_orders_p50_ms, today_orders_p50_ms, raw_active_ms, (first_frame_ms, all_orders_ms)) =
        writes?;
    let mut commit_times = commit_times?;
    commit_times.sort();
    let place_p50_ms = percentile(&latencies, 0.50);
    let commit_p50_ms = percentile(&commit_times, 0.50);
    let notify_p99_ms = feed.stages.first().map_or(0.0, |s| s.p99_ms);
    let ratio = |a: f64, b: f64| if b > 0.0 { a / b } else { 0.0 };
    let limits = Limits {
        commit_p50_ms,
        commit_p99_ms: percentile(&commit_times, 0.99),
        notify_p99_ms,
        raw_active_ms,
        commits_per_order: ratio(commits.on_path as f64, commits.orders as f64),
        commits_per_order_all: ratio(commits.per_order_all as f64, commits.orders as f64),
        commits_per_fill: ratio(commits.fill_commits as f64, commits.fills as f64),
        risk_reads_per_order: ratio(commits.risk_reads as f64, latencies.len() as f64),
        place_ratio: ratio(place_p50_ms, commit_p50_ms),
        feed_ratio: ratio(feed.p99_ms, notify_p99_ms),
        active_ratio: ratio(active_orders_p50_ms, raw_active_ms),
    };

    let (loaded_orders, loaded_trades) = (100_000, 10_000);
    let mut app = large_app(loaded_orders, loaded_trades);
    let render_ms = render_times(&mut app, 60);
    drop(app);
    let resident_mb = probe(loaded_orders)?;
    let resident_empty_mb = probe(0)?;

    let report = BenchReport {
        database: target.describe(),
        cpus: std::thread::available_parallelism().map_or(1, |n| n.get()),
        validation_ns_per_order: validation,
        validations,
        place_p50_ms,
        place_p99_ms: percentile(&latencies, 0.99),
        place_stages_p50_ms: stages.each_ref().map(|s| percentile(s, 0.50)),
        engine_orders,
        engine_orders_per_second: engine_orders as f64 / elapsed.as_secs_f64(),
        limits,
        feed,
        feed_unpaced,
        database_writes_per_second: quiet.committed_per_second,
        render_ms,
        resident_mb,
        resident_empty_mb,
        mb_per_100k_orders: (resident_mb - resident_empty_mb) * 100_000.0 / loaded_orders as f64,
        loaded_orders,
        loaded_trades,
        create_order,
        active_orders_p50_ms,
        today_orders_p50_ms,
        first_frame_ms,
        all_orders_ms,
        replay,
    };
    if json {
        writeln!(out, "{}", serde_json::to_string_pretty(&report).expect("the report serialises")).ok();
    } else {
        writeln!(out, "XCoin bench — {} ({} CPUs)", report.database, report.cpus).ok();
        writeln!(
            out,
            "  pre-trade validation             {:>10.0} ns per order ({} orders)",
            report.validation_ns_per_order, report.validations
        )
        .ok();
        writeln!(
            out,
            "  engine place → SUBMITTED         p50 {:.2} ms, p99 {:.2} ms (validate, persist, send, acknowledge)",
            report.place_p50_ms, report.place_p99_ms
        )
        .ok();
        let l = &report.limits;
        let [check, pending, send, ack] = report.place_stages_p50_ms;
        let times = |ms: f64| if l.commit_p50_ms > 0.0 { ms / l.commit_p50_ms } else { 0.0 };
        writeln!(
            out,
            "    by stage, p50                  check {check:.2} ms ({:.1} × commit), PENDING {pending:.2} ({:.1} ×), broker {send:.2}, SUBMITTED {ack:.2} ({:.1} ×)",
            times(check),
            times(pending),
            times(ack)
        )
        .ok();
        writeln!(
            out,
            "  limits, this server now          commit p50 {:.2} ms, p99 {:.2} ms; notify p99 {:.2} ms; active orders undecoded {:.2} ms",
            l.commit_p50_ms, l.commit_p99_ms, l.notify_p99_ms, l.raw_active_ms
        )
        .ok();
        writeln!(
            out,
            "  commits                          {:.2} per order on its path ({:.2} with the desk log), {:.2} per fill; risk reads {:.2} per order",
            l.commits_per_order, l.commits_per_order_all, l.commits_per_fill, l.risk_reads_per_order
        )
        .ok();
        writeln!(
            out,
            "  ratios                           place p50 {:.1} × commit; feed p99 {:.1} × notify; active orders {:.2} × undecoded",
            l.place_ratio, l.feed_ratio, l.active_ratio
        )
        .ok();
        writeln!(
            out,
            "  engine end to end, paper         {:>10.0} orders/s ({} orders placed, filled, positions updated)",
            report.engine_orders_per_second, report.engine_orders
        )
        .ok();
        let f = &report.feed;
        writeln!(
            out,
            "  change feed, {}/s for {:.0} s      commit → console model p50 {:.2} ms, p95 {:.2} ms, p99 {:.2} ms, max {:.2} ms ({} of {} changes, backlog {})",
            f.target_per_second.unwrap_or_default(),
            f.seconds,
            f.p50_ms,
            f.p95_ms,
            f.p99_ms,
            f.max_ms,
            f.received,
            f.committed,
            f.backlog
        )
        .ok();
        for g in f.stages.iter().chain(&f.windows) {
            writeln!(
                out,
                "    {:<28}   p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms ({} changes)",
                g.name, g.p50_ms, g.p99_ms, g.max_ms, g.changes
            )
            .ok();
        }
        let u = &report.feed_unpaced;
        writeln!(
            out,
            "  change feed, unpaced             database alone {:.0} commits/s; with the console {:.0}/s, p99 {:.2} ms, backlog after 1 s {}",
            report.database_writes_per_second, u.committed_per_second, u.p99_ms, u.backlog
        )
        .ok();
        for (writers, layer, plain) in &report.create_order {
            writeln!(
                out,
                "  create order, {writers} writer{}         {layer:>6.0}/s through the database layer, {plain:>6.0}/s plain INSERT ({:.0} %)",
                if *writers == 1 { " " } else { "s" },
                layer / plain * 100.0
            )
            .ok();
        }
        writeln!(
            out,
            "  queries, 100,000 orders today    active orders (1,000) p50 {:.2} ms; today's orders p50 {:.0} ms",
            report.active_orders_p50_ms, report.today_orders_p50_ms
        )
        .ok();
        writeln!(
            out,
            "  console start, 100,000 orders    first frame {:.0} ms; every order of the day in {:.0} ms",
            report.first_frame_ms, report.all_orders_ms
        )
        .ok();
        let r = &report.replay;
        writeln!(
            out,
            "  replay at full speed             {:>10.0} ticks/s ({} ticks of {} instruments over {} recorded s, {} cycles, {} fills, {:.2} s)",
            r.ticks_per_second, r.ticks, r.instruments, r.recorded_seconds, r.cycles, r.fills, r.seconds
        )
        .ok();
        for (tab, p50, p99) in &report.render_ms {
            writeln!(
                out,
                "  {tab:<20}             p50 {p50:.2} ms, p99 {p99:.2} ms ({} orders, {} trades loaded)",
                report.loaded_orders, report.loaded_trades
            )
            .ok();
        }
        writeln!(
            out,
            "  resident memory, console         {:.0} MB with {} orders and {} trades loaded ({:.0} MB empty: {:.0} MB per 100,000 orders)",
            report.resident_mb, report.loaded_orders, report.loaded_trades, report.resident_empty_mb, report.mb_per_100k_orders
        )
        .ok();
    }
    Ok(report)
}
