//! Rebuild when a migration is added: `sqlx::migrate!` embeds the files it found at compile
//! time and does not watch the folder for new ones.

fn main() {
    println!("cargo:rerun-if-changed=../../migrations/account_lookup");
}
