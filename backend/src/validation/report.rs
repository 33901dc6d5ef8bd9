//! The validation report: every finding (no cap) with the row number the agent sees, the
//! column as named in their file, the cell, the rule and a plain-French message; the content
//! of every row with a finding; counts by rule and by column; which rows can go forward.
//! Its JSON form follows Frictionless reports (`valid`, `stats`, `errors`, `rowNumber`,
//! `fieldName`, `fieldNumber`, `cell`, `type`, `message`, `note`).

use std::collections::BTreeMap;

use serde::Serialize;

use super::table::Format;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Error,
    Warning,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Finding {
    pub severity: Severity,
    /// The rule: a JSON Schema keyword, a cross-field rule's id or an engine check.
    #[serde(rename = "type")]
    pub rule: String,
    /// The whole sentence: where (row, column), what, and how to fix it.
    pub message: String,
    /// The same without the place, for a report already grouped by row.
    pub note: String,
    /// The row as the agent sees it (spreadsheet line); `None` for the file as a whole.
    #[serde(rename = "rowNumber")]
    pub row: Option<u64>,
    /// The column header as written in the file.
    #[serde(rename = "fieldName")]
    pub header: Option<String>,
    /// The column's position in the file, from 1.
    #[serde(rename = "fieldNumber")]
    pub field_number: Option<usize>,
    /// The schema's column name.
    pub column: Option<String>,
    pub cell: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Stats {
    pub rows: u64,
    pub valid_rows: u64,
    pub invalid_rows: u64,
    pub rows_with_warnings: u64,
    pub errors: u64,
    pub warnings: u64,
}

/// How one header of the file was matched.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ColumnMatch {
    #[serde(rename = "fieldNumber")]
    pub number: usize,
    pub header: String,
    /// The schema column it was matched to, `None` when unknown.
    pub column: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct RuleCount {
    pub errors: u64,
    pub warnings: u64,
}

/// What a moderator must look at before accepting the file.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MassChange {
    /// Published values of these schools that the file would change or blank…
    pub changed: u64,
    pub blanked: u64,
    /// …among the published values it touches.
    pub compared: u64,
    pub share: f64,
    pub threshold: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Report {
    /// `name@vN`.
    pub schema: String,
    pub file: Option<String>,
    pub format: Format,
    pub valid: bool,
    pub stats: Stats,
    pub columns: Vec<ColumnMatch>,
    pub errors: Vec<Finding>,
    pub warnings: Vec<Finding>,
    pub by_rule: BTreeMap<String, RuleCount>,
    /// Findings by column, named as in the file (`(fichier)` for the file as a whole).
    pub by_column: BTreeMap<String, RuleCount>,
    /// Line numbers of the rows with at least one error; every other row is valid.
    pub invalid_rows: Vec<u64>,
    /// The valid rows as inclusive ranges of line numbers: they can go forward while the
    /// others are fixed.
    pub valid_row_ranges: Vec<[u64; 2]>,
    /// The cells of every row with a finding, by line number, in the file's column order.
    pub rows: BTreeMap<u64, Vec<String>>,
    /// Set when the file would change too large a share of the published values.
    pub mass_change: Option<MassChange>,
    /// Whether the UAIs were checked against the register (existence, state, type).
    pub schools_checked: bool,
    #[serde(skip)]
    pub(crate) all_rows: Vec<u64>,
}

pub(crate) const FILE_COLUMN: &str = "(fichier)";

impl Report {
    /// Sorts findings (row, then column) and recomputes every count.
    pub fn finish(&mut self) {
        let order = |f: &Finding| (f.row.unwrap_or(0), f.field_number.unwrap_or(0));
        self.errors.sort_by_key(order);
        self.warnings.sort_by_key(order);
        self.by_rule.clear();
        self.by_column.clear();
        for f in self.errors.iter().chain(&self.warnings) {
            let r = self.by_rule.entry(f.rule.clone()).or_default();
            let c = self
                .by_column
                .entry(f.header.clone().unwrap_or_else(|| FILE_COLUMN.into()))
                .or_default();
            if f.severity == Severity::Error {
                r.errors += 1;
                c.errors += 1;
            } else {
                r.warnings += 1;
                c.warnings += 1;
            }
        }
        let file_error = self.errors.iter().any(|f| f.row.is_none());
        let mut invalid: Vec<u64> = if file_error {
            // A missing required column makes every row invalid.
            self.all_rows.clone()
        } else {
            self.errors.iter().filter_map(|f| f.row).collect()
        };
        invalid.sort_unstable();
        invalid.dedup();
        let mut warned: Vec<u64> = self.warnings.iter().filter_map(|f| f.row).collect();
        warned.sort_unstable();
        warned.dedup();
        self.valid_row_ranges.clear();
        let mut bad = invalid.iter().peekable();
        let mut previous_valid = false;
        for &row in &self.all_rows {
            while bad.next_if(|&&b| b < row).is_some() {}
            if bad.peek() == Some(&&row) {
                previous_valid = false;
                continue;
            }
            match self.valid_row_ranges.last_mut() {
                Some(last) if previous_valid => last[1] = row,
                _ => self.valid_row_ranges.push([row, row]),
            }
            previous_valid = true;
        }
        self.stats.rows = self.all_rows.len() as u64;
        self.stats.invalid_rows = invalid.len() as u64;
        self.stats.valid_rows = self.stats.rows - self.stats.invalid_rows;
        self.stats.rows_with_warnings = warned.len() as u64;
        self.stats.errors = self.errors.len() as u64;
        self.stats.warnings = self.warnings.len() as u64;
        self.invalid_rows = invalid;
        self.valid = self.errors.is_empty();
    }

    /// Whether a row (by line number) has an error.
    pub fn row_is_valid(&self, row: u64) -> bool {
        self.invalid_rows.binary_search(&row).is_err()
    }

    /// All findings of a row, errors first.
    pub fn findings_of(&self, row: u64) -> impl Iterator<Item = &Finding> {
        let start_e = self.errors.partition_point(|f| f.row.unwrap_or(0) < row);
        let start_w = self.warnings.partition_point(|f| f.row.unwrap_or(0) < row);
        self.errors[start_e..]
            .iter()
            .take_while(move |f| f.row == Some(row))
            .chain(
                self.warnings[start_w..]
                    .iter()
                    .take_while(move |f| f.row == Some(row)),
            )
    }

    /// Findings about the file as a whole (missing columns, unknown columns, mass change).
    pub fn file_findings(&self) -> impl Iterator<Item = &Finding> {
        self.errors
            .iter()
            .chain(&self.warnings)
            .filter(|f| f.row.is_none())
    }
}
