//! The dashboard port (`DASHBOARD_HOST`, `DASHBOARD_PORT`): HTTP served by
//! the engine. `/healthz` says how the database, the engine lock,
//! the broker and the Kite ticker are (200 when all are well, else 503);
//! `/metrics` is the Prometheus exposition (prometheus-client), read from
//! the database at each scrape; `/api/today` is `xcoin status --json`.
//! With a token configured, every request carries `Authorization: Bearer`.
//! `POST /api/signal` takes orders from outside (see [`crate::webhook`]);
//! each signal carries its strategy's own token instead.

use std::sync::Arc;
use std::time::Instant;

use axum::Router;
use axum::extract::{Request, State};
use axum::http::{StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;
use rust_decimal::prelude::ToPrimitive;
use tokio::sync::watch;

use xcoin_broker::MarketData;
use xcoin_config::Config;
use xcoin_db::Db;
use xcoin_engine::EngineHealth;
use xcoin_model::feed::{TickerState, TickerStatus};

/// What the handlers read; `M` is the broker's market data.
pub struct Dashboard<M> {
    pub db: Db,
    pub config: Config,
    pub engine: watch::Receiver<EngineHealth>,
    pub ticker: Option<watch::Receiver<TickerStatus>>,
    /// The broker's prices, for a signal sized by risk at market.
    pub market: Option<M>,
}

/// Serves until `shutdown` turns true.
pub async fn serve<M: MarketData + Send + Sync + 'static>(
    listener: tokio::net::TcpListener,
    dashboard: Dashboard<M>,
    mut shutdown: watch::Receiver<bool>,
) -> std::io::Result<()> {
    let token = dashboard.config.settings.dashboard.token.as_ref().map(|t| t.expose().to_string());
    let limit = Arc::new(crate::webhook::RateLimit::new(dashboard.config.settings.dashboard.signals_per_minute));
    let dashboard = Arc::new(dashboard);
    let hook = dashboard.clone();
    let app = Router::new()
        .route("/healthz", get(healthz::<M>))
        .route("/metrics", get(metrics::<M>))
        .route("/api/today", get(today::<M>))
        .route_layer(middleware::from_fn_with_state(Arc::new(token), bearer))
        .route("/api/signal", post(move |body: axum::body::Bytes| async move { signal(&hook, &limit, &body).await }))
        .with_state(dashboard);
    axum::serve(listener, app)
        .with_graceful_shutdown(async move {
            while !*shutdown.borrow() {
                if shutdown.changed().await.is_err() {
                    break;
                }
            }
        })
        .await
}

