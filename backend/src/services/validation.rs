//! The checks of a contribution file that need the register: each UAI names a school that
//! exists, is open and is of a type the schema accepts; and the guard against mass changes
//! (a file that would change or blank more than a set share of the published values it
//! touches is flagged for the moderator, as the Base Adresse Locale depot does).

use std::collections::{BTreeSet, HashMap};

use ecarto_contrib_schemas::{ColumnKind, FieldMapping, Schema};
use sea_orm::{ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter, QuerySelect};
use serde_json::Value;

use crate::domain::competence::type_label;
use crate::entities::school;
use crate::services::datasets;
use crate::validation::report::{Finding, MassChange, Severity};
use crate::validation::{self, Validation};

const CHUNK: usize = 500;

struct Known {
    name: String,
    school_type: Option<String>,
    etat: Option<String>,
}

/// Adds the register's findings to the report and recomputes it.
pub async fn check_against_register<C: ConnectionTrait>(
    db: &C,
    schema: &Schema,
    v: &mut Validation,
    mass_change_share: f64,
) -> Result<(), DbErr> {
    let distinct: BTreeSet<&str> = v.uais.iter().map(|u| u.uai.as_str()).collect();
    let distinct: Vec<String> = distinct.into_iter().map(str::to_owned).collect();
    let mut known: HashMap<String, Known> = HashMap::new();
    for chunk in distinct.chunks(CHUNK) {
        let rows: Vec<(String, String, Option<String>, Option<String>)> = school::Entity::find()
            .select_only()
            .columns([
                school::Column::Uai,
                school::Column::Name,
                school::Column::TypeEtablissement,
                school::Column::Etat,
            ])
            .filter(school::Column::Uai.is_in(chunk.iter().cloned()))
            .into_tuple()
            .all(db)
            .await?;
        for (uai, name, school_type, etat) in rows {
            known.insert(
                uai,
                Known {
                    name,
                    school_type,
                    etat,
                },
            );
        }
    }
    let mut new_findings = Vec::new();
    for r in &v.uais {
        let note = match known.get(&r.uai) {
            None => Some((
                "uai_unknown",
                format!(
                    "le code UAI {} ne figure pas dans l'annuaire des établissements : vérifiez-le (chiffres inversés ?). S'il s'agit d'un établissement nouveau, signalez-le à votre académie.",
                    r.uai
                ),
            )),
            Some(k) if k.etat.as_deref() == Some("ferme") => Some((
                "school_closed",
                format!(
                    "l'établissement {} ({}) est fermé selon l'annuaire : retirez cette ligne ou vérifiez le code UAI.",
                    r.uai, k.name
                ),
            )),
            Some(k)
                if !schema.school_types.is_empty()
                    && !k
                        .school_type
                        .as_ref()
                        .is_some_and(|t| schema.school_types.contains(t)) =>
            {
                Some((
                    "school_type",
                    format!(
                        "l'établissement {} ({}) est {} ; le schéma {} concerne : {}. Vérifiez le code UAI ou utilisez le schéma adapté.",
                        r.uai,
                        k.name,
                        type_label(k.school_type.as_deref().unwrap_or("autre"), false),
                        schema.id(),
                        schema
                            .school_types
                            .iter()
                            .map(|t| type_label(t, false))
                            .collect::<Vec<_>>()
                            .join(", "),
                    ),
                ))
            }
            _ => None,
        };
        if let Some((rule, note)) = note {
            if let Some((_, cells)) = v.rows.remove(&r.row) {
                v.report.rows.insert(r.row, cells);
            }
            new_findings.push(validation::row_finding(
                schema,
                &v.report,
                Severity::Error,
                rule,
                note,
                r.row,
                r.column,
            ));
        }
    }
    v.report.errors.extend(new_findings);
    v.report.schools_checked = true;
    if let Some(m) = mass_change(db, schema, v, mass_change_share).await? {
        let note = format!(
            "ce fichier modifierait {:.0} % des valeurs publiées qu'il touche ({} modifiée(s), {} effacée(s) sur {}), plus que le seuil de {:.0} % : un modérateur vérifiera l'envoi avant publication.",
            m.share * 100.0,
            m.changed,
            m.blanked,
            m.compared,
            m.threshold * 100.0
        );
        v.report.warnings.push(Finding {
            severity: Severity::Warning,
            rule: "mass_change".into(),
            message: format!("Fichier : {note}"),
            note,
            row: None,
            header: None,
            field_number: None,
            column: None,
            cell: None,
        });
        v.report.mass_change = Some(m);
    }
    v.report.finish();
    Ok(())
}

