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
pub mod edit;
pub mod render;
pub mod report;
pub mod table;

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicU8, AtomicU64, Ordering};

use csv::StringRecord;
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
    /// Keep what the checks against the register need: the UAIs read, and the typed content
    /// of valid rows.
    pub keep_rows: bool,
    /// Where the rows read so far are counted, for a page that shows a long check's progress.
    pub progress: Option<std::sync::Arc<Progress>>,
}

/// How far a check has gone, read from another task while the check runs.
#[derive(Debug, Default)]
pub struct Progress {
    rows_read: AtomicU64,
    /// An estimate until the file is read (a CSV's lines), exact for spreadsheets and JSON.
    rows_expected: AtomicU64,
    stage: AtomicU8,
}

/// What a check is doing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    /// Reading the rows and checking each against the schema.
    Rows,
    /// Checking the schools against the register, and the competence of the submitter.
    Register,
    /// Comparing with the published values.
    Published,
}

impl Progress {
    pub fn rows(&self) -> (u64, u64) {
        let read = self.rows_read.load(Ordering::Relaxed);
        (read, self.rows_expected.load(Ordering::Relaxed).max(read))
    }

    pub fn stage(&self) -> Stage {
        match self.stage.load(Ordering::Relaxed) {
            0 => Stage::Rows,
            1 => Stage::Register,
            _ => Stage::Published,
        }
    }