/// Refuses a request without the configured bearer token.
async fn bearer(State(token): State<Arc<Option<String>>>, request: Request, next: Next) -> Response {
    let Some(token) = token.as_ref() else { return next.run(request).await };
    let given = request.headers().get(header::AUTHORIZATION).and_then(|v| v.to_str().ok());
    if given.and_then(|v| v.strip_prefix("Bearer ")).is_some_and(|g| constant_time_eq(g.as_bytes(), token.as_bytes())) {
        next.run(request).await
    } else {
        (StatusCode::UNAUTHORIZED, [(header::WWW_AUTHENTICATE, "Bearer")], "a bearer token is required\n")
            .into_response()
    }
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

async fn healthz<M>(State(d): State<Arc<Dashboard<M>>>) -> Response {
    let started = Instant::now();
    let db = d.db.health().await;
    let database = match &db {
        Ok(_) => serde_json::json!({"state": "ok", "round_trip_ms": started.elapsed().as_secs_f64() * 1000.0}),
        Err(e) => serde_json::json!({"state": "down", "error": e.to_string()}),
    };
    let engine = *d.engine.borrow();
    let holder = if db.is_ok() { d.db.engine_lock_holder().await.ok().flatten() } else { None };
    let lock = serde_json::json!({
        "state": if engine.lock_held { "held" } else { "lost" },
        "holder_pid": holder.map(|h| h.pid),
    });
    let broker_ok = engine.broker_reachable && !engine.session_expired;
    let broker = serde_json::json!({
        "state": if engine.session_expired { "session_expired" } else if engine.broker_reachable { "ok" } else { "unreachable" },
        "kind": d.config.settings.app.mode.broker().to_string(),
    });
    let (ticker, ticker_ok) = match &d.ticker {
        None => (serde_json::json!({"state": "none (paper exchange)"}), true),
        Some(t) => {
            let t = t.borrow().clone();
            (
                serde_json::json!({"state": format!("{:?}", t.state).to_lowercase(), "connections": t.connections}),
                t.state == TickerState::Connected,
            )
        }
    };
    let well = db.is_ok() && engine.lock_held && broker_ok && ticker_ok;
    let body = serde_json::json!({
        "status": if well { "ok" } else { "degraded" },
        "database": database, "lock": lock, "broker": broker, "ticker": ticker,
    });
    let code = if well { StatusCode::OK } else { StatusCode::SERVICE_UNAVAILABLE };
    (code, axum::Json(body)).into_response()
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct Status {
    status: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct Rule {
    rule: String,
}

fn gauge(registry: &mut Registry, name: &str, help: &str, value: i64) {
    let g: Gauge = Gauge::default();
    g.set(value);
    registry.register(name, help, g);
}

fn histogram(registry: &mut Registry, name: &str, help: &str, values: &[f64]) {
    let h = Histogram::new(exponential_buckets(0.000_5, 2.0, 14));
    for v in values {
        h.observe(*v);
    }
    registry.register(name, help, h);
}

async fn metrics<M>(State(d): State<Arc<Dashboard<M>>>) -> Response {
    let s = match d.db.scrape().await {
        Ok(s) => s,
        Err(e) => {
            return (StatusCode::SERVICE_UNAVAILABLE, format!("the database did not answer: {e}\n")).into_response();
        }
    };
    let mut r = Registry::with_prefix("xcoin");
    let by_status: Family<Status, Gauge> = Family::default();
    for (status, n) in &s.orders_by_status {
        by_status.get_or_create(&Status { status: status.clone() }).set(*n);
    }
    r.register("orders", "Today's orders by status", by_status);
    let rejections: Family<Rule, Gauge> = Family::default();
    for (rule, n) in &s.rejections_by_rule {
        rejections.get_or_create(&Rule { rule: rule.clone() }).set(*n);
    }
    r.register("rejections", "Today's refused orders by the rule that refused them", rejections);
    let commands: Family<Status, Gauge> = Family::default();
    for (status, n) in &s.commands_by_status {
        commands.get_or_create(&Status { status: status.clone() }).set(*n);
    }
    r.register("commands", "Today's operator commands by result", commands);
    gauge(&mut r, "fills", "Today's fills", s.fills);
    let pnl: Gauge<f64, std::sync::atomic::AtomicU64> = Gauge::default();
    pnl.set(xcoin_model::to_paisa(s.net_pnl).to_f64().unwrap_or(0.0));
    r.register("net_pnl_rupees", "Today's net P&L in rupees, to the paisa", pnl);
    gauge(&mut r, "open_positions", "Open positions", s.open_positions);
    gauge(&mut r, "open_reconciliation_issues", "Open reconciliation issues", s.open_issues);
    gauge(&mut r, "kill_switch_active", "1 while the kill switch is active", i64::from(s.kill_switch_active));
    gauge(&mut r, "broker_requests", "Write requests sent to the broker today", s.broker_writes);
    if let Some(cap) = d.config.settings.app.mode.broker().daily_write_cap() {
        gauge(&mut r, "broker_requests_cap", "The broker's daily cap on write requests", i64::from(cap));
    }
    histogram(
        &mut r,
        "place_to_ack_seconds",
        "From an order's creation to the broker's acknowledgement",
        &s.place_to_ack,
    );
    histogram(
        &mut r,
        "command_pickup_seconds",
        "From a command's insert to the engine claiming it (the change feed)",
        &s.command_pickup,
    );
    let mut text = String::new();
    if let Err(e) = prometheus_client::encoding::text::encode(&mut text, &r) {
        return (StatusCode::INTERNAL_SERVER_ERROR, format!("{e}\n")).into_response();
    }
    ([(header::CONTENT_TYPE, "application/openmetrics-text; version=1.0.0; charset=utf-8")], text).into_response()
}

async fn today<M>(State(d): State<Arc<Dashboard<M>>>) -> Response {
    match xcoin_db::report::today_json(&d.config, &d.db).await {
        Ok(v) => axum::Json(v).into_response(),
        Err(e) => (StatusCode::SERVICE_UNAVAILABLE, format!("{e}\n")).into_response(),
    }
}

async fn signal<M: MarketData>(d: &Dashboard<M>, limit: &crate::webhook::RateLimit, body: &[u8]) -> Response {
    let ticks = d.config.settings.risk_limits().ticks;
    let last_price = async |symbol: &str, exchange: xcoin_model::order::Exchange| {
        let market = d.market.as_ref()?;
        let prices = market.last_prices().await.ok()?;
        prices.into_iter().find(|t| t.symbol == symbol && t.exchange == exchange).map(|t| t.last_price)
    };
    crate::webhook::handle(&d.db, limit, &ticks, last_price, body).await
}
