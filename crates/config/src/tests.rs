//! The configuration's rules, each with the message it gives.

use std::path::Path;

use rust_decimal_macros::dec;

use xcoin_model::strategy::TradingMode;

use crate::*;

/// The checkout this crate is built in (its files document the settings).
fn checkout() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn paths(dir: &Path) -> ConfigPaths {
    ConfigPaths::for_checkout(None, Some(dir.join("local.toml")), dir)
}

fn load(dir: &Path, env: &[(&str, &str)]) -> Result<Config, ConfigError> {
    Config::load_with_env(paths(dir), env.iter().map(|(k, v)| (k.to_string(), v.to_string())))
}

fn write(path: &Path, text: &str, mode: u32) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::write(path, text).unwrap();
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
}

#[test]
fn default_toml_documents_exactly_the_built_in_defaults() {
    let root = &checkout();
    let text = std::fs::read_to_string(root.join("config/default.toml")).unwrap();
    let from_file: Settings = toml::from_str(&text).expect("config/default.toml parses into Settings");
    assert_eq!(serde_json::to_value(&from_file).unwrap(), serde_json::to_value(Settings::default()).unwrap());
    // Every key is written out in the file.
    let all =
        Config::load_with_env(ConfigPaths::for_checkout(Some(root.into()), Some(root.join("none.toml")), root), [])
            .unwrap();
    for (key, _, source) in all.entries() {
        assert!(source.ends_with("config/default.toml"), "{key} comes from {source}, not config/default.toml");
    }
}

#[test]
fn layers_apply_in_order_and_report_their_source() {
    let dir = tempfile::tempdir().unwrap();
    write(
        &dir.path().join("local.toml"),
        "[risk]\nmax_daily_loss_pct = 4\nmax_drawdown_pct = 12\n[account]\ncapital = 250000\n",
        0o600,
    );
    write(&dir.path().join(".env"), "XCOIN_RISK__MAX_DRAWDOWN_PCT=10\nXCOIN_ACCOUNT__CAPITAL=300000\n", 0o600);
    let cfg = load(
        dir.path(),
        &[("XCOIN_ACCOUNT__CAPITAL", "500000"), ("DATABASE_URL", "postgres://desk:hunter2@db.local:5432/xcoin")],
    )
    .unwrap();
    let s = &cfg.settings;
    assert_eq!(s.risk.max_daily_loss_pct, dec!(4));
    assert_eq!(s.risk.max_drawdown_pct, dec!(10));
    assert_eq!(s.account.capital, dec!(500000));
    assert_eq!(s.risk.max_risk_per_trade_pct, dec!(2));
    assert_eq!(s.database.pool_min, 5);
    assert_eq!(s.database.pool_max, 20);
    assert!(cfg.source_of("risk.max_daily_loss_pct").ends_with("local.toml"));
    assert!(cfg.source_of("risk.max_drawdown_pct").starts_with("XCOIN_RISK__MAX_DRAWDOWN_PCT in "));
    assert_eq!(cfg.source_of("account.capital"), "environment variable XCOIN_ACCOUNT__CAPITAL");
    assert_eq!(cfg.source_of("database.url"), "environment variable DATABASE_URL");
    assert_eq!(cfg.source_of("risk.max_open_positions"), "built-in default");
    let url = cfg.entries().into_iter().find(|(k, _, _)| k == "database.url").unwrap();
    assert_eq!(url.1, "postgres://desk:[REDACTED]@db.local:5432/xcoin");
}

#[test]
fn a_url_the_parser_refuses_still_hides_its_password() {
    assert_eq!(redacted_url("postgres://desk:pw@db:99999/x"), "postgres://desk:[REDACTED]@db:99999/x");
    assert_eq!(redacted_url("postgres://desk:p@ss:w@db:99999/x?a=b"), "postgres://desk:[REDACTED]@db:99999/x?a=b");
    assert_eq!(redacted_url("postgres://desk@db:99999/x"), "postgres://desk@db:99999/x", "no password");
    assert_eq!(redacted_url("localhost/xcoin"), "localhost/xcoin");
    // A password holding `/` makes the parser read a port out of it.
    assert_eq!(redacted_url("postgres://desk:ab/cd@db:5432/x"), "postgres://desk:[REDACTED]@db:5432/x");
    let problem = database_url_problem("postgres://desk:s3cr/et@db:5432/x").unwrap();
    assert!(
        problem.starts_with("has a user or password with / ? # or @ in it") && !problem.contains("s3cr"),
        "{problem}"
    );
    assert_eq!(
        database_url_problem("postgres://desk:pw@db:99999/x").unwrap(),
        "has port 99999; a port is a whole number from 1 to 65535"
    );
    // In the loader's error too.
    let dir = tempfile::tempdir().unwrap();
    let err = error(dir.path(), "", &[("DATABASE_URL", "postgres://desk:hunter2@db:99999/x")]);
    assert!(err.contains("postgres://desk:[REDACTED]@db:99999/x") && !err.contains("hunter2"), "{err}");
}

