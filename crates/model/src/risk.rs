//! Pre-trade risk: a pure function of (order request, risk snapshot, limits).
//!
//! Every rule that refuses an order names itself, its limit and the value it
//! saw, so the stored rejection reason tells the operator exactly why.
//!
//! An order that only reduces an existing position (an exit) is never blocked
//! by the rules that guard new risk — kill switch, stop loss, risk per trade,
//! reward:risk, open positions, daily loss, drawdown — because refusing an
//! exit would keep the desk exposed. Shape, tick, price band, market hours and
//! order rate still apply to exits.

use std::fmt;

use rust_decimal::Decimal;
use rust_decimal_macros::dec;

use super::calendar::MarketState;
use super::instrument::Ticks;
use super::is_on_tick;
use super::order::{OrderRequest, Side};

/// The configured limits, percentages as written in the configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RiskLimits {
    pub capital: Decimal,
    pub max_risk_per_trade_pct: Decimal,
    pub max_daily_loss_pct: Decimal,
    pub max_drawdown_pct: Decimal,
    pub max_open_positions: u32,
    pub min_risk_reward: Decimal,
    pub max_position_size: u32,
    pub price_sanity_pct: Decimal,
    pub max_orders_per_second: u32,
    /// Each instrument's tick.
    pub ticks: Ticks,
    /// Refuse orders outside market hours (paper mode may turn this off).
    pub enforce_market_hours: bool,
    /// Intraday leverage: an MIS order blocks its value ÷ this as margin.
    pub mis_leverage: Decimal,
    /// The stop a form proposes, in percent of the entry (0: none).
    pub default_stop_pct: Decimal,
    /// The target a form proposes, as reward:risk to that stop (0: none).
    pub default_target_rr: Decimal,
    /// A position's stop rests at the broker as an SL-M order
    /// (`risk.stop_at_exchange`); the console marks whether it does.
    pub stop_at_exchange: bool,
}

impl RiskLimits {
    fn of_capital(&self, pct: Decimal) -> Decimal {
        self.capital * pct / dec!(100)
    }
    /// Rupees one trade may risk.
    pub fn max_risk_per_trade(&self) -> Decimal {
        self.of_capital(self.max_risk_per_trade_pct)
    }
    /// Rupees the desk may lose in a day before the kill switch.
    pub fn max_daily_loss(&self) -> Decimal {
        self.of_capital(self.max_daily_loss_pct)
    }
    /// Rupees equity may fall below its peak before the kill switch.
    pub fn max_drawdown(&self) -> Decimal {
        self.of_capital(self.max_drawdown_pct)
    }
}

/// What the validator knows about the desk at the moment of the order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RiskSnapshot {
    pub kill_switch_active: bool,
    pub market_state: MarketState,
    /// Last traded price of the order's instrument.
    pub last_price: Option<Decimal>,
    /// Signed quantity already held in the order's instrument (0 if none).
    pub position_quantity: i64,
    /// Open positions across all instruments.
    pub open_positions: u32,
    /// Today's net P&L (realised + unrealised − charges).
    pub today_net_pnl: Decimal,
    /// How far equity is below its peak now, in rupees (≥ 0).
    pub drawdown: Decimal,
    /// Orders placed in the last second.
    pub orders_last_second: u32,
    /// The order's strategy is paused (by an operator or the kill switch).
    pub strategy_paused: bool,
    /// The order's strategy's own limits and where it stands against them.
    pub strategy: StrategyBudget,
    /// The margin free for a new order, as the broker last reported it
    /// less what the desk has placed since (`None`: not known yet, not checked).
    pub free_margin: Option<Decimal>,
}

/// A strategy's own limits (from its row in `strategies`; `None`: only the
/// desk's apply) and its figures now.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StrategyBudget {
    pub max_positions: Option<u32>,
    /// Its open positions.
    pub open_positions: u32,
    /// Rupees of today's net loss after which it opens nothing more.
    pub max_daily_loss: Option<Decimal>,
    /// Its net P&L today (realised + today's unrealised move − charges).
    pub today_net_pnl: Decimal,
    /// Its capital share: the value (average price × quantity) it may hold open.
    pub capital: Option<Decimal>,
    /// The value it holds open now.
    pub exposure: Decimal,
}

