//! E-mail: one plain-text message per alert through an SMTP relay, over
//! STARTTLS (port 587) or TLS (port 465); unencrypted only to a relay on
//! this machine.

use std::time::Duration;

use lettre::message::header::ContentType;
use lettre::message::{Mailbox, Mailboxes};
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Certificate, Tls, TlsParameters};
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};

use super::{AlertError, Alerter, SendFuture};
use xcoin_config::{SmtpSettings, SmtpTls};

const SERVICE: &str = "the mail server";

/// Mail to the desk's addresses through one relay.
#[derive(Debug, Clone)]
pub struct Smtp {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
    to: Mailboxes,
    shown: String,
}

fn config(key: &str, problem: impl std::fmt::Display) -> AlertError {
    AlertError::Config(format!("alerts.smtp.{key}: {problem}"))
}

impl Smtp {
    /// `None` when no host is set; an error naming the key when the rest of
    /// what a send needs is missing or wrong.
    pub fn from_settings(s: &SmtpSettings) -> Result<Option<Smtp>, AlertError> {
        let Some(host) = s.host.as_deref() else { return Ok(None) };
        let from: Mailbox = s
            .from
            .as_deref()
            .ok_or_else(|| config("from", "missing; the sender's address, e.g. xcoin@desk.example"))?
            .parse()
            .map_err(|e| config("from", format!("not an e-mail address ({e})")))?;
        let to: Mailboxes =
            s.to.as_deref()
                .ok_or_else(|| config("to", "missing; one or more addresses, separated by commas"))?
                .parse()
                .map_err(|e| config("to", format!("not a list of e-mail addresses ({e})")))?;
        let local = matches!(host, "localhost" | "127.0.0.1" | "::1");
        let tls = || -> Result<TlsParameters, AlertError> {
            let mut params = TlsParameters::builder(host.to_string());
            if let Some(path) = s.ca_file.as_deref() {
                let pem = std::fs::read(path).map_err(|e| config("ca_file", format!("cannot read {path}: {e}")))?;
                let ca = Certificate::from_pem(&pem)
                    .map_err(|e| config("ca_file", format!("{path} holds no PEM certificate ({e})")))?;
                params = params.add_root_certificate(ca);
            }
            params.build_rustls().map_err(|e| config("tls", e))
        };
        let security = match s.tls {
            SmtpTls::Starttls => Tls::Required(tls()?),
            SmtpTls::Tls => Tls::Wrapper(tls()?),
            SmtpTls::None if local => Tls::None,
            SmtpTls::None => {
                return Err(config(
                    "tls",
                    format!(
                        "\"none\" is only for a relay on this machine (localhost); {host} needs \"starttls\" or \"tls\""
                    ),
                ));
            }
        };
        let mut builder = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(host)
            .tls(security)
            .port(s.port)
            .timeout(Some(Duration::from_secs(10)));
        match (&s.username, &s.password) {
            (Some(user), Some(password)) => {
                builder = builder.credentials(Credentials::new(user.clone(), password.expose().to_string()))
            }
            (Some(_), None) => return Err(config("password", "missing (alerts.smtp.username is set)")),
            (None, Some(_)) => return Err(config("username", "missing (alerts.smtp.password is set)")),
            (None, None) => {}
        }
        let shown = format!("{} via {host}:{}", s.to.as_deref().unwrap_or_default(), s.port);
        Ok(Some(Smtp { transport: builder.build(), from, to, shown }))
    }
}

