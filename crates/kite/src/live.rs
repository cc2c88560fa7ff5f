//! The LIVE session: Kite Connect with the credentials present and the
//! session accepted by Kite.

use rust_decimal::Decimal;

use super::{KiteClient, KiteClientConfig};
use xcoin_broker::BrokerError;

/// Kite Connect for LIVE trading: the credentials present and the session
/// accepted by Kite (a read of the equity margin, which also says what can
/// be traded). The error says what to do.
pub async fn live_session(s: &xcoin_config::ZerodhaSettings) -> Result<(KiteClient, Decimal), String> {
    if s.api_key.is_none() {
        return Err(
            "LIVE mode needs zerodha.api_key: set it and zerodha.api_secret, then run `xcoin kite login`".into()
        );
    }
    if s.access_token.is_none() {
        return Err("LIVE mode needs today's zerodha.access_token: run `xcoin kite login`".into());
    }
    let config = KiteClientConfig::for_settings(s);
    let client = KiteClient::from_settings(s, config).map_err(|e| e.to_string())?;
    match client.margins().await.map_err(BrokerError::from) {
        Ok(margins) => Ok((client, margins.equity.map(|e| e.net).unwrap_or_default())),
        Err(BrokerError::Session(message)) => {
            Err(format!("Kite refused the session ({message}); run `xcoin kite login` for today's token"))
        }
        Err(e) => Err(format!("Kite Connect: {e}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rust_decimal_macros::dec;
    use xcoin_config::{Secret, ZerodhaSettings};
    use xcoin_testkit::http::{Server, fixture, kite_error, ok};

    fn zerodha(url: &str, token: Option<&str>) -> ZerodhaSettings {
        ZerodhaSettings {
            api_key: Some(Secret::new("kitekey")),
            access_token: token.map(Secret::new),
            api_url: url.into(),
            ..ZerodhaSettings::default()
        }
    }

    #[tokio::test]
    async fn live_trading_starts_only_on_a_session_kite_accepts() {
        let server = Server::start(vec![(
            "GET /user/margins",
            vec![
                ok(fixture("margins.json")),
                kite_error(403, "TokenException", "Incorrect `api_key` or `access_token`."),
            ],
        )])
        .await;
        let (_, net) = live_session(&zerodha(&server.base_url, Some("tok"))).await.unwrap();
        assert_eq!(net, dec!(99725.05000000002));
        assert_eq!(server.seen()[0].header("Authorization"), Some("token kitekey:tok"));
        assert_eq!(
            live_session(&zerodha(&server.base_url, Some("tok"))).await.unwrap_err(),
            "Kite refused the session (Incorrect `api_key` or `access_token`.); run `xcoin kite login` for today's token"
        );
        assert_eq!(
            live_session(&ZerodhaSettings { api_key: None, ..zerodha(&server.base_url, None) }).await.unwrap_err(),
            "LIVE mode needs zerodha.api_key: set it and zerodha.api_secret, then run `xcoin kite login`"
        );
        assert_eq!(
            live_session(&zerodha(&server.base_url, None)).await.unwrap_err(),
            "LIVE mode needs today's zerodha.access_token: run `xcoin kite login`"
        );
        assert_eq!(server.seen().len(), 2, "nothing is asked without credentials");
    }
}
