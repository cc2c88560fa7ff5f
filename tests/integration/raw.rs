//! Read-only ad-hoc queries cannot write, and cannot leave their own
//! read-only login role to read files, other data or take locks.

use std::time::Duration;

use crate::support::*;
use rust_decimal_macros::dec;
use sqlx::{ConnectOptions, Connection};
use xcoin::db::changes::ChangeFeed;
use xcoin::db::local::LocalDb;
use xcoin::db::lock::{ENGINE_LOCK_KEY, EngineLock};
use xcoin::db::schema::{TABLES, VIEWS, create_database_if_missing};
use xcoin::db::{Db, DbError};
use xcoin::domain::order::BrokerKind;

const T: Duration = Duration::from_secs(5);

#[tokio::test]
async fn reads_work_and_render_values() {
    let t = test_db().await;
    t.create_order(&limit_buy("INFY", 7, dec!(1500.05)), BrokerKind::Paper, TICK, None).await.unwrap();
    let rows = t
        .raw_query(
            "SELECT symbol, quantity, price, created_at IS NOT NULL AS stamped, NULL::text AS nothing FROM orders",
            T,
        )
        .await
        .unwrap();
    assert_eq!(rows.columns, vec!["symbol", "quantity", "price", "stamped", "nothing"]);
    assert_eq!(rows.rows, vec![vec!["INFY", "7", "1500.05", "true", "NULL"]]);
}

#[tokio::test]
async fn writes_multi_statements_notify_and_slow_queries_all_fail() {
    let t = test_db().await;
    let mut feed = ChangeFeed::changes(&t).await.unwrap();
    t.create_order(&limit_buy("INFY", 7, dec!(1500)), BrokerKind::Paper, TICK, None).await.unwrap();
    let _ = feed.next_timeout(Duration::from_secs(5)).await.expect("the insert's own notification");

    let insert = t
        .raw_query("INSERT INTO strategies (name, strategy_type) VALUES ('x', 'manual') RETURNING id", T)
        .await
        .unwrap_err();
    assert!(insert.to_string().contains("cannot execute INSERT in a read-only transaction"), "{insert}");
    let escape = t.raw_query("COMMIT; DELETE FROM orders", T).await.unwrap_err();
    assert!(escape.to_string().contains("cannot insert multiple commands into a prepared statement"), "{escape}");
    let cte = t.raw_query("WITH d AS (DELETE FROM orders RETURNING 1) SELECT count(*) FROM d", T).await.unwrap_err();
    assert!(cte.to_string().contains("read-only transaction"), "{cte}");
    let notify = t
        .raw_query("SELECT pg_notify('xcoin_changes', '{\"table\":\"orders\",\"op\":\"DELETE\",\"id\":1}')", T)
        .await
        .unwrap_err();
    assert!(notify.to_string().contains("permission denied for function pg_notify"), "{notify}");
    let lock = t.raw_query("SELECT pg_advisory_lock(1)", T).await.unwrap_err();
    assert!(lock.to_string().contains("permission denied for function pg_advisory_lock"), "{lock}");
    let slow = t.raw_query("SELECT pg_sleep(3)", Duration::from_millis(200)).await.unwrap_err();
    assert!(slow.to_string().contains("canceling statement due to statement timeout"), "{slow}");

    let orders: i64 = sqlx::query_scalar("SELECT count(*) FROM orders").fetch_one(t.pool()).await.unwrap();
    let strategies: i64 = sqlx::query_scalar("SELECT count(*) FROM strategies").fetch_one(t.pool()).await.unwrap();
    assert_eq!((orders, strategies), (1, 1));
    assert_eq!(feed.next_timeout(Duration::from_millis(500)).await, None, "no notification escaped");
}

/// The server's own words for a refused raw query.
fn refusal(err: DbError) -> String {
    match err {
        DbError::Sqlx(sqlx::Error::Database(e)) => e.message().to_string(),
        other => panic!("not refused by the server: {other}"),
    }
}

/// A database migrated on its own (not cloned from the test template), as
/// each desk's database is.
/// A migrated database of the test's own, and the guard that removes it.
async fn own_database() -> (Db, UnusedDb) {
    let url = unused_database_url().await;
    let options: sqlx::postgres::PgConnectOptions = url.parse().unwrap();
    create_database_if_missing(&options).await.unwrap();
    let db = Db::connect(options, small_pool()).await.unwrap();
    db.migrate().await.unwrap();
    (db, url)
}

