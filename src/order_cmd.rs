//! `xcoin order place|modify|cancel|exit|list`: the commands a console
//! sends, from a shell or a script, through the same queue, validation and
//! audit (`requested_by`), waiting for the engine's result. Exit codes: 0
//! done, 1 refused or failed (the reason printed), 3 no result in time (is
//! the engine running?).

use std::io::Write;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Args, Subcommand};
use color_eyre::eyre::{Result, eyre};
use rust_decimal::Decimal;
use xcoin::config::Config;
use xcoin::db::Db;
use xcoin::domain::command::{CommandStatus, OperatorCommand};
use xcoin::domain::order::{Exchange, OrderRequest, OrderType, Product, Side, Validity};

#[derive(Subcommand)]
pub enum OrderAction {
    /// Place an order (the operators' strategy unless --strategy says otherwise).
    Place(Place),
    /// Change a working order's quantity, price or trigger.
    Modify {
        order_id: i64,
        #[arg(long)]
        qty: Option<i64>,
        #[arg(long)]
        price: Option<Decimal>,
        #[arg(long)]
        trigger: Option<Decimal>,
        #[command(flatten)]
        out: Output,
    },
    /// Cancel a working order.
    Cancel {
        order_id: i64,
        #[command(flatten)]
        out: Output,
    },
    /// Exit an open position at market.
    Exit {
        position_id: i64,
        #[command(flatten)]
        out: Output,
    },
    /// Today's orders.
    List {
        #[arg(long)]
        json: bool,
    },
}

#[derive(Args)]
pub struct Output {
    /// Print the result as JSON.
    #[arg(long)]
    json: bool,
    /// Seconds to wait for the engine's result.
    #[arg(long, default_value_t = 10)]
    wait: u64,
}

#[derive(Args)]
pub struct Place {
    symbol: String,
    #[arg(long, value_parser = ["BUY", "SELL", "buy", "sell"])]
    side: String,
    #[arg(long)]
    qty: i64,
    #[arg(long = "type", default_value = "LIMIT")]
    order_type: String,
    #[arg(long, default_value = "MIS")]
    product: String,
    #[arg(long, default_value = "NSE")]
    exchange: String,
    #[arg(long)]
    price: Option<Decimal>,
    #[arg(long)]
    trigger: Option<Decimal>,
    #[arg(long)]
    stop: Option<Decimal>,
    #[arg(long)]
    target: Option<Decimal>,
    #[arg(long, default_value_t = xcoin::domain::strategy::MANUAL_STRATEGY_ID)]
    strategy: i64,
    #[command(flatten)]
    out: Output,
}

fn field<T: std::str::FromStr<Err = xcoin::domain::ParseEnumError>>(text: &str) -> Result<T> {
    text.to_ascii_uppercase().parse::<T>().map_err(|e| eyre!("{e}"))
}

impl Place {
    /// The request, or the first field that is wrong (as the console's form checks it).
    fn request(&self, config: &Config, placed_by: &str) -> Result<OrderRequest> {
        let req = OrderRequest {
            strategy_id: self.strategy,
            symbol: self.symbol.trim().to_ascii_uppercase(),
            exchange: field::<Exchange>(&self.exchange)?,
            side: field::<Side>(&self.side)?,
            order_type: field::<OrderType>(&self.order_type)?,
            product: field::<Product>(&self.product)?,
            validity: Validity::Day,
            quantity: self.qty,
            price: self.price,
            trigger_price: self.trigger,
            stop_loss: self.stop,
            take_profit: self.target,
            parent_order_id: None,
            placed_by: placed_by.to_string(),
        };
        let ticks = config.settings.risk_limits().ticks;
        req.validate(ticks.of(&req.symbol, req.exchange)).map_err(|e| eyre!("{e}"))?;
        Ok(req)
    }
}