#[test]
fn xcoin_spelling_wins_over_the_legacy_name() {
    let dir = tempfile::tempdir().unwrap();
    let cfg =
        load(dir.path(), &[("DATABASE_URL", "postgres://a@h/one"), ("XCOIN_DATABASE__URL", "postgres://a@h/two")])
            .unwrap();
    assert_eq!(cfg.settings.database.url.as_deref(), Some("postgres://a@h/two"));
}

#[test]
fn secrets_never_print() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = load(
        dir.path(),
        &[("ZERODHA_API_SECRET", "s3cr3t-value"), ("TELEGRAM_BOT_TOKEN", "123:abc"), ("TELEGRAM_CHAT_ID", "42")],
    )
    .unwrap();
    assert_eq!(cfg.settings.zerodha.api_secret.as_ref().unwrap().expose(), "s3cr3t-value");
    let debug = format!("{:?}", cfg.settings);
    assert!(!debug.contains("s3cr3t") && !debug.contains("123:abc"), "{debug}");
    let printed: Vec<_> = cfg.entries();
    let secret = printed.iter().find(|(k, _, _)| k == "zerodha.api_secret").unwrap();
    assert_eq!(secret.1, REDACTED);
    assert_eq!(secret.2, "environment variable ZERODHA_API_SECRET");
    assert!(printed.iter().all(|(_, v, _)| !v.contains("s3cr3t")));
}

fn error(dir: &Path, local: &str, env: &[(&str, &str)]) -> String {
    write(&dir.join("local.toml"), local, 0o600);
    load(dir, env).unwrap_err().to_string()
}

#[test]
fn bad_values_name_the_key_the_source_and_what_is_allowed() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let local = display_path(&d.join("local.toml"));
    assert_eq!(
        error(d, "[risk]\nmax_daily_loss_pct = -6\n", &[]),
        format!(
            "config key `risk.max_daily_loss_pct` = -6 (from {local}) is invalid: expected a percentage greater than 0 and at most 100"
        )
    );
    assert_eq!(
        error(d, "[risk]\ndefault_target_rr = 1.5\n", &[]),
        format!(
            "config key `risk.default_target_rr` = 1.5 (from {local}) is invalid: expected 0 (no default target) or at least risk.min_risk_reward (2)"
        )
    );
    assert_eq!(
        error(d, "[risk]\ndefault_stop_pct = 12\n", &[]),
        format!(
            "config key `risk.default_stop_pct` = 12 (from {local}) is invalid: expected a percent of the entry from 0 (no default stop) to 10"
        )
    );
    assert_eq!(
        error(d, "[database]\npool_min = 10\npool_max = 4\n", &[]),
        format!(
            "config key `database.pool_max` = 4 (from {local}) is invalid: expected a whole number from database.pool_min (10) to 100"
        )
    );
    assert_eq!(
        error(d, "", &[("APP_MODE", "demo")]),
        "config key `app.mode` (from environment variable APP_MODE) is invalid: `demo` is not allowed; expected one of PAPER, LIVE"
    );
    assert_eq!(
        error(d, "", &[("XCOIN_DATABASE__URL", "mysql://root@localhost/x")]),
        "config key `database.url` = mysql://root@localhost/x (from environment variable XCOIN_DATABASE__URL) is invalid: expected a PostgreSQL URL naming its database, such as postgres://user@host:5432/xcoin, or empty for the managed local database"
    );
    assert_eq!(
        error(d, "[risk]\nmax_open_positions = \"five\"\n", &[]),
        format!(
            "config key `risk.max_open_positions` (from {local}) is invalid: invalid type: found string \"five\", expected u32"
        )
    );
    assert_eq!(
        error(d, "[risk]\nmax_daily_los_pct = 3\n", &[]),
        format!("unknown config key `risk.max_daily_los_pct` (from {local}); see config/default.toml for every key")
    );
    assert_eq!(
        error(d, "", &[("XCOIN_FOO__BAR", "1")]),
        "unknown config key `foo` (from environment variable XCOIN_FOO__BAR); see config/default.toml for every key"
    );
    assert_eq!(
        error(d, "", &[("DATABASE_URL", "postgres://")]),
        "config key `database.url` = postgres:// (from environment variable DATABASE_URL) is invalid: expected a PostgreSQL URL naming its database, such as postgres://user@host:5432/xcoin, or empty for the managed local database"
    );
    assert_eq!(
        error(d, "[risk]\nsquare_off_time = \"3pm\"\n", &[]),
        format!(
            "config key `risk.square_off_time` (from {local}) is invalid: `3pm` is not a time; write it as HH:MM, e.g. 15:15"
        )
    );
    assert_eq!(
        error(d, "[app]\nmode = \"LIVE\"\n", &[]),
        "config key `zerodha.api_key` = (empty) (from built-in default) is invalid: expected your Kite Connect credential: LIVE mode cannot trade without it"
    );
    assert_eq!(
        error(d, "[market]\ntimezone = \"India/Mumbai\"\n", &[]),
        format!(
            "config key `market.timezone` = India/Mumbai (from {local}) is invalid: expected an IANA time zone such as Asia/Kolkata"
        )
    );
}

