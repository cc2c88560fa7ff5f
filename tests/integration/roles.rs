//! Database roles: an operator may only enqueue commands and cannot forge
//! who asked, a viewer may only read, the engine does everything, and the
//! `xcoin user` verbs round-trip. (Roles are cluster-wide: each test names
//! its users after its own database.)

use crate::procs::{Tmux, stdout, xcoin};
use crate::support::*;
use sqlx::postgres::PgConnectOptions;
use xcoin::db::Db;
use xcoin::db::users::DeskRole;
use xcoin::domain::command::OperatorCommand;

/// A login of the test's own in `role`, connected.
async fn login(t: &TestDb, name: &str, role: DeskRole) -> (Db, PgConnectOptions) {
    let _ = t.remove_user(name).await;
    t.add_user(name, role, "correct horse battery").await.unwrap();
    let options = t.options.clone().username(name);
    (Db::connect(options.clone(), small_pool()).await.unwrap(), options)
}

fn unique(t: &TestDb, who: &str) -> String {
    format!("{who}_{}", t.options.get_database().unwrap().trim_start_matches("xcoin_t_"))
}

const WRITES: [&str; 7] = [
    "INSERT INTO orders (strategy_id, symbol, exchange, side, order_type, product, quantity, broker) VALUES (1, 'INFY', 'NSE', 'BUY', 'MARKET', 'MIS', 1, 'paper')",
    "UPDATE positions SET quantity = 0",
    "DELETE FROM trades",
    "UPDATE reconciliation_log SET status = 'RESOLVED'",
    "INSERT INTO kill_switch_events (action, trigger, reason, actor) VALUES ('DEACTIVATED', 'OPERATOR', 'x', 'x')",
    "UPDATE daily_stats SET net_pnl = 0",
    "UPDATE operator_commands SET status = 'DONE'",
];

#[tokio::test]
async fn an_operator_enqueues_as_itself_only_a_viewer_reads_only_and_the_engine_does_everything() {
    let t = test_db().await;
    let (op_name, viewer_name) = (unique(&t, "op"), unique(&t, "view"));
    let (operator, _) = login(&t, &op_name, DeskRole::Operator).await;
    let (viewer, _) = login(&t, &viewer_name, DeskRole::Viewer).await;

    // The operator: reads, enqueues under its own name whatever it says, writes nothing else.
    let me = operator.session_role().await.unwrap();
    assert_eq!(
        (me.user.as_str(), me.may_command, me.may_trade, me.named_by_role),
        (op_name.as_str(), true, false, true)
    );
    assert_eq!(operator.today_orders().await.unwrap().len(), 0);
    let c = operator.enqueue_command(&OperatorCommand::ExitAll {}, "asha").await.unwrap();
    assert_eq!(c.requested_by, op_name, "the database names who asked");
    let forged = refusal(
        &operator,
        "INSERT INTO operator_commands (command, payload, requested_by) VALUES ('EXIT_ALL', '{}', 'asha')",
    )
    .await;
    assert_eq!((forged.0.as_str(), forged.1.as_str()), ("42501", "operator_commands_requested_by_is_session"));
    assert_eq!(forged.2, format!("requested_by must be your database role \"{op_name}\", not \"asha\""));
    // Only the engine finishes a command: a login cannot send one already done, nor backdate it.
    let finished = refusal(
        &operator,
        &format!(
            "INSERT INTO operator_commands (command, payload, requested_by, status, claimed_at, completed_at, result)
             VALUES ('EXIT_ALL', '{{}}', '{op_name}', 'DONE', now(), now(), 'fake')"
        ),
    )
    .await;
    assert_eq!(
        finished,
        (
            "42501".to_string(),
            "operator_commands_sent_pending".to_string(),
            "a command is sent PENDING, with no claim, completion or result: only the engine moves it on".to_string()
        )
    );
    let backdated: (String, chrono::DateTime<chrono::Utc>) = sqlx::query_as(&format!(
        "INSERT INTO operator_commands (command, payload, requested_by, requested_at)
         VALUES ('EXIT_ALL', '{{}}', '{op_name}', now() - interval '1 day') RETURNING status, requested_at"
    ))
    .fetch_one(operator.pool())
    .await
    .unwrap();
    assert_eq!(backdated.0, "PENDING");
    assert!((xcoin::domain::clock::now() - backdated.1).num_seconds().abs() < 60, "stamped now: {}", backdated.1);
    for sql in WRITES {
        let (code, _, message) = refusal(&operator, sql).await;
        assert_eq!(code, "42501", "{sql}: {message}");
        assert!(message.starts_with("permission denied for table"), "{sql}: {message}");
    }

    // The viewer: reads only, commands included.
    let me = viewer.session_role().await.unwrap();
    assert_eq!((me.may_command, me.may_trade), (false, false));
    assert_eq!(viewer.get_command(c.id).await.unwrap().requested_by, op_name);
    let err = viewer.enqueue_command(&OperatorCommand::ExitAll {}, "asha").await.unwrap_err().to_string();
    assert!(err.contains("permission denied for table operator_commands"), "{err}");
    for sql in WRITES {
        assert_eq!(refusal(&viewer, sql).await.0, "42501", "{sql}");
    }

    // The engine (the owner, or a member of xcoin_engine) does everything and names the operator itself.
    let me = t.session_role().await.unwrap();
    assert_eq!((me.may_command, me.may_trade, me.named_by_role), (true, true, false));
    assert_eq!(t.enqueue_command(&OperatorCommand::ExitAll {}, "asha").await.unwrap().requested_by, "asha");
    let engine_name = unique(&t, "eng");
    t.sql(&format!("DROP ROLE IF EXISTS {engine_name}; CREATE ROLE {engine_name} LOGIN IN ROLE xcoin_engine")).await;
    let engine = Db::connect(t.options.clone().username(&engine_name), small_pool()).await.unwrap();
    assert!(engine.session_role().await.unwrap().may_trade);
    let o = engine
        .create_order(
            &limit_buy("INFY", 1, rust_decimal_macros::dec!(1500)),
            xcoin::domain::order::BrokerKind::Paper,
            TICK,
            None,
        )
        .await
        .unwrap();
    assert_eq!(o.symbol, "INFY");
    for db in [operator, viewer, engine] {
        db.close().await;
    }
    t.sql(&format!("DROP ROLE {engine_name}")).await;
    t.remove_user(&op_name).await.unwrap();
    t.remove_user(&viewer_name).await.unwrap();
}

