//! Validation of an agent's file against a contribution schema: headers matched whatever the
//! case, accents, spaces or underscores; each cell typed as the schema says (so that
//! messages speak of the cell, not of JSON); then the schema's keywords and cross-field
//! rules, the UAI check letter and duplicate keys. Checks that need the register (the school
//! exists, is open, is of a type the schema accepts; mass changes) are in
//! `services::validation`.
//!
//! Rows are read one by one and validated in batches on a second thread while the next batch
//! is read; memory grows with the report, not with the file.

pub mod coerce;
pub mod render;
pub mod report;
pub mod table;

use std::collections::{BTreeMap, HashMap};

use ecarto_contrib_schemas::{Column, Schema};
use serde_json::{Map, Value};

use crate::domain::text::header_key;
use crate::importers::input::InputError;
use report::{ColumnMatch, Finding, Report, Severity};
use table::Table;

pub use report::Report as ValidationReport;

#[derive(Debug, Clone)]
pub struct Options {
    /// `YYYY-MM-DD`, for rules such as « not in the future ».
    pub today: String,
    /// Beyond this many data rows the file is refused.
    pub max_rows: u64,
    /// Keep the typed content of valid rows (for the checks against the register).
    pub keep_rows: bool,
}

impl Options {
    pub fn new(max_rows: u64) -> Self {
        Options {
            today: chrono::Utc::now()
                .date_naive()
                .format("%Y-%m-%d")
                .to_string(),
            max_rows,
            keep_rows: false,
        }
    }
}

/// Why a file could not be validated at all.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FileError {
    #[error("fichier inutilisable : {0}")]
    Unusable(String),
    #[error(
        "le fichier a plus de {limit} lignes de données, la limite acceptée : découpez-le en plusieurs fichiers"
    )]
    TooManyRows { limit: u64 },
}

impl From<InputError> for FileError {
    fn from(e: InputError) -> Self {
        FileError::Unusable(e.0)
    }
}

/// A UAI read in a row, for the checks against the register.
#[derive(Debug, Clone)]
pub struct UaiRef {
    pub row: u64,
    pub column: usize,
    pub uai: String,
}

/// The outcome: the report, and what later checks and submissions need.
pub struct Validation {
    pub report: Report,
    pub uais: Vec<UaiRef>,
    /// Valid rows by line number, typed and as read (when `keep_rows`).
    pub rows: BTreeMap<u64, (Map<String, Value>, Vec<String>)>,
    /// Which schema column each file column is (`None`: unknown, ignored).
    pub column_of_header: Vec<Option<usize>>,
}

/// Everything a batch of rows needs, shared by the threads.
struct Context<'s> {
    schema: &'s Schema,
    headers: Vec<String>,
    /// For each file column, the schema column index.
    column_of_header: Vec<Option<usize>>,
    /// For each schema column, the file column it is read from.
    header_of_column: Vec<Option<usize>>,
    missing: Vec<usize>,
    options: &'s Options,
    row_word: &'static str,
}

/// One row's outcome.
struct RowOutcome {
    number: u64,
    findings: Vec<Finding>,
    typed: Option<Map<String, Value>>,
    uais: Vec<UaiRef>,
    key: Option<String>,
    cells: Vec<String>,
}

/// Rows validated at once on a thread.
const BATCH: usize = 2048;