#[test]
fn a_secret_file_readable_by_others_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let local = dir.path().join("local.toml");
    write(&local, "[zerodha]\napi_secret = \"abc\"\n", 0o644);
    let err = load(dir.path(), &[]).unwrap_err();
    assert_eq!(
        err.to_string(),
        format!(
            "{} holds secrets but is readable by other users (mode 644); run `chmod 600 {}`",
            local.display(),
            local.display()
        )
    );
    // Without a secret the same mode is fine.
    write(&local, "[risk]\nmax_open_positions = 3\n", 0o644);
    assert_eq!(load(dir.path(), &[]).unwrap().settings.risk.max_open_positions, 3);
}

#[test]
fn private_files_are_owner_only_whether_new_or_rewritten() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    let fresh = dir.path().join("xcoin/config.toml");
    let secret = "[zerodha]\napi_secret = \"abc\"\n";
    write_private(&fresh, secret).unwrap();
    assert_eq!((mode(&fresh), std::fs::read_to_string(&fresh).unwrap()), (0o600, secret.into()));
    let shared = dir.path().join("local.toml");
    write(&shared, "[risk]\nmax_open_positions = 3\n", 0o644);
    write_private(&shared, "[zerodha]\n").unwrap();
    assert_eq!((mode(&shared), std::fs::read_to_string(&shared).unwrap()), (0o600, "[zerodha]\n".into()));
    let mut left: Vec<String> =
        std::fs::read_dir(dir.path()).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into()).collect();
    left.sort();
    assert_eq!(left, ["local.toml", "xcoin"], "the file is replaced whole: nothing is left beside it");
}

#[test]
fn the_env_example_is_a_valid_dotenv() {
    let dir = tempfile::tempdir().unwrap();
    let example = checkout().join(".env.example");
    std::fs::copy(example, dir.path().join(".env")).unwrap();
    let cfg = load(dir.path(), &[]).unwrap();
    assert_eq!(cfg.settings.risk.max_daily_loss_pct, dec!(6));
    assert_eq!(cfg.settings.database.url, None, "an empty DATABASE_URL means the managed database");
    assert!(cfg.source_of("account.capital").starts_with("XCOIN_ACCOUNT__CAPITAL in "));
    assert!(cfg.source_of("risk.max_daily_loss_pct").starts_with("MAX_DAILY_LOSS in "));
    assert!(cfg.source_of("dashboard.port").starts_with("DASHBOARD_PORT in "));
}

#[test]
fn every_original_name_is_documented() {
    let root = &checkout();
    let read = |p: &str| std::fs::read_to_string(root.join(p)).unwrap();
    let (example, defaults, readme) =
        (read(".env.example"), read("config/default.toml"), read("docs/configuration.md"));
    for (var, key, _) in LEGACY_ENV {
        assert!(example.lines().any(|l| l.starts_with(&format!("{var}="))), "{var} is set in .env.example");
        assert!(defaults.contains(var), "{var} is named in config/default.toml");
        assert!(readme.contains(&format!("`{var}`")), "{var} is named in docs/configuration.md");
        assert!(env_key(var).as_deref() == Some(*key));
    }
}

