//! sea-orm entities: the tables as the code sees them, with no business logic.

pub mod academie;
pub mod commune;
pub mod commune_former_code;
pub mod dataset_version;
pub mod departement;
pub mod epci;
pub mod import;
pub mod observation;
pub mod provenance;
pub mod region;
pub mod school;
pub mod school_revision;