    pub fn enter(&self, stage: Stage) {
        self.stage.store(stage as u8, Ordering::Relaxed);
    }
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
            progress: None,
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
    cells: StringRecord,
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
    if let Some(p) = &options.progress {
        p.rows_expected
            .store(table.expected_rows(bytes), Ordering::Relaxed);
    }
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
    // Batch `i` goes to worker `i % n` and results are taken back in batch order, so that
    // « the first occurrence » of a duplicate key is the first in the file.
    let workers = std::thread::available_parallelism().map_or(2, |n| n.get().clamp(1, 4));
    std::thread::scope(|scope| {
        let ctx = &ctx;
        let mut inputs = Vec::with_capacity(workers);
        let mut outputs = Vec::with_capacity(workers);
        for _ in 0..workers {
            let (to_worker, from_reader) =
                std::sync::mpsc::sync_channel::<Vec<(u64, StringRecord)>>(2);
            let (to_main, from_worker) = std::sync::mpsc::sync_channel::<Vec<RowOutcome>>(2);
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
            inputs.push(to_worker);
            outputs.push(from_worker);
        }
        let (mut sent, mut collected) = (0usize, 0usize);
        let mut collect_next = |collected: &mut usize, out: &mut Validation| -> bool {
            match outputs[*collected % workers].recv() {
                Ok(outcomes) => {
                    for o in outcomes {
                        absorb(ctx, o, &mut keys, out);
                    }
                    *collected += 1;
                    true
                }
                Err(_) => false,
            }
        };
        let mut count: u64 = 0;
        loop {
            let mut batch = Vec::with_capacity(BATCH);
            let mut record = StringRecord::new();
            while batch.len() < BATCH {
                match rows.next_record(&mut record) {
                    Ok(Some(n)) => {
                        count += 1;
                        if count > options.max_rows {
                            read_error = Some(FileError::TooManyRows {
                                limit: options.max_rows,
                            });
                            break;
                        }
                        batch.push((n, std::mem::take(&mut record)));
                    }
                    Ok(None) => break,
                    Err(e) => {
                        read_error = Some(e.into());
                        break;
                    }
                }
            }
            if let Some(p) = &options.progress {
                p.rows_read.store(count, Ordering::Relaxed);
            }
            let last = batch.len() < BATCH || read_error.is_some();
            if !batch.is_empty() {
                if inputs[sent % workers].send(batch).is_err() {
                    break;
                }
                sent += 1;
            }
            // At most two batches per worker in flight: memory stays flat.
            while sent - collected >= 2 * workers {
                if !collect_next(&mut collected, &mut out) {
                    break;
                }
            }
            if last {
                break;
            }
        }
        drop(inputs);
        while collected < sent {
            if !collect_next(&mut collected, &mut out) {
                break;
            }
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
                let (this, that) = if ctx.row_word == "objet" {
                    ("Cet objet", format!("l'objet {first}"))
                } else {
                    ("Cette ligne", format!("la ligne {first}"))
                };
                let note = format!(
                    "{this} a la même clé ({}) que {that} : chaque {} ne doit figurer qu'une fois dans le fichier. Supprimez le doublon ou fusionnez les deux.",
                    key.replace('\u{1f}', ", "),
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
        Some(typed) if !has_error => Some((typed, to_cells(&o.cells))),
        _ => None,
    };
    if !o.findings.is_empty() {
        out.report.rows.insert(o.number, to_cells(&o.cells));
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
        // The columns our annotated file adds: a corrected file comes back with them.
        let annotation =
            key == header_key(render::STATUS_HEADER) || key == header_key(render::MESSAGES_HEADER);
        match found {
            None if annotation => column_of_header.push(None),
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
    cells: &StringRecord,
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
        cell: header.and_then(|h| cells.get(h).map(str::to_owned)),
    }
}

/// A row's typed cells as the `(column, value)` pairs JSON Schema validates, names borrowed
/// from the schema: no JSON object is built per row (its B-tree and key copies were a third of
/// the time).
struct RowValues<'s> {
    schema: &'s Schema,
    members: Vec<(&'s str, Value)>,
}

impl<'s> RowValues<'s> {
    fn new(schema: &'s Schema) -> Self {
        RowValues {
            schema,
            members: Vec::with_capacity(schema.columns.len()),
        }
    }

    fn insert(&mut self, column: usize, value: Value) {
        self.members
            .push((self.schema.columns[column].name.as_str(), value));
    }

    fn get(&self, name: &str) -> Option<&Value> {
        self.members
            .iter()
            .find(|(k, _)| *k == name)
            .map(|(_, v)| v)
    }
}

/// A cell that could not be typed, reported on its row and column.
fn cell_error(
    ctx: &Context<'_>,
    number: u64,
    column: usize,
    header: usize,
    cells: &StringRecord,
    e: coerce::CellError,
) -> Finding {
    finding(
        ctx,
        Severity::Error,
        e.rule,
        e.message,
        Some(number),
        Some(column),
        Some(header),
        cells,
    )
}

fn to_cells(record: &StringRecord) -> Vec<String> {
    record.iter().map(str::to_owned).collect()
}

fn capitalised(word: &str) -> String {
    let mut c = word.chars();
    c.next()
        .map(|f| f.to_uppercase().chain(c).collect())
        .unwrap_or_default()
}

fn check_row(ctx: &Context<'_>, number: u64, cells: StringRecord) -> RowOutcome {
    let schema = ctx.schema;
    let mut findings = Vec::new();
    let mut typed = RowValues::new(schema);
    let mut failed = vec![false; schema.columns.len()];
    let mut uais = Vec::new();
    if cells.len() > ctx.headers.len()
        && cells
            .iter()
            .skip(ctx.headers.len())
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
                typed.insert(c, cell.into());
                retyped.push((col.name.as_str(), v));
            }
            Some(Err(e)) => {
                failed[c] = true;
                findings.push(cell_error(ctx, number, c, h, &cells, e));
                typed.insert(c, cell.into());
            }
            None => {
                typed.insert(c, cell.into());
            }
        }
    }
    let mut members = typed.members;
    for v in schema.check_members(&members, &ctx.options.today) {
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
    for (name, v) in retyped {
        if let Some(slot) = members.iter_mut().find(|(k, _)| *k == name) {
            slot.1 = v;
        }
    }
    let key = if schema.key.is_empty() {
        None
    } else {
        let mut key = String::new();
        let mut complete = true;
        for (i, k) in schema.key.iter().enumerate() {
            match members.iter().find(|(m, _)| m == k).map(|(_, v)| v) {
                Some(Value::String(s)) => key.push_str(s),
                Some(other) => key.push_str(&other.to_string()),
                None => complete = false,
            }
            if i + 1 < schema.key.len() {
                key.push('\u{1f}');
            }
        }
        complete.then_some(key)
    };
    let has_error = findings.iter().any(|f| f.severity == Severity::Error);
    RowOutcome {
        number,
        typed: (ctx.options.keep_rows && !has_error).then(|| {
            members
                .into_iter()
                .map(|(k, v)| (k.to_owned(), v))
                .collect()
        }),
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
    cells: &StringRecord,
    typed: &mut RowValues<'_>,
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
            if col.uai && ctx.options.keep_rows {
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
            typed.insert(c, v.value);
        }
        Err(e) => {
            failed[c] = true;
            findings.push(cell_error(ctx, number, c, h, cells, e));
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

#[cfg(test)]
mod tests {
    use super::*;
    use ecarto_contrib_schemas::Registry;
    use proptest::prelude::*;

    fn run(bytes: &[u8], name: Option<&str>) {
        let mut options = Options::new(10_000);
        options.keep_rows = true;
        for schema in Registry::embedded().latest() {
            // Any outcome but a panic: a report, or a message for the agent.
            match validate(schema, bytes, name, &options) {
                Ok(v) => {
                    let _ = render::text(&v.report);
                    let _ = render::html(&v.report);
                    let _ = render::annotated_csv(schema, &v.report, bytes, name);
                }
                Err(e) => assert!(!e.to_string().is_empty()),
            }
        }
    }

    /// Each column published in the catalogue has the catalogue's type there, so that typing
    /// the cell by the column is typing it by the catalogue.
    #[test]
    fn published_columns_match_the_catalogue() {
        use crate::domain::catalog::{Catalog, FieldType};
        use ecarto_contrib_schemas::{ColumnKind, FieldMapping};
        let catalog = Catalog::get();
        for schema in Registry::embedded().all() {
            for col in &schema.columns {
                let fields: Vec<String> = match &col.field {
                    FieldMapping::None => continue,
                    FieldMapping::Field(f) => vec![f.clone()],
                    FieldMapping::ByValue(m) => {
                        for value in m.keys() {
                            assert!(
                                col.allowed.contains(value),
                                "{}.{}: {value}",
                                schema.id(),
                                col.name
                            );
                        }
                        m.values().flat_map(|x| x.keys().cloned()).collect()
                    }
                };
                for f in fields {
                    let field = catalog.field(&f).unwrap_or_else(|| {
                        panic!("{}.{} → {f}: not in the catalogue", schema.id(), col.name)
                    });
                    if matches!(col.field, FieldMapping::ByValue(_)) {
                        assert_eq!(field.field_type, FieldType::Boolean, "{f}");
                        continue;
                    }
                    let ok = match (&col.kind, field.field_type) {
                        (ColumnKind::Integer, FieldType::Integer) => true,
                        (ColumnKind::Number, FieldType::Number) => true,
                        (ColumnKind::Boolean, FieldType::Boolean) => true,
                        (ColumnKind::Date, FieldType::Date) => true,
                        (ColumnKind::List(_), FieldType::List) => true,
                        (ColumnKind::Text, FieldType::Enum | FieldType::Band) => col
                            .allowed
                            .iter()
                            .all(|a| field.allowed.contains(&a.as_str())),
                        (ColumnKind::Text | ColumnKind::Url, FieldType::Text | FieldType::Uai) => {
                            true
                        }
                        _ => false,
                    };
                    assert!(
                        ok,
                        "{}.{} ({:?}) → {f} ({:?})",
                        schema.id(),
                        col.name,
                        col.kind,
                        field.field_type
                    );
                }
            }
        }
    }

    /// 200 inputs per property in every test run; `ECARTO_PROPTEST_CASES=1000000` for the long
    /// run (README, "Checking a contribution file").
    fn cases() -> u32 {
        std::env::var("ECARTO_PROPTEST_CASES")
            .ok()
            .and_then(|n| n.parse().ok())
            .unwrap_or(200)
    }

    proptest! {
        #![proptest_config(ProptestConfig { failure_persistence: None, ..ProptestConfig::with_cases(cases()) })]

        #[test]
        fn never_panics_on_arbitrary_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..2048)) {
            run(&bytes, None);
            run(&bytes, Some("f.xlsx"));
            run(&bytes, Some("f.json"));
        }

        #[test]
        fn never_panics_on_csv_like_text(
            header in "[a-z_ ;,\"]{0,60}",
            rows in proptest::collection::vec("[0-9A-Za-z/ ;,.|\"é-]{0,80}", 0..20),
        ) {
            let text = format!("{header}\n{}", rows.join("\n"));
            run(text.as_bytes(), Some("f.csv"));
            let mut with_uai = String::from("uai;date_inventaire;nb_terminaux;maintenance\n");
            for r in &rows {
                with_uai.push_str(r);
                with_uai.push('\n');
            }
            run(with_uai.as_bytes(), Some("f.csv"));
        }

        #[test]
        fn never_panics_on_zip_like_bytes(tail in proptest::collection::vec(any::<u8>(), 0..1024)) {
            let mut bytes = b"PK\x03\x04".to_vec();
            bytes.extend(tail);
            run(&bytes, Some("f.csv"));
        }
    }
}