impl Alerter for Smtp {
    fn name(&self) -> &'static str {
        "e-mail"
    }

    fn destination(&self) -> String {
        self.shown.clone()
    }

    fn send<'a>(&'a self, subject: &'a str, text: &'a str) -> SendFuture<'a> {
        Box::pin(async move {
            let mut message =
                Message::builder().from(self.from.clone()).subject(subject).header(ContentType::TEXT_PLAIN);
            for to in self.to.iter() {
                message = message.to(to.clone());
            }
            let message = message
                .body(text.to_string())
                .map_err(|e| AlertError::Config(format!("the message could not be built: {e}")))?;
            match self.transport.send(message).await {
                Ok(_) => Ok(()),
                Err(e) if e.is_permanent() => Err(AlertError::Refused { service: SERVICE, detail: e.to_string() }),
                Err(e) => Err(AlertError::Unreachable { service: SERVICE, detail: e.to_string() }),
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Alert;
    use xcoin_config::Secret;
    use xcoin_model::strategy::TradingMode;
    use xcoin_testkit::mail::{MailServer, Security};

    #[tokio::test]
    async fn an_alert_arrives_as_a_plain_text_mail_with_the_exact_text() {
        let server = MailServer::start().await;
        let mail = Smtp::from_settings(&server.settings("ops@desk.example, risk@desk.example")).unwrap().unwrap();
        assert_eq!(mail.destination(), format!("ops@desk.example, risk@desk.example via 127.0.0.1:{}", server.port));
        let alert = Alert::reconciliation_issue(9, "QTY_MISMATCH", "NSE:INFY MIS", "local 10, broker 12");
        mail.send(&alert.subject(TradingMode::Live), &alert.text(TradingMode::Live)).await.unwrap();

        let commands = server.commands.lock().unwrap().clone();
        assert!(commands.contains(&"MAIL FROM:<xcoin@desk.example>".to_string()), "{commands:?}");
        assert!(commands.contains(&"RCPT TO:<ops@desk.example>".to_string()), "{commands:?}");
        assert!(commands.contains(&"RCPT TO:<risk@desk.example>".to_string()), "{commands:?}");
        let message = server.messages.lock().unwrap()[0].clone();
        let (head, body) = message.split_once("\n\n").unwrap();
        assert!(head.contains("Content-Transfer-Encoding: quoted-printable"), "{head}");
        let body = quoted_printable_decoded(body);
        assert!(head.contains("Subject: XCoin LIVE: Reconciliation: QTY_MISMATCH NSE:INFY MIS"), "{head}");
        assert!(head.contains("From: XCoin <xcoin@desk.example>"), "{head}");
        assert!(head.contains("Content-Type: text/plain; charset=utf-8"), "{head}");
        assert_eq!(
            body,
            "XCoin LIVE: Reconciliation: QTY_MISMATCH NSE:INFY MIS\n\
             Issue 9: local 10, broker 12. Resolve it in the console's Reconciliation tab."
        );
    }

    /// A quoted-printable body as the reader sees it (soft breaks joined,
    /// `=XX` bytes restored).
    fn quoted_printable_decoded(body: &str) -> String {
        let joined = body.replace("=\n", "");
        let mut bytes = Vec::new();
        let mut rest = joined.as_bytes();
        while let Some((&b, tail)) = rest.split_first() {
            if b == b'=' && tail.len() >= 2 {
                bytes.push(u8::from_str_radix(std::str::from_utf8(&tail[..2]).unwrap(), 16).unwrap());
                rest = &tail[2..];
            } else {
                bytes.push(b);
                rest = tail;
            }
        }
        String::from_utf8(bytes).unwrap()
    }

    #[tokio::test]
    async fn starttls_and_tls_carry_the_mail_only_to_a_server_whose_certificate_is_trusted() {
        let dir = tempfile::tempdir().unwrap();
        for security in [Security::StartTls, Security::Tls] {
            let server = MailServer::with(security).await;
            let ca = dir.path().join(format!("{security:?}.pem"));
            std::fs::write(&ca, &server.certificate_pem).unwrap();

            // The server's certificate is nobody's the client trusts: nothing is sent.
            let untrusted = Smtp::from_settings(&server.settings("ops@desk.example")).unwrap().unwrap();
            let refused = untrusted.send("s", "t").await.unwrap_err();
            assert!(matches!(refused, AlertError::Unreachable { .. }), "{security:?}: {refused:?}");
            assert!(server.messages.lock().unwrap().is_empty(), "{security:?}: nothing in the clear");

            let settings =
                SmtpSettings { ca_file: Some(ca.display().to_string()), ..server.settings("ops@desk.example") };
            let mail = Smtp::from_settings(&settings).unwrap().unwrap();
            let alert = Alert::test("asha");
            mail.send(&alert.subject(TradingMode::Paper), &alert.text(TradingMode::Paper)).await.unwrap();
            let message = server.messages.lock().unwrap()[0].clone();
            assert!(message.contains("Subject: XCoin PAPER: Test alert"), "{security:?}: {message}");
            let commands = server.commands.lock().unwrap().clone();
            if security == Security::StartTls {
                // EHLO in the clear, STARTTLS, then the envelope over TLS.
                let upgrade = commands.iter().rposition(|c| c == "STARTTLS").expect("STARTTLS was asked");
                let envelope = commands.iter().position(|c| c.starts_with("MAIL FROM")).unwrap();
                assert!(upgrade < envelope, "{commands:?}");
            } else {
                assert!(!commands.iter().any(|c| c == "STARTTLS"), "{commands:?}");
            }
        }
        let missing = SmtpSettings {
            ca_file: Some("/nonexistent/ca.pem".into()),
            ..MailServer::with(Security::Tls).await.settings("a@b.example")
        };
        assert!(
            Smtp::from_settings(&missing)
                .unwrap_err()
                .to_string()
                .starts_with("alerts.smtp.ca_file: cannot read /nonexistent/ca.pem: "),
        );
    }

    #[tokio::test]
    async fn a_refused_recipient_and_an_absent_server_are_told_apart() {
        let server = MailServer::start().await;
        let mail = Smtp::from_settings(&server.settings("nobody@refused.example")).unwrap().unwrap();
        let refused = mail.send("s", "t").await.unwrap_err();
        assert!(matches!(refused, AlertError::Refused { .. }), "{refused:?}");
        assert!(refused.to_string().contains("no such mailbox"), "{refused}");

        let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let mut settings = server.settings("ops@desk.example");
        settings.port = closed;
        let gone = Smtp::from_settings(&settings).unwrap().unwrap().send("s", "t").await.unwrap_err();
        assert!(matches!(gone, AlertError::Unreachable { .. }), "{gone:?}");
    }

    #[test]
    fn each_missing_or_wrong_key_is_named() {
        let base = SmtpSettings {
            host: Some("smtp.example.com".into()),
            from: Some("xcoin@desk.example".into()),
            to: Some("ops@desk.example".into()),
            ..SmtpSettings::default()
        };
        assert!(Smtp::from_settings(&SmtpSettings::default()).unwrap().is_none());
        let err = |s: SmtpSettings| Smtp::from_settings(&s).unwrap_err().to_string();
        assert_eq!(
            err(SmtpSettings { from: None, ..base.clone() }),
            "alerts.smtp.from: missing; the sender's address, e.g. xcoin@desk.example"
        );
        assert!(
            err(SmtpSettings { to: Some("not an address".into()), ..base.clone() })
                .starts_with("alerts.smtp.to: not a list of e-mail addresses (")
        );
        assert_eq!(
            err(SmtpSettings { tls: SmtpTls::None, ..base.clone() }),
            "alerts.smtp.tls: \"none\" is only for a relay on this machine (localhost); smtp.example.com needs \"starttls\" or \"tls\""
        );
        assert_eq!(
            err(SmtpSettings { username: Some("ops".into()), ..base.clone() }),
            "alerts.smtp.password: missing (alerts.smtp.username is set)"
        );
        let full = SmtpSettings { username: Some("ops".into()), password: Some(Secret::new("pw")), ..base };
        assert_eq!(
            Smtp::from_settings(&full).unwrap().unwrap().destination(),
            "ops@desk.example via smtp.example.com:587"
        );
    }
}
