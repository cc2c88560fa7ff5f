//! A mail server on this machine for the alert tests: plain SMTP, STARTTLS
//! or TLS from the first byte, with a certificate made for the test (its
//! PEM is the authority a client must trust).

use std::sync::{Arc, Mutex};

use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncWrite, AsyncWriteExt, BufReader};
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;
use tokio_rustls::rustls::ServerConfig;
use tokio_rustls::rustls::pki_types::PrivatePkcs8KeyDer;

use xcoin_config::{SmtpSettings, SmtpTls};

/// How the server expects to be reached.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Security {
    Plain,
    StartTls,
    Tls,
}

/// Answers the SMTP dialogue, refuses recipients at `refused.example`, and
/// keeps the commands (as read after any TLS) and the messages.
pub struct MailServer {
    pub port: u16,
    pub commands: Arc<Mutex<Vec<String>>>,
    pub messages: Arc<Mutex<Vec<String>>>,
    /// The server's certificate, self-signed for 127.0.0.1, as PEM.
    pub certificate_pem: String,
    security: Security,
}

type Log = Arc<Mutex<Vec<String>>>;

enum End<S> {
    Done,
    /// The client asked for STARTTLS: the plain stream, to be wrapped.
    Upgrade(S),
}

/// One SMTP conversation over `s` (after the greeting when `greet` is false).
async fn dialogue<S: AsyncRead + AsyncWrite + Unpin>(
    mut s: BufReader<S>,
    greet: bool,
    offer_starttls: bool,
    commands: &Log,
    messages: &Log,
) -> End<S> {
    if greet && s.write_all(b"220 localhost ESMTP test\r\n").await.is_err() {
        return End::Done;
    }
    let mut line = String::new();
    loop {
        line.clear();
        if s.read_line(&mut line).await.unwrap_or(0) == 0 {
            return End::Done;
        }
        let command = line.trim_end().to_string();
        commands.lock().unwrap().push(command.clone());
        let upper = command.to_ascii_uppercase();
        let reply: &[u8] = if upper.starts_with("EHLO") {
            if offer_starttls {
                b"250-localhost\r\n250-STARTTLS\r\n250 8BITMIME\r\n"
            } else {
                b"250-localhost\r\n250 8BITMIME\r\n"
            }
        } else if upper == "STARTTLS" && offer_starttls {
            let _ = s.write_all(b"220 2.0.0 ready to start TLS\r\n").await;
            let _ = s.flush().await;
            return End::Upgrade(s.into_inner());
        } else if upper.starts_with("RCPT TO") && upper.contains("REFUSED.EXAMPLE") {
            b"550 5.1.1 no such mailbox\r\n"
        } else if upper == "DATA" {
            let _ = s.write_all(b"354 end with .\r\n").await;
            let mut data = Vec::new();
            loop {
                line.clear();
                if s.read_line(&mut line).await.unwrap_or(0) == 0 {
                    return End::Done;
                }
                let l = line.trim_end_matches(['\r', '\n']);
                if l == "." {
                    break;
                }
                data.push(l.to_string());
            }
            messages.lock().unwrap().push(data.join("\n"));
            b"250 2.0.0 queued\r\n"
        } else if upper == "QUIT" {
            let _ = s.write_all(b"221 bye\r\n").await;
            return End::Done;
        } else {
            b"250 ok\r\n"
        };
        if s.write_all(reply).await.is_err() {
            return End::Done;
        }
    }
}

impl MailServer {
    /// Plain SMTP.
    pub async fn start() -> MailServer {
        MailServer::with(Security::Plain).await
    }

    pub async fn with(security: Security) -> MailServer {
        let made = rcgen::generate_simple_self_signed(vec!["127.0.0.1".to_string()]).unwrap();
        let certificate_pem = made.cert.pem();
        let key = PrivatePkcs8KeyDer::from(made.key_pair.serialize_der());
        let config =
            ServerConfig::builder().with_no_client_auth().with_single_cert(vec![made.cert.der().clone()], key.into());
        let acceptor = TlsAcceptor::from(Arc::new(config.unwrap()));
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let (commands, messages): (Log, Log) = (Arc::default(), Arc::default());
        let (c, m) = (commands.clone(), messages.clone());
        tokio::spawn(async move {
            while let Ok((tcp, _)) = listener.accept().await {
                let (c, m, acceptor) = (c.clone(), m.clone(), acceptor.clone());
                tokio::spawn(async move {
                    match security {
                        Security::Plain => {
                            dialogue(BufReader::new(tcp), true, false, &c, &m).await;
                        }
                        Security::Tls => {
                            if let Ok(tls) = acceptor.accept(tcp).await {
                                dialogue(BufReader::new(tls), true, false, &c, &m).await;
                            }
                        }
                        Security::StartTls => {
                            if let End::Upgrade(tcp) = dialogue(BufReader::new(tcp), true, true, &c, &m).await
                                && let Ok(tls) = acceptor.accept(tcp).await
                            {
                                dialogue(BufReader::new(tls), false, false, &c, &m).await;
                            }
                        }
                    }
                });
            }
        });
        MailServer { port, commands, messages, certificate_pem, security }
    }

    /// Settings that send to this server; `ca_file` names its certificate
    /// when the connection is encrypted.
    pub fn settings(&self, to: &str) -> SmtpSettings {
        SmtpSettings {
            host: Some("127.0.0.1".into()),
            port: self.port,
            username: None,
            password: None,
            from: Some("XCoin <xcoin@desk.example>".into()),
            to: Some(to.into()),
            tls: match self.security {
                Security::Plain => SmtpTls::None,
                Security::StartTls => SmtpTls::Starttls,
                Security::Tls => SmtpTls::Tls,
            },
            ca_file: None,
        }
    }
}