#[tokio::test]
async fn user_verbs_round_trip_and_a_viewers_console_is_read_only_by_itself() {
    let t = test_db().await;
    let dir = tempfile::tempdir().unwrap();
    let url = t.url();
    let env = [("DATABASE_URL", url.as_str()), ("XCOIN_APP__DATA_DIR", dir.path().to_str().unwrap())];
    let name = unique(&t, "cli");
    let _ = t.remove_user(&name).await;

    let added = xcoin(dir.path(), &["user", "add", &name, "--role", "viewer"], &env);
    let text = stdout(&added);
    assert!(added.status.success(), "{text}{}", String::from_utf8_lossy(&added.stderr));
    assert!(text.starts_with(&format!("user {name} added as viewer\npassword (shown this once): ")), "{text}");
    let password = text.lines().nth(1).unwrap().rsplit(' ').next().unwrap();
    assert_eq!(password.len(), 24);
    let list = stdout(&xcoin(dir.path(), &["user", "list"], &env));
    assert!(list.lines().any(|l| l.split_whitespace().collect::<Vec<_>>() == [name.as_str(), "viewer"]), "{list}");
    let again = xcoin(dir.path(), &["user", "add", &name, "--role", "operator"], &env);
    assert!(String::from_utf8_lossy(&again.stderr).contains(&format!("a database role named {name} already exists")));
    let changed = xcoin(dir.path(), &["user", "password", &name], &env);
    assert!(stdout(&changed).starts_with(&format!("password of {name} changed\npassword (shown this once): ")));
    let bad = xcoin(dir.path(), &["user", "add", "Bad-Name", "--role", "viewer"], &env);
    assert!(String::from_utf8_lossy(&bad.stderr).contains("name: `Bad-Name` must be 1 to 63 lowercase letters"));

    // The console with the viewer's login: no engine, no writing keys, READ-ONLY, without being told.
    let mut viewer_url = url::Url::parse(&url).unwrap();
    viewer_url.set_username(&name).unwrap();
    viewer_url.set_password(Some(password)).unwrap();
    let viewer_url = viewer_url.to_string();
    let console_env = [
        ("DATABASE_URL", viewer_url.as_str()),
        ("XCOIN_APP__DATA_DIR", env[1].1),
        ("XCOIN_APP__OPERATOR", "smoke"),
        ("HOME", dir.path().to_str().unwrap()),
    ];
    std::fs::write(dir.path().join("local.toml"), "[app]\nmode = \"PAPER\"\n").unwrap();
    let tmux = Tmux::start(dir.path(), &console_env);
    let screen = tmux.wait_for("READ-ONLY");
    assert!(!screen.contains("n new order") && !screen.contains("K KILL"), "{screen}");
    tmux.keys(&["q"]);
    drop(tmux);

    let removed = xcoin(dir.path(), &["user", "remove", &name], &env);
    assert!(stdout(&removed).contains(&format!("user {name} removed")));
    assert!(!stdout(&xcoin(dir.path(), &["user", "list"], &env)).contains(&name));
}

