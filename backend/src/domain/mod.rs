//! The domain: pure rules with no I/O.

pub mod catalog;
pub mod competence;
pub mod completeness;
pub mod display;
pub mod export;
pub mod nature;
pub mod record;
pub mod scores;
pub mod territory;
pub mod text;
pub mod uai;
pub mod values;
pub mod vocabulary;
