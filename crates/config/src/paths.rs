//! Where the configuration, data and logs live.

use std::path::{Path, PathBuf};

/// Where the configuration files are.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigPaths {
    /// The checkout XCoin runs from, if any (holds `config/default.toml`).
    pub checkout: Option<PathBuf>,
    /// The wizard's file: `config/local.toml`, the XDG file, or `--config`.
    pub local_file: PathBuf,
    pub dotenv: PathBuf,
}

impl ConfigPaths {
    /// Finds the checkout from the working directory upwards, and the files around it.
    pub fn discover(explicit_config: Option<PathBuf>) -> Self {
        let cwd = std::env::current_dir().unwrap_or_else(|_| PathBuf::from("."));
        let checkout = cwd
            .ancestors()
            .find(|dir| dir.join("config/default.toml").is_file() && dir.join("Cargo.toml").is_file())
            .map(Path::to_path_buf);
        Self::for_checkout(checkout, explicit_config, &cwd)
    }

    pub fn for_checkout(checkout: Option<PathBuf>, explicit_config: Option<PathBuf>, cwd: &Path) -> Self {
        let local_file = explicit_config.unwrap_or_else(|| match &checkout {
            Some(root) => root.join("config/local.toml"),
            None => xdg_dir("XDG_CONFIG_HOME", ".config").join("xcoin/config.toml"),
        });
        let dotenv = checkout.as_deref().unwrap_or(cwd).join(".env");
        ConfigPaths { checkout, local_file, dotenv }
    }

    pub fn default_file(&self) -> Option<PathBuf> {
        self.checkout.as_ref().map(|root| root.join("config/default.toml"))
    }
}

pub(crate) fn home() -> PathBuf {
    std::env::var_os("HOME").map(PathBuf::from).unwrap_or_else(|| PathBuf::from("/"))
}

pub(crate) fn xdg_dir(var: &str, fallback: &str) -> PathBuf {
    std::env::var_os(var).filter(|v| !v.is_empty()).map(PathBuf::from).unwrap_or_else(|| home().join(fallback))
}

/// Whether this process runs as root (the managed database then runs as `postgres`).
pub fn running_as_root() -> bool {
    use std::os::unix::fs::MetadataExt;
    // /proc/self belongs to the effective user.
    std::fs::metadata("/proc/self").is_ok_and(|m| m.uid() == 0)
}
