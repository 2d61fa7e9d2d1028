//! Only the bench in `benches/` matters; see Cargo.toml.
