//! Telegram: the Bot API's `sendMessage` to one chat.

use std::time::Duration;

use super::{AlertError, Alerter, SendFuture};
use xcoin_config::{Secret, TelegramSettings};

const SERVICE: &str = "Telegram";

/// A bot posting to one chat (a person, a group or a channel).
#[derive(Debug, Clone)]
pub struct Telegram {
    http: reqwest::Client,
    api_url: String,
    bot_token: Secret,
    chat_id: String,
}

impl Telegram {
    /// `None` when neither the bot token nor the chat is set; an error naming
    /// the missing key when only one of them is.
    pub fn from_settings(s: &TelegramSettings) -> Result<Option<Telegram>, AlertError> {
        match (&s.bot_token, &s.chat_id) {
            (None, None) => Ok(None),
            (Some(_), None) => {
                Err(AlertError::Config("alerts.telegram.chat_id is missing (alerts.telegram.bot_token is set)".into()))
            }
            (None, Some(_)) => {
                Err(AlertError::Config("alerts.telegram.bot_token is missing (alerts.telegram.chat_id is set)".into()))
            }
            (Some(token), Some(chat)) => Ok(Some(Telegram::new(&s.api_url, token.clone(), chat)?)),
        }
    }

    pub fn new(api_url: &str, bot_token: Secret, chat_id: &str) -> Result<Telegram, AlertError> {
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(5))
            .timeout(Duration::from_secs(10))
            .build()
            .map_err(|e| AlertError::Config(format!("cannot set up the HTTP client: {e}")))?;
        Ok(Telegram { http, api_url: api_url.trim_end_matches('/').to_string(), bot_token, chat_id: chat_id.into() })
    }
}

#[derive(serde::Deserialize)]
struct Reply {
    ok: bool,
    #[serde(default)]
    description: Option<String>,
}

impl Alerter for Telegram {
    fn name(&self) -> &'static str {
        "telegram"
    }

    fn destination(&self) -> String {
        format!("chat {}", self.chat_id)
    }

    fn send<'a>(&'a self, _subject: &'a str, text: &'a str) -> SendFuture<'a> {
        Box::pin(async move {
            let url = format!("{}/bot{}/sendMessage", self.api_url, self.bot_token.expose());
            let body = serde_json::json!({ "chat_id": self.chat_id, "text": text, "disable_web_page_preview": true });
            let response = self
                .http
                .post(url)
                .header(reqwest::header::CONTENT_TYPE, "application/json")
                .body(body.to_string())
                .send()
                .await
                // reqwest's error text carries the URL, and the URL the token: say only what failed.
                .map_err(|e| AlertError::Unreachable { service: SERVICE, detail: describe(e) })?;
            let status = response.status();
            let text = response.text().await.unwrap_or_default();
            match serde_json::from_str::<Reply>(&text) {
                Ok(Reply { ok: true, .. }) if status.is_success() => Ok(()),
                Ok(Reply { description, .. }) => Err(AlertError::Refused {
                    service: SERVICE,
                    detail: format!(
                        "HTTP {}: {}",
                        status.as_u16(),
                        description.unwrap_or_else(|| "no description".into())
                    ),
                }),
                Err(_) => Err(AlertError::Refused { service: SERVICE, detail: format!("HTTP {}", status.as_u16()) }),
            }
        })
    }
}

/// A transport failure in words, without the request's URL.
fn describe(e: reqwest::Error) -> String {
    if e.is_timeout() {
        "no answer within 10 s".into()
    } else if e.is_connect() {
        "connection failed".into()
    } else {
        e.without_url().to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Alert;
    use xcoin_model::strategy::TradingMode;
    use xcoin_testkit::http::{Reply, Server};

    fn settings(url: &str, token: Option<&str>, chat: Option<&str>) -> TelegramSettings {
        TelegramSettings { api_url: url.into(), bot_token: token.map(Secret::new), chat_id: chat.map(str::to_string) }
    }

    #[tokio::test]
    async fn a_message_is_posted_to_the_chat_with_the_exact_text() {
        let ok = r#"{"ok":true,"result":{"message_id":7}}"#;
        let server = Server::start(vec![("POST /bot123:abc/sendMessage", vec![Reply::Body(200, ok.into())])]).await;
        let t =
            Telegram::from_settings(&settings(&server.base_url, Some("123:abc"), Some("-100200"))).unwrap().unwrap();
        assert_eq!(t.destination(), "chat -100200");
        let alert = Alert::reconciliation_issue(9, "QTY_MISMATCH", "NSE:INFY MIS", "local 10, broker 12");
        t.send(&alert.subject(TradingMode::Live), &alert.text(TradingMode::Live)).await.unwrap();
        let requests = server.seen();
        assert_eq!(requests.len(), 1);
        let r = &requests[0];
        assert_eq!(r.route(), "POST /bot123:abc/sendMessage");
        assert_eq!(r.header("content-type"), Some("application/json"));
        let body: serde_json::Value = serde_json::from_str(&r.body).unwrap();
        assert_eq!(body["chat_id"], "-100200");
        assert_eq!(
            body["text"],
            "XCoin LIVE: Reconciliation: QTY_MISMATCH NSE:INFY MIS\n\
             Issue 9: local 10, broker 12. Resolve it in the console's Reconciliation tab."
        );
    }

    #[tokio::test]
    async fn refusals_and_silence_are_errors_that_do_not_show_the_token() {
        let refused = r#"{"ok":false,"error_code":400,"description":"Bad Request: chat not found"}"#;
        let server = Server::start(vec![(
            "POST /bot999:secret/sendMessage",
            vec![Reply::Body(400, refused.into()), Reply::Body(502, "<html>bad gateway</html>".into())],
        )])
        .await;
        let t = Telegram::new(&server.base_url, Secret::new("999:secret"), "1").unwrap();
        let refused = t.send("s", "t").await.unwrap_err();
        assert_eq!(refused.to_string(), "Telegram refused it: HTTP 400: Bad Request: chat not found");
        assert_eq!(t.send("s", "t").await.unwrap_err().to_string(), "Telegram refused it: HTTP 502");

        // A port nobody listens on any more.
        let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
        let gone = Telegram::new(&format!("http://{closed}"), Secret::new("999:secret"), "1").unwrap();
        let err = gone.send("s", "t").await.unwrap_err().to_string();
        assert_eq!(err, "could not reach Telegram: connection failed");
        assert!(!err.contains("secret"));
    }

    #[test]
    fn half_a_configuration_names_the_missing_key() {
        assert!(Telegram::from_settings(&settings("u", None, None)).unwrap().is_none());
        assert_eq!(
            Telegram::from_settings(&settings("u", Some("t"), None)).unwrap_err().to_string(),
            "alerts.telegram.chat_id is missing (alerts.telegram.bot_token is set)"
        );
        assert_eq!(
            Telegram::from_settings(&settings("u", None, Some("1"))).unwrap_err().to_string(),
            "alerts.telegram.bot_token is missing (alerts.telegram.chat_id is set)"
        );
    }
}