/// One value under every original name, as a desk's `.env` might hold them.
const ORIGINAL: &[(&str, &str)] = &[
    ("DB_MIN_CONNECTIONS", "3"),
    ("DB_MAX_CONNECTIONS", "15"),
    ("MAX_RISK_PER_TRADE", "0.02"),
    ("MAX_DAILY_LOSS", "0.05"),
    ("MAX_DRAWDOWN", "12"),
    ("MAX_POSITIONS", "3"),
    ("MIN_RISK_REWARD", "2.5:1"),
    ("MAX_POSITION_SIZE", "750"),
    ("PRICE_SANITY_PCT", "8%"),
    ("MAX_POSITION_LOSS_PCT", "0.75"),
    ("DASHBOARD_HOST", "0.0.0.0"),
    ("DASHBOARD_PORT", "9050"),
    ("APP_MODE", "paper"),
];

/// (key, effective value, how the source ends: the variable, and the note if interpreted)
const EXPECTED: &[(&str, &str, &str)] = &[
    ("database.pool_min", "3", "DB_MIN_CONNECTIONS"),
    ("database.pool_max", "15", "DB_MAX_CONNECTIONS"),
    ("risk.max_risk_per_trade_pct", "2", "MAX_RISK_PER_TRADE (0.02 read as 2 %)"),
    ("risk.max_daily_loss_pct", "5", "MAX_DAILY_LOSS (0.05 read as 5 %)"),
    ("risk.max_drawdown_pct", "12", "MAX_DRAWDOWN"),
    ("risk.max_open_positions", "3", "MAX_POSITIONS"),
    ("risk.min_risk_reward", "2.5", "MIN_RISK_REWARD (2.5:1 read as 2.5)"),
    ("risk.max_position_size", "750", "MAX_POSITION_SIZE"),
    ("risk.price_sanity_pct", "8", "PRICE_SANITY_PCT"),
    ("risk.max_position_loss_pct", "0.75", "MAX_POSITION_LOSS_PCT (0.75 read as 0.75 %)"),
    ("dashboard.host", "0.0.0.0", "DASHBOARD_HOST"),
    ("dashboard.port", "9050", "DASHBOARD_PORT"),
    ("app.mode", "PAPER", "APP_MODE"),
];

fn entry(cfg: &Config, key: &str) -> (String, String) {
    let (_, value, source) = cfg.entries().into_iter().find(|(k, _, _)| k == key).unwrap();
    (value, source)
}

#[test]
fn every_original_name_sets_its_key_from_the_environment() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = load(dir.path(), ORIGINAL).unwrap();
    for (key, value, source) in EXPECTED {
        assert_eq!(entry(&cfg, key), (value.to_string(), format!("environment variable {source}")), "{key}");
    }
    let (s, r) = (&cfg.settings, &cfg.settings.risk);
    assert_eq!((s.database.pool_min, s.database.pool_max), (3, 15));
    assert_eq!(r.max_risk_per_trade_pct, dec!(2));
    assert_eq!(r.max_daily_loss_pct, dec!(5));
    assert_eq!(r.max_drawdown_pct, dec!(12));
    assert_eq!((r.max_open_positions, r.max_position_size), (3, 750));
    assert_eq!(r.min_risk_reward, dec!(2.5));
    assert_eq!(r.price_sanity_pct, dec!(8));
    assert_eq!(r.max_position_loss_pct, dec!(0.75));
    assert_eq!((s.dashboard.host.as_str(), s.dashboard.port), ("0.0.0.0", 9050));
    assert_eq!(s.app.mode, TradingMode::Paper);
}

