//! sea-orm entities: the tables as the code sees them, with no business logic.

pub mod academie;
pub mod access_request;
pub mod api_token;
pub mod audit_entry;
pub mod commune;
pub mod commune_former_code;
pub mod competence;
pub mod dataset_version;
pub mod departement;
pub mod epci;
pub mod external_identity;
pub mod import;
pub mod login_token;
pub mod moderator_territory;
pub mod observation;
pub mod oidc_attempt;
pub mod organisation;
pub mod provenance;
pub mod rate_event;
pub mod region;
pub mod school;
pub mod school_revision;
pub mod session;
pub mod user;
pub mod user_role;
