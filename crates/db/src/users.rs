//! Who may do what: the desk's database roles and the login roles made in
//! them (`xcoin user …`), and what this session may do.

use super::{Db, DbError, Result};
use xcoin_model::order::FieldError;

/// The roles a desk user is made in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeskRole {
    /// Reads everything a console shows; sends commands.
    Operator,
    /// Reads only.
    Viewer,
}

impl DeskRole {
    pub fn group(self) -> &'static str {
        match self {
            DeskRole::Operator => "xcoin_operator",
            DeskRole::Viewer => "xcoin_viewer",
        }
    }
    pub fn as_str(self) -> &'static str {
        match self {
            DeskRole::Operator => "operator",
            DeskRole::Viewer => "viewer",
        }
    }
}

impl std::str::FromStr for DeskRole {
    type Err = FieldError;
    fn from_str(s: &str) -> std::result::Result<DeskRole, FieldError> {
        match s {
            "operator" => Ok(DeskRole::Operator),
            "viewer" => Ok(DeskRole::Viewer),
            other => Err(FieldError::new("role", format!("`{other}` is not a desk role; expected operator or viewer"))),
        }
    }
}

/// What this connection's role may do, as the database answers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionRole {
    /// The role the session logged in as.
    pub user: String,
    /// May enqueue operator commands (else a console is read-only).
    pub may_command: bool,
    /// May write the trading tables (the engine's role).
    pub may_trade: bool,
    /// Commands carry this role's name, whatever the console is configured to say.
    pub named_by_role: bool,
}

/// A user name: a PostgreSQL role name a shell can type, not one of
/// PostgreSQL's or XCoin's own.
fn check_name(name: &str) -> Result<()> {
    let ok = !name.is_empty()
        && name.len() <= 63
        && name.starts_with(|c: char| c.is_ascii_lowercase() || c == '_')
        && name.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
        && !name.starts_with("pg_")
        && !name.starts_with("xcoin_");
    if ok {
        Ok(())
    } else {
        Err(FieldError::new(
            "name",
            format!("`{name}` must be 1 to 63 lowercase letters, digits or _, start with a letter, and not begin with pg_ or xcoin_"),
        )
        .into())
    }
}

impl Db {
    /// What this session may do.
    pub async fn session_role(&self) -> Result<SessionRole> {
        let (user, may_command, may_trade, named_by_role): (String, bool, bool, bool) = sqlx::query_as(
            "SELECT session_user::text, has_table_privilege('operator_commands', 'INSERT'),
                    has_table_privilege('orders', 'INSERT'), xcoin_session_is_operator()",
        )
        .fetch_one(&self.pool)
        .await?;
        Ok(SessionRole { user, may_command, may_trade, named_by_role })
    }

    /// Creates the desk's three roles if missing and grants them on this
    /// database (what the migration does, again, for tables made since).
    pub async fn ensure_roles(&self) -> Result<()> {
        sqlx::query("SELECT xcoin_private.ensure_roles()").execute(&self.pool).await?;
        Ok(())
    }

