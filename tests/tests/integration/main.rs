#![allow(clippy::unwrap_used)]
//! The integration suite: black-box tests through the real router, on SQLite or PostgreSQL
//! depending on `DATABASE_URL`.

mod admin_pages;
mod authorization;
mod contribution_pages;
mod exports;
mod first_start;
mod harvest;
mod health;
mod hostile_files;
mod identity;
mod imports;
mod jobs;
mod moderation_pages;
mod official_list;
mod oidc;
mod pages;
mod public_pages;
mod report_pages;
mod schools;
mod scores;
mod sign_in_page;
mod submissions;
mod territories;
mod validation;
