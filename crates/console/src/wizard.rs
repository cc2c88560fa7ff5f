//! The first-launch wizard: database, mode, capital and risk limits,
//! alerts, demo — then `config/local.toml` (mode 0600) and straight into the
//! console. Esc goes back a step; the configuration file is written only at
//! the last step. Creating the database and applying migrations happen at the
//! database step, with every verification step shown, because the desk
//! cannot start without them.

use crossterm::event::{KeyCode, KeyEvent};
use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Paragraph, Widget, Wrap};
use rust_decimal::Decimal;

use super::action::{Action, Scope, action_for, edit, hints};
use xcoin_config::ConfigPaths;
use xcoin_model::money::parse_rupees;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    Database,
    Mode,
    Live,
    Risk,
    Alerts,
    Demo,
    Review,
}

/// What the wizard needs the runtime to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WizardEffect {
    /// Connect to the chosen database, create it if missing, migrate, verify.
    PrepareDatabase,
    /// Write the configuration file and open the console.
    Write,
    Quit,
}

pub const RISK_FIELDS: [&str; 5] =
    ["capital (₹)", "max risk per trade %", "max daily loss %", "max drawdown %", "max open positions"];
pub const LIVE_FIELDS: [&str; 4] = ["Kite API key", "Kite API secret", "access token", "type LIVE to confirm"];
pub const ALERT_FIELDS: [&str; 8] = [
    "Telegram bot token",
    "Telegram chat id",
    "SMTP host",
    "SMTP port",
    "SMTP user",
    "SMTP password",
    "SMTP from",
    "SMTP to",
];

pub struct Wizard {
    pub step: Step,
    /// false: the managed local PostgreSQL; true: a URL.
    pub use_url: bool,
    pub url: String,
    /// Lines of the database preparation, and whether it succeeded.
    pub prepared: Option<(bool, Vec<String>)>,
    pub live: bool,
    pub kite: [String; 4],
    pub risk: [String; 5],
    pub alerts: [String; 8],
    pub demo: bool,
    pub focus: usize,
    pub error: Option<String>,
    /// Esc on the first step asked to leave: a second Esc quits, any other
    /// key stays.
    pub quit_asked: bool,
    pub paths: ConfigPaths,
}

fn masked(s: &str) -> String {
    "•".repeat(s.chars().count())
}

/// A database URL as it is typed, its password masked: the password is what
/// follows `user:` up to the last `@`. Before the `@` is typed, `host:5432`
/// and `user:secret` look alike: what follows the colon is masked unless it
/// is all digits (a port).
pub fn masked_url(url: &str) -> String {
    let (scheme, rest) = url.split_once("://").map_or(("", url), |(s, r)| (s, r));
    let prefix = if url.contains("://") { format!("{scheme}://") } else { String::new() };
    let authority_end = rest.find(['/', '?']).unwrap_or(rest.len());
    let (authority, tail) = match rest.rfind('@') {
        Some(at) => rest.split_at(at),
        None => rest.split_at(authority_end),
    };
    let shown = match authority.split_once(':') {
        Some((user, secret)) if rest.contains('@') || secret.chars().any(|c| !c.is_ascii_digit()) => {
            format!("{user}:{}", masked(secret))
        }
        _ => authority.to_string(),
    };
    format!("{prefix}{shown}{tail}")
}

impl Wizard {
    pub fn new(paths: ConfigPaths) -> Wizard {
        let d = xcoin_config::Settings::default();
        Wizard {
            step: Step::Database,
            use_url: false,
            url: String::new(),
            prepared: None,
            live: false,
            kite: Default::default(),
            risk: [
                d.account.capital.to_string(),
                d.risk.max_risk_per_trade_pct.to_string(),
                d.risk.max_daily_loss_pct.to_string(),
                d.risk.max_drawdown_pct.to_string(),
                d.risk.max_open_positions.to_string(),
            ],
            alerts: [
                String::new(),
                String::new(),
                String::new(),
                d.alerts.smtp.port.to_string(),
                String::new(),
                String::new(),
                String::new(),
                String::new(),
            ],
            demo: true,
            focus: 0,
            error: None,
            quit_asked: false,
            paths,
        }
    }

    /// The database URL chosen, or `None` for the managed local database.
    pub fn database_url(&self) -> Option<String> {
        (self.use_url && !self.url.trim().is_empty()).then(|| self.url.trim().to_string())
    }

