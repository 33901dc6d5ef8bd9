//! The Table Schema of a contribution schema, as schema.data.gouv.fr publishes CSV schemas
//! (Frictionless Table Schema with its `title`, `description`, `example` and constraints).
//!
//! Cross-field rules and conditional requirements have no Table Schema form; they stay in the
//! JSON Schema, and the generated file says so in its description.

use serde_json::{Map, Value, json};

use crate::{ColumnKind, Schema, violations::show};

impl Schema {
    pub fn table_schema(&self, homepage: &str) -> Value {
        let fields: Vec<Value> = self.columns.iter().map(field).collect();
        let mut out = json!({
            "$schema": "https://frictionlessdata.io/schemas/table-schema.json",
            "name": self.name,
            "title": self.title,
            "description": format!(
                "{} Les règles entre colonnes ({}) sont dans le schéma JSON {}.",
                self.description,
                if self.rules.is_empty() { "aucune".to_owned() } else {
                    self.rules.iter().map(|r| r.id.as_str()).collect::<Vec<_>>().join(", ")
                },
                self.id()
            ),
            "version": format!("{}.0.0", self.version),
            "homepage": homepage,
            "licenses": [{"title": "Licence Ouverte / Open Licence version 2.0", "name": "etalab-2.0", "path": "https://www.etalab.gouv.fr/licence-ouverte-open-licence/"}],
            "missingValues": [""],
            "fields": fields,
        });
        if !self.key.is_empty()
            && let Value::Object(m) = &mut out
        {
            // A list column cannot be a Table Schema key: keep only scalar keys.
            let scalar = self.key.iter().all(|k| {
                self.column(k)
                    .is_some_and(|c| !matches!(c.kind, ColumnKind::List(_)))
            });
            if scalar {
                m.insert("primaryKey".into(), json!(self.key));
            }
        }
        out
    }

    /// The CSV template: the header row, then one example row.
    pub fn csv_template(&self) -> String {
        let header: Vec<&str> = self.columns.iter().map(|c| c.name.as_str()).collect();
        let example: Vec<String> = self
            .columns
            .iter()
            .map(|c| c.examples.first().map(show).unwrap_or_default())
            .map(|v| {
                if v.contains([';', '"', '\n']) {
                    format!("\"{}\"", v.replace('"', "\"\""))
                } else {
                    v
                }
            })
            .collect();
        format!("{}\r\n{}\r\n", header.join(";"), example.join(";"))
    }
}

fn field(c: &crate::Column) -> Value {
    let mut f = Map::new();
    f.insert("name".into(), c.name.clone().into());
    f.insert("title".into(), c.title.clone().into());
    f.insert("description".into(), c.description.clone().into());
    if let Some(e) = c.examples.first() {
        f.insert("example".into(), show(e).into());
    }
    let mut constraints = Map::new();
    if c.required {
        constraints.insert("required".into(), true.into());
    }
    let (ty, format) = match &c.kind {
        ColumnKind::Integer => ("integer", None),
        ColumnKind::Number => ("number", None),
        ColumnKind::Boolean => ("boolean", None),
        ColumnKind::Date => ("date", None),
        ColumnKind::Url => ("string", Some("uri")),
        ColumnKind::Text => ("string", None),
        // Lists travel as `a|b|c` in one cell: a string whose shape a pattern checks.
        ColumnKind::List(_) => ("string", None),
    };
    f.insert("type".into(), ty.into());
    if let Some(fmt) = format {
        f.insert("format".into(), fmt.into());
    }
    if matches!(c.kind, ColumnKind::Boolean) {
        f.insert(
            "trueValues".into(),
            json!(["oui", "Oui", "OUI", "true", "1"]),
        );
        f.insert(
            "falseValues".into(),
            json!(["non", "Non", "NON", "false", "0"]),
        );
    }
    for (from, to) in [
        ("minimum", "minimum"),
        ("maximum", "maximum"),
        ("minLength", "minLength"),
        ("maxLength", "maxLength"),
        ("pattern", "pattern"),
    ] {
        if let Some(v) = c.schema.get(from) {
            constraints.insert(to.into(), v.clone());
        }
    }
    if let ColumnKind::List(_) = c.kind {
        if !c.allowed.is_empty() {
            let alt = c
                .allowed
                .iter()
                .map(|a| regex_escape(a))
                .collect::<Vec<_>>()
                .join("|");
            constraints.insert("pattern".into(), format!("^({alt})(\\|({alt}))*$").into());
        }
    } else if !c.allowed.is_empty() {
        constraints.insert("enum".into(), json!(c.allowed));
    }
    if !constraints.is_empty() {
        f.insert("constraints".into(), Value::Object(constraints));
    }
    Value::Object(f)
}

fn regex_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for ch in s.chars() {
        if "\\.+*?()|[]{}^$".contains(ch) {
            out.push('\\');
        }
        out.push(ch);
    }
    out
}
