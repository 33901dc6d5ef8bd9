//! Importers of the ministry's files: they read a file's bytes into observations of schools
//! (catalogue fields and canonical values) and a report of every problem found. They do no
//! I/O: `services::imports` stores the report and publishes the observations.
//!
//! Rules common to every format:
//! - the format is recognised from the headers (case, accents, spaces and underscores aside);
//!   a file missing a required column is refused as a whole and nothing is imported;
//! - a row is usable when its UAI is valid (check letter included); ETIC: a UAI appears once
//!   per millésime, a second row is rejected and reported with the line of the first; the
//!   annuaire: the lines of one UAI are one multi-line school, merged;
//! - a cell that cannot be read is reported and left out; the rest of its row is imported;
//! - a code of a coded field (enum, band, yes/no) that no spelling of
//!   `backend/catalog/vocabulary.csv` matches is a warning and is kept as written with the
//!   observation, never published nor silently dropped;
//! - an empty cell is "not communicated": it is left out, it never erases a published value.

pub mod annuaire;
pub mod etic;
pub mod input;
pub mod mapping;
pub mod report;

use std::collections::HashMap;

use csv::StringRecord;
use serde_json::Value;

use self::{
    input::{Input, separator_label},
    mapping::{Columns, Mapping, Read, Resolved, resolve},
    report::ImportReport,
};
use crate::{
    domain::{catalog::Catalog, uai::Uai, values::parse_cell},
    services::datasets::SchoolObservation,
};

/// What a file is imported as.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ImportKind {
    /// The annuaire de l'éducation (both schema generations) or the "adresse et
    /// géolocalisation des établissements" file.
    Annuaire,
    /// The ETIC survey, second degree.
    Etic,
}

impl ImportKind {
    /// The catalogue source the values are published under, also the `imports.kind` column.
    pub fn source(self) -> &'static str {
        match self {
            ImportKind::Annuaire => "annuaire",
            ImportKind::Etic => "etic",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "annuaire" => Some(ImportKind::Annuaire),
            "etic" => Some(ImportKind::Etic),
            _ => None,
        }
    }
}

/// Reference data an importer may need, read from the database by the caller.
#[derive(Debug, Clone, Default)]
pub struct Context {
    /// INSEE département code → académie code, from the `departements` table (empty when the
    /// territories are not loaded: the académie is then left out).
    pub academie_of_departement: HashMap<String, String>,
}

/// A parsed file: its report and the observations of its usable rows.
#[derive(Debug, Default)]
pub struct Parsed {
    pub report: ImportReport,
    pub observations: Vec<SchoolObservation>,
    /// An annuaire: what it vouches for as the official list of schools.
    pub register: Option<annuaire::Register>,
}

/// Reads a file of the given kind. `progress` is told (bytes done, bytes in all) now and then.
pub fn parse_file(
    kind: ImportKind,
    file_name: &str,
    bytes: &[u8],
    context: &Context,
    progress: &mut dyn FnMut(u64, u64),
) -> Parsed {
    let mut report = ImportReport::new(file_name);
    let input = match input::read(bytes) {
        Ok(input) => input,
        Err(e) => {
            report.file_error(e.0);
            return Parsed {
                report,
                ..Parsed::default()
            };
        }
    };
    report.encoding = Some(input.encoding.label().to_owned());
    report.separator = Some(separator_label(input.separator).to_owned());
    let (observations, register) = match kind {
        ImportKind::Annuaire => {
            let parsed = annuaire::parse(&input, &mut report, progress);
            (parsed.observations, parsed.register)
        }
        ImportKind::Etic => (etic::parse(&input, &mut report, context, progress), None),
    };
    if !report.file_errors.is_empty() {
        report.rows_imported = 0;
        report.rows_rejected = report.rows_read;
        return Parsed {
            report,
            ..Parsed::default()
        };
    }
    Parsed {
        report,
        observations,
        register,
    }
}

/// A file format: its name in reports, its UAI column, its required columns and its mapping.
pub struct Format {
    pub name: &'static str,
    pub uai: &'static str,
    pub required: &'static [&'static str],
    pub table: &'static [Mapping],
}

/// Recognises which of `formats` the header is, or says why none fits. `others` are formats
/// of the other import kind, named in the message when the file is one of them.
pub fn detect<'f>(
    columns: &Columns<'_>,
    formats: &[&'f Format],
    others: &[(&Format, &str)],
) -> Result<&'f Format, String> {
    let score = |f: &Format| {
        f.table
            .iter()
            .flat_map(|m| m.columns.iter())
            .chain(f.required.iter())
            .filter(|c| columns.has(c))
            .count()
    };
    for (other, command) in others {
        if other.required.iter().all(|c| columns.has(c)) {
            return Err(format!(
                "ce fichier est {} : importez-le avec `{command}`",
                other.name
            ));
        }
    }
    let best = formats
        .iter()
        .copied()
        .max_by_key(|f| score(f))
        .filter(|f| score(f) >= 3);
    let Some(best) = best else {
        let expected: Vec<String> = formats
            .iter()
            .map(|f| format!("{} ({})", f.name, f.required.join(", ")))
            .collect();
        return Err(format!(
            "colonnes non reconnues : l'en-tête (ligne 1) n'a les colonnes obligatoires d'aucun des formats attendus : {} ; vérifiez que la première ligne est bien la ligne d'en-tête",
            expected.join(", ")
        ));
    };
    let missing: Vec<&str> = best
        .required
        .iter()
        .copied()
        .filter(|c| !columns.has(c))
        .collect();
    if !missing.is_empty() {
        return Err(format!(
            "colonne{} obligatoire{} absente{} : {} (fichier reconnu comme {} ; colonnes obligatoires : {})",
            plural(missing.len()),
            plural(missing.len()),
            plural(missing.len()),
            missing.join(", "),
            best.name,
            best.required.join(", ")
        ));
    }
    Ok(best)
}