#[test]
fn every_original_name_sets_its_key_from_the_dotenv_file() {
    let dir = tempfile::tempdir().unwrap();
    let text: String = ORIGINAL.iter().map(|(k, v)| format!("{k}={v}\n")).collect();
    write(&dir.path().join(".env"), &text, 0o644);
    let cfg = load(dir.path(), &[]).unwrap();
    let dotenv = display_path(&dir.path().join(".env"));
    for (key, value, source) in EXPECTED {
        let (var, note) = source.split_once(' ').map_or((*source, String::new()), |(v, n)| (v, format!(" {n}")));
        assert_eq!(entry(&cfg, key), (value.to_string(), format!("{var} in {dotenv}{note}")), "{key}");
    }
    assert_eq!(cfg.settings.risk.max_daily_loss_pct, dec!(5));
}

#[test]
fn the_environment_beats_dotenv_and_the_xcoin_spelling_beats_the_original_name() {
    let dir = tempfile::tempdir().unwrap();
    write(&dir.path().join(".env"), "MAX_DAILY_LOSS=0.04\nMAX_DRAWDOWN=0.2\n", 0o644);
    let cfg = load(
        dir.path(),
        &[("MAX_DAILY_LOSS", "3"), ("MAX_RISK_PER_TRADE", "0.02"), ("XCOIN_RISK__MAX_RISK_PER_TRADE_PCT", "1.5")],
    )
    .unwrap();
    let r = &cfg.settings.risk;
    assert_eq!(entry(&cfg, "risk.max_daily_loss_pct"), ("3".into(), "environment variable MAX_DAILY_LOSS".into()));
    let dotenv = display_path(&dir.path().join(".env"));
    assert_eq!(r.max_drawdown_pct, dec!(20));
    assert_eq!(cfg.source_of("risk.max_drawdown_pct"), format!("MAX_DRAWDOWN in {dotenv} (0.2 read as 20 %)"));
    // The XCOIN_ spelling wins, and the note of the name it beat is not shown.
    assert_eq!(r.max_risk_per_trade_pct, dec!(1.5));
    assert_eq!(cfg.source_of("risk.max_risk_per_trade_pct"), "environment variable XCOIN_RISK__MAX_RISK_PER_TRADE_PCT");
    // The XCOIN_ spelling stays a plain percent: 0.05 there is 0.05 %.
    let cfg = load(dir.path(), &[("XCOIN_RISK__MAX_DAILY_LOSS_PCT", "0.05")]).unwrap();
    assert_eq!(cfg.settings.risk.max_daily_loss_pct, dec!(0.05));
    assert_eq!(cfg.source_of("risk.max_daily_loss_pct"), "environment variable XCOIN_RISK__MAX_DAILY_LOSS_PCT");
}

/// The effective percent for `var=text`, or the error.
fn percent(var: &str, text: &str) -> Result<String, String> {
    let dir = tempfile::tempdir().unwrap();
    let key = env_key(var).unwrap();
    load(dir.path(), &[(var, text)]).map(|cfg| entry(&cfg, &key).0).map_err(|e| e.to_string())
}

