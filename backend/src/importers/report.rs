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
    /// A code that no known spelling matches: kept as written, as an observation of the
    /// school, neither published nor dropped.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub kept_raw: bool,
}

/// A code the vocabulary does not know, with how many rows wrote it: what an administrator
/// adds to `backend/catalog/vocabulary.csv` once its meaning is known.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UnrecognisedCode {
    pub column: String,
    pub field: String,
    pub value: String,
    pub rows: u64,
    pub first_line: u64,
}

/// A school the annuaire lists on several lines (several sites, tracks or types under one
/// UAI), published as one school.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MergedSchool {
    pub uai: String,
    /// Every line of the UAI, in file order.
    pub lines: Vec<u64>,
    /// The line whose name, address and position are published.
    pub main_line: u64,
    /// Every type its lines give (a cité scolaire is a collège and a lycée).
    pub types: Vec<String>,
    /// Yes/no offers another line adds to the main line's (`voie_generale`, `segpa`…).
    pub offers_from_other_lines: Vec<String>,
    /// The other lines, as published in `sites_secondaires`.
    pub other_sites: Vec<String>,
}

/// What an import of the annuaire (the official list) says of the schools it covers.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RegisterReport {
    /// What the file covers: département × type × secteur, as `35 · collège · public`.
    pub scope: Vec<String>,
    /// The date the file speaks of: its latest `date_maj_ligne` (the import's day without).
    pub as_of: String,
    /// UAIs of the file.
    pub listed: u64,
    /// Schools of the covered scope that the file no longer lists: marked absent, kept.
    pub marked_absent: Vec<String>,
    /// Schools that were absent (or never listed) and that the file lists.
    pub listed_again: Vec<String>,
    /// Schools of the covered scope the file does not list, left as they were because the
    /// file looks partial (cut short, rows rejected, or missing more than a tenth of its
    /// scope): marked absent only when the import is confirmed (`--confirm-absences`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub withheld: Vec<String>,
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
    /// The last line is incomplete and the file does not end with a line break.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub truncated: bool,
    /// Values left out because a cell could not be read (each is in `row_errors`).
    #[serde(default)]
    pub values_dropped: u64,
    /// Unrecognised codes kept as written (each is in `row_errors`, and summed up in
    /// `unrecognised_codes`).
    #[serde(default)]
    pub values_kept_raw: u64,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub unrecognised_codes: Vec<UnrecognisedCode>,
    /// Schools listed on several lines, merged.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub merged: Vec<MergedSchool>,
    /// An annuaire import: the schools it lists, and those of its scope it no longer lists.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub register: Option<RegisterReport>,
    /// Schools of the file the annuaire does not list (never, or no longer): published with
    /// their values, but out of the official denominator (completeness, lists, exports).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub outside_register: Vec<String>,
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
        self.push(
            line,
            Some(column),
            Some(value),
            expected.into(),
            false,
            false,
        );
        self.values_dropped += 1;
    }

    /// A code no known spelling of `field` matches: kept as written.
    pub fn unrecognised(
        &mut self,
        line: u64,
        column: &str,
        field: &str,
        value: &str,
        expected: impl Into<String>,
    ) {
        self.push(
            line,
            Some(column),
            Some(value),
            expected.into(),
            false,
            true,
        );
        self.values_kept_raw += 1;
        match self
            .unrecognised_codes
            .iter_mut()
            .find(|c| c.column == column && c.value == value)
        {
            Some(c) => c.rows += 1,
            None => self.unrecognised_codes.push(UnrecognisedCode {
                column: column.to_owned(),
                field: field.to_owned(),
                value: value.to_owned(),
                rows: 1,
                first_line: line,
            }),
        }
    }

    pub fn row_rejected(
        &mut self,
        line: u64,
        column: Option<&str>,
        value: Option<&str>,
        expected: impl Into<String>,
    ) {
        self.push(line, column, value, expected.into(), true, false);
    }

    fn push(
        &mut self,
        line: u64,
        column: Option<&str>,
        value: Option<&str>,
        expected: String,
        row_rejected: bool,
        kept_raw: bool,
    ) {
        self.row_errors.push(RowError {
            line,
            column: column.map(str::to_owned),
            value: value.map(str::to_owned),
            expected,
            row_rejected,
            kept_raw,
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
        if self.values_dropped > 0 {
            let _ = write!(
                s,
                ", {} valeur{} écartée{} (cellule illisible, voir les erreurs)",
                self.values_dropped,
                plural(self.values_dropped),
                plural(self.values_dropped)
            );
        }
        if self.values_kept_raw > 0 {
            let _ = write!(
                s,
                ", {} code{} non reconnu{} conservé{} tel{} quel{}",
                self.values_kept_raw,
                plural(self.values_kept_raw),
                plural(self.values_kept_raw),
                plural(self.values_kept_raw),
                plural(self.values_kept_raw),
                plural(self.values_kept_raw)
            );
        }
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
        for m in &self.merged {
            let lines: Vec<String> = m.lines.iter().map(u64::to_string).collect();
            let _ = write!(
                s,
                "  établissement multi-lignes {} : lignes {} fusionnées, ligne {} principale",
                m.uai,
                lines.join(", "),
                m.main_line
            );
            if m.types.len() > 1 {
                let _ = write!(s, ", types {}", m.types.join(" et "));
            }
            if !m.offers_from_other_lines.is_empty() {
                let _ = write!(
                    s,
                    ", offres des autres lignes : {}",
                    m.offers_from_other_lines.join(", ")
                );
            }
            s.push('\n');
        }
        if let Some(r) = &self.register {
            let _ = writeln!(
                s,
                "  annuaire au {} : {} établissement{} listé{} ({})",
                r.as_of,
                r.listed,
                plural(r.listed),
                plural(r.listed),
                r.scope.join(", ")
            );
            if !r.marked_absent.is_empty() {
                let _ = writeln!(
                    s,
                    "  absents de cet annuaire, marqués absents (conservés, hors complétude) : {}",
                    some(&r.marked_absent)
                );
            }
            if !r.withheld.is_empty() {
                let _ = writeln!(
                    s,
                    "  {} établissement{} du périmètre ne figure{} pas dans ce fichier et n'{} pas marqué{} absent{} : le fichier semble partiel ; s'il est complet, réimportez-le avec `ecarto import annuaire --confirm-absences` : {}",
                    r.withheld.len(),
                    plural(r.withheld.len() as u64),
                    if r.withheld.len() > 1 { "nt" } else { "" },
                    if r.withheld.len() > 1 { "ont" } else { "est" },
                    plural(r.withheld.len() as u64),
                    plural(r.withheld.len() as u64),
                    some(&r.withheld)
                );
            }
            if !r.listed_again.is_empty() {
                let _ = writeln!(
                    s,
                    "  listés à nouveau, ou pour la première fois (connus d'une autre source) : {}",
                    some(&r.listed_again)
                );
            }
        }
        if !self.outside_register.is_empty() {
            let _ = writeln!(
                s,
                "  absents de l'annuaire (publiés, hors complétude, listes et exports par défaut) : {}",
                some(&self.outside_register)
            );
        }
        for c in &self.unrecognised_codes {
            let _ = writeln!(
                s,
                "  code non reconnu : colonne « {} » ({}), « {} » sur {} ligne{} (première : ligne {}) — conservé tel quel ; à ajouter à backend/catalog/vocabulary.csv une fois son sens connu",
                c.column,
                c.field,
                c.value,
                c.rows,
                plural(c.rows),
                c.first_line
            );
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

/// The first UAIs of a list, and how many there are in all: the full list is in the report.
fn some(uais: &[String]) -> String {
    const SHOWN: usize = 12;
    if uais.len() <= SHOWN {
        uais.join(", ")
    } else {
        format!("{}… ({} en tout)", uais[..SHOWN].join(", "), uais.len())
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
        if self.kept_raw {
            f.write_str(" (code non reconnu, conservé tel quel comme observation, non publié)")
        } else if self.row_rejected {
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
