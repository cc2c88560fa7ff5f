//! A tiny HTTP/1.1 server that answers like Kite (or any JSON API): routes
//! by `METHOD /path`, canned replies in turn, every request kept.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};

/// A Kite Connect sample from `tests/fixtures/kite/` (its README says what
/// each mirrors): the one loader every test uses, inside the checkout.
pub fn fixture(name: &str) -> String {
    let path = format!("{}/../../tests/fixtures/kite/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// One request as the server read it.
#[derive(Debug, Clone)]
pub struct Seen {
    pub method: String,
    /// Path and query, as sent.
    pub target: String,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl Seen {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }

    /// `METHOD /path`, query left out.
    pub fn route(&self) -> String {
        format!("{} {}", self.method, self.target.split('?').next().unwrap_or_default())
    }
}

#[derive(Debug, Clone)]
pub enum Reply {
    /// A status and a body (served as JSON, whatever it holds).
    Body(u16, String),
    /// Reads the request and never answers.
    Hang,
}

pub fn ok(body: String) -> Reply {
    Reply::Body(200, body)
}

pub fn kite_error(status: u16, error_type: &str, message: &str) -> Reply {
    let body = serde_json::json!({"status": "error", "message": message, "data": null, "error_type": error_type});
    Reply::Body(status, body.to_string())
}

struct State {
    /// `METHOD /path` → replies in turn; the last repeats.
    routes: HashMap<String, (Vec<Reply>, usize)>,
    seen: Vec<Seen>,
}

pub struct Server {
    pub base_url: String,
    state: Arc<Mutex<State>>,
}

impl Server {
    pub async fn start(routes: Vec<(&str, Vec<Reply>)>) -> Server {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base_url = format!("http://{}", listener.local_addr().unwrap());
        let routes = routes.into_iter().map(|(route, replies)| (route.to_string(), (replies, 0))).collect();
        let state = Arc::new(Mutex::new(State { routes, seen: Vec::new() }));
        let shared = state.clone();
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                tokio::spawn(serve(stream, shared.clone()));
            }
        });
        Server { base_url, state }
    }

    pub fn seen(&self) -> Vec<Seen> {
        self.state.lock().unwrap().seen.clone()
    }

    /// How many requests reached `METHOD /path`.
    pub fn count(&self, route: &str) -> usize {
        self.seen().iter().filter(|s| s.route() == route).count()
    }
}

async fn serve(stream: TcpStream, state: Arc<Mutex<State>>) {
    let mut reader = BufReader::new(stream);
    let mut line = String::new();
    if reader.read_line(&mut line).await.unwrap_or(0) == 0 {
        return;
    }
    let mut parts = line.split_whitespace();
    let (method, target) = (parts.next().unwrap_or_default().to_string(), parts.next().unwrap_or_default().into());
    let mut headers = Vec::new();
    loop {
        line.clear();
        if reader.read_line(&mut line).await.unwrap_or(0) == 0 || line.trim().is_empty() {
            break;
        }
        if let Some((k, v)) = line.split_once(':') {
            headers.push((k.trim().to_string(), v.trim().to_string()));
        }
    }
    let length = headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case("content-length"))
        .and_then(|(_, v)| v.parse().ok())
        .unwrap_or(0);
    let mut body = vec![0; length];
    if reader.read_exact(&mut body).await.is_err() {
        return;
    }
    let seen = Seen { method, target, headers, body: String::from_utf8_lossy(&body).into_owned() };
    let reply = {
        let mut state = state.lock().unwrap();
        let route = seen.route();
        state.seen.push(seen);
        match state.routes.get_mut(&route) {
            Some((replies, next)) => {
                let reply = replies[(*next).min(replies.len() - 1)].clone();
                *next += 1;
                reply
            }
            None => kite_error(404, "GeneralException", &format!("no route {route} in this test")),
        }
    };
    let (status, body) = match reply {
        Reply::Body(status, body) => (status, body),
        Reply::Hang => return std::future::pending().await,
    };
    let head = format!(
        "HTTP/1.1 {status} Test\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    let mut stream = reader.into_inner();
    let _ = stream.write_all(head.as_bytes()).await;
    let _ = stream.write_all(body.as_bytes()).await;
    let _ = stream.shutdown().await;
}
