//! Alerts: the desk hears about trouble without watching the screen.
//!
//! The engine raises an [`Alert`] (kill switch activated or re-armed, an
//! order rejected by the broker, a reconciliation issue opened, the day's
//! loss at 50 % and 80 % of its limit, the database or the broker lost, the
//! Kite session expired) through [`Alerts::raise`], which never waits: the
//! alert is queued for a dispatcher task off the trading path. The
//! dispatcher drops repeats of the same alert within the dedup window,
//! holds the pace to a number per minute (what it holds back is counted and
//! said in the next alert that goes out), and sends each alert through every
//! configured channel ([`Alerter`]: Telegram, e-mail), retrying failures
//! with a doubling backoff. Failures are logged; nothing here can fail or
//! delay an order.
//!
//! It uses the model and the configuration; the engine raises alerts, the
//! alerts know nothing of the engine.

pub mod smtp;
pub mod telegram;

use std::collections::{HashMap, VecDeque};
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use rust_decimal::Decimal;
use tokio::sync::mpsc;
use tokio::time::Instant;

use xcoin_config::Settings;
use xcoin_model::money::rupees;
use xcoin_model::strategy::TradingMode;

/// What an alert is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AlertKind {
    KillSwitchActivated,
    KillSwitchRearmed,
    OrderRejected,
    ReconciliationIssue,
    /// The day's loss reached this percentage of the daily loss limit.
    DailyLoss(u8),
    DatabaseLost,
    /// An engine stopped gracefully while positions or orders were open.
    EngineStopped,
    BrokerLost,
    TokenExpired,
    /// A daily goal was reached.
    Goal,
    /// The day's placements reached this percentage of the broker's daily limit.
    OrderLimit(u8),
    /// The end-of-day report.
    DayReport,
    Test,
}

/// One alert: a one-line title and the detail under it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Alert {
    pub kind: AlertKind,
    pub title: String,
    pub detail: String,
    /// Alerts with the same key within the dedup window are sent once.
    pub key: String,
}

impl Alert {
    fn new(kind: AlertKind, key: impl Into<String>, title: impl Into<String>, detail: impl Into<String>) -> Alert {
        Alert { kind, title: title.into(), detail: detail.into(), key: key.into() }
    }

    pub fn kill_switch_activated(trigger: &str, reason: &str, actor: &str) -> Alert {
        Alert::new(
            AlertKind::KillSwitchActivated,
            "kill-switch",
            "KILL SWITCH ACTIVATED",
            format!("{reason} ({trigger}, by {actor}). New orders are blocked; working orders were cancelled."),
        )
    }

    pub fn day_report(day: chrono::NaiveDate, text: &str) -> Alert {
        Alert::new(AlertKind::DayReport, format!("day-report-{day}"), format!("XCoin: the trading day {day}"), text)
    }

    pub fn goal_reached(scope: &str, goal: &str, figures: &str, action: &str) -> Alert {
        Alert::new(
            AlertKind::Goal,
            format!("goal-{scope}-{goal}"),
            format!("Daily goal reached: {goal} ({scope})"),
            format!("{figures}. Action: {action}."),
        )
    }

    pub fn kill_switch_rearmed(reason: &str, actor: &str) -> Alert {
        Alert::new(
            AlertKind::KillSwitchRearmed,
            "kill-switch-rearmed",
            "Kill switch re-armed",
            format!("Trading is allowed again: {reason} (by {actor})."),
        )
    }

    pub fn order_limit_near(level: u8, detail: &str) -> Alert {
        Alert::new(
            AlertKind::OrderLimit(level),
            format!("order-limit-{level}"),
            format!("{level} % of the broker's daily order limit used"),
            detail,
        )
    }

    pub fn order_rejected(order_id: i64, what: &str, message: &str) -> Alert {
        Alert::new(
            AlertKind::OrderRejected,
            format!("rejected-{order_id}"),
            format!("Order {order_id} rejected by the broker"),
            format!("{what}: {message}"),
        )
    }

    pub fn reconciliation_issue(issue_id: i64, kind: &str, instrument: &str, details: &str) -> Alert {
        Alert::new(
            AlertKind::ReconciliationIssue,
            format!("issue-{issue_id}"),
            format!("Reconciliation: {kind} {instrument}"),
            format!("Issue {issue_id}: {details}. Resolve it in the console's Reconciliation tab."),
        )
    }

