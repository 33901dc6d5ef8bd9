//! What the engine needs to know of a schema's columns, read from its file once.

use std::collections::BTreeMap;

use serde_json::{Map, Value};

use crate::{Schema, SchemaError, rules};

/// How a cell is typed before JSON Schema sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ColumnKind {
    Integer,
    Number,
    Boolean,
    /// `YYYY-MM-DD` (`format: date`).
    Date,
    /// `format: uri`.
    Url,
    Text,
    /// Several values in one cell, separated by `|`.
    List(Box<ColumnKind>),
}

/// Where a column's value is published in the catalogue.
#[derive(Debug, Clone, PartialEq)]
pub enum FieldMapping {
    /// Not published (comments, justifications, identifiers).
    None,
    /// Published as this catalogue field, value unchanged.
    Field(String),
    /// Each enumeration value sets several catalogue fields.
    ByValue(BTreeMap<String, BTreeMap<String, Value>>),
}

#[derive(Debug, Clone)]
pub struct Column {
    pub name: String,
    pub title: String,
    pub description: String,
    pub kind: ColumnKind,
    pub required: bool,
    /// Allowed values (of the items, for a list).
    pub allowed: Vec<String>,
    /// French labels of the allowed values, for documentation.
    pub labels: BTreeMap<String, String>,
    /// Holds one or several UAIs: their check letter and school are verified.
    pub uai: bool,
    /// The value is typed by the catalogue field named in this other column.
    pub typed_by: Option<String>,
    pub field: FieldMapping,
    pub examples: Vec<Value>,
    /// The property's own schema, for documentation (constraints).
    pub schema: Value,
}

fn invalid(file: &str, detail: impl Into<String>) -> SchemaError {
    SchemaError::Invalid {
        file: file.to_owned(),
        detail: detail.into(),
    }
}

fn str_of(v: Option<&Value>) -> String {
    v.and_then(Value::as_str).unwrap_or_default().to_owned()
}

