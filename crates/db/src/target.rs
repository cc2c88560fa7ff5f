//! Where the configured database lives: a URL, or the managed local cluster.

use sqlx::postgres::{PgConnectOptions, PgSslMode};

use super::local::LocalDb;
use super::{DbError, connect_options};
use xcoin_config::{Config, redacted_url};

/// The configuration's TLS keys over the URL's: sslmode, the authority and
/// the client certificate.
pub fn with_tls(
    mut options: PgConnectOptions,
    d: &xcoin_config::DatabaseSettings,
) -> Result<PgConnectOptions, DbError> {
    if let Some(mode) = &d.sslmode {
        let mode = mode
            .parse::<PgSslMode>()
            .map_err(|e| DbError::Invalid(xcoin_model::order::FieldError::new("database.sslmode", e.to_string())))?;
        options = options.ssl_mode(mode);
    }
    if let Some(ca) = &d.ssl_root_cert {
        options = options.ssl_root_cert(ca);
    }
    if let (Some(cert), Some(key)) = (&d.ssl_client_cert, &d.ssl_client_key) {
        options = options.ssl_client_cert(cert).ssl_client_key(key);
    }
    Ok(options)
}

/// Where the configured database lives.
#[derive(Debug, Clone)]
pub enum Target {
    /// `database.url`, with the password hidden for display.
    Url { options: Box<PgConnectOptions>, shown: String },
    /// The managed local cluster.
    Managed(LocalDb),
}

impl Target {
    pub fn from_config(config: &Config) -> Result<Target, DbError> {
        match &config.settings.database.url {
            Some(url) => {
                let options = with_tls(connect_options(url)?, &config.settings.database)?;
                Ok(Target::Url { options: Box::new(options), shown: redacted_url(url) })
            }
            None => Ok(Target::Managed(LocalDb::for_data_dir(&config.settings.data_dir())?)),
        }
    }

    pub fn connect_options(&self) -> PgConnectOptions {
        match self {
            Target::Url { options, .. } => options.as_ref().clone(),
            Target::Managed(local) => local.connect_options(),
        }
    }

    pub fn describe(&self) -> String {
        match self {
            Target::Url { shown, .. } => shown.clone(),
            Target::Managed(local) => format!("managed local PostgreSQL in {}", local.dir.display()),
        }
    }

    pub fn database_name(&self) -> String {
        self.connect_options().get_database().unwrap_or("postgres").to_string()
    }
}