#[tokio::test]
async fn raw_queries_log_in_as_a_reader_of_their_own_that_cannot_become_anyone_else() {
    let t = test_db().await;
    let who = t
        .raw_query(
            "SELECT session_user::text, current_user::text, r.rolsuper, r.rolcreaterole, r.rolcanlogin,
                    pg_has_role(session_user, 'pg_read_server_files', 'USAGE') AS files
               FROM pg_roles r WHERE r.rolname = session_user",
            T,
        )
        .await
        .unwrap();
    let reader = who.rows[0][0].clone();
    assert!(reader.starts_with("xcoin_reader_"), "{who:?}");
    assert_eq!(
        who.rows,
        vec![vec![reader.clone(), reader.clone(), "false".into(), "false".into(), "true".into(), "false".into()]]
    );

    let owner: String = sqlx::query_scalar("SELECT current_user::text").fetch_one(t.pool()).await.unwrap();
    let become_owner = t.raw_query(&format!("SELECT set_config('role', '{owner}', true)"), T).await.unwrap_err();
    assert_eq!(refusal(become_owner), format!("permission denied to set role \"{owner}\""));
    // Resetting the role inside the statement lands on the reader itself.
    let reset = t
        .raw_query(
            "SELECT set_config('role', 'none', true), query_to_xml('SELECT current_user AS u', false, false, '')::text",
            T,
        )
        .await
        .unwrap();
    assert!(reset.rows[0][1].contains(&format!("<u>{reader}</u>")), "{reset:?}");
}

#[tokio::test]
async fn leaving_the_role_inside_one_statement_reads_no_file_and_no_one_elses_data() {
    let t = test_db().await;
    // A table of another role in the same database, not granted to the reader.
    t.sql("CREATE TABLE desk_secrets (note text); INSERT INTO desk_secrets VALUES ('not for raw queries')").await;
    let escape = |inner: &str| {
        format!(
            "SELECT set_config('role', 'none', true), query_to_xml('{}', true, false, '')",
            inner.replace('\'', "''")
        )
    };
    let cases = [
        (escape("SELECT pg_read_file('/etc/hostname')"), "permission denied for function pg_read_file"),
        (escape("SELECT pg_read_binary_file('/etc/hostname')"), "permission denied for function pg_read_binary_file"),
        (escape("SELECT pg_ls_dir('.')"), "permission denied for function pg_ls_dir"),
        (escape("SELECT * FROM desk_secrets"), "permission denied for table desk_secrets"),
        (escape("SELECT rolname, rolpassword FROM pg_authid"), "permission denied for table pg_authid"),
        (escape("SELECT * FROM xcoin_private.reader_login"), "permission denied for schema xcoin_private"),
        ("SELECT pg_read_file('/etc/hostname')".to_string(), "permission denied for function pg_read_file"),
        ("SELECT pg_stat_file('postgresql.conf')".to_string(), "permission denied for function pg_stat_file"),
        ("SELECT * FROM desk_secrets".to_string(), "permission denied for table desk_secrets"),
        ("SELECT pg_reload_conf()".to_string(), "permission denied for function pg_reload_conf"),
    ];
    for (sql, message) in cases {
        let err = t.raw_query(&sql, T).await.expect_err(&sql);
        assert_eq!(refusal(err), message, "{sql}");
    }
    // XCoin's own tables stay readable.
    let orders = t.raw_query("SELECT count(*) FROM orders", T).await.unwrap();
    assert_eq!(orders.rows, vec![vec!["0"]]);
}

#[tokio::test]
async fn no_advisory_lock_of_any_kind_so_a_raw_query_never_stops_an_engine() {
    let t = test_db().await;
    let key = ENGINE_LOCK_KEY;
    let (hi, lo) = ((key >> 32) as i32, key as i32);
    // The attack: the engine's key held shared while the engine starts.
    let attack = {
        let db = t.db.clone();
        tokio::spawn(
            async move { db.raw_query(&format!("SELECT pg_advisory_lock_shared({key}), pg_sleep(3)"), T).await },
        )
    };
    // The engine starts once the attack has reached the server: refused, or
    // holding an advisory lock.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let held: bool = sqlx::query_scalar(
            "SELECT EXISTS (SELECT 1 FROM pg_locks l JOIN pg_database d ON d.oid = l.database
                             WHERE l.locktype = 'advisory' AND l.granted AND d.datname = current_database())",
        )
        .fetch_one(t.pool())
        .await
        .unwrap();
        if held || attack.is_finished() {
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "the attack reaches the server within 10 s");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let lock = EngineLock::acquire(t.options.clone()).await.expect("the engine takes its lock");
    lock.release().await;
    assert_eq!(refusal(attack.await.unwrap().unwrap_err()), "permission denied for function pg_advisory_lock_shared");

    for f in [
        "pg_advisory_lock",
        "pg_advisory_lock_shared",
        "pg_try_advisory_lock",
        "pg_try_advisory_lock_shared",
        "pg_advisory_xact_lock",
        "pg_advisory_xact_lock_shared",
        "pg_try_advisory_xact_lock",
        "pg_try_advisory_xact_lock_shared",
        "pg_advisory_unlock",
        "pg_advisory_unlock_shared",
    ] {
        for args in [key.to_string(), format!("{hi}, {lo}")] {
            let sql = format!("SELECT {f}({args})");
            let err = t.raw_query(&sql, T).await.expect_err(&sql);
            assert_eq!(refusal(err), format!("permission denied for function {f}"), "{sql}");
        }
    }
    let err = t.raw_query("SELECT pg_advisory_unlock_all()", T).await.unwrap_err();
    assert_eq!(refusal(err), "permission denied for function pg_advisory_unlock_all");
}