    pub fn daily_loss(percent: u8, loss: Decimal, limit: Decimal) -> Alert {
        Alert::new(
            AlertKind::DailyLoss(percent),
            format!("daily-loss-{percent}"),
            format!("Daily loss at {percent} % of the limit"),
            format!("Today's loss is {} of the {} limit; the kill switch trips at 100 %.", rupees(loss), rupees(limit)),
        )
    }

    /// An engine stopped gracefully while positions or orders were open.
    pub fn engine_stopped_exposed(detail: &str) -> Alert {
        Alert::new(AlertKind::EngineStopped, "engine-stopped", "Engine stopped with the desk exposed", detail)
    }

    pub fn database_lost(error: &str) -> Alert {
        Alert::new(
            AlertKind::DatabaseLost,
            "database-lost",
            "Engine lost its database",
            format!("No orders until it is back: {error}"),
        )
    }

    pub fn broker_lost(error: &str) -> Alert {
        Alert::new(AlertKind::BrokerLost, "broker-lost", "Engine lost the broker", error.to_string())
    }

    pub fn token_expired(message: &str) -> Alert {
        Alert::new(
            AlertKind::TokenExpired,
            "token-expired",
            "Kite session expired: trading stopped",
            format!(
                "{}. Log in again with `xcoin kite login`, then restart the engine.",
                message.trim_end_matches('.')
            ),
        )
    }

    pub fn test(operator: &str) -> Alert {
        Alert::new(
            AlertKind::Test,
            "test",
            "Test alert",
            format!("Sent by {operator} with `xcoin alert test`: this channel reaches the desk."),
        )
    }

    /// The subject line every channel uses.
    pub fn subject(&self, mode: TradingMode) -> String {
        format!("XCoin {mode}: {}", self.title)
    }

    /// The whole message every channel sends: the subject, then the detail.
    pub fn text(&self, mode: TradingMode) -> String {
        format!("{}\n{}", self.subject(mode), self.detail)
    }
}

/// A send that did not go through.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AlertError {
    #[error("{0}")]
    Config(String),
    #[error("could not reach {service}: {detail}")]
    Unreachable { service: &'static str, detail: String },
    #[error("{service} refused it: {detail}")]
    Refused { service: &'static str, detail: String },
}

/// A boxed send, so channels of different kinds live in one list.
pub type SendFuture<'a> = Pin<Box<dyn Future<Output = Result<(), AlertError>> + Send + 'a>>;

/// One way of reaching the desk.
pub trait Alerter: Send + Sync {
    /// The channel's name, in logs and in `xcoin alert test`.
    fn name(&self) -> &'static str;
    /// Where it sends, for the operator ("chat 12345", "ops@desk.in via …").
    fn destination(&self) -> String;
    /// Sends one message; `subject` is its first line, `text` all of it.
    fn send<'a>(&'a self, subject: &'a str, text: &'a str) -> SendFuture<'a>;
}

/// The channels the configuration sets up: Telegram when a bot token and
/// chat are set, e-mail when a host, sender and recipient are set.
pub fn configured_channels(s: &Settings) -> Result<Vec<Arc<dyn Alerter>>, AlertError> {
    let mut channels: Vec<Arc<dyn Alerter>> = Vec::new();
    if let Some(t) = telegram::Telegram::from_settings(&s.alerts.telegram)? {
        channels.push(Arc::new(t));
    }
    if let Some(m) = smtp::Smtp::from_settings(&s.alerts.smtp)? {
        channels.push(Arc::new(m));
    }
    Ok(channels)
}

/// `xcoin alert test`: one test message through each configured channel,
/// sent once (no retries) and reported line by line. True when every
/// configured channel took it.
pub async fn test_channels(s: &Settings, out: &mut impl std::io::Write) -> bool {
    let channels = match configured_channels(s) {
        Ok(channels) => channels,
        Err(e) => {
            let _ = writeln!(out, "✗ {e}");
            return false;
        }
    };
    if channels.is_empty() {
        let _ = writeln!(
            out,
            "No alert channel is configured: set alerts.telegram.bot_token and alerts.telegram.chat_id, \
             or alerts.smtp.host, alerts.smtp.from and alerts.smtp.to."
        );
        return false;
    }
    let alert = Alert::test(&s.operator_name());
    let (subject, text) = (alert.subject(s.app.mode), alert.text(s.app.mode));
    let mut all = true;
    for channel in channels {
        match channel.send(&subject, &text).await {
            Ok(()) => {
                let _ = writeln!(out, "✓ {:<9} sent to {}", channel.name(), channel.destination());
            }
            Err(e) => {
                all = false;
                let _ = writeln!(out, "✗ {:<9} not sent to {}: {e}", channel.name(), channel.destination());
            }
        }
    }
    all
}