impl RiskSnapshot {
    /// The desk without a working order's own fills (`own`, signed): a
    /// modification is judged as the whole order against the position
    /// without them, as when the order was placed. When those fills are the
    /// whole position, it did not count as open then either.
    pub fn without_own_fills(mut self, own: i64) -> RiskSnapshot {
        if own != 0 && self.position_quantity == own {
            self.open_positions = self.open_positions.saturating_sub(1);
        }
        self.position_quantity -= own;
        self
    }

    /// The desk with a working order's own margin free again: a
    /// modification is judged as the whole order, whose margin as it stands
    /// (`order`, judged at `last`) is already blocked. Call after
    /// [`without_own_fills`](Self::without_own_fills).
    pub fn with_own_margin(
        mut self,
        order: &OrderRequest,
        last: Option<Decimal>,
        mis_leverage: Decimal,
    ) -> RiskSnapshot {
        let own = margin_needed(order, self.position_quantity, last, mis_leverage);
        self.free_margin = self.free_margin.map(|free| free + own);
        self
    }
}

/// Why an order was refused: the rule, its limit and the value seen.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Denial {
    KillSwitch,
    StrategyPaused,
    MarketHours {
        state: MarketState,
    },
    Quantity {
        limit: u32,
        value: i64,
    },
    PositionSize {
        limit: u32,
        held: i64,
        value: i64,
    },
    OffTick {
        field: &'static str,
        tick: Decimal,
        value: Decimal,
    },
    NoLastPrice,
    PriceBand {
        field: &'static str,
        limit_pct: Decimal,
        last_price: Decimal,
        value: Decimal,
    },
    StopLossMissing,
    StopLossWrongSide {
        side: Side,
        entry: Decimal,
        stop: Decimal,
    },
    /// A target on the losing side of the entry: it has no reward to weigh
    /// against the risk.
    TargetWrongSide {
        side: Side,
        entry: Decimal,
        target: Decimal,
    },
    /// An open position's stop or target on the wrong side of the last
    /// price: it would fire at once.
    LevelWrongSide {
        level: &'static str,
        long: bool,
        last_price: Decimal,
        value: Decimal,
    },
    RiskPerTrade {
        limit: Decimal,
        value: Decimal,
    },
    RiskReward {
        limit: Decimal,
        value: Decimal,
    },
    OpenPositions {
        limit: u32,
        value: u32,
    },
    DailyLoss {
        limit: Decimal,
        value: Decimal,
    },
    Drawdown {
        limit: Decimal,
        value: Decimal,
    },
    OrderRate {
        limit: u32,
        value: u32,
    },
    StrategyPositions {
        limit: u32,
        value: u32,
    },
    StrategyLoss {
        limit: Decimal,
        value: Decimal,
    },
    StrategyCapital {
        limit: Decimal,
        held: Decimal,
        value: Decimal,
    },
    /// The margin the order blocks is more than the margin free: the broker
    /// would refuse it ("Insufficient funds").
    Margin {
        required: Decimal,
        free: Decimal,
    },
}

fn r2(v: Decimal) -> Decimal {
    super::to_paisa(v).normalize()
}

