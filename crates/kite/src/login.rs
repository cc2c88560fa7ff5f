//! `xcoin kite login`: the daily exchange of a Kite request token for an
//! access token, stored as a secret in the local configuration file.
//!
//! Kite's login happens in a browser: the operator opens the login URL,
//! signs in, and Kite redirects to the app's redirect URL with
//! `request_token=…` in its query. That token works once and for a few
//! minutes; exchanged with the API secret's checksum it gives the access
//! token every request is signed with, until about 06:00 IST the next day.

use std::io::{BufRead, Write};
use std::path::{Path, PathBuf};

use super::client::{ClientError, KiteClient, KiteClientConfig};
use xcoin_config::{Config, Secret, write_private};

/// Where the operator signs in to Kite.
pub const LOGIN_URL: &str = "https://kite.zerodha.com/connect/login";

/// The login URL for an app: `…/connect/login?v=3&api_key=…`.
pub fn login_url(api_key: &str) -> String {
    let mut url = url::Url::parse(LOGIN_URL).expect("the login URL parses");
    url.query_pairs_mut().append_pair("v", "3").append_pair("api_key", api_key);
    url.into()
}

/// A login that did not complete, and what to do about it.
#[derive(Debug, thiserror::Error)]
pub enum LoginError {
    #[error(
        "config key `{key}` is empty: set it in {file} (or as the environment variable {env}), then run `xcoin kite login` again"
    )]
    Missing { key: &'static str, env: &'static str, file: String },
    #[error("{0}")]
    NoRequestToken(String),
    #[error(
        "Kite did not log in: {0}\nA request token works once and for a few minutes: open the login URL again for a new one."
    )]
    Session(ClientError),
    #[error("could not store zerodha.access_token in {path}: {message}", path = .path.display())]
    Store { path: PathBuf, message: String },
    #[error("the terminal: {0}")]
    Terminal(#[from] std::io::Error),
}

fn is_request_token(text: &str) -> bool {
    !text.is_empty() && text.bytes().all(|b| b.is_ascii_alphanumeric())
}

/// The request token in what the operator pasted: the token itself, or the
/// whole address (or query) Kite redirected to.
pub fn request_token_from(input: &str) -> Result<String, LoginError> {
    let text = input.trim();
    if text.is_empty() {
        return Err(LoginError::NoRequestToken(
            "no request token given: paste the address Kite redirected to after the login, or its request_token value"
                .into(),
        ));
    }
    if is_request_token(text) {
        return Ok(text.to_string());
    }
    let query = text.split_once('?').map_or(text, |(_, query)| query);
    let query = query.split('#').next().unwrap_or_default();
    let pairs: Vec<(String, String)> = url::form_urlencoded::parse(query.as_bytes()).into_owned().collect();
    let get = |name: &str| pairs.iter().find(|(k, _)| k == name).map(|(_, v)| v.trim());
    if let Some(status) = get("status").filter(|s| *s != "success") {
        return Err(LoginError::NoRequestToken(format!(
            "Kite's redirect says status={status}: the login did not succeed; sign in at the login URL again"
        )));
    }
    match get("request_token") {
        Some(token) if is_request_token(token) => Ok(token.to_string()),
        Some(_) => Err(LoginError::NoRequestToken(
            "the request_token in that address is not one Kite issues (letters and digits only)".into(),
        )),
        None => Err(LoginError::NoRequestToken(
            "that is neither a request token nor an address with request_token=… in it: paste the address Kite \
             redirected to after the login"
                .into(),
        )),
    }
}

/// Sets `zerodha.access_token` in the TOML file at `path`, keeping every
/// other key, comment and layout, and leaves the file mode 0600. Creates the
/// file when there is none; returns whether it did.
pub fn store_access_token(path: &Path, token: &Secret) -> Result<bool, LoginError> {
    let failed = |message: String| LoginError::Store { path: path.to_path_buf(), message };
    let existing = match std::fs::read_to_string(path) {
        Ok(text) => Some(text),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
        Err(e) => return Err(failed(e.to_string())),
    };
    let mut doc = match &existing {
        Some(text) => text
            .parse::<toml_edit::DocumentMut>()
            .map_err(|e| failed(format!("the file is not valid TOML, so it was left as it is: {e}")))?,
        None => toml_edit::DocumentMut::new(),
    };
    let zerodha = doc.entry("zerodha").or_insert(toml_edit::table());
    let table = zerodha
        .as_table_like_mut()
        .ok_or_else(|| failed("`zerodha` in it is not a table, so it was left as it is".into()))?;
    table.insert("access_token", toml_edit::value(token.expose()));
    let text = match existing {
        Some(_) => doc.to_string(),
        None => format!("# Written by `xcoin kite login`. It holds secrets: keep it mode 0600.\n\n{doc}"),
    };
    write_private(path, &text).map_err(|e| failed(e.to_string()))?;
    Ok(existing.is_none())
}