fn strings(v: Option<&Value>) -> Vec<String> {
    v.and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(|x| x.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

fn kind_of(file: &str, name: &str, prop: &Value) -> Result<ColumnKind, SchemaError> {
    let ty = prop.get("type").and_then(Value::as_str).unwrap_or("string");
    Ok(match ty {
        "integer" => ColumnKind::Integer,
        "number" => ColumnKind::Number,
        "boolean" => ColumnKind::Boolean,
        "string" => match prop.get("format").and_then(Value::as_str) {
            Some("date") => ColumnKind::Date,
            Some("uri") => ColumnKind::Url,
            _ => ColumnKind::Text,
        },
        "array" => {
            let items = prop.get("items").unwrap_or(&Value::Null);
            let inner = kind_of(file, name, items)?;
            if matches!(inner, ColumnKind::List(_)) {
                return Err(invalid(
                    file,
                    format!("{name} : liste de listes non prise en charge"),
                ));
            }
            ColumnKind::List(Box::new(inner))
        }
        other => {
            return Err(invalid(
                file,
                format!("{name} : type « {other} » non pris en charge (un seul type par colonne)"),
            ));
        }
    })
}

fn mapping(file: &str, name: &str, v: Option<&Value>) -> Result<FieldMapping, SchemaError> {
    match v {
        None => Ok(FieldMapping::None),
        Some(Value::String(s)) => Ok(FieldMapping::Field(s.clone())),
        Some(Value::Object(by_value)) => {
            let mut out = BTreeMap::new();
            for (value, fields) in by_value {
                let Value::Object(fields) = fields else {
                    return Err(invalid(
                        file,
                        format!("{name} : x-ecarto-field.{value} doit être un objet"),
                    ));
                };
                out.insert(
                    value.clone(),
                    fields.iter().map(|(k, v)| (k.clone(), v.clone())).collect(),
                );
            }
            Ok(FieldMapping::ByValue(out))
        }
        Some(_) => Err(invalid(
            file,
            format!("{name} : x-ecarto-field doit être un nom de champ ou un objet"),
        )),
    }
}

/// Reads and compiles one schema file named `<name>/v<N>.schema.json`.
pub(crate) fn compile(file: &str, text: &str) -> Result<Schema, SchemaError> {
    let raw: Value =
        serde_json::from_str(text).map_err(|e| invalid(file, format!("JSON illisible : {e}")))?;
    let (dir, base) = file
        .rsplit_once('/')
        .ok_or_else(|| invalid(file, "chemin attendu : <nom>/v<N>.schema.json"))?;
    let name = dir.rsplit('/').next().unwrap_or(dir).to_owned();
    let version = base
        .strip_prefix('v')
        .and_then(|b| b.strip_suffix(".schema.json"))
        .and_then(|v| v.parse::<u32>().ok())
        .ok_or_else(|| invalid(file, "nom de fichier attendu : v<N>.schema.json"))?;
    let ext = raw.get("x-ecarto").cloned().unwrap_or(Value::Null);
    if ext.get("name").and_then(Value::as_str) != Some(name.as_str())
        || ext.get("version").and_then(Value::as_u64) != Some(u64::from(version))
    {
        return Err(invalid(
            file,
            "x-ecarto.name et x-ecarto.version doivent reprendre le nom du dossier et du fichier",
        ));
    }
    let required = strings(raw.get("required"));
    let empty = Map::new();
    let props = raw
        .get("properties")
        .and_then(Value::as_object)
        .unwrap_or(&empty);
    let mut columns = Vec::with_capacity(props.len());
    for col in property_order(text) {
        let Some(prop) = props.get(&col) else {
            continue;
        };
        let col = &col;
        let kind = kind_of(file, col, prop)?;
        let items = prop.get("items");
        let allowed = strings(
            prop.get("enum")
                .or_else(|| items.and_then(|i| i.get("enum"))),
        );
        let labels = prop
            .get("x-ecarto-labels")
            .or_else(|| items.and_then(|i| i.get("x-ecarto-labels")))
            .and_then(Value::as_object)
            .map(|m| {
                m.iter()
                    .map(|(k, v)| (k.clone(), str_of(Some(v))))
                    .collect()
            })
            .unwrap_or_default();
        let typed_by = prop
            .get("x-ecarto-typed-by")
            .and_then(Value::as_str)
            .map(str::to_owned);
        if let Some(other) = &typed_by
            && !props.contains_key(other)
        {
            return Err(invalid(
                file,
                format!("{col} : x-ecarto-typed-by nomme une colonne absente ({other})"),
            ));
        }
        columns.push(Column {
            name: col.clone(),
            title: str_of(prop.get("title")),
            description: str_of(prop.get("description")),
            kind,
            required: required.iter().any(|r| r == col),
            allowed,
            labels,
            uai: prop.get("x-ecarto-uai").and_then(Value::as_bool) == Some(true),
            typed_by,
            field: mapping(file, col, prop.get("x-ecarto-field"))?,
            examples: prop
                .get("examples")
                .and_then(Value::as_array)
                .cloned()
                .unwrap_or_default(),
            schema: prop.clone(),
        });
    }
    for r in &required {
        if !props.contains_key(r) {
            return Err(invalid(
                file,
                format!("colonne obligatoire sans propriété : {r}"),
            ));
        }
    }
    let key = strings(ext.get("key"));
    let school_types = strings(ext.get("school_types"));
    let audience = match ext.get("audience").and_then(Value::as_str) {
        None | Some("contributors") => crate::Audience::Contributors,
        Some("everyone") => crate::Audience::Everyone,
        Some(other) => {
            return Err(invalid(
                file,
                format!("x-ecarto.audience : « {other} », attendu contributors ou everyone"),
            ));
        }
    };
    let mut rules = Vec::new();
    for rule in ext
        .get("rules")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let rule = rules::parse(rule).map_err(|e| invalid(file, e))?;
        for c in rule.columns.iter().chain(rule.expr.columns()) {
            if !props.contains_key(c) {
                return Err(invalid(
                    file,
                    format!("règle {} : colonne inconnue {c}", rule.id),
                ));
            }
        }
        rules.push(rule);
    }
    for k in &key {
        if !props.contains_key(k) {
            return Err(invalid(
                file,
                format!("x-ecarto.key : colonne inconnue {k}"),
            ));
        }
    }
    let validator = jsonschema::options_for::<crate::RowJson>()
        .with_draft(jsonschema::Draft::Draft202012)
        .should_validate_formats(true)
        .build(&raw)
        .map_err(|e| invalid(file, format!("schéma JSON invalide : {e}")))?;
    Ok(Schema {
        name,
        version,
        title: str_of(raw.get("title")),
        description: str_of(raw.get("description")),
        columns,
        key,
        school_types,
        audience,
        rules,
        raw,
        validator,
    })
}

/// The names of `properties` in the file's order (a `serde_json::Map` sorts them): columns,
/// templates and documentation follow the order the schema's authors chose.
fn property_order(text: &str) -> Vec<String> {
    use serde::de::{Deserializer, IgnoredAny, MapAccess, Visitor};

    #[derive(Default)]
    struct Keys(Vec<String>);
    impl<'de> serde::Deserialize<'de> for Keys {
        fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
            struct V;
            impl<'de> Visitor<'de> for V {
                type Value = Keys;
                fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                    f.write_str("an object")
                }
                fn visit_map<A: MapAccess<'de>>(self, mut m: A) -> Result<Keys, A::Error> {
                    let mut keys = Vec::new();
                    while let Some((k, IgnoredAny)) = m.next_entry::<String, IgnoredAny>()? {
                        keys.push(k);
                    }
                    Ok(Keys(keys))
                }
            }
            d.deserialize_map(V)
        }
    }
    #[derive(serde::Deserialize)]
    struct Top {
        #[serde(default)]
        properties: Keys,
    }
    serde_json::from_str::<Top>(text)
        .map(|t| t.properties.0)
        .unwrap_or_default()
}
