//! The local exchange's ticker: Kite's WebSocket protocol on the exchange's
//! own port. A client connects with `?api_key=…&access_token=…`, subscribes
//! instrument tokens (`{"a":"subscribe","v":[…]}`), chooses a mode per token
//! (`{"a":"mode","v":["full",[…]]}`; quote until it says, as on Kite), and
//! receives binary
//! packets for its tokens at every trade, every order update as a text
//! frame, and a one-byte heartbeat each second.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use tokio::net::TcpStream;
use tokio::sync::broadcast::error::RecvError;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::handshake::server::{ErrorResponse, Request, Response};

use super::Venue;
use crate::broker::kite::ticker::{TickMode, encode_frame};

/// Serves one WebSocket connection until the client goes or the exchange stops.
pub async fn serve(stream: TcpStream, venue: Arc<Venue>) {
    #[allow(clippy::result_large_err, reason = "tungstenite's handshake callback returns its own response types")]
    let check = |req: &Request, resp: Response| -> Result<Response, ErrorResponse> {
        let query = req.uri().query().unwrap_or_default();
        let pairs: HashMap<String, String> = url::form_urlencoded::parse(query.as_bytes()).into_owned().collect();
        let key = pairs.get("api_key").map(String::as_str).unwrap_or_default();
        let token = pairs.get("access_token").map(String::as_str).unwrap_or_default();
        match venue.session_refused(key, token) {
            None => Ok(resp),
            Some(why) => {
                let mut refused = ErrorResponse::new(Some(why));
                *refused.status_mut() = tokio_tungstenite::tungstenite::http::StatusCode::FORBIDDEN;
                Err(refused)
            }
        }
    };
    let Ok(socket) = tokio_tungstenite::accept_hdr_async(stream, check).await else { return };
    let (mut tx, mut rx) = socket.split();
    let mut ticks = venue.ticks.subscribe();
    let mut updates = venue.order_updates.subscribe();
    let mut modes: HashMap<u32, TickMode> = HashMap::new();
    let mut heartbeat = tokio::time::interval(Duration::from_secs(1));
    loop {
        let out = tokio::select! {
            incoming = rx.next() => match incoming {
                Some(Ok(Message::Text(text))) => {
                    subscription(&text, &mut modes);
                    continue;
                }
                Some(Ok(Message::Close(_))) | None | Some(Err(_)) => return,
                Some(Ok(_)) => continue,
            },
            tick = ticks.recv() => match tick {
                Ok(tick) => match modes.get(&tick.instrument_token) {
                    Some(mode) => match venue.packet(&tick, *mode).and_then(|p| encode_frame(&[p])) {
                        Some(frame) => Message::Binary(frame.into()),
                        None => continue,
                    },
                    None => continue,
                },
                Err(RecvError::Lagged(_)) => continue,
                Err(RecvError::Closed) => return,
            },
            update = updates.recv() => match update {
                Ok(text) => Message::Text(text.into()),
                Err(RecvError::Lagged(missed)) => {
                    // The client must read the book again: say so as Kite says errors.
                    Message::Text(format!(r#"{{"type":"error","data":"{missed} order updates were dropped"}}"#).into())
                }
                Err(RecvError::Closed) => return,
            },
            _ = heartbeat.tick() => Message::Binary(vec![0u8].into()),
        };
        if tx.send(out).await.is_err() {
            return;
        }
    }
}

/// Applies a subscribe, unsubscribe or mode request. Anything else is ignored,
/// as Kite ignores it.
fn subscription(text: &str, modes: &mut HashMap<u32, TickMode>) {
    let Ok(request) = serde_json::from_str::<serde_json::Value>(text) else { return };
    let tokens = |v: &serde_json::Value| -> Vec<u32> {
        v.as_array()
            .map(|a| a.iter().filter_map(|t| t.as_u64()).filter_map(|t| u32::try_from(t).ok()).collect())
            .unwrap_or_default()
    };
    match request["a"].as_str() {
        Some("subscribe") => {
            for t in tokens(&request["v"]) {
                modes.entry(t).or_insert(TickMode::Quote);
            }
        }
        Some("unsubscribe") => {
            for t in tokens(&request["v"]) {
                modes.remove(&t);
            }
        }
        Some("mode") => {
            let Some(mode) = request["v"][0].as_str().and_then(|m| m.parse::<TickMode>().ok()) else { return };
            for t in tokens(&request["v"][1]) {
                modes.insert(t, mode);
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subscriptions_follow_kite_s_requests() {
        let mut modes = HashMap::new();
        subscription(r#"{"a":"subscribe","v":[408065,779521]}"#, &mut modes);
        assert_eq!(modes.get(&408065), Some(&TickMode::Quote), "Kite's default mode is quote");
        subscription(r#"{"a":"mode","v":["full",[408065]]}"#, &mut modes);
        assert_eq!(modes.get(&408065), Some(&TickMode::Full));
        subscription(r#"{"a":"unsubscribe","v":[779521]}"#, &mut modes);
        subscription(r#"{"a":"mode","v":["sideways",[408065]]}"#, &mut modes);
        subscription("not json", &mut modes);
        assert_eq!(modes, HashMap::from([(408065, TickMode::Full)]));
    }
}