/// Published values the valid rows would change or blank, among those they touch.
async fn mass_change<C: ConnectionTrait>(
    db: &C,
    schema: &Schema,
    v: &Validation,
    threshold: f64,
) -> Result<Option<MassChange>, DbErr> {
    // Only schemas about one school per row can be compared value by value.
    let Some(uai_col) = schema
        .columns
        .iter()
        .find(|c| c.uai && !matches!(c.kind, ColumnKind::List(_)))
    else {
        return Ok(None);
    };
    let present: BTreeSet<&str> = v
        .column_of_header
        .iter()
        .flatten()
        .map(|&c| schema.columns[c].name.as_str())
        .collect();
    let uais: BTreeSet<String> = v
        .rows
        .values()
        .filter_map(|(row, _)| {
            row.get(&uai_col.name)
                .and_then(Value::as_str)
                .map(str::to_owned)
        })
        .collect();
    let uais: Vec<String> = uais.into_iter().collect();
    let mut published: HashMap<String, Value> = HashMap::new();
    for chunk in uais.chunks(CHUNK) {
        for (uai, record) in datasets::current_records(db, chunk.iter().cloned()).await? {
            if let Ok(data) = serde_json::from_str::<Value>(&record.data) {
                published.insert(uai, data);
            }
        }
    }
    let (mut changed, mut blanked, mut compared) = (0u64, 0u64, 0u64);
    for (row, _) in v.rows.values() {
        let Some(record) = row
            .get(&uai_col.name)
            .and_then(Value::as_str)
            .and_then(|u| published.get(u))
        else {
            continue;
        };
        let current = |field: &str| {
            record
                .get(field)
                .and_then(|v| v.get(0))
                .filter(|v| !v.is_null())
        };
        let mut compare = |field: &str, new: Option<&Value>, column_present: bool| {
            let Some(old) = current(field) else { return };
            compared += 1;
            match new {
                None if column_present => blanked += 1,
                None => {}
                Some(n) if !same(n, old) => changed += 1,
                Some(_) => {}
            }
        };
        for col in &schema.columns {
            let in_file = present.contains(col.name.as_str());
            if let Some(by) = &col.typed_by {
                if let Some(field) = row.get(by).and_then(Value::as_str) {
                    compare(field, row.get(&col.name), in_file);
                }
                continue;
            }
            match &col.field {
                FieldMapping::None => {}
                FieldMapping::Field(f) if f != &uai_col.name => {
                    compare(f, row.get(&col.name), in_file)
                }
                FieldMapping::Field(_) => {}
                FieldMapping::ByValue(by_value) => {
                    let chosen = row
                        .get(&col.name)
                        .and_then(Value::as_str)
                        .and_then(|v| by_value.get(v));
                    let fields: BTreeSet<&String> =
                        by_value.values().flat_map(|m| m.keys()).collect();
                    for f in fields {
                        compare(f, chosen.and_then(|m| m.get(f)), in_file);
                    }
                }
            }
        }
    }
    if compared == 0 {
        return Ok(None);
    }
    let share = (changed + blanked) as f64 / compared as f64;
    Ok((share > threshold).then_some(MassChange {
        changed,
        blanked,
        compared,
        share,
        threshold,
    }))
}

/// Equal as published values: numbers compared as numbers (`12` and `12.0` are the same).
pub(crate) fn same(a: &Value, b: &Value) -> bool {
    match (a.as_f64(), b.as_f64()) {
        (Some(x), Some(y)) => (x - y).abs() < 1e-9,
        _ => a == b,
    }
}