    /// What keeps the chosen database URL from being tried, in words (its
    /// password masked); `None` for the private PostgreSQL.
    pub fn database_url_error(&self) -> Option<String> {
        if !self.use_url {
            return None;
        }
        let url = self.url.trim();
        if url.is_empty() {
            return Some(
                "database URL: empty; expected postgres://user@host:port/database, or choose the private PostgreSQL"
                    .into(),
            );
        }
        xcoin_config::database_url_problem(url).map(|why| format!("database URL: `{}` {why}", masked_url(url)))
    }

    /// The first risk field that is wrong, in words.
    pub fn risk_error(&self) -> Option<String> {
        if parse_rupees(&self.risk[0]).is_none_or(|c| c <= Decimal::ZERO) {
            return Some(format!(
                "capital: `{}` must be an amount in rupees greater than 0, such as 100000, 1,00,000 or 100,000",
                self.risk[0]
            ));
        }
        for (i, name) in RISK_FIELDS.iter().enumerate().skip(1).take(3) {
            let ok =
                self.risk[i].trim().parse::<Decimal>().is_ok_and(|v| v > Decimal::ZERO && v <= Decimal::ONE_HUNDRED);
            if !ok {
                return Some(format!("{name}: `{}` must be a percentage greater than 0 and at most 100", self.risk[i]));
            }
        }
        if !self.risk[4].trim().parse::<u32>().is_ok_and(|n| n >= 1) {
            return Some(format!("max open positions: `{}` must be a whole number, at least 1", self.risk[4]));
        }
        None
    }

    fn live_error(&self) -> Option<String> {
        // The access token may wait for `xcoin kite login`: it lasts one day anyway.
        for (i, name) in LIVE_FIELDS.iter().enumerate().take(2) {
            if self.kite[i].trim().is_empty() {
                return Some(format!("{name} is needed for LIVE trading"));
            }
        }
        (self.kite[3].trim() != "LIVE").then(|| "type LIVE to confirm that real orders will be sent".to_string())
    }

    fn alerts_error(&self) -> Option<String> {
        let [token, chat, host, port, user, password, from, to] = &self.alerts;
        if token.trim().is_empty() != chat.trim().is_empty() {
            return Some("Telegram needs both the bot token and the chat id, or neither".into());
        }
        // The port is checked whenever it is given, as the database URL's is.
        let no_smtp = host.trim().is_empty();
        let port_ok = port.trim().parse::<u16>().is_ok_and(|p| p > 0) || (no_smtp && port.trim().is_empty());
        if !port_ok {
            return Some(format!("SMTP port: `{port}` must be a whole number from 1 to 65535 (587 for STARTTLS)"));
        }
        if no_smtp {
            return None;
        }
        if user.trim().is_empty() != password.is_empty() {
            return Some("SMTP needs both the user and the password, or neither (a relay without login)".into());
        }
        if !from.contains('@') || !to.contains('@') {
            return Some("SMTP needs a from and a to e-mail address".into());
        }
        None
    }

    fn next(&mut self) -> Option<WizardEffect> {
        self.error = None;
        let from = self.step;
        self.step = match self.step {
            // Prepared: its steps were shown; Enter again moves on.
            Step::Database if self.prepared.as_ref().is_some_and(|(ok, _)| *ok) => Step::Mode,
            // A URL that cannot work is refused before it is tried.
            Step::Database => match self.database_url_error() {
                Some(e) => {
                    self.error = Some(e);
                    return None;
                }
                None => return Some(WizardEffect::PrepareDatabase),
            },
            Step::Mode if self.live => Step::Live,
            Step::Mode => Step::Risk,
            Step::Live => match self.live_error() {
                Some(e) => {
                    self.error = Some(e);
                    return None;
                }
                None => Step::Risk,
            },
            Step::Risk => match self.risk_error() {
                Some(e) => {
                    self.error = Some(e);
                    return None;
                }
                None => Step::Alerts,
            },
            Step::Alerts => match self.alerts_error() {
                Some(e) => {
                    self.error = Some(e);
                    return None;
                }
                None if self.live => Step::Review,
                None => Step::Demo,
            },
            Step::Demo => Step::Review,
            Step::Review => return Some(WizardEffect::Write),
        };
        // A refused step keeps the focus on the field being fixed.
        if self.step != from {
            self.focus = 0;
        }
        None
    }

    /// The database is ready (or not): the steps are shown either way.
    pub fn database_prepared(&mut self, ok: bool, lines: Vec<String>) {
        self.prepared = Some((ok, lines));
    }