pub fn validate(
    schema: &Schema,
    bytes: &[u8],
    file_name: Option<&str>,
    options: &Options,
) -> Result<Validation, FileError> {
    let table = Table::read(bytes, file_name, &schema.name)?;
    let mut report = Report {
        schema: schema.id(),
        file: file_name.map(str::to_owned),
        format: table.format.clone(),
        valid: true,
        stats: Default::default(),
        columns: Vec::new(),
        errors: Vec::new(),
        warnings: Vec::new(),
        by_rule: BTreeMap::new(),
        by_column: BTreeMap::new(),
        invalid_rows: Vec::new(),
        valid_row_ranges: Vec::new(),
        rows: BTreeMap::new(),
        mass_change: None,
        schools_checked: false,
        all_rows: Vec::new(),
    };
    let ctx = match_headers(schema, &table, options, &mut report);
    let mut out = Validation {
        report,
        uais: Vec::new(),
        rows: BTreeMap::new(),
        column_of_header: ctx.column_of_header.clone(),
    };
    let mut keys: HashMap<String, u64> = HashMap::new();
    let mut rows = table.rows();
    let mut read_error: Option<FileError> = None;
    std::thread::scope(|scope| {
        let (to_worker, from_reader) = std::sync::mpsc::sync_channel::<Vec<(u64, Vec<String>)>>(2);
        let (to_main, from_worker) = std::sync::mpsc::sync_channel::<Vec<RowOutcome>>(2);
        let ctx = &ctx;
        scope.spawn(move || {
            for batch in from_reader {
                let outcomes = batch
                    .into_iter()
                    .map(|(n, cells)| check_row(ctx, n, cells))
                    .collect();
                if to_main.send(outcomes).is_err() {
                    break;
                }
            }
        });
        let mut count: u64 = 0;
        let mut collect = |outcomes: Vec<RowOutcome>, out: &mut Validation| {
            for o in outcomes {
                absorb(ctx, o, &mut keys, out);
            }
        };
        loop {
            let mut batch = Vec::with_capacity(BATCH);
            let mut cells = Vec::new();
            while batch.len() < BATCH {
                match rows.next_into(&mut cells) {
                    Ok(Some(n)) => {
                        count += 1;
                        if count > options.max_rows {
                            read_error = Some(FileError::TooManyRows {
                                limit: options.max_rows,
                            });
                            break;
                        }
                        batch.push((n, std::mem::take(&mut cells)));
                    }
                    Ok(None) => break,
                    Err(e) => {
                        read_error = Some(e.into());
                        break;
                    }
                }
            }
            let last = batch.len() < BATCH || read_error.is_some();
            if !batch.is_empty() && to_worker.send(batch).is_err() {
                break;
            }
            // Collect what the worker finished, without waiting, to keep memory flat.
            while let Ok(done) = from_worker.try_recv() {
                collect(done, &mut out);
            }
            if last {
                break;
            }
        }
        drop(to_worker);
        for done in from_worker {
            collect(done, &mut out);
        }
    });
    if let Some(e) = read_error {
        return Err(e);
    }
    if out.report.all_rows.is_empty() {
        return Err(FileError::Unusable(
            "le fichier ne contient aucune ligne de données après la ligne d'en-tête".into(),
        ));
    }
    out.report.finish();
    Ok(out)
}

fn absorb(
    ctx: &Context<'_>,
    mut o: RowOutcome,
    keys: &mut HashMap<String, u64>,
    out: &mut Validation,
) {
    out.report.all_rows.push(o.number);
    if let Some(key) = o.key.take() {
        match keys.get(&key) {
            Some(&first) => {
                let (col, header) = ctx
                    .schema
                    .key
                    .first()
                    .and_then(|k| ctx.schema.columns.iter().position(|c| &c.name == k))
                    .and_then(|i| ctx.header_of_column[i].map(|h| (Some(i), Some(h))))
                    .unwrap_or((None, None));
                let note = format!(
                    "Cette ligne a la même clé ({}) que la {} {first} : chaque {} ne doit figurer qu'une fois dans le fichier. Supprimez le doublon ou fusionnez les deux lignes.",
                    key.replace('\u{1f}', ", "),
                    ctx.row_word,
                    ctx.schema.key.join(" + "),
                );
                o.findings.push(finding(
                    ctx,
                    Severity::Error,
                    "duplicate_key",
                    note,
                    Some(o.number),
                    col,
                    header,
                    &o.cells,
                ));
                o.typed = None;
            }
            None => {
                keys.insert(key, o.number);
            }
        }
    }
    let has_error = o.findings.iter().any(|f| f.severity == Severity::Error);
    let kept = match o.typed.take() {
        Some(typed) if !has_error => Some((typed, o.cells.clone())),
        _ => None,
    };
    if !o.findings.is_empty() {
        out.report.rows.insert(o.number, o.cells);
    }
    for f in o.findings {
        match f.severity {
            Severity::Error => out.report.errors.push(f),
            Severity::Warning => out.report.warnings.push(f),
        }
    }
    out.uais.extend(o.uais);
    if let Some(kept) = kept {
        out.rows.insert(o.number, kept);
    }
}

