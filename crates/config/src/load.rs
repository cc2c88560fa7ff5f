//! Loading: the layers merged in order, secrets' files checked, and each
//! value's origin kept to name it in errors and `xcoin config`.

use std::path::Path;

use figment::providers::{Format, Serialized, Toml};
use figment::{Figment, Metadata, Profile};

use crate::*;

/// The loaded configuration, with where every value came from.
#[derive(Debug)]
pub struct Config {
    pub settings: Settings,
    pub paths: ConfigPaths,
    figment: Figment,
}

impl Config {
    /// Loads every layer from the real files and the process environment.
    pub fn load(paths: ConfigPaths) -> Result<Config, ConfigError> {
        let env: Vec<(String, String)> =
            std::env::vars_os().filter_map(|(k, v)| Some((k.into_string().ok()?, v.into_string().ok()?))).collect();
        Self::load_with_env(paths, env)
    }

    /// Loads with an explicit environment (tests, and the wizard's preview).
    pub fn load_with_env(
        paths: ConfigPaths,
        env: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Config, ConfigError> {
        let mut figment = Figment::from(Serialized::defaults(Settings::default()));
        if let Some(default_file) = paths.default_file() {
            figment = figment.merge(Toml::file_exact(default_file));
        }
        if paths.local_file.exists() {
            // Read it once up front so an unreadable file is named as such.
            std::fs::read_to_string(&paths.local_file)
                .map_err(|e| ConfigError::Unreadable { path: paths.local_file.clone(), message: e.to_string() })?;
            check_secret_file(&paths.local_file, toml_has_secret)?;
            figment = figment.merge(Toml::file_exact(&paths.local_file));
        }
        if paths.dotenv.exists() {
            let pairs = read_dotenv(&paths.dotenv)?;
            check_secret_file(&paths.dotenv, |_| {
                pairs
                    .iter()
                    .any(|(k, v)| !v.is_empty() && env_key(k).is_some_and(|key| SECRET_KEYS.contains(&key.as_str())))
            })?;
            figment = figment.merge(VarLayer::new(".env file", Some(paths.dotenv.clone()), pairs)?);
        }
        figment = figment.merge(VarLayer::new("environment variable", None, env)?);

        let settings: Settings = figment.extract().map_err(|e| ConfigError::Parse(describe_figment_error(e)))?;
        let config = Config { settings, paths, figment };
        config.validate()?;
        Ok(config)
    }

    /// A configuration made in code (the wizard's choices before they are
    /// written): every value reports itself as a built-in default.
    pub fn with_settings(settings: Settings, paths: ConfigPaths) -> Config {
        Config { settings, paths, figment: Figment::new() }
    }

    /// Whether XCoin has been configured at all: a local file, or a database
    /// URL in the environment. Without either the console opens the wizard.
    pub fn is_configured(&self) -> bool {
        let url_in_env = ["DATABASE_URL", "XCOIN_DATABASE__URL"]
            .iter()
            .any(|v| std::env::var(v).is_ok_and(|u| !u.trim().is_empty()));
        self.paths.local_file.exists() || url_in_env
    }

    /// Where a key's effective value came from, e.g. "config/local.toml" or
    /// "environment variable XCOIN_RISK__CAPITAL".
    pub fn source_of(&self, key: &str) -> String {
        describe_source(&self.figment, key)
    }

    /// Every key with its effective value (secrets redacted) and its source.
    pub fn entries(&self) -> Vec<(String, String, String)> {
        let value = serde_json::to_value(&self.settings).expect("settings serialise");
        let mut flat = Vec::new();
        flatten("", &value, &mut flat);
        flat.into_iter()
            .map(|(key, value)| {
                let source = self.source_of(&key);
                (key, value, source)
            })
            .collect()
    }
}

pub(crate) fn read_dotenv(path: &Path) -> Result<Vec<(String, String)>, ConfigError> {
    let unreadable = |message: String| ConfigError::Unreadable { path: path.to_path_buf(), message };
    let iter = dotenvy::from_path_iter(path).map_err(|e| unreadable(e.to_string()))?;
    iter.map(|item| item.map_err(|e| unreadable(e.to_string()))).collect()
}

pub(crate) fn toml_has_secret(text: &str) -> bool {
    let Ok(table) = text.parse::<toml::Table>() else {
        return false;
    };
    SECRET_KEYS.iter().any(|key| {
        let mut node = Some(&toml::Value::Table(table.clone()));
        for part in key.split('.') {
            node = node.and_then(|n| n.get(part));
        }
        matches!(node, Some(toml::Value::String(s)) if !s.trim().is_empty())
    })
}

/// Writes a file that may hold secrets (the local configuration file):
/// readable and writable by its owner only (0600), its directory created if
/// missing. The text goes to a private file beside it that then replaces it
/// in one rename, so a crash leaves the old file or the new one, never half
/// of either, and the text is never readable by others.
pub fn write_private(path: &Path, text: &str) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let dir = match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir,
        _ => Path::new("."),
    };
    std::fs::create_dir_all(dir)?;
    let name = path.file_name().map(|n| n.to_string_lossy().to_string()).unwrap_or_default();
    let tmp = dir.join(format!(".{name}.{}.tmp", std::process::id()));
    let written = (|| {
        let mut f = std::fs::OpenOptions::new().write(true).create(true).truncate(true).mode(0o600).open(&tmp)?;
        // A leftover from a crash keeps its old mode through `open`: set it.
        f.set_permissions(std::os::unix::fs::PermissionsExt::from_mode(0o600))?;
        f.write_all(text.as_bytes())?;
        f.sync_all()?;
        std::fs::rename(&tmp, path)?;
        std::fs::File::open(dir)?.sync_all()
    })();
    if written.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    written
}