#[test]
fn percent_limits_take_a_fraction_only_where_no_percent_is_plausible() {
    // (variable, value, the percent it is read as; None where it is refused)
    let cases: &[(&str, &str, Option<&str>)] = &[
        // Plausible 0.05 % to 10 %: plain below 0.05 a fraction, 0.05 to 0.1 refused, above a percent.
        ("MAX_RISK_PER_TRADE", "0.02", Some("2")),
        ("MAX_RISK_PER_TRADE", "0.049", Some("4.9")),
        ("MAX_RISK_PER_TRADE", "0.05", None),
        ("MAX_RISK_PER_TRADE", "0.1", None),
        ("MAX_RISK_PER_TRADE", "0.25", Some("0.25")),
        ("MAX_RISK_PER_TRADE", "2", Some("2")),
        ("MAX_RISK_PER_TRADE", "2%", Some("2")),
        ("MAX_RISK_PER_TRADE", "0.02%", Some("0.02")),
        ("MAX_RISK_PER_TRADE", "0.0001", None),
        // Plausible 0.25 % to 50 %: below 0.25 a fraction, 0.25 to 0.5 refused, above a percent.
        ("MAX_DAILY_LOSS", "0.06", Some("6")),
        ("MAX_DAILY_LOSS", "0.2", Some("20")),
        ("MAX_DAILY_LOSS", "0.25", None),
        ("MAX_DAILY_LOSS", "0.5", None),
        ("MAX_DAILY_LOSS", "0.75", Some("0.75")),
        ("MAX_DAILY_LOSS", "6", Some("6")),
        ("MAX_DAILY_LOSS", " 6 % ", Some("6")),
        // Plausible 1 % to 50 %: 0.01 to 0.5 a fraction, other values below 1 refused.
        ("MAX_DRAWDOWN", "0.15", Some("15")),
        ("MAX_DRAWDOWN", "0.5", Some("50")),
        ("MAX_DRAWDOWN", "0.6", None),
        ("MAX_DRAWDOWN", "0.005", None),
        ("MAX_DRAWDOWN", "1", Some("1")),
        ("MAX_DRAWDOWN", "60%", Some("60")),
        // Plausible 0.5 % to 20 %: up to 0.2 a fraction, 0.2 to 0.5 refused, 0.5 up a percent.
        ("PRICE_SANITY_PCT", "0.1", Some("10")),
        ("PRICE_SANITY_PCT", "0.2", Some("20")),
        ("PRICE_SANITY_PCT", "0.3", None),
        ("PRICE_SANITY_PCT", "0.5", Some("0.5")),
        ("PRICE_SANITY_PCT", "10", Some("10")),
        // Plausible 0.1 % to 20 %: below 0.1 a fraction, 0.1 to 0.2 refused, above a percent.
        ("MAX_POSITION_LOSS_PCT", "0.05", Some("5")),
        ("MAX_POSITION_LOSS_PCT", "0.1", None),
        ("MAX_POSITION_LOSS_PCT", "0.2", None),
        ("MAX_POSITION_LOSS_PCT", "0.3", Some("0.3")),
        ("MAX_POSITION_LOSS_PCT", "5%", Some("5")),
        // Never a limit, whatever the name.
        ("MAX_DAILY_LOSS", "0", None),
        ("MAX_DAILY_LOSS", "-0.05", None),
        ("MAX_DAILY_LOSS", "six", None),
        ("MAX_DAILY_LOSS", "", None),
    ];
    for (var, text, read) in cases {
        let got = percent(var, text);
        match read {
            Some(p) => assert_eq!(got.as_deref(), Ok(*p), "{var}={text}"),
            None => {
                let err = got.expect_err(&format!("{var}={text} is refused"));
                assert!(err.starts_with(&format!("{var}={text} (from the environment) is ")), "{err}");
            }
        }
    }
}

#[test]
fn refused_percents_say_why_and_what_to_write() {
    assert_eq!(
        percent("MAX_DAILY_LOSS", "0.5").unwrap_err(),
        "MAX_DAILY_LOSS=0.5 (from the environment) is ambiguous: it could be 0.5 % or, as a fraction, 50 %, \
         and both are plausible (0.25 % to 50 %); write 0.5% or 50%. MAX_DAILY_LOSS sets risk.max_daily_loss_pct \
         and takes a percent (6 or 6%) or a fraction below 0.25 (0.06 for 6 %)"
    );
    assert_eq!(
        percent("MAX_DRAWDOWN", "0.7").unwrap_err(),
        "MAX_DRAWDOWN=0.7 (from the environment) is out of range: neither 0.7 % nor, as a fraction, 70 % lies in \
         the plausible 1 % to 50 %; write the percent you mean with a % sign. MAX_DRAWDOWN sets \
         risk.max_drawdown_pct and takes a percent (15 or 15%) or a fraction up to 0.5 (0.15 for 15 %)"
    );
    assert_eq!(
        percent("MAX_RISK_PER_TRADE", "two").unwrap_err(),
        "MAX_RISK_PER_TRADE=two (from the environment) is not a number; MAX_RISK_PER_TRADE sets \
         risk.max_risk_per_trade_pct and takes a percent (2 or 2%) or a fraction below 0.05 (0.02 for 2 %)"
    );
    assert_eq!(
        percent("PRICE_SANITY_PCT", "0").unwrap_err(),
        "PRICE_SANITY_PCT=0 (from the environment) is not a limit: it must be greater than 0; PRICE_SANITY_PCT \
         sets risk.price_sanity_pct and takes a percent (10 or 10%) or a fraction up to 0.2 (0.1 for 10 %)"
    );
    // A percent past 100 passes the reading and is refused as every risk limit is.
    assert_eq!(
        percent("MAX_POSITION_LOSS_PCT", "150%").unwrap_err(),
        "config key `risk.max_position_loss_pct` = 150 (from environment variable MAX_POSITION_LOSS_PCT) is \
         invalid: expected a percentage greater than 0 and at most 100"
    );
    // Refused in .env too, named by its file, even where the XCOIN_ spelling overrides it.
    let dir = tempfile::tempdir().unwrap();
    write(&dir.path().join(".env"), "MAX_POSITION_LOSS_PCT=0.15\n", 0o644);
    let err = load(dir.path(), &[("XCOIN_RISK__MAX_POSITION_LOSS_PCT", "5")]).unwrap_err().to_string();
    let dotenv = display_path(&dir.path().join(".env"));
    assert!(
        err.starts_with(&format!(
            "MAX_POSITION_LOSS_PCT=0.15 (from {dotenv}) is ambiguous: it could be 0.15 % or, as a fraction, 15 %"
        )),
        "{err}"
    );
}