/// How the dispatcher paces, retries and drops repeats.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Policy {
    /// The same alert (by key) within this window is sent once.
    pub dedup_window: Duration,
    /// At most this many alerts go out in any minute.
    pub per_minute: usize,
    /// Attempts per channel after the first one fails.
    pub retries: u32,
    /// The wait before the first retry; it doubles each time.
    pub first_backoff: Duration,
}

impl Default for Policy {
    fn default() -> Self {
        Policy {
            dedup_window: Duration::from_secs(600),
            per_minute: 12,
            retries: 5,
            first_backoff: Duration::from_secs(2),
        }
    }
}

/// Alerts waiting for the dispatcher; past this, new ones are dropped (and logged).
const QUEUE: usize = 256;

/// The handle the engine raises alerts through. Cheap to clone; a disabled
/// one (no channels configured) drops every alert after logging it.
#[derive(Debug, Clone, Default)]
pub struct Alerts {
    tx: Option<mpsc::Sender<Alert>>,
    /// Deliveries (an alert through one channel) queued and not yet done,
    /// so a stopping process can let the last alerts go out.
    unsent: Arc<std::sync::atomic::AtomicUsize>,
}

impl Alerts {
    pub fn disabled() -> Alerts {
        Alerts::default()
    }

    /// Starts the dispatcher for these channels (none: a disabled handle).
    pub fn start(channels: Vec<Arc<dyn Alerter>>, policy: Policy, mode: TradingMode) -> Alerts {
        if channels.is_empty() {
            return Alerts::disabled();
        }
        let (tx, rx) = mpsc::channel(QUEUE);
        let unsent = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        tokio::spawn(dispatch(rx, channels, policy, mode, unsent.clone()));
        Alerts { tx: Some(tx), unsent }
    }