/// Runs one verb against the configured database.
pub async fn run(config: &Config, db: &Db, action: OrderAction, out: &mut impl Write) -> Result<ExitCode> {
    let who = config.settings.operator_name();
    let (command, output) = match action {
        OrderAction::List { json } => return list(config, db, json, out).await,
        OrderAction::Place(p) => (OperatorCommand::PlaceOrder(p.request(config, &who)?), p.out),
        OrderAction::Modify { order_id, qty, price, trigger, out } => {
            (OperatorCommand::ModifyOrder { order_id, quantity: qty, price, trigger_price: trigger }, out)
        }
        OrderAction::Cancel { order_id, out } => (OperatorCommand::CancelOrder { order_id }, out),
        OrderAction::Exit { position_id, out } => (OperatorCommand::ExitPosition { position_id }, out),
    };
    // A placement or modification is not sent after the wait: the sender
    // has given up by then (a cancel or an exit waits for an engine).
    let wait = Duration::from_secs(output.wait);
    let sent = db.enqueue_command_within(&command, &who, wait).await.map_err(|e| eyre!("{e}"))?;
    let done = db.command_result(sent.id, wait).await.map_err(|e| eyre!("{e}"))?;
    let code = match done.status {
        CommandStatus::Done => 0,
        CommandStatus::Failed => 1,
        _ => 3,
    };
    let text = done.result.clone().unwrap_or_else(|| {
        let ist = |t: chrono::DateTime<chrono::Utc>| t.with_timezone(&chrono_tz::Asia::Kolkata).format("%H:%M:%S");
        let fate = match done.expires_at {
            Some(at) if at <= xcoin::domain::clock::now() => {
                format!("it will not be sent: its deadline was {} IST", ist(at))
            }
            Some(at) => format!("it is queued until {} IST and will not be sent after", ist(at)),
            None => "it stays queued until an engine runs it".to_string(),
        };
        format!(
            "command {} is {} after {} s: is the engine running? (`xcoin doctor`); {fate}",
            done.id, done.status, output.wait
        )
    });
    if output.json {
        let v = serde_json::json!({
            "command": done.id, "kind": done.command.to_string(), "status": done.status.to_string(),
            "requested_by": done.requested_by, "result": text,
        });
        writeln!(out, "{v}")?;
    } else {
        writeln!(out, "{text}")?;
    }
    Ok(ExitCode::from(code))
}

async fn list(config: &Config, db: &Db, json: bool, out: &mut impl Write) -> Result<ExitCode> {
    let calendar = config.settings.calendar();
    let today = calendar.today();
    let orders = db.orders_between(today, today).await.map_err(|e| eyre!("{e}"))?;
    if json {
        let rows: Vec<serde_json::Value> = orders
            .iter()
            .map(|o| {
                serde_json::json!({
                    "id": o.id,
                    "time": calendar.local(o.created_at).format("%Y-%m-%dT%H:%M:%S%:z").to_string(),
                    "symbol": o.symbol, "exchange": o.exchange.to_string(), "side": o.side.to_string(),
                    "quantity": o.quantity, "order_type": o.order_type.to_string(), "product": o.product.to_string(),
                    "price": o.price, "trigger_price": o.trigger_price, "stop_loss": o.stop_loss,
                    "target": o.take_profit, "status": o.status.to_string(), "trigger_pending": o.trigger_pending, "reason": o.status_reason,
                    "filled_quantity": o.filled_quantity, "average_price": o.average_price,
                    "placed_by": o.placed_by,
                })
            })
            .collect();
        writeln!(out, "{}", serde_json::Value::Array(rows))?;
    } else if orders.is_empty() {
        writeln!(out, "no orders today ({today})")?;
    } else {
        write!(out, "{}", order_table(&orders, &calendar))?;
    }
    Ok(ExitCode::SUCCESS)
}

/// Today's orders as an aligned table under a header: amounts to the
/// paisa, times in IST, the refusal or rejection reason last.
fn order_table(orders: &[xcoin::domain::order::Order], calendar: &xcoin::domain::calendar::MarketCalendar) -> String {
    use xcoin::domain::money::paisa;
    const HEADER: [&str; 13] = [
        "id",
        "time",
        "symbol",
        "side",
        "qty",
        "filled",
        "avg fill",
        "type",
        "price",
        "trigger",
        "status",
        "placed by",
        "reason",
    ];
    // Numbers read right-aligned, words left-aligned.
    const RIGHT: [bool; 13] = [true, false, false, false, true, true, true, false, true, true, false, false, false];
    let amount = |v: Option<Decimal>| v.map_or("—".to_string(), paisa);
    let mut rows = vec![HEADER.map(str::to_string)];
    rows.extend(orders.iter().map(|o| {
        [
            o.id.to_string(),
            calendar.local(o.created_at).format("%H:%M:%S").to_string(),
            o.symbol.clone(),
            o.side.to_string(),
            o.quantity.to_string(),
            o.filled_quantity.to_string(),
            amount(o.average_price),
            o.order_type.to_string(),
            amount(o.price),
            amount(o.trigger_price),
            o.shown_status(),
            o.placed_by.clone(),
            o.status_reason.clone().unwrap_or_default(),
        ]
    }));
    let widths: Vec<usize> =
        (0..HEADER.len()).map(|c| rows.iter().map(|r| r[c].chars().count()).max().unwrap_or(0)).collect();
    let mut text = String::new();
    for row in &rows {
        let cells: Vec<String> = row
            .iter()
            .zip(&widths)
            .zip(RIGHT)
            .map(|((cell, &w), right)| if right { format!("{cell:>w$}") } else { format!("{cell:<w$}") })
            .collect();
        text.push_str(cells.join(" ").trim_end());
        text.push('\n');
    }
    text
}