impl fmt::Display for Denial {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Denial::KillSwitch => write!(f, "kill switch: active; re-arm it before new orders"),
            Denial::StrategyPaused => write!(f, "strategy paused: resume it before new orders"),
            Denial::MarketHours { state } => write!(f, "market hours: the market is {state}"),
            Denial::Quantity { limit, value } => {
                write!(f, "max position size: limit {limit} shares, order {value}")
            }
            Denial::PositionSize { limit, held, value } => {
                write!(f, "max position size: limit {limit} shares, position would be {value} (holds {held})")
            }
            Denial::OffTick { field, tick, value } => write!(f, "tick size: {field} {value} is not on the {tick} tick"),
            Denial::NoLastPrice => write!(f, "price sanity: no last traded price for the instrument yet"),
            Denial::PriceBand { field, limit_pct, last_price, value } => {
                write!(f, "price sanity: {field} {value} is more than {limit_pct}% from the last price {last_price}")
            }
            Denial::StopLossMissing => write!(f, "stop loss: required on every position"),
            Denial::StopLossWrongSide { side, entry, stop } => {
                let relation = if *side == Side::Buy { "below" } else { "above" };
                write!(f, "stop loss: a {side} stop must be {relation} the entry {entry}, got {stop}")
            }
            Denial::TargetWrongSide { side, entry, target } => {
                let relation = if *side == Side::Buy { "above" } else { "below" };
                write!(f, "target: a {side} target must be {relation} the entry {entry}, got {target}")
            }
            Denial::LevelWrongSide { level, long, last_price, value } => {
                let below = (*level == "stop loss") == *long;
                write!(
                    f,
                    "{level}: a {} position's {level} must be {} the last price {}, got {}",
                    if *long { "long" } else { "short" },
                    if below { "below" } else { "above" },
                    r2(*last_price),
                    r2(*value)
                )
            }
            Denial::RiskPerTrade { limit, value } => {
                write!(f, "max risk per trade: limit ₹{}, order risks ₹{}", r2(*limit), r2(*value))
            }
            Denial::RiskReward { limit, value } => {
                write!(f, "min reward:risk: limit {}:1, order {}:1", limit.normalize(), value.round_dp(2).normalize())
            }
            Denial::OpenPositions { limit, value } => {
                write!(f, "max open positions: limit {limit}, open {value}")
            }
            Denial::DailyLoss { limit, value } => {
                write!(f, "max daily loss: limit ₹{}, today ₹{}", r2(*limit), r2(*value))
            }
            Denial::Drawdown { limit, value } => {
                write!(f, "max drawdown: limit ₹{}, now ₹{}", r2(*limit), r2(*value))
            }
            Denial::OrderRate { limit, value } => {
                write!(f, "order rate: limit {limit} per second, {value} in the last second")
            }
            Denial::StrategyPositions { limit, value } => {
                write!(f, "strategy max positions: limit {limit}, the strategy has {value} open")
            }
            Denial::StrategyLoss { limit, value } => {
                write!(f, "strategy max daily loss: limit ₹{}, the strategy's today ₹{}", r2(*limit), r2(*value))
            }
            Denial::StrategyCapital { limit, held, value } => write!(
                f,
                "strategy capital: limit ₹{}, holds ₹{} and this order adds ₹{}",
                r2(*limit),
                r2(*held),
                r2(*value)
            ),
            Denial::Margin { required, free } => {
                write!(f, "margin: the order needs ₹{}, ₹{} is free", r2(*required), r2(*free))
            }
        }
    }
}

/// What an accepted order risks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Assessment {
    /// Whether the order only reduces an existing position.
    pub reduces_position: bool,
    /// |entry − stop| × quantity, when there is a stop.
    pub risk_amount: Option<Decimal>,
    /// Reward per unit of risk, when there is a target.
    pub risk_reward: Option<Decimal>,
}

/// Whether an order of `side`/`quantity` only reduces a position of `held`.
pub fn reduces(held: i64, side: Side, quantity: i64) -> bool {
    held != 0 && held.signum() == -side.sign() && quantity <= held.abs()
}

