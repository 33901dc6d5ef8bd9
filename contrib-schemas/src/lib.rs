//! The contribution schemas: JSON Schema 2020-12 files, versioned like migrations
//! (`schemas/<name>/v<N>.schema.json`, a released version never changes), embedded in the
//! binary and compiled once into a [`Registry`].
//!
//! A schema file carries, beside the standard keywords, what JSON Schema cannot say, in
//! extension keywords read here (see `README.md`): the cross-field rules (`x-ecarto.rules`),
//! the key that must be unique in a file, the school types it accepts, the columns holding
//! UAIs, and the mapping of each column onto the published catalogue. No rule is written in
//! Rust: a new schema or version is a new file.

mod model;
mod row;
mod rules;
mod table_schema;
mod violations;

use std::collections::BTreeMap;
use std::sync::OnceLock;

use serde_json::Value;

pub use model::{Column, ColumnKind, FieldMapping};
pub use row::{Lookup, RowJson, RowNode};
pub use rules::{Operand, Rule, RuleExpr};
pub use violations::{Violation, quote, show};

mod embedded {
    include!(concat!(env!("OUT_DIR"), "/embedded.rs"));
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SchemaError {
    #[error("schéma {file} : {detail}")]
    Invalid { file: String, detail: String },
    #[error("schéma inconnu : « {0} » (voir la liste des schémas)")]
    UnknownSchema(String),
    #[error("version inconnue du schéma « {name} » : v{version} (versions publiées : {known})")]
    UnknownVersion {
        name: String,
        version: u32,
        known: String,
    },
}

/// One compiled schema version.
pub struct Schema {
    pub name: String,
    pub version: u32,
    pub title: String,
    pub description: String,
    /// The file as published (served read-only by the API).
    pub raw: Value,
    /// Columns in the order of the file's `properties`.
    pub columns: Vec<Column>,
    /// Columns whose combination must be unique within one file.
    pub key: Vec<String>,
    /// `type_etablissement` values the schema accepts.
    pub school_types: Vec<String>,
    /// Who may submit it: `contributors` (members of an organisation, within its competence)
    /// or `everyone` (any signed-in person, on any school: the `signalement`).
    pub audience: Audience,
    pub rules: Vec<Rule>,
    validator: jsonschema::Validator<RowJson>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Audience {
    Contributors,
    Everyone,
}

impl std::fmt::Debug for Schema {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Schema({}@v{})", self.name, self.version)
    }
}

impl Schema {
    /// `name@vN`, as users and URLs name it.
    pub fn id(&self) -> String {
        format!("{}@v{}", self.name, self.version)
    }

    pub fn column(&self, name: &str) -> Option<&Column> {
        self.columns.iter().find(|c| c.name == name)
    }

    /// Every problem of one row given as a JSON object (typed values, empty cells absent):
    /// JSON Schema keywords, then the check letters of UAI columns and the cross-field rules.
    /// `today` is `YYYY-MM-DD`. A non-object fails the schema's `type`.
    pub fn check_value(&self, instance: &Value, today: &str) -> Vec<Violation> {
        match instance {
            Value::Object(row) => self.check_node(RowNode::Value(instance), row, today),
            other => self.check_node(RowNode::Value(other), &serde_json::Map::new(), today),
        }
    }

    /// As [`Schema::check_value`], for a row given as `(column, value)` pairs: what the engine
    /// builds for each row of a file, without the cost of a JSON object.
    pub fn check_members(&self, row: &[(&str, Value)], today: &str) -> Vec<Violation> {
        self.check_node(RowNode::Row(row), row, today)
    }

    fn check_node<L: Lookup + ?Sized>(
        &self,
        node: RowNode<'_>,
        row: &L,
        today: &str,
    ) -> Vec<Violation> {
        let mut out = Vec::new();
        if !self.validator.is_valid(node) {
            for error in self.validator.iter_errors(node) {
                out.push(violations::from_error(self, &error));
            }
        }
        for column in self.columns.iter().filter(|c| c.uai) {
            if let Some(v) = row.value(&column.name) {
                out.extend(violations::check_letters(column, v));
            }
        }
        for rule in &self.rules {
            if let Some(v) = rules::check(rule, row, today) {
                out.push(v);
            }
        }
        out
    }
}

/// Every schema version, by name then version.
pub struct Registry {
    schemas: BTreeMap<String, BTreeMap<u32, Schema>>,
}

impl Registry {
    /// The schemas embedded in the binary, compiled on first use.
    pub fn embedded() -> &'static Registry {
        static REGISTRY: OnceLock<Registry> = OnceLock::new();
        REGISTRY.get_or_init(|| {
            // The embedded files are tested in this crate: a broken one fails the build's tests.
            #[allow(clippy::expect_used)]
            Registry::from_files(embedded::EMBEDDED.iter().copied())
                .expect("the embedded contribution schemas compile")
        })
    }

    /// Compiles schema files given as `(<name>/v<N>.schema.json, text)`.
    pub fn from_files<'a>(
        files: impl IntoIterator<Item = (&'a str, &'a str)>,
    ) -> Result<Registry, SchemaError> {
        let mut schemas: BTreeMap<String, BTreeMap<u32, Schema>> = BTreeMap::new();
        for (file, text) in files {
            let schema = model::compile(file, text)?;
            schemas
                .entry(schema.name.clone())
                .or_default()
                .insert(schema.version, schema);
        }
        Ok(Registry { schemas })
    }

    /// Every schema's latest version, by name.
    pub fn latest(&self) -> impl Iterator<Item = &Schema> {
        self.schemas.values().filter_map(|v| v.values().next_back())
    }

    /// Every version of every schema.
    pub fn all(&self) -> impl Iterator<Item = &Schema> {
        self.schemas.values().flat_map(|v| v.values())
    }

    pub fn versions(&self, name: &str) -> Option<impl Iterator<Item = &Schema>> {
        self.schemas.get(name).map(|v| v.values())
    }

    /// A schema by `name`, `name@vN` or `name@N`; without a version, the latest.
    pub fn resolve(&self, spec: &str) -> Result<&Schema, SchemaError> {
        let (name, version) = match spec.split_once('@') {
            Some((n, v)) => {
                let digits = v.trim_start_matches(['v', 'V']);
                let version = digits
                    .parse::<u32>()
                    .map_err(|_| SchemaError::UnknownSchema(spec.to_owned()))?;
                (n, Some(version))
            }
            None => (spec, None),
        };
        self.get(name, version)
    }

    pub fn get(&self, name: &str, version: Option<u32>) -> Result<&Schema, SchemaError> {
        let versions = self
            .schemas
            .get(name)
            .ok_or_else(|| SchemaError::UnknownSchema(name.to_owned()))?;
        match version {
            None => versions.values().next_back(),
            Some(v) => versions.get(&v),
        }
        .ok_or_else(|| SchemaError::UnknownVersion {
            name: name.to_owned(),
            version: version.unwrap_or(0),
            known: versions
                .keys()
                .map(|v| format!("v{v}"))
                .collect::<Vec<_>>()
                .join(", "),
        })
    }
}

/// Parses a version segment of a URL or a CLI argument: `v1` or `1`.
pub fn parse_version(raw: &str) -> Option<u32> {
    raw.trim_start_matches(['v', 'V']).parse().ok()
}
