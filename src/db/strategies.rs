//! Strategies: get, all, active.

use sqlx::postgres::PgRow;
use sqlx::{FromRow, Row};

use super::{Db, DbError, Result};
use crate::domain::strategy::{Strategy, StrategyType, TradingMode};

impl<'r> FromRow<'r, PgRow> for Strategy {
    fn from_row(row: &'r PgRow) -> sqlx::Result<Self> {
        Ok(Strategy {
            id: row.try_get("id")?,
            name: row.try_get("name")?,
            strategy_type: row.try_get("strategy_type")?,
            mode: row.try_get("mode")?,
            is_active: row.try_get("is_active")?,
            capital_allocated: row.try_get("capital_allocated")?,
            parameters: row.try_get("parameters")?,
            created_at: row.try_get("created_at")?,
            updated_at: row.try_get("updated_at")?,
        })
    }
}

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
}