#[test]
fn a_negative_minimum_is_refused_as_a_reward_risk_ratio() {
    let dir = tempfile::tempdir().unwrap();
    assert_eq!(
        error(dir.path(), "", &[("XCOIN_RISK__MIN_RISK_REWARD", "-1.5")]),
        "config key `risk.min_risk_reward` = -1.5 (from environment variable XCOIN_RISK__MIN_RISK_REWARD) is \
         invalid: expected a reward:risk ratio of 0 or more (2 means reward:risk 2:1)"
    );
}

#[test]
fn min_risk_reward_is_reward_per_one_of_risk() {
    assert_eq!(percent("MIN_RISK_REWARD", "2").as_deref(), Ok("2"));
    assert_eq!(percent("MIN_RISK_REWARD", "2:1").as_deref(), Ok("2"));
    assert_eq!(percent("MIN_RISK_REWARD", " 1.5 : 1 ").as_deref(), Ok("1.5"));
    assert_eq!(
        percent("MIN_RISK_REWARD", "1:2").unwrap_err(),
        "MIN_RISK_REWARD=1:2 (from the environment) is not read: 1:2 could be reward:risk or risk:reward, which \
         differ; MIN_RISK_REWARD sets risk.min_risk_reward, the reward per 1 of risk: write it as 2 or 2:1"
    );
    assert_eq!(
        percent("MIN_RISK_REWARD", "2:x").unwrap_err(),
        "MIN_RISK_REWARD=2:x (from the environment) is not a ratio; MIN_RISK_REWARD sets risk.min_risk_reward, \
         the reward per 1 of risk: write it as 2 or 2:1"
    );
    assert_eq!(
        percent("MIN_RISK_REWARD", "high").unwrap_err(),
        "MIN_RISK_REWARD=high (from the environment) is not a number; MIN_RISK_REWARD sets risk.min_risk_reward, \
         the reward per 1 of risk: write it as 2 or 2:1"
    );
}

#[test]
fn app_mode_of_the_original_system_is_refused_never_read_as_live() {
    let dir = tempfile::tempdir().unwrap();
    for mode in ["production", "development", "PRODUCTION", "Development"] {
        let err = load(dir.path(), &[("APP_MODE", mode)]).unwrap_err().to_string();
        assert_eq!(
            err,
            format!(
                "APP_MODE={mode} (from the environment) is the original system's APP_MODE, which meant \
                 development or production; XCoin uses APP_MODE for the trading mode, PAPER or LIVE, and will \
                 not guess one from it. Set the trading mode with app.mode (XCOIN_APP__MODE=PAPER or \
                 XCOIN_APP__MODE=LIVE) and remove APP_MODE={mode}"
            )
        );
    }
    // From .env, and even with the trading mode set the XCoin way.
    write(&dir.path().join(".env"), "APP_MODE=production\n", 0o644);
    let err = load(dir.path(), &[("XCOIN_APP__MODE", "PAPER")]).unwrap_err().to_string();
    let dotenv = display_path(&dir.path().join(".env"));
    assert!(err.starts_with(&format!("APP_MODE=production (from {dotenv}) is the original system's")), "{err}");
    std::fs::remove_file(dir.path().join(".env")).unwrap();
    // PAPER and LIVE keep their meaning.
    let cfg = load(dir.path(), &[("APP_MODE", "live"), ("ZERODHA_API_KEY", "k"), ("ZERODHA_API_SECRET", "s")]);
    assert_eq!(cfg.unwrap().settings.app.mode, TradingMode::Live);
}