fn match_headers<'s>(
    schema: &'s Schema,
    table: &Table<'_>,
    options: &'s Options,
    report: &mut Report,
) -> Context<'s> {
    let keys: Vec<(String, String)> = schema
        .columns
        .iter()
        .map(|c| (header_key(&c.name), header_key(&c.title)))
        .collect();
    let mut column_of_header = Vec::with_capacity(table.headers.len());
    let mut header_of_column: Vec<Option<usize>> = vec![None; schema.columns.len()];
    let mut file_findings = Vec::new();
    for (i, h) in table.headers.iter().enumerate() {
        let key = header_key(h);
        let found = keys
            .iter()
            .position(|(n, _)| *n == key)
            .or_else(|| keys.iter().position(|(_, t)| !t.is_empty() && *t == key));
        let at = |sev, rule: &str, note: String| Finding {
            severity: sev,
            rule: rule.into(),
            message: format!("Colonne {} « {h} » : {note}", i + 1),
            note,
            row: None,
            header: Some(h.clone()),
            field_number: Some(i + 1),
            column: None,
            cell: None,
        };
        match found {
            Some(c) if header_of_column[c].is_none() => {
                header_of_column[c] = Some(i);
                column_of_header.push(Some(c));
            }
            Some(c) => {
                let first = header_of_column[c].unwrap_or(0);
                file_findings.push(at(
                    Severity::Error,
                    "duplicate_column",
                    format!(
                        "cette colonne est déjà présente (colonne {} « {} ») : gardez-en une seule.",
                        first + 1,
                        table.headers[first]
                    ),
                ));
                column_of_header.push(None);
            }
            None => {
                let note = if h.trim().is_empty() {
                    "colonne sans nom, ignorée : donnez-lui un nom du schéma ou supprimez-la."
                        .to_owned()
                } else {
                    format!(
                        "colonne inconnue du schéma {}, ignorée. Colonnes attendues : {}.",
                        schema.id(),
                        schema
                            .columns
                            .iter()
                            .map(|c| c.name.as_str())
                            .collect::<Vec<_>>()
                            .join(", ")
                    )
                };
                file_findings.push(at(Severity::Warning, "unknown_column", note));
                column_of_header.push(None);
            }
        }
        report.columns.push(ColumnMatch {
            number: i + 1,
            header: h.clone(),
            column: column_of_header[i].map(|c| schema.columns[c].name.clone()),
        });
    }
    let mut missing = Vec::new();
    for (c, col) in schema.columns.iter().enumerate() {
        if col.required && header_of_column[c].is_none() {
            missing.push(c);
            let note = format!(
                "la colonne obligatoire « {} » ({}) est absente du fichier : ajoutez-la (en-tête « {} »).",
                col.title, col.name, col.name
            );
            file_findings.push(Finding {
                severity: Severity::Error,
                rule: "missing_column".into(),
                message: format!("Fichier : {note}"),
                note,
                row: None,
                header: None,
                field_number: None,
                column: Some(col.name.clone()),
                cell: None,
            });
        }
    }
    for f in file_findings {
        match f.severity {
            Severity::Error => report.errors.push(f),
            Severity::Warning => report.warnings.push(f),
        }
    }
    Context {
        schema,
        headers: table.headers.clone(),
        column_of_header,
        header_of_column,
        missing,
        options,
        row_word: table.format.row_word(),
    }
}

