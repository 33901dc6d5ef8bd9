//! The report of one file's import: what was read, what was imported, and every problem with
//! its place in the file, in words the agent who produced the file understands.

use std::fmt::{self, Write as _};

use serde::{Deserialize, Serialize};

/// One problem in one row: where it is (line as in the file, column header as in the file),
/// the value found and what was expected.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RowError {
    pub line: u64,
    /// The column's header as written in the file; `None` when the whole row is at fault.
    pub column: Option<String>,
    pub value: Option<String>,
    pub expected: String,
    /// Whether the whole row was left out (bad UAI, duplicate…) or only this value.
    pub row_rejected: bool,
}

/// What the publication of the imported rows did, as stored with the report.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PublicationSummary {
    /// The new dataset version, `None` when the file changed nothing.
    pub version: Option<i32>,
    pub schools_created: u64,
    pub schools_changed: u64,
    pub values_changed: u64,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ImportReport {
    pub file_name: String,
    /// The format recognised from the headers (e.g. `annuaire de l'éducation (schéma 2026)`).
    pub format: Option<String>,
    /// `UTF-8`, `UTF-8 avec BOM`, `UTF-16` or `Windows-1252`.
    pub encoding: Option<String>,
    pub separator: Option<String>,
    /// Data rows, the header line excluded.
    pub rows_read: u64,
    pub rows_imported: u64,
    pub rows_rejected: u64,
    /// Problems with the file as a whole (nothing is imported when there is one).
    pub file_errors: Vec<String>,
    /// Every row-level problem, in file order.
    pub row_errors: Vec<RowError>,
    /// Information that is not an error (columns absent from this schema generation…).
    pub notes: Vec<String>,
    pub publication: Option<PublicationSummary>,
}

impl ImportReport {
    pub fn new(file_name: &str) -> Self {
        Self {
            file_name: file_name.to_owned(),
            ..Self::default()
        }
    }

    /// Whether anything can be published: the file is readable and at least one row is usable.
    pub fn is_usable(&self) -> bool {
        self.file_errors.is_empty() && self.rows_imported > 0
    }

    pub fn file_error(&mut self, message: impl Into<String>) {
        self.file_errors.push(message.into());
    }

    pub fn cell_error(
        &mut self,
        line: u64,
        column: &str,
        value: &str,
        expected: impl Into<String>,
    ) {
        self.row_errors.push(RowError {
            line,
            column: Some(column.to_owned()),
            value: Some(value.to_owned()),
            expected: expected.into(),
            row_rejected: false,
        });
    }

    pub fn row_rejected(
        &mut self,
        line: u64,
        column: Option<&str>,
        value: Option<&str>,
        expected: impl Into<String>,
    ) {
        self.row_errors.push(RowError {
            line,
            column: column.map(str::to_owned),
            value: value.map(str::to_owned),
            expected: expected.into(),
            row_rejected: true,
        });
    }

    /// The first line of a summary: counts and what was published.
    pub fn headline(&self) -> String {
        let mut s = format!("{} : ", self.file_name);
        if let Some(format) = &self.format {
            let _ = write!(s, "{format}, ");
        }
        let _ = write!(
            s,
            "{} ligne{} lue{}, {} importée{}, {} rejetée{}",
            self.rows_read,
            plural(self.rows_read),
            plural(self.rows_read),
            self.rows_imported,
            plural(self.rows_imported),
            self.rows_rejected,
            plural(self.rows_rejected),
        );
        if !self.file_errors.is_empty() {
            s.push_str(" — fichier refusé, rien n'est importé");
        } else if let Some(p) = &self.publication {
            match p.version {
                Some(v) => {
                    let _ = write!(
                        s,
                        " — version {v} publiée ({} établissement{} créé{}, {} modifié{}, {} valeur{} changée{})",
                        p.schools_created,
                        plural(p.schools_created),
                        plural(p.schools_created),
                        p.schools_changed,
                        plural(p.schools_changed),
                        p.values_changed,
                        plural(p.values_changed),
                        plural(p.values_changed),
                    );
                }
                None => s.push_str(" — aucun changement, pas de nouvelle version"),
            }
        }
        s
    }

    /// A human summary: the headline, file errors and notes, and the first `max_errors` row
    /// errors, with how many more there are and, if given, where to read them all.
    pub fn summary(&self, max_errors: usize, full_report: Option<&str>) -> String {
        let mut s = self.headline();
        s.push('\n');
        for e in &self.file_errors {
            let _ = writeln!(s, "  erreur : {e}");
        }
        for n in &self.notes {
            let _ = writeln!(s, "  note : {n}");
        }
        for e in self.row_errors.iter().take(max_errors) {
            let _ = writeln!(s, "  {e}");
        }
        let more = self.row_errors.len().saturating_sub(max_errors);
        if more > 0 {
            let _ = write!(
                s,
                "  … {more} autre{} erreur{}",
                plural(more as u64),
                plural(more as u64)
            );
            match full_report {
                Some(hint) => {
                    let _ = writeln!(s, ", rapport complet : {hint}");
                }
                None => s.push('\n'),
            }
        }
        s
    }
}

fn plural(n: u64) -> &'static str {
    if n > 1 { "s" } else { "" }
}

impl fmt::Display for RowError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ligne {}", self.line)?;
        if let Some(c) = &self.column {
            write!(f, ", colonne « {c} »")?;
        }
        if let Some(v) = &self.value {
            write!(f, ", valeur « {v} »")?;
        }
        write!(f, " : attendu {}", self.expected)?;
        if self.row_rejected {
            f.write_str(" (ligne ignorée)")
        } else {
            f.write_str(" (valeur ignorée, le reste de la ligne est importé)")
        }
    }
}

/// The full report as text: every error.
impl fmt::Display for ImportReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.summary(usize::MAX, None))?;
        if let Some(enc) = &self.encoding {
            writeln!(f, "  encodage : {enc}")?;
        }
        if let Some(sep) = &self.separator {
            writeln!(f, "  séparateur : {sep}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn summary_names_line_column_value_and_expectation() {
        let mut r = ImportReport::new("a.csv");
        r.rows_read = 3;
        r.rows_imported = 2;
        r.rows_rejected = 1;
        r.row_rejected(
            3,
            Some("Identifiant_de_l_etablissement"),
            Some("0350122A"),
            "un code UAI valide",
        );
        r.cell_error(2, "latitude", "abc", "un nombre");
        let text = r.summary(1, Some("`ecarto import report 7`"));
        assert!(text.starts_with("a.csv : 3 lignes lues, 2 importées, 1 rejetée"));
        assert!(text.contains(
            "ligne 3, colonne « Identifiant_de_l_etablissement », valeur « 0350122A » : attendu un code UAI valide (ligne ignorée)"
        ));
        assert!(text.contains("… 1 autre erreur, rapport complet : `ecarto import report 7`"));
        let json = serde_json::to_string(&r).unwrap();
        assert_eq!(serde_json::from_str::<ImportReport>(&json).unwrap(), r);
    }
}