#[test]
fn a_database_url_is_checked_before_anything_tries_it() {
    let expected = "expected postgres://user@host:port/database (postgresql:// also works)";
    let problem = |url: &str| database_url_problem(url);
    assert_eq!(
        problem("postgress://desk@db/xcoin"),
        Some(format!("starts with postgress://, not postgres://; {expected}"))
    );
    assert_eq!(problem("localhost/xcoin"), Some(format!("has no scheme; {expected}")));
    assert_eq!(problem("postgres://db:5432"), Some(format!("names no database; {expected}")));
    for (url, port) in [
        ("postgres://db:99999/xcoin", "99999"),
        ("postgres://desk:p@ss@db:54x2/xcoin", "54x2"),
        ("postgres://db:0/x", "0"),
        ("postgres://[::1]:70000/x", "70000"),
    ] {
        assert_eq!(problem(url), Some(format!("has port {port}; a port is a whole number from 1 to 65535")), "{url}");
    }
    for url in [
        "postgres://desk@db:5432/xcoin",
        "postgresql://desk:s3cret@db/xcoin",
        "POSTGRES://desk@db/xcoin",
        "postgres:///xcoin?host=/var/lib/xcoin/postgres&user=xcoin",
        "postgres://[::1]:5432/xcoin",
    ] {
        assert_eq!(problem(url), None, "{url}");
    }
    let dir = tempfile::tempdir().unwrap();
    assert!(
        error(dir.path(), "", &[("DATABASE_URL", "postgress://desk@db/xcoin")])
            .ends_with("is invalid: expected a PostgreSQL URL naming its database, such as postgres://user@host:5432/xcoin, or empty for the managed local database")
    );
}

#[test]
fn the_smtp_port_is_checked_as_the_dashboards_is() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    for port in ["0", "70000", "-1"] {
        assert_eq!(
            error(d, "", &[("SMTP_PORT", port)]),
            format!(
                "config key `alerts.smtp.port` (from environment variable SMTP_PORT) is invalid: `{port}` is not a port; expected a whole number from 1 to 65535"
            )
        );
    }
    assert_eq!(load(d, &[("SMTP_PORT", "465")]).unwrap().settings.alerts.smtp.port, 465);
}

#[test]
fn the_dashboard_address_is_checked() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let defaults = load(d, &[]).unwrap().settings.dashboard;
    assert_eq!((defaults.host.as_str(), defaults.port), ("127.0.0.1", 8050));
    for port in ["0", "70000"] {
        assert_eq!(
            error(d, "", &[("DASHBOARD_PORT", port)]),
            format!(
                "config key `dashboard.port` (from environment variable DASHBOARD_PORT) is invalid: `{port}` is not a port; expected a whole number from 1 to 65535"
            )
        );
    }
    assert_eq!(
        error(d, "", &[("DASHBOARD_HOST", "")]),
        "config key `dashboard.host` = (empty) (from environment variable DASHBOARD_HOST) is invalid: expected a host name or IP address to listen on, such as 127.0.0.1, without a scheme or path"
    );
    assert_eq!(
        error(d, "", &[("XCOIN_DASHBOARD__HOST", "http://desk:8050/")]),
        "config key `dashboard.host` = http://desk:8050/ (from environment variable XCOIN_DASHBOARD__HOST) is invalid: expected a host name or IP address to listen on, such as 127.0.0.1, without a scheme or path"
    );
}

#[test]
fn env_names_map_to_keys() {
    assert_eq!(env_key("XCOIN_RISK__MAX_DAILY_LOSS_PCT").as_deref(), Some("risk.max_daily_loss_pct"));
    assert_eq!(env_key("XCOIN_ALERTS__SMTP__HOST").as_deref(), Some("alerts.smtp.host"));
    assert_eq!(env_key("SMTP_USER").as_deref(), Some("alerts.smtp.username"));
    assert_eq!(env_key("MAX_POSITIONS").as_deref(), Some("risk.max_open_positions"));
    assert_eq!(env_key("DB_MIN_CONNECTIONS").as_deref(), Some("database.pool_min"));
    assert_eq!(env_key("DASHBOARD_PORT").as_deref(), Some("dashboard.port"));
    assert_eq!(env_key("XCOIN_LOG"), None, "the log filter is the logger's");
    assert_eq!(env_key("XCOIN___X"), None);
    assert_eq!(env_key("PATH"), None);
}