#[tokio::test]
async fn a_raw_query_cannot_signal_the_engine_or_read_another_desk() {
    let t = test_db().await;
    let mut lock = EngineLock::acquire(t.options.clone()).await.unwrap();
    let pid = lock.backend_pid().await.unwrap();
    for f in ["pg_terminate_backend", "pg_cancel_backend"] {
        let err = t.raw_query(&format!("SELECT {f}({pid})"), T).await.unwrap_err();
        assert_eq!(refusal(err), format!("permission denied for function {f}"));
    }
    assert!(lock.check().await, "the engine's lock connection is untouched");
    lock.release().await;

    // Another desk's database on the same server has a reader of its own;
    // this desk's reader cannot even connect there.
    let (other, _other_db) = own_database().await;
    let mine = t.raw_query("SELECT current_user::text", T).await.unwrap().rows[0][0].clone();
    let theirs = other.raw_query("SELECT current_user::text", T).await.unwrap().rows[0][0].clone();
    assert_ne!(mine, theirs);
    let there = other.pool().connect_options().as_ref().clone();
    let err = there.clone().username(&mine).connect().await.unwrap_err();
    let database = there.get_database().unwrap().to_string();
    assert_eq!(err.as_database_error().unwrap().message(), format!("permission denied for database \"{database}\""));
    other.close().await;
}

/// On a server that asks every role for its password, the reader logs in with
/// the one its migration generated (known only to the database's owner).
#[tokio::test]
async fn on_a_server_that_asks_for_passwords_the_reader_logs_in_with_its_own() {
    let dir = crate::procs::public_dir();
    let local = LocalDb::at(dir.path().join("postgres")).unwrap();
    local.ensure_running().unwrap();
    let trusted = local.connect_options();
    let mut admin = trusted.clone().database("postgres").connect().await.unwrap();
    sqlx::query("ALTER ROLE xcoin PASSWORD 'owner-secret'").execute(&mut admin).await.unwrap();
    std::fs::write(local.dir.join("pg_hba.conf"), "local all all scram-sha-256\n").unwrap();
    sqlx::query("SELECT pg_reload_conf()").execute(&mut admin).await.unwrap();
    admin.close().await.unwrap();

    let wrong = trusted.clone().database("postgres").password("wrong").connect().await.unwrap_err();
    assert_eq!(wrong.as_database_error().unwrap().message(), "password authentication failed for user \"xcoin\"");
    let owner = trusted.password("owner-secret");
    assert!(create_database_if_missing(&owner).await.unwrap());
    let db = Db::connect(owner, small_pool()).await.unwrap();
    db.migrate().await.unwrap();
    let who = db.raw_query("SELECT current_user::text, (SELECT count(*) FROM orders)", T).await.unwrap();
    let reader = who.rows[0][0].clone();
    assert!(reader.starts_with("xcoin_reader_"), "{who:?}");
    assert_eq!(who.rows[0][1], "0");
    // It was asked for its password too.
    let as_reader = db.pool().connect_options().as_ref().clone().username(&reader).password("wrong");
    let err = as_reader.connect().await.unwrap_err();
    assert_eq!(
        err.as_database_error().unwrap().message(),
        format!("password authentication failed for user \"{reader}\"")
    );
    db.close().await;
    local.stop().unwrap();
}

#[tokio::test]
async fn the_reader_reads_every_table_and_view_and_its_absence_is_explained() {
    let t = test_db().await;
    for name in TABLES.iter().chain(VIEWS) {
        let rows = t.raw_query(&format!("SELECT count(*) FROM {name}"), T).await.unwrap();
        assert_eq!(rows.columns, vec!["count"], "{name}");
    }
    // Where the migrating role could not create roles, there is no reader.
    t.sql("DELETE FROM xcoin_private.reader_login").await;
    let err = t.raw_query("SELECT 1", T).await.unwrap_err();
    assert_eq!(
        err.to_string(),
        "raw queries run only as this database's read-only role, and it has none: the role that migrated the database may not create roles; have one that may (CREATEROLE) run SELECT xcoin_private.ensure_reader()"
    );
    // Which is what puts one back.
    let reader: String = sqlx::query_scalar("SELECT xcoin_private.ensure_reader()").fetch_one(t.pool()).await.unwrap();
    let who = t.raw_query("SELECT current_user::text", T).await.unwrap();
    assert_eq!(who.rows, vec![vec![reader]]);
}