/// Checks an order against every rule, in a fixed order; the first failure
/// is returned. Long by design: the order of the rules is the policy, and it
/// reads as one list.
pub fn validate(req: &OrderRequest, snap: &RiskSnapshot, limits: &RiskLimits) -> Result<Assessment, Denial> {
    let exit = reduces(snap.position_quantity, req.side, req.quantity);

    if !exit && snap.kill_switch_active {
        return Err(Denial::KillSwitch);
    }
    if !exit && snap.strategy_paused {
        return Err(Denial::StrategyPaused);
    }
    if limits.enforce_market_hours && snap.market_state != MarketState::Open {
        return Err(Denial::MarketHours { state: snap.market_state });
    }
    if req.quantity < 1 || req.quantity > i64::from(limits.max_position_size) {
        return Err(Denial::Quantity { limit: limits.max_position_size, value: req.quantity });
    }
    let after = snap.position_quantity + req.side.sign() * req.quantity;
    if !exit && after.abs() > i64::from(limits.max_position_size) {
        return Err(Denial::PositionSize {
            limit: limits.max_position_size,
            held: snap.position_quantity,
            value: after.abs(),
        });
    }
    let tick = limits.ticks.of(&req.symbol, req.exchange);
    for (field, value) in [
        ("price", req.price),
        ("trigger price", req.trigger_price),
        ("stop loss", req.stop_loss),
        ("target", req.take_profit),
    ] {
        if let Some(v) = value
            && !is_on_tick(v, tick)
        {
            return Err(Denial::OffTick { field, tick, value: v });
        }
    }
    // A priced order far from the market is refused; without a last price
    // only an exit at market may go (an exit must never wait for a tick).
    let last = match snap.last_price {
        Some(last) => last,
        None if exit && req.price.is_none() && req.trigger_price.is_none() => Decimal::ZERO,
        None => return Err(Denial::NoLastPrice),
    };
    for (field, value) in [("price", req.price), ("trigger price", req.trigger_price)] {
        if let Some(v) = value
            && (v - last).abs() * dec!(100) > last * limits.price_sanity_pct
        {
            return Err(Denial::PriceBand { field, limit_pct: limits.price_sanity_pct, last_price: last, value: v });
        }
    }
    if snap.orders_last_second >= limits.max_orders_per_second {
        return Err(Denial::OrderRate { limit: limits.max_orders_per_second, value: snap.orders_last_second });
    }
    if exit {
        return Ok(Assessment {
            reduces_position: true,
            risk_amount: req.risk_amount(snap.last_price),
            risk_reward: None,
        });
    }

    let entry = req.entry_price(Some(last)).unwrap_or(last);
    let stop = req.stop_loss.ok_or(Denial::StopLossMissing)?;
    let stop_ok = match req.side {
        Side::Buy => stop < entry,
        Side::Sell => stop > entry,
    };
    if !stop_ok {
        return Err(Denial::StopLossWrongSide { side: req.side, entry, stop });
    }
    let risk = (entry - stop).abs() * Decimal::from(req.quantity);
    if risk > limits.max_risk_per_trade() {
        return Err(Denial::RiskPerTrade { limit: limits.max_risk_per_trade(), value: risk });
    }
    let risk_reward = req.risk_reward(Some(last));
    if let Some(target) = req.take_profit {
        let right_side = match req.side {
            Side::Buy => target > entry,
            Side::Sell => target < entry,
        };
        if !right_side {
            return Err(Denial::TargetWrongSide { side: req.side, entry, target });
        }
        let ratio = risk_reward.unwrap_or(Decimal::ZERO);
        if ratio < limits.min_risk_reward {
            return Err(Denial::RiskReward { limit: limits.min_risk_reward, value: ratio });
        }
    }
    let new_instrument = snap.position_quantity == 0;
    if new_instrument && snap.open_positions >= limits.max_open_positions {
        return Err(Denial::OpenPositions { limit: limits.max_open_positions, value: snap.open_positions });
    }
    let loss = -snap.today_net_pnl;
    if loss >= limits.max_daily_loss() {
        return Err(Denial::DailyLoss { limit: limits.max_daily_loss(), value: loss });
    }
    if snap.drawdown >= limits.max_drawdown() {
        return Err(Denial::Drawdown { limit: limits.max_drawdown(), value: snap.drawdown });
    }
    let own = &snap.strategy;
    if let Some(limit) = own.max_positions
        && new_instrument
        && own.open_positions >= limit
    {
        return Err(Denial::StrategyPositions { limit, value: own.open_positions });
    }
    if let Some(limit) = own.max_daily_loss
        && -own.today_net_pnl >= limit
    {
        return Err(Denial::StrategyLoss { limit, value: -own.today_net_pnl });
    }
    let value = entry * Decimal::from(req.quantity);
    if let Some(limit) = own.capital
        && own.exposure + value > limit
    {
        return Err(Denial::StrategyCapital { limit, held: own.exposure, value });
    }
    if let Some(free) = snap.free_margin {
        let required = margin_needed(req, snap.position_quantity, Some(last), limits.mis_leverage);
        if required > free {
            return Err(Denial::Margin { required, free });
        }
    }
    Ok(Assessment { reduces_position: false, risk_amount: Some(risk), risk_reward })
}

