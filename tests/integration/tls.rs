//! TLS to PostgreSQL: a server of the test's own with a certificate issued
//! by a certificate authority the test creates (openssl), listening on
//! 127.0.0.1 for TLS connections only.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::str::FromStr;
use std::time::Duration;

use sqlx::postgres::PgConnectOptions;
use xcoin::db::local::LocalDb;
use xcoin::db::{Db, PoolConfig};

use crate::procs::{stdout, xcoin};
use crate::support::on_a_free_port;

struct TlsServer {
    cluster: LocalDb,
    port: u16,
    ca: PathBuf,
    other_ca: PathBuf,
    _dir: tempfile::TempDir,
}

impl Drop for TlsServer {
    fn drop(&mut self) {
        let _ = self.cluster.stop();
    }
}

fn openssl(dir: &Path, args: &str) {
    let out = Command::new("openssl").current_dir(dir).args(args.split(' ')).output().expect("openssl runs");
    assert!(out.status.success(), "openssl {args}: {}", String::from_utf8_lossy(&out.stderr));
}

/// A CA, and a server certificate it signs for `localhost` only.
fn certificates(dir: &Path) {
    for ca in ["ca", "other-ca"] {
        openssl(
            dir,
            &format!("req -x509 -newkey rsa:2048 -nodes -days 2 -keyout {ca}.key -out {ca}.crt -subj /CN={ca}"),
        );
    }
    openssl(dir, "req -newkey rsa:2048 -nodes -keyout server.key -out server.csr -subj /CN=localhost");
    std::fs::write(
        dir.join("server.ext"),
        "subjectAltName=DNS:localhost\nbasicConstraints=CA:FALSE\nkeyUsage=digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\n",
    )
    .unwrap();
    openssl(
        dir,
        "x509 -req -in server.csr -CA ca.crt -CAkey ca.key -CAcreateserial -out server.crt -days 2 -extfile server.ext",
    );
}

impl TlsServer {
    async fn start() -> TlsServer {
        // Reachable by the `postgres` user when the tests run as root.
        let dir = tempfile::Builder::new().prefix("xcoin-tls-").tempdir().unwrap();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
        let certs = dir.path().join("certs");
        std::fs::create_dir(&certs).unwrap();
        certificates(&certs);
        let data = dir.path().join("pg");
        let cluster = LocalDb::at(data.clone()).unwrap();
        cluster.ensure_running().unwrap();
        cluster.stop().unwrap();
        for f in ["server.crt", "server.key"] {
            std::fs::copy(certs.join(f), data.join(f)).unwrap();
        }
        std::fs::set_permissions(data.join("server.key"), std::fs::Permissions::from_mode(0o600)).unwrap();
        if xcoin::config::running_as_root() {
            let out = Command::new("chown")
                .args(["postgres:postgres"])
                .arg(data.join("server.crt"))
                .arg(data.join("server.key"))
                .output()
                .unwrap();
            assert!(out.status.success());
        }
        // TLS only over TCP: a clear-text connection is refused.
        let hba = "local all all trust\nhostssl all all 127.0.0.1/32 trust\nhostnossl all all 0.0.0.0/0 reject\n";
        std::fs::write(data.join("pg_hba.conf"), hba).unwrap();
        // The server binds its port itself: started again on another port
        // when the one it was given is taken before it binds it.
        let auto_conf = data.join("postgresql.auto.conf");
        let conf = std::fs::read_to_string(&auto_conf).unwrap();
        let (_, port) = on_a_free_port(|port| {
            let tls = format!("listen_addresses = '127.0.0.1'\nport = {port}\nssl = on\nssl_cert_file = 'server.crt'\nssl_key_file = 'server.key'\n");
            std::fs::write(&auto_conf, format!("{conf}{tls}")).unwrap();
            // (Why the server did not start is in its log, not in pg_ctl's answer.)
            let log = data.join("server.log");
            let _ = std::fs::remove_file(&log);
            let started = cluster.ensure_running().map_err(|e| {
                format!("{e}\nserver log:\n{}", std::fs::read_to_string(&log).unwrap_or_default())
            });
            std::future::ready(started)
        })
        .await;
        TlsServer { cluster, port, ca: certs.join("ca.crt"), other_ca: certs.join("other-ca.crt"), _dir: dir }
    }