    /// Makes a login role in the desk role `role`.
    pub async fn add_user(&self, name: &str, role: DeskRole, password: &str) -> Result<()> {
        check_name(name)?;
        if password.chars().count() < 12 {
            return Err(FieldError::new("password", "must be at least 12 characters").into());
        }
        self.exists_or_setup_needed().await?;
        let taken: bool = sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = $1)")
            .bind(name)
            .fetch_one(&self.pool)
            .await?;
        if taken {
            return Err(DbError::Conflict(format!("a database role named {name} already exists")));
        }
        self.run_formatted("CREATE ROLE %I LOGIN PASSWORD %L IN ROLE %I", &[name, password, role.group()]).await?;
        // It connects to this desk only (migration 0021).
        let here = self.database_name().await?;
        self.run_formatted("GRANT CONNECT ON DATABASE %I TO %I", &[&here, name]).await
    }

    /// The desk's users and their roles, by name.
    pub async fn users(&self) -> Result<Vec<(String, DeskRole)>> {
        let rows: Vec<(String, String)> = sqlx::query_as(
            "SELECT m.rolname::text, g.rolname::text FROM pg_auth_members a
               JOIN pg_roles g ON g.oid = a.roleid JOIN pg_roles m ON m.oid = a.member
              WHERE g.rolname IN ('xcoin_operator', 'xcoin_viewer') AND m.rolcanlogin
                AND has_database_privilege(m.oid, current_database(), 'CONNECT')
              ORDER BY 1",
        )
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .into_iter()
            .map(|(name, group)| (name, if group == "xcoin_operator" { DeskRole::Operator } else { DeskRole::Viewer }))
            .collect())
    }

    /// The raw-query readers on this server (`xcoin_reader_*`, one a desk
    /// database, made by its migrations): each with the database it serves,
    /// as its role comment names it, and whether that database still exists.
    pub async fn readers(&self) -> Result<Vec<Reader>> {
        Ok(sqlx::query_as(
            "SELECT name, database, EXISTS (SELECT 1 FROM pg_database WHERE datname = database) AS database_exists
               FROM (SELECT r.rolname::text AS name,
                            substring(d.description FROM '^XCoin raw queries on database (.*): ') AS database
                       FROM pg_roles r LEFT JOIN pg_shdescription d ON d.objoid = r.oid
                      WHERE r.rolname LIKE 'xcoin\\_reader\\_%') readers
              ORDER BY 1",
        )
        .fetch_all(&self.pool)
        .await?)
    }

    /// Drops the readers whose database is gone and that nothing on the
    /// server refers to any more (a dropped desk's) — of `only` when names
    /// are given, else every such reader: their names.
    pub async fn prune_readers(&self, only: &[String]) -> Result<Vec<String>> {
        let mut dropped = Vec::new();
        let wanted = |r: &Reader| only.is_empty() || only.contains(&r.name);
        for r in self.readers().await?.into_iter().filter(|r| !r.database_exists && wanted(r)) {
            if !self.role_referred(&r.name).await? {
                self.run_formatted("DROP ROLE %I", &[&r.name]).await?;
                dropped.push(r.name);
            }
        }
        Ok(dropped)
    }

    /// Removes a desk user (only one made by [`add_user`](Self::add_user))
    /// from this desk, and drops the login unless another database still
    /// grants it something (a login made before logins were bound to one
    /// desk): `true` when the login is gone.
    pub async fn remove_user(&self, name: &str) -> Result<bool> {
        self.desk_user(name).await?;
        let here = self.database_name().await?;
        self.run_formatted("REVOKE CONNECT ON DATABASE %I FROM %I", &[&here, name]).await?;
        if self.role_referred(name).await? {
            return Ok(false);
        }
        self.run_formatted("DROP ROLE %I", &[name]).await?;
        Ok(true)
    }

    /// Sets a desk user's password.
    pub async fn set_password(&self, name: &str, password: &str) -> Result<()> {
        self.desk_user(name).await?;
        if password.chars().count() < 12 {
            return Err(FieldError::new("password", "must be at least 12 characters").into());
        }
        self.run_formatted("ALTER ROLE %I PASSWORD %L", &[name, password]).await
    }

    async fn desk_user(&self, name: &str) -> Result<DeskRole> {
        check_name(name)?;
        self.users()
            .await?
            .into_iter()
            .find(|(n, _)| n == name)
            .map(|(_, r)| r)
            .ok_or_else(|| DbError::NotFound { entity: "desk user", key: name.to_string() })
    }

    async fn exists_or_setup_needed(&self) -> Result<()> {
        let groups: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM pg_roles WHERE rolname IN ('xcoin_engine', 'xcoin_operator', 'xcoin_viewer')",
        )
        .fetch_one(&self.pool)
        .await?;
        if groups < 3 {
            return Err(DbError::Conflict(
                "the desk roles do not exist: run `xcoin setup` as a role that may create roles".into(),
            ));
        }
        Ok(())
    }

    /// Runs a role statement, its names and literals quoted by the server's `format()`.
    /// This desk's database.
    async fn database_name(&self) -> Result<String> {
        Ok(sqlx::query_scalar("SELECT current_database()::text").fetch_one(&self.pool).await?)
    }

    /// Whether any database on the server still grants the role something
    /// (or it owns anything there): it cannot be dropped yet.
    async fn role_referred(&self, name: &str) -> Result<bool> {
        Ok(sqlx::query_scalar(
            "SELECT EXISTS (SELECT 1 FROM pg_shdepend d JOIN pg_roles r ON r.oid = d.refobjid WHERE r.rolname = $1)",
        )
        .bind(name)
        .fetch_one(&self.pool)
        .await?)
    }

    async fn run_formatted(&self, template: &str, args: &[&str]) -> Result<()> {
        let sql: String = match args {
            [a] => sqlx::query_scalar("SELECT format($1, $2)").bind(template).bind(a),
            [a, b] => sqlx::query_scalar("SELECT format($1, $2, $3)").bind(template).bind(a).bind(b),
            [a, b, c] => sqlx::query_scalar("SELECT format($1, $2, $3, $4)").bind(template).bind(a).bind(b).bind(c),
            _ => unreachable!("role statements take one to three arguments"),
        }
        .fetch_one(&self.pool)
        .await?;
        sqlx::raw_sql(&sql).execute(&self.pool).await?;
        Ok(())
    }
}

/// A raw-query reader role and the desk database it serves.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct Reader {
    pub name: String,
    /// The database its comment names (`None`: no comment).
    pub database: Option<String>,
    pub database_exists: bool,
}

#[cfg(test)]
mod tests {
    #[test]
    fn user_names_are_plain_role_names() {
        for ok in ["asha", "ravi_2", "_ops", &"x".repeat(63)] {
            if let Err(e) = super::check_name(ok) {
                panic!("{ok}: {e}");
            }
        }
        for bad in ["", "Asha", "2ravi", "pg_monitor", "xcoin_engine", "a-b", "a b", &"x".repeat(64)] {
            let err = super::check_name(bad).expect_err(bad);
            assert!(matches!(err, super::DbError::Invalid(_)), "{bad}: {err:?}");
            assert_eq!(
                err.to_string(),
                format!(
                    "name: `{bad}` must be 1 to 63 lowercase letters, digits or _, start with a letter, and not \
                     begin with pg_ or xcoin_"
                )
            );
        }
    }
}