fn plural(n: usize) -> &'static str {
    if n > 1 { "s" } else { "" }
}

/// Notes for the fields a recognised file does not give.
pub fn note_absent(report: &mut ImportReport, absent: &[&'static Mapping]) {
    if absent.is_empty() {
        return;
    }
    let names: Vec<String> = absent
        .iter()
        .map(|m| format!("{} ({})", m.columns.join(" / "), m.field))
        .collect();
    report.notes.push(format!(
        "colonnes absentes de ce fichier, valeurs non communiquées : {}",
        names.join(", ")
    ));
}

/// Drives the rows of a file: counts them, rejects rows whose number of cells differs from the
/// header's, reports progress, and hands every other row to `row`, which returns whether the
/// row was imported.
pub fn each_row(
    input: &Input<'_>,
    report: &mut ImportReport,
    progress: &mut dyn FnMut(u64, u64),
    mut row: impl FnMut(u64, &StringRecord, &mut ImportReport) -> bool,
) {
    let width = input.headers.len();
    let mut record = StringRecord::new();
    let mut records = input.records();
    let mut last_short = None;
    loop {
        let line = match records.next_into(&mut record) {
            Ok(Some(line)) => line,
            Ok(None) => break,
            Err(e) => {
                report.file_error(e.0);
                break;
            }
        };
        if record.iter().all(|c| c.trim().is_empty()) {
            continue;
        }
        report.rows_read += 1;
        last_short = None;
        if record.len() != width {
            if record.len() < width {
                last_short = Some(line);
            }
            report.row_rejected(
                line,
                None,
                Some(&format!("{} colonne{}", record.len(), plural(record.len()))),
                format!(
                    "{width} colonnes séparées par {} comme la ligne d'en-tête (ligne incomplète, ou séparateur différent)",
                    separator_label(input.separator)
                ),
            );
        } else if row(line, &record, report) {
            report.rows_imported += 1;
        }
        if report.rows_read.is_multiple_of(1024) {
            let (done, total) = records.progress();
            progress(done, total);
        }
    }
    report.rows_rejected = report.rows_read - report.rows_imported;
    if let Some(line) = last_short.filter(|_| !input.ends_with_newline()) {
        report.truncated = true;
        report.notes.push(format!(
            "la dernière ligne (ligne {line}) est incomplète et le fichier ne se termine pas par un saut de ligne : il a sans doute été tronqué"
        ));
    }
    let (_, total) = records.progress();
    progress(total, total);
}

/// Reads a row's UAI, reporting and rejecting the row when it is invalid.
pub fn row_uai(
    line: u64,
    record: &StringRecord,
    column: usize,
    columns: &Columns<'_>,
    report: &mut ImportReport,
) -> Option<Uai> {
    let raw = record.get(column).unwrap_or("").trim();
    match Uai::parse(raw) {
        Ok(uai) => Some(uai),
        Err(e) => {
            report.row_rejected(
                line,
                Some(columns.name(column)),
                Some(raw),
                format!("un code UAI valide (7 chiffres et la lettre clé) : {e}"),
            );
            None
        }
    }
}

/// What one row says: its values, and the source's spellings kept beside them.
#[derive(Debug, Default)]
pub struct RowValues {
    pub values: Vec<(&'static str, Value)>,
    /// Spellings translated into catalogue codes, and unrecognised codes (with no value).
    pub raw: Vec<(&'static str, String)>,
}

/// Reads every resolved field of a row, reporting the cells that cannot be read and the codes
/// that are not recognised (kept as written).
pub fn read_values(
    line: u64,
    record: &StringRecord,
    resolved: &[Resolved],
    columns: &Columns<'_>,
    report: &mut ImportReport,
) -> RowValues {
    let mut out = RowValues {
        values: Vec::with_capacity(resolved.len()),
        raw: Vec::new(),
    };
    for r in resolved {
        match r.read(record) {
            Ok(Read::Value { value, raw }) => {
                out.values.push((r.field.name, value));
                if let Some(raw) = raw {
                    out.raw.push((r.field.name, raw));
                }
            }
            Ok(Read::Empty) => {}
            Ok(Read::Unrecognised {
                column,
                raw,
                expected,
            }) => {
                report.unrecognised(line, columns.name(column), r.field.name, &raw, expected);
                out.raw.push((r.field.name, raw));
            }
            Err(e) => report.cell_error(line, columns.name(e.column), &e.value, e.expected),
        }
    }
    // Rows are kept until the whole file is read (a UAI's lines may be far apart), and most
    // leave many fields empty: give back what they do not use.
    out.values.shrink_to_fit();
    out
}

/// A value an importer derives rather than reads (ETIC's sector, a département from the UAI),
/// passed through `parse_cell` like any other so that the catalogue's type is enforced.
pub fn derived(field: &str, raw: &str) -> Option<(&'static str, Value)> {
    let field = Catalog::get().field(field)?;
    parse_cell(field, raw)
        .ok()
        .flatten()
        .map(|v| (field.name, v))
}

/// Resolves a recognised format's table, noting the fields the file does not give.
pub fn resolve_format(
    format: &Format,
    columns: &Columns<'_>,
    report: &mut ImportReport,
) -> Vec<Resolved> {
    let (resolved, absent) = resolve(format.table, columns);
    note_absent(report, &absent);
    resolved
}
