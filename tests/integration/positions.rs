//! Positions: explicit creation, reads, levels, marking to market, closing.

use crate::support::*;
use rust_decimal_macros::dec;
use xcoin::db::DbError;
use xcoin::db::positions::NewPosition;
use xcoin::domain::order::{Exchange, Product};
use xcoin::domain::position::PositionStatus;

fn new(symbol: &str, quantity: i64, average_price: rust_decimal::Decimal) -> NewPosition {
    NewPosition {
        strategy_id: 1,
        symbol: symbol.into(),
        exchange: Exchange::Nse,
        product: Product::Mis,
        quantity,
        average_price,
        stop_loss: Some(dec!(95)),
        take_profit: None,
    }
}

#[tokio::test]
async fn create_read_and_count() {
    let t = test_db().await;
    let p = t.create_position(&new("HDFCBANK", 25, dec!(1600.10))).await.unwrap();
    assert_eq!((p.quantity(), p.average_price(), p.status), (25, dec!(1600.10), PositionStatus::Open));
    assert_eq!(t.get_position(p.id).await.unwrap(), p);
    let err = t.create_position(&new("HDFCBANK", 5, dec!(1601))).await.unwrap_err();
    assert_eq!(err.to_string(), format!("HDFCBANK NSE MIS already has open position {} (25 @ 1600.1)", p.id));
    let mut cnc = new("HDFCBANK", -5, dec!(1601));
    cnc.product = Product::Cnc;
    let short = t.create_position(&cnc).await.unwrap();
    assert_eq!(short.quantity(), -5);

    assert_eq!(t.find_open_positions("HDFCBANK", Exchange::Nse, None).await.unwrap().len(), 2);
    let mis = t.find_open_positions("HDFCBANK", Exchange::Nse, Some(Product::Mis)).await.unwrap();
    assert_eq!(mis.iter().map(|p| p.id).collect::<Vec<_>>(), vec![p.id]);
    assert!(t.find_open_positions("HDFCBANK", Exchange::Bse, None).await.unwrap().is_empty());
    assert_eq!(t.open_position_count().await.unwrap(), 2);
    assert_eq!(t.open_positions().await.unwrap().len(), 2);
    assert_eq!(t.positions_by_ids(&[short.id]).await.unwrap()[0].product, Product::Cnc);

    assert_eq!(
        t.create_position(&new("X", 0, dec!(1))).await.unwrap_err().to_string(),
        "quantity: a new position needs a non-zero quantity"
    );
    assert_eq!(
        t.create_position(&new("X", 1, dec!(0))).await.unwrap_err().to_string(),
        "average_price: must be greater than 0, got 0"
    );
}

#[tokio::test]
async fn marking_to_market_moves_pnl_and_the_price_range() {
    let t = test_db().await;
    let long = t.create_position(&new("INFY", 10, dec!(100))).await.unwrap();
    let mut s = new("INFY", -4, dec!(100));
    s.product = Product::Cnc;
    let short = t.create_position(&s).await.unwrap();

    assert_eq!(t.mark_to_market("INFY", Exchange::Nse, dec!(103.25)).await.unwrap(), 2);
    assert_eq!(t.mark_to_market("INFY", Exchange::Nse, dec!(103.25)).await.unwrap(), 0, "same price: no write");
    t.mark_to_market("INFY", Exchange::Nse, dec!(98.50)).await.unwrap();
    let l = t.get_position(long.id).await.unwrap();
    assert_eq!((l.last_price, l.unrealized_pnl), (Some(dec!(98.50)), dec!(-15.00)));
    assert_eq!((l.highest_price, l.lowest_price), (Some(dec!(103.25)), Some(dec!(98.50))));
    let sh = t.get_position(short.id).await.unwrap();
    assert_eq!(sh.unrealized_pnl, dec!(6.00));

    let view: Vec<(i64, Option<rust_decimal::Decimal>, String)> =
        sqlx::query_as("SELECT id, distance_to_stop, strategy_name FROM v_active_positions ORDER BY id")
            .fetch_all(t.pool())
            .await
            .unwrap();
    assert_eq!(
        view,
        vec![
            (long.id, Some(dec!(3.50)), "Manual Trading".into()),
            (short.id, Some(dec!(-3.50)), "Manual Trading".into())
        ]
    );
    assert_eq!(
        t.mark_to_market("INFY", Exchange::Nse, dec!(0)).await.unwrap_err().to_string(),
        "last_price: must be greater than 0, got 0"
    );
}

#[tokio::test]
async fn levels_update_and_close_with_final_pnl() {
    let t = test_db().await;
    let p = t.create_position(&new("ITC", -200, dec!(450.20))).await.unwrap();
    let u = t.update_position_levels(p.id, Some(dec!(455)), Some(dec!(440))).await.unwrap();
    assert_eq!((u.stop_loss, u.take_profit), (Some(dec!(455)), Some(dec!(440))));
    assert_eq!(
        t.update_position_levels(p.id, Some(dec!(-1)), None).await.unwrap_err().to_string(),
        "stop_loss: must be greater than 0 or empty"
    );

    let closed = t.close_position(p.id, dec!(448.05), "asha", "broker shows it flat").await.unwrap();
    assert_eq!(closed.status, PositionStatus::Closed);
    assert_eq!(closed.quantity(), 0);
    assert_eq!(closed.realized_pnl(), dec!(430.00));
    assert_eq!(closed.unrealized_pnl, dec!(0));
    assert!(closed.closed_at.is_some());
    assert_eq!(
        t.close_position(p.id, dec!(448), "asha", "again").await.unwrap_err().to_string(),
        format!("position {} is already closed", p.id)
    );
    // A closed position has no levels to set.
    let closed_levels = t.update_position_levels(p.id, None, None).await.unwrap_err();
    assert!(matches!(closed_levels, DbError::NotFound { entity: "open position", .. }), "{closed_levels:?}");
    assert_eq!(closed_levels.to_string(), format!("open position {} does not exist", p.id));
    assert_eq!(t.open_position_count().await.unwrap(), 0);
    // The instrument can open again as a new row.
    let again = t.create_position(&new("ITC", 1, dec!(449))).await.unwrap();
    assert_ne!(again.id, p.id);
}