    /// Waits (at most `within`) until every alert raised so far has been
    /// sent, given up on, or left out (repeated, rate-limited): what a
    /// stopping process does so that its last alerts go out.
    pub async fn settle(&self, within: Duration) {
        let deadline = tokio::time::Instant::now() + within;
        while self.unsent.load(std::sync::atomic::Ordering::SeqCst) > 0 && tokio::time::Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Queues an alert; never waits and never fails the caller.
    pub fn raise(&self, alert: Alert) {
        tracing::warn!(title = %alert.title, detail = %alert.detail, "alert");
        let Some(tx) = &self.tx else { return };
        self.unsent.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        if let Err(e) = tx.try_send(alert) {
            self.unsent.fetch_sub(1, std::sync::atomic::Ordering::SeqCst);
            tracing::error!(error = %e, "alert not queued: the alert queue is full or closed");
        }
    }

    pub fn is_enabled(&self) -> bool {
        self.tx.is_some()
    }
}

async fn dispatch(
    mut rx: mpsc::Receiver<Alert>,
    channels: Vec<Arc<dyn Alerter>>,
    policy: Policy,
    mode: TradingMode,
    unsent: Arc<std::sync::atomic::AtomicUsize>,
) {
    use std::sync::atomic::Ordering::SeqCst;
    // One worker per channel: each channel gets the alerts in order, and a
    // slow or failing one holds up only itself.
    let workers: Vec<(&'static str, mpsc::Sender<(String, String)>)> = channels
        .into_iter()
        .map(|channel| {
            let (tx, mut rx) = mpsc::channel::<(String, String)>(QUEUE);
            let name = channel.name();
            let unsent = unsent.clone();
            tokio::spawn(async move {
                while let Some((subject, text)) = rx.recv().await {
                    send_with_retry(channel.clone(), subject, text, policy).await;
                    unsent.fetch_sub(1, SeqCst);
                }
            });
            (name, tx)
        })
        .collect();
    let mut last_sent: HashMap<String, Instant> = HashMap::new();
    let mut window: VecDeque<Instant> = VecDeque::new();
    let mut held_back = 0usize;
    while let Some(alert) = rx.recv().await {
        let now = Instant::now();
        last_sent.retain(|_, at| now.duration_since(*at) < policy.dedup_window);
        if last_sent.contains_key(&alert.key) {
            tracing::debug!(key = %alert.key, "alert repeated within the dedup window; not sent again");
            unsent.fetch_sub(1, SeqCst);
            continue;
        }
        while window.front().is_some_and(|at| now.duration_since(*at) >= Duration::from_secs(60)) {
            window.pop_front();
        }
        if window.len() >= policy.per_minute {
            held_back += 1;
            tracing::warn!(title = %alert.title, "alert held back: {} already sent this minute", policy.per_minute);
            unsent.fetch_sub(1, SeqCst);
            continue;
        }
        last_sent.insert(alert.key.clone(), now);
        window.push_back(now);
        let subject = alert.subject(mode);
        let mut text = alert.text(mode);
        if held_back > 0 {
            text.push_str(&format!("\n({held_back} earlier alerts were held back by the rate limit; see the log.)"));
            held_back = 0;
        }
        // One delivery a channel, in place of the one raised.
        unsent.fetch_add(workers.len(), SeqCst);
        unsent.fetch_sub(1, SeqCst);
        for (name, worker) in &workers {
            if worker.try_send((subject.clone(), text.clone())).is_err() {
                unsent.fetch_sub(1, SeqCst);
                tracing::error!(channel = name, %subject, "alert dropped: the channel is too far behind");
            }
        }
    }
}

/// Sends through one channel, retrying with a doubling backoff.
pub async fn send_with_retry(channel: Arc<dyn Alerter>, subject: String, text: String, policy: Policy) -> bool {
    let mut backoff = xcoin_model::backoff::Backoff::new(policy.first_backoff, Duration::MAX);
    for attempt in 0..=policy.retries {
        match channel.send(&subject, &text).await {
            Ok(()) => return true,
            Err(e) if attempt < policy.retries => {
                let pause = backoff.next_pause();
                tracing::warn!(channel = channel.name(), error = %e, retry_in = ?pause, "alert not sent; retrying");
                tokio::time::sleep(pause).await;
            }
            Err(e) => {
                tracing::error!(channel = channel.name(), error = %e, %subject, "alert not sent; giving up");
            }
        }
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;
    use rust_decimal_macros::dec;
    use std::sync::Mutex;

    /// A channel that records what it is asked to send and fails the first
    /// `failures` attempts.
    #[derive(Default)]
    struct Recorder {
        sent: Mutex<Vec<(Instant, String)>>,
        attempts: Mutex<u32>,
        failures: u32,
    }

    impl Alerter for Recorder {
        fn name(&self) -> &'static str {
            "recorder"
        }
        fn destination(&self) -> String {
            "memory".into()
        }
        fn send<'a>(&'a self, _subject: &'a str, text: &'a str) -> SendFuture<'a> {
            Box::pin(async move {
                let mut attempts = self.attempts.lock().unwrap();
                *attempts += 1;
                if *attempts <= self.failures {
                    return Err(AlertError::Unreachable { service: "recorder", detail: "down".into() });
                }
                self.sent.lock().unwrap().push((Instant::now(), text.to_string()));
                Ok(())
            })
        }
    }

    async fn settle() {
        for _ in 0..50 {
            tokio::task::yield_now().await;
        }
    }

    #[test]
    fn each_alert_says_what_happened_in_words() {
        let a = Alert::kill_switch_activated("DAILY_LOSS", "daily loss ₹2000.00 reached the limit ₹2000.00", "engine");
        assert_eq!(
            a.text(TradingMode::Live),
            "XCoin LIVE: KILL SWITCH ACTIVATED\ndaily loss ₹2000.00 reached the limit ₹2000.00 (DAILY_LOSS, by engine). \
             New orders are blocked; working orders were cancelled."
        );
        let l = Alert::daily_loss(80, dec!(1600.456), dec!(2000));
        assert_eq!(
            l.text(TradingMode::Paper),
            "XCoin PAPER: Daily loss at 80 % of the limit\n\
             Today's loss is ₹1,600.46 of the ₹2,000.00 limit; the kill switch trips at 100 %."
        );
        assert_eq!(
            Alert::order_rejected(42, "BUY 10 INFY", "Insufficient funds").text(TradingMode::Live),
            "XCoin LIVE: Order 42 rejected by the broker\nBUY 10 INFY: Insufficient funds"
        );
        assert_eq!(
            Alert::token_expired("Incorrect `api_key` or `access_token`.").detail,
            "Incorrect `api_key` or `access_token`. Log in again with `xcoin kite login`, then restart the engine."
        );
    }

