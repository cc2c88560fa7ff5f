//! Where the configured database lives: a URL, or the managed local cluster.

use sqlx::postgres::PgConnectOptions;

use super::local::LocalDb;
use super::{DbError, connect_options};
use crate::config::{Config, redacted_url};

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
            Some(url) => Ok(Target::Url { options: Box::new(connect_options(url)?), shown: redacted_url(url) }),
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
