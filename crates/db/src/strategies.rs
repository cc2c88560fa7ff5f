//! Strategies: get, all, active, and the paused/active state. Only operator
//! commands and the kill switch (through the engine) pause or resume one; the
//! row records who, when and why, and its trigger notifies every console.

use super::{Db, DbError, Result};
use xcoin_model::strategy::{Registration, Strategy, StrategyType, TradingMode};

impl Db {
    pub async fn get_strategy(&self, id: i64) -> Result<Strategy> {
        sqlx::query_as("SELECT * FROM strategies WHERE id = $1")
            .bind(id)
            .fetch_optional(&self.pool)
            .await?
            .ok_or_else(|| DbError::not_found("strategy", id))
    }

    /// The strategy with this name, created (active) if it does not exist.
    pub async fn ensure_strategy(
        &self,
        name: &str,
        strategy_type: StrategyType,
        mode: TradingMode,
    ) -> Result<Strategy> {
        Ok(sqlx::query_as(
            "INSERT INTO strategies (name, strategy_type, mode) VALUES ($1, $2, $3)
             ON CONFLICT (name) DO UPDATE SET updated_at = strategies.updated_at
             RETURNING *",
        )
        .bind(name)
        .bind(strategy_type)
        .bind(mode)
        .fetch_one(&self.pool)
        .await?)
    }

    pub async fn all_strategies(&self) -> Result<Vec<Strategy>> {
        Ok(sqlx::query_as("SELECT * FROM strategies ORDER BY id").fetch_all(&self.pool).await?)
    }

    pub async fn active_strategies(&self) -> Result<Vec<Strategy>> {
        Ok(sqlx::query_as("SELECT * FROM strategies WHERE is_active ORDER BY id").fetch_all(&self.pool).await?)
    }

    /// Pauses an automated strategy: it places no new orders until resumed.
    pub async fn pause_strategy(&self, id: i64, by: &str, reason: &str) -> Result<Strategy> {
        let s = self.get_strategy(id).await?;
        if !s.is_automated() {
            return Err(DbError::Conflict(format!(
                "strategy {id} \"{}\" is manual: it places only what operators send, so it has nothing to pause",
                s.name
            )));
        }
        let paused: Option<Strategy> = sqlx::query_as(
            "UPDATE strategies SET is_active = false, paused_at = xcoin_now(), paused_by = $2, paused_reason = $3,
                    updated_at = xcoin_now()
              WHERE id = $1 AND is_active RETURNING *",
        )
        .bind(id)
        .bind(by.trim())
        .bind(reason.trim())
        .fetch_optional(&self.pool)
        .await?;
        paused.ok_or_else(|| {
            DbError::Conflict(format!(
                "strategy {id} \"{}\" is already paused (by {}: {})",
                s.name,
                s.paused_by.as_deref().unwrap_or("?"),
                s.paused_reason.as_deref().unwrap_or("?")
            ))
        })
    }

    /// Resumes a paused strategy.
    pub async fn resume_strategy(&self, id: i64) -> Result<Strategy> {
        let s = self.get_strategy(id).await?;
        let resumed: Option<Strategy> = sqlx::query_as(
            "UPDATE strategies SET is_active = true, paused_at = NULL, paused_by = NULL, paused_reason = NULL,
                    updated_at = xcoin_now()
              WHERE id = $1 AND NOT is_active RETURNING *",
        )
        .bind(id)
        .fetch_optional(&self.pool)
        .await?;
        resumed.ok_or_else(|| DbError::Conflict(format!("strategy {id} \"{}\" is not paused", s.name)))
    }

    /// Pauses every active automated strategy at once (kill switch, exit-all);
    /// returns those it paused.
    pub async fn pause_automated_strategies(&self, by: &str, reason: &str) -> Result<Vec<Strategy>> {
        Ok(sqlx::query_as(
            "UPDATE strategies SET is_active = false, paused_at = xcoin_now(), paused_by = $1, paused_reason = $2,
                    updated_at = xcoin_now()
              WHERE is_active AND strategy_type <> 'manual' RETURNING *",
        )
        .bind(by.trim())
        .bind(reason.trim())
        .fetch_all(&self.pool)
        .await?)
    }

