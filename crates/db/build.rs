// sqlx::migrate! embeds ../../migrations/ at compile time, but on stable Rust the
// compiler does not know the macro read those files: without this, a new or
// edited migration is not picked up by an incremental build.
fn main() {
    println!("cargo:rerun-if-changed=../../migrations");
}