/// The whole command: prints the login URL, takes the request token (the
/// argument, else a line of `input`), exchanges it, stores the access token
/// in the local configuration file, and says what it did, never the token.
pub async fn login(
    config: &Config,
    client_config: KiteClientConfig,
    request_token: Option<String>,
    input: &mut dyn BufRead,
    out: &mut dyn Write,
) -> Result<(), LoginError> {
    let zerodha = &config.settings.zerodha;
    let path = &config.paths.local_file;
    let file = path.display().to_string();
    let missing = |key, env| LoginError::Missing { key, env, file: file.clone() };
    let api_key = zerodha.api_key.as_ref().ok_or_else(|| missing("zerodha.api_key", "ZERODHA_API_KEY"))?;
    let api_secret = zerodha.api_secret.as_ref().ok_or_else(|| missing("zerodha.api_secret", "ZERODHA_API_SECRET"))?;

    writeln!(out, "Sign in to Kite at this address; it redirects you to your app's redirect URL:")?;
    writeln!(out, "  {}", login_url(api_key.expose()))?;
    let pasted = match request_token {
        Some(given) => given,
        None => {
            write!(out, "Paste the address it redirected to (or its request_token): ")?;
            out.flush()?;
            let mut line = String::new();
            input.read_line(&mut line)?;
            line
        }
    };
    let request_token = request_token_from(&pasted)?;

    let client = KiteClient::new(client_config, api_key.expose(), None).map_err(LoginError::Session)?;
    let session = client.generate_session(&request_token, api_secret).await.map_err(LoginError::Session)?;
    let created = store_access_token(path, &session.access_token)?;

    let who = if session.user_name.is_empty() {
        session.user_id.clone()
    } else {
        format!("{} ({})", session.user_id, session.user_name)
    };
    writeln!(out, "Logged in to Kite as {who}.")?;
    writeln!(
        out,
        "{} {file}: zerodha.access_token stored (mode 0600; the token is not shown).",
        if created { "Created" } else { "Updated" }
    )?;
    writeln!(out, "Kite expires it at about 06:00 IST tomorrow: log in again each trading day.")?;
    let source = config.source_of("zerodha.access_token");
    if zerodha.access_token.is_some() && (source.starts_with("environment variable") || source.contains(".env")) {
        writeln!(
            out,
            "Note: zerodha.access_token is also set by {source}, which wins over {file}; remove it there, or XCoin keeps using the old token."
        )?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt;

    use super::*;
    use xcoin_config::ConfigPaths;
    use xcoin_testkit::http::{Server, fixture, kite_error, ok};

    /// What Kite's session answer carries here instead of the fixture's `XXXXXX`.
    const TOKEN: &str = "Tok3nThatMustNeverPrint";

    fn session_reply() -> String {
        fixture("generate_session.json")
            .replace(r#""access_token": "XXXXXX""#, &format!(r#""access_token": "{TOKEN}""#))
    }

    fn load(dir: &Path, env: &[(&str, &str)]) -> Config {
        let paths = ConfigPaths::for_checkout(None, Some(dir.join("local.toml")), dir);
        Config::load_with_env(paths, env.iter().map(|(k, v)| (k.to_string(), v.to_string()))).unwrap()
    }

    fn client_config(server: &Server) -> KiteClientConfig {
        KiteClientConfig { base_url: server.base_url.clone(), ..KiteClientConfig::default() }
    }

    fn mode(path: &Path) -> u32 {
        std::fs::metadata(path).unwrap().permissions().mode() & 0o777
    }

    const CREDENTIALS: &[(&str, &str)] = &[("ZERODHA_API_KEY", "kitekey"), ("ZERODHA_API_SECRET", "kitesecret")];

    #[test]
    fn the_login_url_names_the_version_and_the_app() {
        assert_eq!(login_url("kitekey"), "https://kite.zerodha.com/connect/login?v=3&api_key=kitekey");
    }

    #[test]
    fn the_request_token_is_taken_from_a_token_a_redirect_address_or_its_query() {
        for pasted in [
            "reqtoken123",
            "  reqtoken123\n",
            "https://127.0.0.1:8080/kite?action=login&type=login&status=success&request_token=reqtoken123",
            "http://localhost/?request_token=reqtoken123&action=login#top",
            "action=login&status=success&request_token=reqtoken123",
        ] {
            assert_eq!(request_token_from(pasted).unwrap(), "reqtoken123", "{pasted}");
        }
        let refused = |pasted: &str| request_token_from(pasted).unwrap_err().to_string();
        assert!(refused("").starts_with("no request token given"));
        assert!(refused("https://127.0.0.1/?status=error&request_token=abc").contains("status=error"));
        assert!(refused("https://127.0.0.1/?action=login").starts_with("that is neither a request token"));
        assert!(refused("https://127.0.0.1/?request_token=a/b").contains("not one Kite issues"));
    }

    #[tokio::test]
    async fn login_stores_the_token_privately_keeps_every_other_key_and_never_prints_it() {
        let server = Server::start(vec![("POST /session/token", vec![ok(session_reply())])]).await;
        let dir = tempfile::tempdir().unwrap();
        let local = dir.path().join("local.toml");
        let before = "# The desk's own notes.\n[risk]\nmax_open_positions = 3 # for now\n\n[zerodha]\n";
        std::fs::write(&local, before).unwrap();
        std::fs::set_permissions(&local, std::fs::Permissions::from_mode(0o644)).unwrap();
        let config = load(dir.path(), CREDENTIALS);

        let mut out = Vec::new();
        let redirect = "https://127.0.0.1/?action=login&type=login&status=success&request_token=reqtoken123";
        login(&config, client_config(&server), Some(redirect.into()), &mut std::io::empty(), &mut out).await.unwrap();

        let printed = String::from_utf8(out).unwrap();
        assert!(!printed.contains(TOKEN), "{printed}");
        assert_eq!(
            printed,
            format!(
                "Sign in to Kite at this address; it redirects you to your app's redirect URL:\n  \
                 https://kite.zerodha.com/connect/login?v=3&api_key=kitekey\n\
                 Logged in to Kite as XX0000 (Kite Connect).\n\
                 Updated {}: zerodha.access_token stored (mode 0600; the token is not shown).\n\
                 Kite expires it at about 06:00 IST tomorrow: log in again each trading day.\n",
                local.display()
            )
        );
        assert_eq!(mode(&local), 0o600);
        let after = std::fs::read_to_string(&local).unwrap();
        assert_eq!(after, format!("{before}access_token = \"{TOKEN}\"\n"));
        // The file loads as the app loads it: secure, the token in place, the other keys kept.
        let reloaded = load(dir.path(), CREDENTIALS);
        assert_eq!(reloaded.settings.zerodha.access_token.as_ref().map(Secret::expose), Some(TOKEN));
        assert_eq!(reloaded.settings.risk.max_open_positions, 3);

        // The exchange sent the checksum of kitekey + reqtoken123 + kitesecret
        // (see `the_login_checksum_is_the_sha256_of_key_token_and_secret`).
        let seen = server.seen();
        assert_eq!(seen.len(), 1);
        assert_eq!(
            seen[0].body,
            "api_key=kitekey&request_token=reqtoken123\
             &checksum=b8bc16ed929a23e58718ae855a09addab42a69f1d7b5da747ee06534bcf0764e"
        );
    }

    #[tokio::test]
    async fn login_reads_the_token_from_the_terminal_and_creates_a_private_file() {
        let server = Server::start(vec![("POST /session/token", vec![ok(session_reply())])]).await;
        let dir = tempfile::tempdir().unwrap();
        let local = dir.path().join("local.toml");
        let config = load(dir.path(), CREDENTIALS);

        let mut input = std::io::Cursor::new("https://127.0.0.1/?status=success&request_token=reqtoken123\n");
        let mut out = Vec::new();
        login(&config, client_config(&server), None, &mut input, &mut out).await.unwrap();

        let printed = String::from_utf8(out).unwrap();
        assert!(printed.contains("Paste the address it redirected to (or its request_token): "), "{printed}");
        assert!(printed.contains(&format!("Created {}: zerodha.access_token stored", local.display())), "{printed}");
        assert!(!printed.contains(TOKEN), "{printed}");
        assert_eq!(mode(&local), 0o600);
        assert_eq!(
            std::fs::read_to_string(&local).unwrap(),
            format!(
                "# Written by `xcoin kite login`. It holds secrets: keep it mode 0600.\n\n[zerodha]\naccess_token = \"{TOKEN}\"\n"
            )
        );
    }

    #[tokio::test]
    async fn a_token_from_the_environment_is_named_as_the_one_that_wins() {
        let server = Server::start(vec![("POST /session/token", vec![ok(session_reply())])]).await;
        let dir = tempfile::tempdir().unwrap();
        let mut env = CREDENTIALS.to_vec();
        env.push(("ZERODHA_ACCESS_TOKEN", "yesterdays"));
        let config = load(dir.path(), &env);
        let mut out = Vec::new();
        login(&config, client_config(&server), Some("reqtoken123".into()), &mut std::io::empty(), &mut out)
            .await
            .unwrap();
        let printed = String::from_utf8(out).unwrap();
        assert!(
            printed.contains("Note: zerodha.access_token is also set by environment variable ZERODHA_ACCESS_TOKEN"),
            "{printed}"
        );
        assert!(!printed.contains(TOKEN) && !printed.contains("yesterdays"), "{printed}");
    }

    #[tokio::test]
    async fn missing_credentials_name_their_config_keys_and_nothing_is_sent() {
        let server = Server::start(vec![]).await;
        let dir = tempfile::tempdir().unwrap();
        let local = dir.path().join("local.toml").display().to_string();
        for (env, key, var) in [
            (&[("ZERODHA_API_SECRET", "kitesecret")][..], "zerodha.api_key", "ZERODHA_API_KEY"),
            (&[("ZERODHA_API_KEY", "kitekey")][..], "zerodha.api_secret", "ZERODHA_API_SECRET"),
        ] {
            let config = load(dir.path(), env);
            let err = login(
                &config,
                client_config(&server),
                Some("reqtoken123".into()),
                &mut std::io::empty(),
                &mut Vec::new(),
            )
            .await
            .unwrap_err();
            assert_eq!(
                err.to_string(),
                format!(
                    "config key `{key}` is empty: set it in {local} (or as the environment variable {var}), then run `xcoin kite login` again"
                )
            );
        }
        assert!(server.seen().is_empty());
        assert!(!dir.path().join("local.toml").exists());
    }

    #[tokio::test]
    async fn a_refused_login_says_why_and_leaves_the_file_alone() {
        let server = Server::start(vec![(
            "POST /session/token",
            vec![kite_error(403, "TokenException", "Token is invalid or has expired.")],
        )])
        .await;
        let dir = tempfile::tempdir().unwrap();
        let config = load(dir.path(), CREDENTIALS);
        let err =
            login(&config, client_config(&server), Some("reqtoken123".into()), &mut std::io::empty(), &mut Vec::new())
                .await
                .unwrap_err();
        assert_eq!(
            err.to_string(),
            "Kite did not log in: Kite HTTP 403 TokenException: Token is invalid or has expired.\nA request token works \
             once and for a few minutes: open the login URL again for a new one."
        );
        assert!(!dir.path().join("local.toml").exists());
    }

    #[test]
    fn a_file_that_is_not_toml_is_left_as_it_is() {
        let dir = tempfile::tempdir().unwrap();
        let local = dir.path().join("local.toml");
        std::fs::write(&local, "[risk\n").unwrap();
        let err = store_access_token(&local, &Secret::new(TOKEN)).unwrap_err();
        assert!(err.to_string().contains("is not valid TOML, so it was left as it is"), "{err}");
        assert_eq!(std::fs::read_to_string(&local).unwrap(), "[risk\n");
    }
}