/// Each migrated desk database makes a raw-query reader role on the server;
/// `xcoin user list` shows it with its database, and once that database is
/// dropped, `xcoin user prune-readers` removes it.
#[tokio::test]
async fn a_dropped_desks_reader_is_listed_and_pruned() {
    let t = test_db().await;
    let desk = unused_database_url().await;
    let dir = tempfile::tempdir().unwrap();
    assert!(xcoin(dir.path(), &["setup"], &[("DATABASE_URL", desk.as_str())]).status.success());
    let name = desk.rsplit('/').next().unwrap().to_string();
    let reader = t
        .readers()
        .await
        .unwrap()
        .into_iter()
        .find(|r| r.database.as_deref() == Some(name.as_str()))
        .expect("setup made the desk's reader");
    assert!(reader.database_exists);
    let url = t.url();
    let env = [("DATABASE_URL", url.as_str())];
    let list = stdout(&xcoin(dir.path(), &["user", "list"], &env));
    assert!(list.lines().any(|l| l == format!("{:<24} reader of {name}", reader.name)), "{list}");

    t.sql(&format!("DROP DATABASE \"{name}\" WITH (FORCE)")).await;
    let list = stdout(&xcoin(dir.path(), &["user", "list"], &env));
    let dropped = format!("{:<24} reader of {name} (dropped: `xcoin user prune-readers` removes it)", reader.name);
    assert!(list.lines().any(|l| l == dropped), "{list}");
    let pruned = stdout(&xcoin(dir.path(), &["user", "prune-readers", &reader.name], &env));
    assert_eq!(pruned, format!("1 reader dropped\n  {}\n", reader.name));
    assert!(t.readers().await.unwrap().iter().all(|r| r.name != reader.name));
}

/// Two desks on one server: a login made on desk A connects to A only. It can
/// neither read desk B nor enqueue a kill switch there, and B does not list it.
#[tokio::test]
async fn one_desks_login_cannot_touch_another_desk() {
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = (unused_database_url().await, unused_database_url().await);
    for desk in [&a, &b] {
        let out = xcoin(dir.path(), &["setup"], &[("DATABASE_URL", desk.as_str())]);
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    }
    // Named after desk A's database, so the run's clean-up finds it.
    let name = format!("op_{}", a.rsplit('/').next().unwrap().trim_start_matches("xcoin_t_"));
    let added = xcoin(dir.path(), &["user", "add", &name, "--role", "operator"], &[("DATABASE_URL", a.as_str())]);
    let text = stdout(&added);
    assert!(added.status.success(), "{text}{}", String::from_utf8_lossy(&added.stderr));
    let password = text.lines().nth(1).unwrap().rsplit(' ').next().unwrap().to_string();
    let as_login = |desk: &str| {
        let mut u = url::Url::parse(desk).unwrap();
        u.set_username(&name).unwrap();
        u.set_password(Some(&password)).unwrap();
        u.to_string().parse::<PgConnectOptions>().unwrap()
    };
    // Its own desk: it reads and enqueues.
    let on_a = Db::connect(as_login(&a), small_pool()).await.unwrap();
    let c = on_a.enqueue_command(&OperatorCommand::KillSwitchOn { reason: "drill".into() }, &name).await.unwrap();
    assert_eq!(c.requested_by, name);
    on_a.close().await;
    // The other desk: not even a connection.
    let db_b = b.rsplit('/').next().unwrap().to_string();
    let Err(refused) = Db::connect(as_login(&b), small_pool()).await else { panic!("desk B let desk A's login in") };
    assert!(refused.to_string().contains(&format!("permission denied for database \"{db_b}\"")), "{refused}");
    let listed = stdout(&xcoin(dir.path(), &["user", "list"], &[("DATABASE_URL", b.as_str())]));
    assert!(!listed.contains(&name), "{listed}");
    let listed = stdout(&xcoin(dir.path(), &["user", "list"], &[("DATABASE_URL", a.as_str())]));
    assert!(
        listed.lines().any(|l| l.split_whitespace().collect::<Vec<_>>() == [name.as_str(), "operator"]),
        "{listed}"
    );
    let removed = xcoin(dir.path(), &["user", "remove", &name], &[("DATABASE_URL", a.as_str())]);
    assert!(removed.status.success(), "{}", String::from_utf8_lossy(&removed.stderr));
}