/// The margin an order blocks, priced at its entry (a market order at
/// `last`; 0 when neither is known): only its shares that add to the
/// position (`held`) need any; MIS at the intraday leverage, the rest in full.
pub fn margin_needed(req: &OrderRequest, held: i64, last: Option<Decimal>, mis_leverage: Decimal) -> Decimal {
    use super::funds::{added_exposure, margin_for};
    let entry = req.entry_price(last).unwrap_or_default();
    let added = added_exposure(held, req.side.sign(), req.quantity);
    margin_for(req.product, entry * Decimal::from(added), mis_leverage)
}

/// The desk's default stop and target for an entry on `side` at `entry`:
/// the stop `stop_pct` % away on the losing side (at least one tick), the
/// target `reward_risk` times that distance on the winning side, both on
/// the tick and rounded away from the entry (so the ratio is never short).
/// A part the desk does not default (0) is `None`.
pub fn default_levels(
    side: Side,
    entry: Decimal,
    tick: Decimal,
    stop_pct: Decimal,
    reward_risk: Decimal,
) -> (Option<Decimal>, Option<Decimal>) {
    if stop_pct <= Decimal::ZERO || entry <= Decimal::ZERO || tick <= Decimal::ZERO {
        return (None, None);
    }
    // Away from the entry: down for a BUY's stop, up for its target.
    let away = |v: Decimal, down: bool| {
        let ticks = v / tick;
        (if down { ticks.floor() } else { ticks.ceil() }) * tick
    };
    let buy = side == Side::Buy;
    let distance = (entry * stop_pct / dec!(100)).max(tick);
    let stop = away(if buy { entry - distance } else { entry + distance }, buy);
    if stop <= Decimal::ZERO {
        return (None, None);
    }
    let reward = (entry - stop).abs() * reward_risk;
    let target = (reward_risk > Decimal::ZERO).then(|| away(if buy { entry + reward } else { entry - reward }, !buy));
    (Some(stop), target.filter(|t| *t > Decimal::ZERO))
}

/// An open position's stop loss and target, as an operator sets or moves
/// them: the same rules as a new order's, judged from the last price (what
/// the position risks and may gain from here).
pub struct Levels<'a> {
    pub symbol: &'a str,
    pub exchange: super::order::Exchange,
    /// Signed: long above 0.
    pub quantity: i64,
    pub last_price: Option<Decimal>,
    pub stop_loss: Option<Decimal>,
    pub take_profit: Option<Decimal>,
    /// The stop the position has now, if any.
    pub current_stop: Option<Decimal>,
}

/// Checks levels for an open position, the first failure returned: each on
/// the instrument's tick; a last price to judge from; a stop (every
/// position keeps one), below the last price for a long and above it for a
/// short; a target, if any, on the other side; the risk at the stop within
/// the per-trade limit — unless the stop only moves closer than the one the
/// position has, which always lowers the risk and is never refused; and,
/// with a target, reward:risk from the last price at least the minimum.
/// The kill switch and a paused strategy do not block levels: protecting an
/// open position must stay possible when new risk is not.
pub fn validate_levels(l: &Levels, limits: &RiskLimits) -> Result<Assessment, Denial> {
    let tick = limits.ticks.of(l.symbol, l.exchange);
    for (field, value) in [("stop loss", l.stop_loss), ("target", l.take_profit)] {
        if let Some(v) = value
            && !is_on_tick(v, tick)
        {
            return Err(Denial::OffTick { field, tick, value: v });
        }
    }
    let last = l.last_price.ok_or(Denial::NoLastPrice)?;
    let stop = l.stop_loss.ok_or(Denial::StopLossMissing)?;
    let long = l.quantity > 0;
    let beyond = |level: &'static str, value: Decimal, below: bool| {
        let ok = if below { value < last } else { value > last };
        if ok { Ok(()) } else { Err(Denial::LevelWrongSide { level, long, last_price: last, value }) }
    };
    beyond("stop loss", stop, long)?;
    if let Some(target) = l.take_profit {
        beyond("target", target, !long)?;
    }
    let size = Decimal::from(l.quantity.abs());
    let risk = (last - stop).abs() * size;
    let closer = l.current_stop.is_some_and(|now| (last - stop).abs() <= (last - now).abs());
    if risk > limits.max_risk_per_trade() && !closer {
        return Err(Denial::RiskPerTrade { limit: limits.max_risk_per_trade(), value: risk });
    }
    let risk_reward = l.take_profit.map(|t| (t - last).abs() / (last - stop).abs());
    if let Some(ratio) = risk_reward
        && ratio < limits.min_risk_reward
    {
        return Err(Denial::RiskReward { limit: limits.min_risk_reward, value: ratio });
    }
    Ok(Assessment { reduces_position: false, risk_amount: Some(risk), risk_reward })
}

