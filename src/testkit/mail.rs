//! A mail server on this machine for the alert tests.

use std::sync::{Arc, Mutex};

use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpListener;

use crate::config::{SmtpSettings, SmtpTls};

/// A mail server on this machine: answers the SMTP dialogue, refuses
/// recipients at `refused.example`, and keeps the commands and messages.
pub struct MailServer {
    pub port: u16,
    pub commands: Arc<Mutex<Vec<String>>>,
    pub messages: Arc<Mutex<Vec<String>>>,
}

impl MailServer {
    pub async fn start() -> MailServer {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let (commands, messages) = (Arc::new(Mutex::new(Vec::new())), Arc::new(Mutex::new(Vec::new())));
        let (c, m) = (commands.clone(), messages.clone());
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let (c, m) = (c.clone(), m.clone());
                tokio::spawn(async move {
                    let (read, mut write) = stream.into_split();
                    let mut lines = BufReader::new(read).lines();
                    write.write_all(b"220 localhost ESMTP test\r\n").await.unwrap();
                    while let Ok(Some(line)) = lines.next_line().await {
                        c.lock().unwrap().push(line.clone());
                        let upper = line.to_ascii_uppercase();
                        let reply: &[u8] = if upper.starts_with("EHLO") {
                            b"250-localhost\r\n250 8BITMIME\r\n"
                        } else if upper.starts_with("RCPT TO") && upper.contains("REFUSED.EXAMPLE") {
                            b"550 5.1.1 no such mailbox\r\n"
                        } else if upper == "DATA" {
                            write.write_all(b"354 end with .\r\n").await.unwrap();
                            let mut data = Vec::new();
                            while let Ok(Some(l)) = lines.next_line().await {
                                if l == "." {
                                    break;
                                }
                                data.push(l);
                            }
                            m.lock().unwrap().push(data.join("\n"));
                            b"250 2.0.0 queued\r\n"
                        } else if upper == "QUIT" {
                            write.write_all(b"221 bye\r\n").await.unwrap();
                            break;
                        } else {
                            b"250 ok\r\n"
                        };
                        write.write_all(reply).await.unwrap();
                    }
                });
            }
        });
        MailServer { port, commands, messages }
    }

    /// Settings that send to this server (plain SMTP on localhost).
    pub fn settings(&self, to: &str) -> SmtpSettings {
        SmtpSettings {
            host: Some("127.0.0.1".into()),
            port: self.port,
            username: None,
            password: None,
            from: Some("XCoin <xcoin@desk.example>".into()),
            to: Some(to.into()),
            tls: SmtpTls::None,
        }
    }
}