    #[tokio::test(start_paused = true)]
    async fn repeats_are_dropped_the_pace_is_held_and_what_was_held_back_is_said() {
        let recorder = Arc::new(Recorder::default());
        let policy = Policy { per_minute: 3, ..Policy::default() };
        let alerts = Alerts::start(vec![recorder.clone()], policy, TradingMode::Paper);
        alerts.raise(Alert::database_lost("connection refused"));
        alerts.raise(Alert::database_lost("connection refused again"));
        for id in 1..=4 {
            alerts.raise(Alert::order_rejected(id, "BUY 1 INFY", "RMS"));
        }
        settle().await;
        let sent: Vec<String> = recorder.sent.lock().unwrap().iter().map(|s| s.1.clone()).collect();
        assert_eq!(sent.len(), 3, "one database alert, two rejections, then the pace: {sent:?}");
        assert!(sent[0].ends_with("No orders until it is back: connection refused"));
        assert!(sent[2].starts_with("XCoin PAPER: Order 2 rejected"));

        // A minute later the next alert goes out and says what was held back.
        tokio::time::advance(Duration::from_secs(61)).await;
        alerts.raise(Alert::kill_switch_rearmed("checked", "asha"));
        settle().await;
        let last = recorder.sent.lock().unwrap().last().unwrap().1.clone();
        assert_eq!(
            last,
            "XCoin PAPER: Kill switch re-armed\nTrading is allowed again: checked (by asha).\n\
             (2 earlier alerts were held back by the rate limit; see the log.)"
        );
        // The database alert is still within its dedup window; after it, it goes out again.
        alerts.raise(Alert::database_lost("down"));
        settle().await;
        assert_eq!(recorder.sent.lock().unwrap().len(), 4);
        tokio::time::advance(Duration::from_secs(600)).await;
        alerts.raise(Alert::database_lost("down"));
        settle().await;
        assert_eq!(recorder.sent.lock().unwrap().len(), 5);
    }

    /// A stopping process waits for its last alerts: through every channel,
    /// retries included; one left out (a repeat) is not waited for.
    #[tokio::test(start_paused = true)]
    async fn settle_waits_until_every_raised_alert_is_sent_or_left_out() {
        let (slow, fine) = (Arc::new(Recorder { failures: 2, ..Recorder::default() }), Arc::new(Recorder::default()));
        let alerts = Alerts::start(vec![slow.clone(), fine.clone()], Policy::default(), TradingMode::Paper);
        alerts.raise(Alert::engine_stopped_exposed("engine stopped with 1 open position unwatched"));
        alerts.raise(Alert::engine_stopped_exposed("again"));
        let started = Instant::now();
        alerts.settle(Duration::from_secs(60)).await;
        // Two failures: 2 s and 4 s of backoff before the slow channel's third attempt.
        assert_eq!(started.elapsed(), Duration::from_secs(6) + Duration::from_millis(20));
        for r in [&slow, &fine] {
            let sent: Vec<String> = r.sent.lock().unwrap().iter().map(|s| s.1.clone()).collect();
            assert_eq!(
                sent,
                ["XCoin PAPER: Engine stopped with the desk exposed\nengine stopped with 1 open position unwatched"]
            );
        }
        assert_eq!(alerts.unsent.load(std::sync::atomic::Ordering::SeqCst), 0);
    }

