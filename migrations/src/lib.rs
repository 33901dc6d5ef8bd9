//! Database migrations, one per file. They never import the backend's entities: a migration
//! describes the schema as it was when it was written.

pub use sea_orm_migration::prelude::*;

mod m20261201_000001_territories;
mod m20261201_000002_dataset;
mod m20261201_000003_identity;
mod m20261201_000004_oidc;
mod m20261201_000005_submissions;
mod m20261201_000006_submission_schools;
mod m20261201_000007_mail_outbox;
mod m20261201_000008_dismissed_proposals;
mod m20261201_000009_experimentations;
mod m20261201_000010_job_runs;
mod m20261201_000011_scores;
mod m20261201_000012_harvest;
mod m20261201_000013_score_facts;
mod m20261203_000014_annuaire_presence;
mod m20261203_000015_contribution_drafts;

pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m20261201_000001_territories::Migration),
            Box::new(m20261201_000002_dataset::Migration),
            Box::new(m20261201_000003_identity::Migration),
            Box::new(m20261201_000004_oidc::Migration),
            Box::new(m20261201_000005_submissions::Migration),
            Box::new(m20261201_000006_submission_schools::Migration),
            Box::new(m20261201_000007_mail_outbox::Migration),
            Box::new(m20261201_000008_dismissed_proposals::Migration),
            Box::new(m20261201_000009_experimentations::Migration),
            Box::new(m20261201_000010_job_runs::Migration),
            Box::new(m20261201_000011_scores::Migration),
            Box::new(m20261201_000012_harvest::Migration),
            Box::new(m20261201_000013_score_facts::Migration),
            Box::new(m20261203_000014_annuaire_presence::Migration),
            Box::new(m20261203_000015_contribution_drafts::Migration),
        ]
    }
}
