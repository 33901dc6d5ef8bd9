//! Use cases as plain async functions over a database connection. They own their
//! transactions; HTTP handlers, the CLI, jobs and tests all call them.

pub mod datasets;
pub mod dcat;
pub mod demo;
pub mod exports;
pub mod imports;
pub mod provenance;
pub mod schools;
pub mod seed;
pub mod territories;
pub mod validation;