#[allow(clippy::too_many_arguments)]
fn finding(
    ctx: &Context<'_>,
    severity: Severity,
    rule: &str,
    note: String,
    row: Option<u64>,
    column: Option<usize>,
    header: Option<usize>,
    cells: &[String],
) -> Finding {
    let col = column.map(|c| &ctx.schema.columns[c]);
    let header_name = header.map(|h| ctx.headers[h].clone());
    let place = match (&header_name, row) {
        (Some(h), Some(r)) => format!("{} {r}, colonne « {h} »", capitalised(ctx.row_word)),
        (None, Some(r)) => format!("{} {r}", capitalised(ctx.row_word)),
        (Some(h), None) => format!("Colonne « {h} »"),
        (None, None) => "Fichier".to_owned(),
    };
    Finding {
        severity,
        rule: rule.to_owned(),
        message: format!("{place} : {note}"),
        note,
        row,
        field_number: header.map(|h| h + 1),
        header: header_name,
        column: col.map(|c| c.name.clone()),
        cell: header.and_then(|h| cells.get(h).cloned()),
    }
}

fn capitalised(word: &str) -> String {
    let mut c = word.chars();
    c.next()
        .map(|f| f.to_uppercase().chain(c).collect())
        .unwrap_or_default()
}

fn check_row(ctx: &Context<'_>, number: u64, cells: Vec<String>) -> RowOutcome {
    let schema = ctx.schema;
    let mut findings = Vec::new();
    let mut typed = Map::new();
    let mut failed = vec![false; schema.columns.len()];
    let mut uais = Vec::new();
    if cells.len() > ctx.headers.len()
        && cells[ctx.headers.len()..]
            .iter()
            .any(|c| !c.trim().is_empty())
    {
        findings.push(finding(
            ctx,
            Severity::Error,
            "extra_cells",
            format!(
                "cette ligne a {} cellules pour {} colonnes d'en-tête : un séparateur ou un guillemet en trop décale sans doute les valeurs. Vérifiez la ligne.",
                cells.len(),
                ctx.headers.len()
            ),
            Some(number),
            None,
            None,
            &cells,
        ));
    }
    let mut typed_by_later = Vec::new();
    let mut retyped = Vec::new();
    for (c, col) in schema.columns.iter().enumerate() {
        let Some(h) = ctx.header_of_column[c] else {
            continue;
        };
        let cell = cells.get(h).map(|s| s.trim()).unwrap_or("");
        if cell.is_empty() {
            continue;
        }
        if col.typed_by.is_some() {
            typed_by_later.push((c, h));
            continue;
        }
        type_cell(
            ctx,
            number,
            c,
            h,
            col,
            cell,
            &cells,
            &mut typed,
            &mut failed,
            &mut findings,
            &mut uais,
        );
    }
    for (c, h) in typed_by_later {
        let col = &schema.columns[c];
        let cell = cells.get(h).map(|s| s.trim()).unwrap_or("");
        let field = col
            .typed_by
            .as_deref()
            .and_then(|f| typed.get(f))
            .and_then(Value::as_str);
        match field.map(|f| coerce::coerce_for_field(f, cell)) {
            Some(Ok(v)) => {
                // The schema sees the cell as text; the typed value replaces it afterwards.
                typed.insert(col.name.clone(), cell.into());
                retyped.push((col.name.clone(), v));
            }
            Some(Err(e)) => {
                failed[c] = true;
                findings.push(finding(
                    ctx,
                    Severity::Error,
                    e.rule,
                    e.message,
                    Some(number),
                    Some(c),
                    Some(h),
                    &cells,
                ));
                typed.insert(col.name.clone(), cell.into());
            }
            None => {
                typed.insert(col.name.clone(), cell.into());
            }
        }
    }
    let instance = Value::Object(typed);
    for v in schema.check_value(&instance, &ctx.options.today) {
        let c = v
            .column
            .as_deref()
            .and_then(|n| schema.columns.iter().position(|col| col.name == n));
        if let Some(c) = c {
            // A cell that could not be typed is reported once, by its typing error; a
            // missing required column once, for the file.
            if failed[c] || (v.rule == "required" && ctx.missing.contains(&c)) {
                continue;
            }
        }
        let header = c.and_then(|c| ctx.header_of_column[c]);
        findings.push(finding(
            ctx,
            Severity::Error,
            &v.rule,
            v.message,
            Some(number),
            c,
            header,
            &cells,
        ));
    }
    let mut typed = match instance {
        Value::Object(t) => t,
        _ => Map::new(),
    };
    for (name, v) in retyped {
        typed.insert(name, v);
    }
    let key = (!schema.key.is_empty())
        .then(|| {
            let parts: Option<Vec<String>> = schema
                .key
                .iter()
                .map(|k| {
                    typed.get(k).map(|v| match v {
                        Value::String(s) => s.clone(),
                        other => other.to_string(),
                    })
                })
                .collect();
            parts.map(|p| p.join("\u{1f}"))
        })
        .flatten();
    let has_error = findings.iter().any(|f| f.severity == Severity::Error);
    RowOutcome {
        number,
        typed: (ctx.options.keep_rows && !has_error).then_some(typed),
        findings,
        uais,
        key,
        cells,
    }
}