/// Refuses a file that holds a secret while group or others can read it.
pub(crate) fn check_secret_file(path: &Path, holds_secret: impl FnOnce(&str) -> bool) -> Result<(), ConfigError> {
    use std::os::unix::fs::PermissionsExt;
    let unreadable = |e: std::io::Error| ConfigError::Unreadable { path: path.to_path_buf(), message: e.to_string() };
    let mode = std::fs::metadata(path).map_err(unreadable)?.permissions().mode() & 0o777;
    if mode & 0o077 == 0 {
        return Ok(());
    }
    let text = std::fs::read_to_string(path).map_err(unreadable)?;
    if holds_secret(&text) { Err(ConfigError::InsecureFile { path: path.to_path_buf(), mode }) } else { Ok(()) }
}

pub(crate) fn display_path(path: &Path) -> String {
    let cwd = std::env::current_dir().ok();
    cwd.and_then(|c| path.strip_prefix(c).ok().map(|p| p.display().to_string()))
        .unwrap_or_else(|| path.display().to_string())
}

pub(crate) fn describe_metadata(md: &Metadata, key: &str) -> String {
    let keys: Vec<&str> = key.split('.').collect();
    match (&md.source, md.name.as_ref()) {
        (Some(figment::Source::File(path)), ".env file") => {
            format!("{} in {}{}", md.interpolate(&Profile::Default, &keys), display_path(path), note(md, &keys))
        }
        (Some(figment::Source::File(path)), _) => display_path(path),
        (_, "environment variable") => {
            format!("environment variable {}{}", md.interpolate(&Profile::Default, &keys), note(md, &keys))
        }
        (Some(figment::Source::Code(_)), _) => "built-in default".into(),
        (_, name) => name.to_string(),
    }
}

/// " (0.05 read as 5 %)" when a variable's value was interpreted, else nothing.
pub(crate) fn note(md: &Metadata, keys: &[&str]) -> String {
    let note = md.interpolate(&NOTE, keys);
    if note.is_empty() { note } else { format!(" ({note})") }
}

pub(crate) fn describe_source(figment: &Figment, key: &str) -> String {
    figment.find_metadata(key).map_or_else(|| "built-in default".into(), |md| describe_metadata(md, key))
}

/// Turns figment's error into one line naming the key, its source and the problem.
pub(crate) fn describe_figment_error(error: figment::Error) -> String {
    let mut lines = Vec::new();
    for e in error {
        let key = e.path.join(".");
        let source = e.metadata.as_ref().map(|md| describe_metadata(md, &key));
        let what = match &e.kind {
            figment::error::Kind::UnknownField(..) => {
                let src = source.clone().unwrap_or_default();
                lines.push(format!("unknown config key `{key}` (from {src}); see config/default.toml for every key"));
                continue;
            }
            kind => kind.to_string(),
        };
        match source {
            Some(src) => lines.push(format!("config key `{key}` (from {src}) is invalid: {what}")),
            None => lines.push(format!("config key `{key}` is invalid: {what}")),
        }
    }
    lines.join("\n")
}

pub(crate) fn flatten(prefix: &str, value: &serde_json::Value, out: &mut Vec<(String, String)>) {
    match value {
        serde_json::Value::Object(map) => {
            for (k, v) in map {
                let key = if prefix.is_empty() { k.clone() } else { format!("{prefix}.{k}") };
                flatten(&key, v, out);
            }
        }
        serde_json::Value::Null => out.push((prefix.to_string(), String::new())),
        serde_json::Value::String(s) => out.push((prefix.to_string(), s.clone())),
        other => out.push((prefix.to_string(), other.to_string())),
    }
}