    fn back(&mut self) -> Option<WizardEffect> {
        self.error = None;
        self.focus = 0;
        self.step = match self.step {
            // Leaving asks first (nothing has been written yet); a second
            // Esc is answered by `on_key`.
            Step::Database => {
                self.quit_asked = true;
                return None;
            }
            Step::Mode => Step::Database,
            Step::Live => Step::Mode,
            Step::Risk if self.live => Step::Live,
            Step::Risk => Step::Mode,
            Step::Alerts => Step::Risk,
            Step::Demo => Step::Alerts,
            Step::Review if self.live => Step::Alerts,
            Step::Review => Step::Demo,
        };
        None
    }

    fn field(&mut self) -> Option<&mut String> {
        match self.step {
            Step::Database if self.use_url => Some(&mut self.url),
            Step::Live => self.kite.get_mut(self.focus),
            Step::Risk => self.risk.get_mut(self.focus),
            Step::Alerts => self.alerts.get_mut(self.focus),
            _ => None,
        }
    }

    fn fields(&self) -> usize {
        match self.step {
            Step::Live => 4,
            Step::Risk => 5,
            Step::Alerts => ALERT_FIELDS.len(),
            _ => 1,
        }
    }

    fn toggle(&mut self) {
        match self.step {
            Step::Database => {
                self.use_url = !self.use_url;
                self.prepared = None;
            }
            Step::Mode => self.live = !self.live,
            _ => self.demo = !self.demo,
        }
    }

    /// A key, through the keymap's wizard scope.
    pub fn on_key(&mut self, key: KeyEvent) -> Option<WizardEffect> {
        let action = action_for(&key, Scope::Wizard, false)?;
        if std::mem::take(&mut self.quit_asked) {
            return (action == Action::Back).then_some(WizardEffect::Quit);
        }
        match action {
            Action::Back => return self.back(),
            Action::Confirm => return self.next(),
            Action::NextField => self.focus = (self.focus + 1) % self.fields(),
            Action::PrevField => self.focus = (self.focus + self.fields() - 1) % self.fields(),
            Action::ChoicePrev | Action::ChoiceNext
                if key.code != KeyCode::Char(' ') || self.step != Step::Database =>
            {
                if matches!(self.step, Step::Database | Step::Mode | Step::Demo) {
                    self.toggle()
                }
            }
            Action::Erase | Action::Type(_) => {
                // The refusal was about the value before this edit.
                self.error = None;
                if let Some(f) = self.field() {
                    edit(f, action, usize::MAX, |c| c);
                }
                // A changed address must be prepared again before moving on.
                if self.step == Step::Database {
                    self.prepared = None;
                }
            }
            _ => {}
        }
        None
    }

    /// The configuration file's text: only what the wizard chose.
    pub fn config_toml(&self) -> String {
        use toml::{Table, Value};
        let num = |text: &str| -> Value {
            let d: Decimal = text.trim().parse().unwrap_or_default();
            if d.fract().is_zero() {
                Value::Integer(i64::try_from(d.trunc()).unwrap_or(0))
            } else {
                Value::Float(text.trim().parse().unwrap_or(0.0))
            }
        };
        let mut root = Table::new();
        let mut app = Table::new();
        app.insert("mode".into(), Value::String(if self.live { "LIVE" } else { "PAPER" }.into()));
        app.insert("demo".into(), Value::Boolean(!self.live && self.demo));
        root.insert("app".into(), Value::Table(app));
        if let Some(url) = self.database_url() {
            let mut db = Table::new();
            db.insert("url".into(), Value::String(url));
            root.insert("database".into(), Value::Table(db));
        }
        let mut account = Table::new();
        // As typed, grouping and all: `1,00,000` is 100000.
        let capital = parse_rupees(&self.risk[0]).unwrap_or_default().to_string();
        account.insert("capital".into(), num(&capital));
        root.insert("account".into(), Value::Table(account));
        let mut risk = Table::new();
        risk.insert("max_risk_per_trade_pct".into(), num(&self.risk[1]));
        risk.insert("max_daily_loss_pct".into(), num(&self.risk[2]));
        risk.insert("max_drawdown_pct".into(), num(&self.risk[3]));
        risk.insert("max_open_positions".into(), num(&self.risk[4]));
        root.insert("risk".into(), Value::Table(risk));
        if self.live {
            let mut z = Table::new();
            for (key, v) in ["api_key", "api_secret", "access_token"].iter().zip(&self.kite) {
                z.insert(key.to_string(), Value::String(v.trim().to_string()));
            }
            root.insert("zerodha".into(), Value::Table(z));
        }
        let [token, chat, host, port, user, password, from, to] = &self.alerts;
        let mut alerts = Table::new();
        if !token.trim().is_empty() {
            let mut t = Table::new();
            t.insert("bot_token".into(), Value::String(token.trim().into()));
            t.insert("chat_id".into(), Value::String(chat.trim().into()));
            alerts.insert("telegram".into(), Value::Table(t));
        }
        if !host.trim().is_empty() {
            let mut s = Table::new();
            s.insert("host".into(), Value::String(host.trim().into()));
            s.insert("port".into(), Value::Integer(port.trim().parse().unwrap_or(587)));
            if !user.trim().is_empty() {
                s.insert("username".into(), Value::String(user.trim().into()));
                s.insert("password".into(), Value::String(password.clone()));
            }
            s.insert("from".into(), Value::String(from.trim().into()));
            s.insert("to".into(), Value::String(to.trim().into()));
            alerts.insert("smtp".into(), Value::Table(s));
        }
        if !alerts.is_empty() {
            root.insert("alerts".into(), Value::Table(alerts));
        }
        format!(
            "# Written by the XCoin setup wizard. It may hold secrets: keep it mode 0600.\n# Every other key keeps its default from config/default.toml.\n\n{}",
            toml::to_string(&root).expect("the wizard's choices serialise")
        )
    }