    #[tokio::test(start_paused = true)]
    async fn failures_are_retried_with_a_doubling_backoff() {
        let recorder = Arc::new(Recorder { failures: 3, ..Recorder::default() });
        let started = Instant::now();
        let sent = send_with_retry(recorder.clone(), "s".into(), "t".into(), Policy::default()).await;
        assert!(sent);
        assert_eq!(*recorder.attempts.lock().unwrap(), 4);
        // 2 + 4 + 8 seconds of backoff before the fourth attempt.
        assert_eq!(recorder.sent.lock().unwrap()[0].0 - started, Duration::from_secs(14));

        let hopeless = Arc::new(Recorder { failures: 100, ..Recorder::default() });
        let policy = Policy { retries: 2, ..Policy::default() };
        assert!(!send_with_retry(hopeless.clone(), "s".into(), "t".into(), policy).await);
        assert_eq!(*hopeless.attempts.lock().unwrap(), 3);
    }

    #[tokio::test]
    async fn the_test_command_sends_through_each_channel_and_reports_each() {
        use xcoin_testkit::http::{Reply, Server};
        use xcoin_testkit::mail::MailServer;
        let refused = r#"{"ok":false,"error_code":403,"description":"Forbidden: bot was blocked by the user"}"#;
        let telegram = Server::start(vec![(
            "POST /bot77:tok/sendMessage",
            vec![Reply::Body(200, r#"{"ok":true}"#.into()), Reply::Body(403, refused.into())],
        )])
        .await;
        let mail = MailServer::start().await;
        let mut s = Settings::default();
        s.app.operator = Some("asha".into());
        s.alerts.telegram.api_url = telegram.base_url.clone();
        s.alerts.telegram.bot_token = Some(xcoin_config::Secret::new("77:tok"));
        s.alerts.telegram.chat_id = Some("5".into());
        s.alerts.smtp = mail.settings("ops@desk.example");

        let mut out = Vec::new();
        assert!(test_channels(&s, &mut out).await);
        assert_eq!(
            String::from_utf8(out).unwrap(),
            format!("✓ telegram  sent to chat 5\n✓ e-mail    sent to ops@desk.example via 127.0.0.1:{}\n", mail.port)
        );
        let text = "XCoin PAPER: Test alert\nSent by asha with `xcoin alert test`: this channel reaches the desk.";
        let body: serde_json::Value = serde_json::from_str(&telegram.seen()[0].body).unwrap();
        assert_eq!(body["text"], text);
        assert!(mail.messages.lock().unwrap()[0].contains("Subject: XCoin PAPER: Test alert"));

        // The bot was blocked since: said, and the command fails.
        let mut out = Vec::new();
        assert!(!test_channels(&s, &mut out).await);
        let report = String::from_utf8(out).unwrap();
        assert!(
            report.starts_with(
                "✗ telegram  not sent to chat 5: Telegram refused it: HTTP 403: Forbidden: bot was blocked by the user\n"
            ),
            "{report}"
        );

        let mut out = Vec::new();
        assert!(!test_channels(&Settings::default(), &mut out).await);
        assert!(String::from_utf8(out).unwrap().starts_with("No alert channel is configured: set alerts.telegram"));
        s.alerts.telegram.chat_id = None;
        let mut out = Vec::new();
        assert!(!test_channels(&s, &mut out).await);
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "✗ alerts.telegram.chat_id is missing (alerts.telegram.bot_token is set)\n"
        );
    }

    #[tokio::test]
    async fn raising_never_waits_even_when_the_queue_is_full() {
        struct Stuck;
        impl Alerter for Stuck {
            fn name(&self) -> &'static str {
                "stuck"
            }
            fn destination(&self) -> String {
                "nowhere".into()
            }
            fn send<'a>(&'a self, _: &'a str, _: &'a str) -> SendFuture<'a> {
                Box::pin(std::future::pending())
            }
        }
        let alerts = Alerts::start(vec![Arc::new(Stuck)], Policy::default(), TradingMode::Live);
        // Were raising to wait for the stuck channel, this would never finish.
        let raised = tokio::time::timeout(Duration::from_secs(10), async {
            for id in 0..(QUEUE as i64 * 4) {
                alerts.raise(Alert::order_rejected(id, "SELL 1 ITC", "x"));
                tokio::task::yield_now().await;
            }
        })
        .await;
        assert_eq!(raised, Ok(()), "raising waited for the stuck channel");
        assert!(!Alerts::disabled().is_enabled());
        Alerts::disabled().raise(Alert::test("nobody"));
    }
}
