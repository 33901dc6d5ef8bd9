//! JSON Schema errors said in plain French, about the agent's cell and how to fix it.

use jsonschema::ValidationError;
use jsonschema::error::{TypeKind, ValidationErrorKind as K};
use serde_json::Value;

use crate::Schema;

/// One problem found on a row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Violation {
    /// The schema column concerned; `None` for the row as a whole.
    pub column: Option<String>,
    /// The JSON Schema keyword (`minimum`, `enum`, `required`…) or the cross-field rule's id.
    pub rule: String,
    /// What is wrong and how to fix it.
    pub message: String,
    /// Other columns a cross-field rule compares.
    pub related: Vec<String>,
}

/// A cell as quoted in a message: long ones cut, so that a 10 MB cell makes a short message.
pub fn quote(cell: &str) -> String {
    const MAX: usize = 60;
    if cell.chars().count() <= MAX {
        return cell.to_owned();
    }
    let head: String = cell.chars().take(MAX).collect();
    format!("{head}… ({} caractères)", cell.chars().count())
}

/// A value as the agent would have typed it.
pub fn show(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Bool(true) => "oui".into(),
        Value::Bool(false) => "non".into(),
        Value::Array(items) => items.iter().map(show).collect::<Vec<_>>().join("|"),
        Value::Null => String::new(),
        other => other.to_string().replace('.', ","),
    }
}

fn type_name(t: &str) -> &'static str {
    match t {
        "integer" => "un nombre entier",
        "number" => "un nombre",
        "boolean" => "oui ou non",
        "string" => "un texte",
        "array" => "une liste",
        "object" => "un objet",
        _ => "une valeur",
    }
}

/// Where, under the row, the error lies: the column, and an item index for lists.
fn column_of(path: &str) -> (Option<String>, Option<usize>) {
    let mut segments = path.split('/').skip(1);
    let col = segments
        .next()
        .map(|s| s.replace("~1", "/").replace("~0", "~"));
    let item = segments.next().and_then(|s| s.parse().ok());
    (col, item)
}

/// The description of the `then` (or `else`) branch an error comes from, which says when
/// the condition applies.
fn condition_of(schema: &Schema, schema_path: &str) -> Option<String> {
    let segments: Vec<&str> = schema_path.split('/').collect();
    let at = segments
        .iter()
        .rposition(|s| *s == "then" || *s == "else")?;
    let pointer = segments[..=at].join("/");
    schema
        .raw
        .pointer(&pointer)?
        .get("description")?
        .as_str()
        .map(str::to_owned)
}