#[cfg(test)]
mod tests;

#[cfg(test)]
mod levels {
    use super::tests::limits;
    use super::*;
    use crate::order::Exchange;

    /// Long 100 INFY at a last price of 1000, no stop yet.
    fn long() -> Levels<'static> {
        Levels {
            symbol: "INFY",
            exchange: Exchange::Nse,
            quantity: 100,
            last_price: Some(dec!(1000)),
            stop_loss: Some(dec!(990)),
            take_profit: Some(dec!(1020)),
            current_stop: None,
        }
    }

    fn verdict(l: Levels) -> Result<Assessment, String> {
        validate_levels(&l, &limits()).map_err(|d| d.to_string())
    }

    #[test]
    fn a_stop_and_target_on_the_right_sides_pass_with_their_risk() {
        let a = verdict(long()).unwrap();
        assert_eq!((a.risk_amount, a.risk_reward), (Some(dec!(1000)), Some(dec!(2))));
        let short = Levels { quantity: -100, stop_loss: Some(dec!(1010)), take_profit: Some(dec!(980)), ..long() };
        assert_eq!(verdict(short).unwrap().risk_reward, Some(dec!(2)));
        assert_eq!(verdict(Levels { take_profit: None, ..long() }).unwrap().risk_reward, None);
    }

    #[test]
    fn each_rule_names_itself() {
        let cases = [
            (Levels { stop_loss: Some(dec!(990.02)), ..long() }, "tick size: stop loss 990.02 is not on the 0.05 tick"),
            (Levels { last_price: None, ..long() }, "price sanity: no last traded price for the instrument yet"),
            (Levels { stop_loss: None, ..long() }, "stop loss: required on every position"),
            (
                Levels { stop_loss: Some(dec!(1001)), ..long() },
                "stop loss: a long position's stop loss must be below the last price 1000, got 1001",
            ),
            (
                Levels { quantity: -5, stop_loss: Some(dec!(995)), ..long() },
                "stop loss: a short position's stop loss must be above the last price 1000, got 995",
            ),
            (
                Levels { take_profit: Some(dec!(999)), ..long() },
                "target: a long position's target must be above the last price 1000, got 999",
            ),
            (
                Levels { stop_loss: Some(dec!(970)), take_profit: Some(dec!(1100)), ..long() },
                "max risk per trade: limit ₹2000, order risks ₹3000",
            ),
            (Levels { take_profit: Some(dec!(1015)), ..long() }, "min reward:risk: limit 2:1, order 1.5:1"),
        ];
        for (levels, why) in cases {
            assert_eq!(verdict(levels).unwrap_err(), why);
        }
    }

    #[test]
    fn moving_a_stop_closer_is_never_refused_for_its_risk() {
        // An adopted position of 1000 shares: any stop risks more than ₹2,000
        // unless it is within 2 rupees, but a closer stop lowers the risk.
        let big = Levels { quantity: 1000, stop_loss: Some(dec!(980)), take_profit: None, ..long() };
        assert_eq!(
            verdict(Levels { current_stop: None, ..big }).unwrap_err(),
            "max risk per trade: limit ₹2000, order risks ₹20000"
        );
        let big = Levels {
            quantity: 1000,
            stop_loss: Some(dec!(980)),
            take_profit: None,
            current_stop: Some(dec!(950)),
            ..long()
        };
        assert_eq!(verdict(big).unwrap().risk_amount, Some(dec!(20000)));
        let wider = Levels {
            quantity: 1000,
            stop_loss: Some(dec!(940)),
            take_profit: None,
            current_stop: Some(dec!(950)),
            ..long()
        };
        assert_eq!(
            verdict(wider).unwrap_err(),
            "max risk per trade: limit ₹2000, order risks ₹60000",
            "moving it further away is judged by the limit"
        );
    }
}
