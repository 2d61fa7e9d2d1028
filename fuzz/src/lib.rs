//! The checks behind allele's fuzz targets (see `checks`).
pub mod checks;
