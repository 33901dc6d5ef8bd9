//! Reference data the platform ships with: read from the official open-data files by an import
//! command, kept in the repository as a compact bundle embedded in the binary.

pub mod map;
pub mod territories;
