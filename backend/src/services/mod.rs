//! Use cases as plain async functions over a database connection. They own their
//! transactions; HTTP handlers, the CLI, jobs and tests all call them.

pub mod audit;
pub mod auth;
pub mod competence;
pub mod completeness;
pub mod datasets;
pub mod dcat;
pub mod demo;
pub mod drafts;
pub mod experimentations;
pub mod exports;
pub mod harvest;
pub mod imports;
pub mod mail;
pub mod oidc;
pub mod organisations;
pub mod outbox;
pub mod provenance;
pub mod schools;
pub mod scores;
pub mod seed;
pub mod submissions;
pub mod territories;
pub mod users;
pub mod validation;