#[allow(clippy::too_many_arguments)]
fn type_cell(
    ctx: &Context<'_>,
    number: u64,
    c: usize,
    h: usize,
    col: &Column,
    cell: &str,
    cells: &[String],
    typed: &mut Map<String, Value>,
    failed: &mut [bool],
    findings: &mut Vec<Finding>,
    uais: &mut Vec<UaiRef>,
) {
    match coerce::coerce(col, cell) {
        Ok(v) => {
            if let Some(w) = v.warning {
                findings.push(finding(
                    ctx,
                    Severity::Warning,
                    w.rule,
                    w.message,
                    Some(number),
                    Some(c),
                    Some(h),
                    cells,
                ));
            }
            if col.uai {
                let mut push = |u: &Value| {
                    if let Some(u) = u.as_str() {
                        uais.push(UaiRef {
                            row: number,
                            column: h,
                            uai: u.to_owned(),
                        });
                    }
                };
                match &v.value {
                    Value::Array(items) => items.iter().for_each(&mut push),
                    other => push(other),
                }
            }
            typed.insert(col.name.clone(), v.value);
        }
        Err(e) => {
            failed[c] = true;
            findings.push(finding(
                ctx,
                Severity::Error,
                e.rule,
                e.message,
                Some(number),
                Some(c),
                Some(h),
                cells,
            ));
        }
    }
}

/// Builds a finding for a row and file column from outside the engine (register checks).
pub(crate) fn row_finding(
    schema: &Schema,
    report: &Report,
    severity: Severity,
    rule: &str,
    note: String,
    row: u64,
    header: usize,
) -> Finding {
    let h = report.columns.get(header);
    let name = h.map(|m| m.header.clone());
    let word = capitalised(report.format.row_word());
    Finding {
        severity,
        rule: rule.to_owned(),
        message: match &name {
            Some(n) => format!("{word} {row}, colonne « {n} » : {note}"),
            None => format!("{word} {row} : {note}"),
        },
        note,
        row: Some(row),
        header: name,
        field_number: Some(header + 1),
        column: h
            .and_then(|m| m.column.clone())
            .filter(|c| schema.column(c).is_some()),
        cell: report
            .rows
            .get(&row)
            .and_then(|cells| cells.get(header).cloned()),
    }
}