    /// Writes the configuration file, readable by its owner only.
    pub fn write(&self) -> std::io::Result<()> {
        xcoin_config::write_private(&self.paths.local_file, &self.config_toml())
    }
}

impl Wizard {
    /// Which alert channels the review lists.
    fn alerts_summary(&self) -> String {
        let [token, _, host, port, _, _, _, to] = &self.alerts;
        let mut on = Vec::new();
        if !token.trim().is_empty() {
            on.push("Telegram".to_string());
        }
        if !host.trim().is_empty() {
            on.push(format!("e-mail to {} through {}:{}", to.trim(), host.trim(), port.trim()));
        }
        if on.is_empty() { "none".into() } else { on.join(", ") }
    }

    /// The key line of this step: choices where there are choices, fields
    /// where there are fields.
    fn hint_line(&self) -> String {
        let choices = matches!(self.step, Step::Database | Step::Mode | Step::Demo);
        let fields = self.fields() > 1;
        hints(Scope::Wizard, false)
            .iter()
            .filter(|h| match h.what {
                "choose" => choices,
                "field" => fields,
                _ => true,
            })
            .map(|h| format!("{} {}", h.key, h.what))
            .collect::<Vec<_>>()
            .join("  ")
    }
}

fn bold() -> Style {
    Style::new().add_modifier(Modifier::BOLD)
}

/// A choice, on or off: ` ● PAPER ` or ` ○ LIVE `.
fn choice(on: bool, text: &str) -> Span<'static> {
    if on {
        Span::styled(format!(" ● {text} "), bold().add_modifier(Modifier::REVERSED))
    } else {
        Span::raw(format!(" ○ {text} "))
    }
}

