//! The strategies this build carries, by name: the one place that knows the
//! implementations (the trait's module knows none).

use crate::strategy::Strategy;

/// The strategies this build carries, by name, for `xcoin replay`.
pub const BUILT_IN: &[&str] = &[crate::demo::STRATEGY_NAME];

/// A strategy this build carries: the demo by its name or `demo`.
pub fn built_in(name: &str) -> Result<Box<dyn Strategy>, String> {
    let name = name.trim();
    if name.eq_ignore_ascii_case("demo") || name.eq_ignore_ascii_case(crate::demo::STRATEGY_NAME) {
        return Ok(Box::new(crate::demo::Demo::new(0)));
    }
    Err(format!(
        "strategy: `{name}` is not one this build carries; expected one of {} (or `demo`)",
        BUILT_IN.join(", ")
    ))
}