pub(crate) fn from_error(schema: &Schema, error: &ValidationError<'_>) -> Violation {
    let path = error.instance_path().to_string();
    let (mut column, item) = column_of(&path);
    let value = error.instance();
    let cell = quote(&show(value));
    let title = |c: &Option<String>| {
        c.as_deref()
            .and_then(|c| schema.column(c))
            .map(|c| c.title.clone())
            .filter(|t| !t.is_empty())
    };
    let in_list = item.map_or(String::new(), |i| {
        format!(" (élément n° {} de la liste)", i + 1)
    });
    let (rule, mut message) = match error.kind() {
        K::Required { property } => {
            let name = property.as_str().unwrap_or_default().to_owned();
            column = Some(name.clone());
            let label = title(&column).unwrap_or_else(|| name.clone());
            (
                "required",
                format!("La colonne « {label} » ({name}) est obligatoire : remplissez cette case."),
            )
        }
        K::Type { kind } => {
            let expected = match kind {
                TypeKind::Single(t) => type_name(&t.to_string()).to_owned(),
                TypeKind::Multiple(set) => format!("{set:?}"),
            };
            (
                "type",
                format!("« {cell} »{in_list} n'est pas du bon type : il faut {expected}."),
            )
        }
        K::Minimum { limit } => (
            "minimum",
            format!(
                "{cell}{in_list} est trop petit : la valeur minimale est {}. Corrigez le nombre.",
                show(limit)
            ),
        ),
        K::Maximum { limit } => (
            "maximum",
            format!(
                "{cell}{in_list} est trop grand : la valeur maximale est {}. Vérifiez le nombre (une erreur de saisie ?).",
                show(limit)
            ),
        ),
        K::ExclusiveMinimum { limit } => (
            "exclusiveMinimum",
            format!(
                "{cell}{in_list} doit être strictement supérieur à {}.",
                show(limit)
            ),
        ),
        K::ExclusiveMaximum { limit } => (
            "exclusiveMaximum",
            format!(
                "{cell}{in_list} doit être strictement inférieur à {}.",
                show(limit)
            ),
        ),
        K::Enum { options } => {
            let col = column.as_deref().and_then(|c| schema.column(c));
            let allowed: Vec<String> = options
                .as_array()
                .map(|a| {
                    a.iter()
                        .map(|o| {
                            let o = show(o);
                            match col.and_then(|c| c.labels.get(&o)) {
                                Some(label) => format!("{o} ({label})"),
                                None => o,
                            }
                        })
                        .collect()
                })
                .unwrap_or_default();
            (
                "enum",
                format!(
                    "« {cell} »{in_list} n'est pas une valeur autorisée. Valeurs possibles : {}.",
                    allowed.join(", ")
                ),
            )
        }
        K::Constant { expected_value } => (
            "const",
            format!(
                "« {cell} »{in_list} : la seule valeur acceptée est « {} ».",
                show(expected_value)
            ),
        ),
        K::Pattern { .. } => {
            let example = column
                .as_deref()
                .and_then(|c| schema.column(c))
                .and_then(|c| c.examples.first())
                .map(|e| format!(" (exemple : {})", show(e)))
                .unwrap_or_default();
            (
                "pattern",
                format!("« {cell} »{in_list} n'a pas la forme attendue{example}."),
            )
        }
        K::MinLength { limit } => (
            "minLength",
            format!(
                "Le texte est trop court : au moins {limit} caractères sont attendus (il en a {}).",
                value.as_str().map_or(0, |s| s.chars().count())
            ),
        ),
        K::MaxLength { limit } => (
            "maxLength",
            format!(
                "Le texte est trop long : au plus {limit} caractères (il en a {}). Raccourcissez-le.",
                value.as_str().map_or(0, |s| s.chars().count())
            ),
        ),
        K::Format { format } => {
            let what = match format.as_str() {
                "date" => "une date réelle au format AAAA-MM-JJ (ou JJ/MM/AAAA)",
                "uri" => "une adresse web complète, commençant par https://",
                "email" => "une adresse électronique",
                _ => "une valeur au format attendu",
            };
            ("format", format!("« {cell} »{in_list} n'est pas {what}."))
        }
        K::UniqueItems => (
            "uniqueItems",
            format!(
                "La liste « {cell} » contient plusieurs fois la même valeur : ne gardez chaque valeur qu'une fois."
            ),
        ),
        K::MinItems { limit } => (
            "minItems",
            format!("La liste doit contenir au moins {limit} valeur(s) (séparées par « | »)."),
        ),
        K::MaxItems { limit } => (
            "maxItems",
            format!("La liste contient trop de valeurs : au plus {limit}."),
        ),
        K::AdditionalProperties { unexpected } => {
            // Not a column of the schema: the row as a whole.
            column = None;
            (
                "additionalProperties",
                format!(
                    "Colonne(s) non prévue(s) par le schéma : {}.",
                    unexpected.join(", ")
                ),
            )
        }
        other => {
            let keyword = error.kind().keyword().to_owned();
            return Violation {
                column,
                message: format!(
                    "« {cell} » ne respecte pas la règle « {keyword} » du schéma ({other:?})."
                ),
                rule: keyword,
                related: Vec::new(),
            };
        }
    };
    if let Some(condition) = condition_of(schema, &error.schema_path().to_string()) {
        message.push_str(&format!(" ({condition})"));
    }
    Violation {
        column,
        rule: rule.to_owned(),
        message,
        related: Vec::new(),
    }
}

/// The check letters, indexed by the UAI's 7-digit number modulo 23 (no I, O or Q).
const CHECK_LETTERS: &[u8; 23] = b"ABCDEFGHJKLMNPRSTUVWXYZ";

/// A well-shaped UAI (7 digits and a letter) whose letter is not its check letter; the shape
/// itself is the schema's `pattern`.
pub(crate) fn check_letters(column: &crate::Column, v: &Value) -> Vec<Violation> {
    let one = |s: &str, item: Option<usize>| {
        let b = s.as_bytes();
        if b.len() != 8 || !b[..7].iter().all(u8::is_ascii_digit) || !b[7].is_ascii_uppercase() {
            return None;
        }
        let n: u32 = s[..7].parse().ok()?;
        let expected = CHECK_LETTERS[(n % 23) as usize] as char;
        (b[7] as char != expected).then(|| Violation {
            column: Some(column.name.clone()),
            rule: "uai_check_letter".into(),
            message: format!(
                "La lettre clé de « {s} »{} est fausse : la lettre attendue pour {} est {expected}. Vérifiez le code UAI de l'établissement.",
                item.map_or(String::new(), |i| format!(" (élément n° {} de la liste)", i + 1)),
                &s[..7]
            ),
            related: Vec::new(),
        })
    };
    match v {
        Value::String(s) => one(s, None).into_iter().collect(),
        Value::Array(items) => items
            .iter()
            .enumerate()
            .filter_map(|(i, x)| x.as_str().and_then(|s| one(s, Some(i))))
            .collect(),
        _ => Vec::new(),
    }
}