impl Wizard {
    /// A step's fields, one line each, secrets masked, the focused one marked.
    fn field_lines(&self, names: &[&str], values: &[String], secret: &[bool]) -> Vec<Line<'static>> {
        names
            .iter()
            .enumerate()
            .map(|(i, n)| {
                let v = if secret.get(i).copied().unwrap_or(false) { masked(&values[i]) } else { values[i].clone() };
                let focused = i == self.focus;
                Line::from(Span::styled(
                    format!("{} {n:<22} {v}{}", if focused { "▶" } else { " " }, if focused { "▏" } else { "" }),
                    if focused { bold() } else { Style::new() },
                ))
            })
            .collect()
    }

    fn database_lines(&self) -> Vec<Line<'static>> {
        let bold = bold();
        let mut l = vec![
            Line::from("Where should XCoin keep its data?"),
            Line::default(),
            Line::from(vec![
                choice(!self.use_url, "a private PostgreSQL XCoin runs itself (recommended)"),
                choice(self.use_url, "an existing server (URL)"),
            ]),
        ];
        if self.use_url {
            l.push(Line::from(format!("  URL: {}▏", masked_url(&self.url))));
            l.push(
                Line::from("  e.g. postgres://user:password@host:5432/xcoin").style(Style::new().fg(Color::DarkGray)),
            );
        }
        match &self.prepared {
            Some((ok, steps)) => {
                l.push(Line::default());
                let color = if *ok { Color::Green } else { Color::Red };
                for s in steps {
                    l.push(Line::from(s.clone()).style(Style::new().fg(color)));
                }
                l.push(Line::default());
                l.push(
                    Line::from(if *ok {
                        "The database is ready: Enter to continue."
                    } else {
                        "Fix the choice above and press Enter to try again."
                    })
                    .style(bold),
                );
            }
            None => {
                l.push(Line::default());
                l.push(Line::from("Enter creates the database if needed and checks every table, view and function."));
            }
        }
        l
    }

    fn review_lines(&self) -> Vec<Line<'static>> {
        let bold = bold();
        let mut l = vec![
            Line::from(format!(
                "Database: {}",
                self.database_url().map_or("the private PostgreSQL".to_string(), |u| xcoin_config::redacted_url(&u))
            )),
            Line::from(format!("Mode: {}", if self.live { "LIVE" } else { "PAPER" })),
            Line::from(format!(
                "Capital {}, risk per trade {}%, daily loss {}%, drawdown {}%, {} positions",
                parse_rupees(&self.risk[0]).map_or(self.risk[0].clone(), xcoin_model::money::whole_rupees),
                self.risk[1],
                self.risk[2],
                self.risk[3],
                self.risk[4]
            )),
            Line::from(format!("Alerts: {}", self.alerts_summary())),
            Line::from(format!("Demo: {}", if !self.live && self.demo { "yes" } else { "no" })),
            Line::default(),
            Line::from(format!("Enter writes {} (mode 0600) and opens the desk.", self.paths.local_file.display())),
        ];
        if self.live {
            l.push(Line::from(Span::styled("LIVE: real orders, real money.", bold.fg(Color::Red))));
        }
        l
    }

    /// The step's title and lines.
    fn step_lines(&self) -> (&'static str, Vec<Line<'static>>) {
        match self.step {
            Step::Database => ("1/6 Database", self.database_lines()),
            Step::Mode => (
                "2/6 Trading mode",
                vec![
                    Line::from("PAPER trades on a simulated exchange; LIVE sends real orders through Kite Connect."),
                    Line::default(),
                    Line::from(vec![choice(!self.live, "PAPER"), choice(self.live, "LIVE")]),
                ],
            ),
            Step::Live => {
                let mut l = vec![
                    Line::from("Kite Connect credentials (stored in the configuration file, mode 0600):"),
                    Line::default(),
                ];
                l.extend(self.field_lines(&LIVE_FIELDS, &self.kite, &[true, true, true, false]));
                l.push(Line::default());
                l.push(Line::from(
                    "The access token lasts one trading day: leave it empty and run `xcoin kite login` each morning.",
                ));
                ("2/6 LIVE trading", l)
            }
            Step::Risk => {
                let mut l = vec![Line::from("Capital and risk limits (defaults shown):"), Line::default()];
                l.extend(self.field_lines(&RISK_FIELDS, &self.risk, &[]));
                // Checked as typed; a refused Enter shows the same line below.
                if let Some(e) = self.risk_error().filter(|_| self.error.is_none()) {
                    l.push(Line::from(Span::styled(format!("✗ {e}"), Style::new().fg(Color::Red))));
                }
                ("3/6 Capital and risk", l)
            }
            Step::Alerts => {
                let mut l = vec![Line::from("Alerts (optional; leave empty for none):"), Line::default()];
                l.extend(self.field_lines(&ALERT_FIELDS, &self.alerts, &[true, false, false, false, false, true]));
                ("4/6 Alerts", l)
            }
            Step::Demo => (
                "5/6 Demo",
                vec![
                    Line::from("Run the demo strategy on simulated prices, so the desk moves at once?"),
                    Line::default(),
                    Line::from(vec![choice(self.demo, "yes"), choice(!self.demo, "no")]),
                ],
            ),
            Step::Review => ("6/6 Review", self.review_lines()),
        }
    }
}

impl Widget for &Wizard {
    fn render(self, area: Rect, buf: &mut Buffer) {
        let (title, mut lines) = self.step_lines();
        if let Some(e) = &self.error {
            lines.push(Line::default());
            lines.push(Line::from(Span::styled(format!("✗ {e}"), Style::new().fg(Color::Red))));
        }
        if self.quit_asked {
            lines.push(Line::default());
            lines.push(Line::from(Span::styled(
                "Leave the setup? Nothing has been written. Esc again quits; any other key stays.",
                bold().fg(Color::Yellow),
            )));
        }
        lines.push(Line::default());
        lines.push(Line::from(self.hint_line()).style(Style::new().fg(Color::DarkGray)));
        Paragraph::new(lines)
            .wrap(Wrap { trim: false })
            .block(Block::new().borders(Borders::ALL).title(format!("XCoin first-launch setup — {title}")))
            .render(area, buf);
    }
}

#[cfg(test)]
mod tests;