    /// The server's `postgres` database, as `xcoin`.
    fn url(&self, host: &str, query: &str) -> String {
        format!("postgres://xcoin@{host}:{}/postgres?{query}", self.port)
    }
}

async fn connect(url: &str) -> Result<Db, String> {
    let options = PgConnectOptions::from_str(url).map_err(|e| e.to_string())?;
    let pool = PoolConfig { min: 1, max: 1, connect_timeout: Duration::from_secs(5), ..PoolConfig::default() };
    Db::connect(options, pool).await.map_err(|e| e.to_string())
}

#[tokio::test]
async fn tls_require_and_verify_full_connect_and_a_certificate_that_does_not_verify_is_refused() {
    let server = TlsServer::start().await;
    let ca = server.ca.display().to_string();

    // require: encrypted; the server's certificate is not checked.
    let db = connect(&server.url("127.0.0.1", "sslmode=require")).await.unwrap();
    let (version, cipher) = db.tls().await.unwrap().expect("the connection is encrypted");
    assert!(version.starts_with("TLSv1."), "{version} {cipher}");
    db.close().await;

    // verify-full: the test's authority signed it, for localhost.
    let db = connect(&server.url("localhost", &format!("sslmode=verify-full&sslrootcert={ca}"))).await.unwrap();
    assert!(db.tls().await.unwrap().is_some());
    db.close().await;
    // verify-ca: the authority (sqlx on rustls checks the host name too).
    let db = connect(&server.url("localhost", &format!("sslmode=verify-ca&sslrootcert={ca}"))).await.unwrap();
    db.close().await;

    // Refused: an authority that did not sign it, a host it was not issued
    // to, and a connection in clear.
    let other = server.other_ca.display().to_string();
    let wrong_ca = connect(&server.url("localhost", &format!("sslmode=verify-full&sslrootcert={other}"))).await;
    assert!(wrong_ca.as_ref().is_err_and(|e| e.contains("certificate")), "{:?}", wrong_ca.err());
    let wrong_host = connect(&server.url("127.0.0.1", &format!("sslmode=verify-full&sslrootcert={ca}"))).await;
    assert!(wrong_host.as_ref().is_err_and(|e| e.contains("certificate")), "{:?}", wrong_host.err());
    let clear = connect(&server.url("127.0.0.1", "sslmode=disable")).await;
    assert!(
        clear.as_ref().is_err_and(|e| e.contains("pg_hba.conf rejects connection") && e.contains("no encryption")),
        "{:?}",
        clear.err()
    );

    // The desk over TLS from its configuration keys: set up, then the doctor says how it is protected.
    let dir = tempfile::tempdir().unwrap();
    let url = format!("postgres://xcoin@localhost:{}/xcoin", server.port);
    let env = [
        ("DATABASE_URL", url.as_str()),
        ("XCOIN_DATABASE__SSLMODE", "verify-full"),
        ("XCOIN_DATABASE__SSL_ROOT_CERT", ca.as_str()),
        ("XCOIN_APP__DATA_DIR", dir.path().to_str().unwrap()),
    ];
    let setup = xcoin(dir.path(), &["setup"], &env);
    assert!(setup.status.success(), "{}{}", stdout(&setup), String::from_utf8_lossy(&setup.stderr));
    let doctor = xcoin(dir.path(), &["doctor"], &env);
    let text = stdout(&doctor);
    eprintln!("{text}"); // shown with --nocapture: the doctor on an encrypted, verified connection
    assert!(
        text.contains("✓ connection             encrypted (TLSv1.3, ")
            && text.contains("server certificate verified: trusted authority and host name"),
        "{text}"
    );
    let require = [("XCOIN_DATABASE__SSLMODE", "require"), env[0], env[3]];
    let text = stdout(&xcoin(dir.path(), &["doctor"], &require));
    assert!(text.contains("but the server's certificate is not verified"), "{text}");
    let bad = [("XCOIN_DATABASE__SSLMODE", "verify-everything"), env[0], env[3]];
    let out = xcoin(dir.path(), &["doctor"], &bad);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("database.sslmode") && err.contains("one of disable, prefer, require, verify-ca, verify-full"),
        "{err}"
    );
}