    pub async fn strategy_named(&self, name: &str) -> Result<Option<Strategy>> {
        Ok(sqlx::query_as("SELECT * FROM strategies WHERE name = $1")
            .bind(name.trim())
            .fetch_optional(&self.pool)
            .await?)
    }

    /// Registers a strategy or changes its registration (its state, paused
    /// or active, is left as it is). Refused whole when a field is wrong, or
    /// when it would make a manual strategy automated or the other way round.
    pub async fn register_strategy(&self, r: &Registration) -> Result<Strategy> {
        r.validate()?;
        let mut tx = self.pool.begin().await?;
        let before: Option<Strategy> = sqlx::query_as("SELECT * FROM strategies WHERE name = $1 FOR UPDATE")
            .bind(&r.name)
            .fetch_optional(&mut *tx)
            .await?;
        if let Some(b) = &before
            && (b.strategy_type == StrategyType::Manual) != (r.strategy_type == StrategyType::Manual)
        {
            let why = format!(
                "strategy \"{}\" is {}; manual stays manual and an automated strategy stays automated",
                b.name, b.strategy_type
            );
            return Err(xcoin_model::order::FieldError::new("type", why).into());
        }
        let row = sqlx::query_as(
            "INSERT INTO strategies (name, strategy_type, mode, instruments, parameters, capital_allocated,
                                     max_positions, max_daily_loss)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
             ON CONFLICT (name) DO UPDATE SET strategy_type = EXCLUDED.strategy_type, mode = EXCLUDED.mode,
                    instruments = EXCLUDED.instruments, parameters = EXCLUDED.parameters,
                    capital_allocated = EXCLUDED.capital_allocated, max_positions = EXCLUDED.max_positions,
                    max_daily_loss = EXCLUDED.max_daily_loss, updated_at = xcoin_now()
             RETURNING *",
        )
        .bind(&r.name)
        .bind(r.strategy_type)
        .bind(r.mode)
        .bind(&r.instruments)
        .bind(&r.parameters)
        .bind(r.capital_allocated)
        .bind(r.max_positions)
        .bind(r.max_daily_loss)
        .fetch_one(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(row)
    }

    /// Gives a strategy a new webhook token (any earlier one stops working)
    /// and returns it: only its sha256 is kept.
    pub async fn new_webhook_token(&self, name: &str) -> Result<String> {
        let token: Option<String> = sqlx::query_scalar(
            "WITH t AS (SELECT replace(gen_random_uuid()::text || gen_random_uuid()::text, '-', '') AS token)
             UPDATE strategies SET webhook_token_sha256 = encode(sha256(convert_to(t.token, 'UTF8')), 'hex'),
                    updated_at = xcoin_now()
               FROM t WHERE name = $1 RETURNING t.token",
        )
        .bind(name.trim())
        .fetch_optional(&self.pool)
        .await?;
        token.ok_or_else(|| DbError::not_found("strategy", name.trim()))
    }

    /// The strategy a webhook token belongs to, if the token is its current one.
    pub async fn strategy_by_token(&self, name: &str, token: &str) -> Result<Option<Strategy>> {
        Ok(sqlx::query_as(
            "SELECT * FROM strategies WHERE name = $1
                AND webhook_token_sha256 = encode(sha256(convert_to($2, 'UTF8')), 'hex')",
        )
        .bind(name.trim())
        .bind(token)
        .fetch_optional(&self.pool)
        .await?)
    }

    /// What a strategy last decided, for the console.
    pub async fn record_decision(&self, id: i64, decision: &str) -> Result<()> {
        sqlx::query("UPDATE strategies SET last_decision = $2, last_decision_at = xcoin_now() WHERE id = $1")
            .bind(id)
            .bind(decision)
            .execute(&self.pool)
            .await?;
        Ok(())
    }
}
