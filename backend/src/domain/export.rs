//! Rules of the open-data exports that need no I/O: the formats, the licence they carry, how a
//! value becomes a spreadsheet-safe CSV cell, and the ETag of an export.

use std::{fmt, str::FromStr};

use serde_json::Value;
use sha2::{Digest, Sha256};

use super::{catalog::Catalog, values::to_cell};

/// The licence of the published dataset.
pub const LICENCE_TITLE: &str = "Licence Ouverte / Open Licence 2.0";
pub const LICENCE_URL: &str = "https://www.etalab.gouv.fr/licence-ouverte-open-licence";
pub const LICENCE_SPDX: &str = "etalab-2.0";

/// Title of the dataset, in exports and in the DCAT catalogue.
pub const DATASET_TITLE: &str =
    "eCarto — panorama open data du numérique éducatif dans les écoles, collèges et lycées";

/// Bumped whenever the bytes written for one published version change (layout, quoting,
/// wrapper members): the ETag of version N promises identical bytes, so a new layout must give
/// a new ETag even though the data did not change.
const EXPORT_LAYOUT_REVISION: u32 = 1;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ExportFormat {
    Csv,
    Json,
    GeoJson,
}

impl ExportFormat {
    pub const ALL: [ExportFormat; 3] =
        [ExportFormat::Csv, ExportFormat::Json, ExportFormat::GeoJson];

    pub fn extension(self) -> &'static str {
        match self {
            ExportFormat::Csv => "csv",
            ExportFormat::Json => "json",
            ExportFormat::GeoJson => "geojson",
        }
    }

    /// The `Content-Type` of the HTTP response.
    pub fn content_type(self) -> &'static str {
        match self {
            ExportFormat::Csv => "text/csv; charset=utf-8",
            ExportFormat::Json => "application/json",
            ExportFormat::GeoJson => "application/geo+json",
        }
    }

    /// The IANA media type, without parameters.
    pub fn media_type(self) -> &'static str {
        match self {
            ExportFormat::Csv => "text/csv",
            ExportFormat::Json => "application/json",
            ExportFormat::GeoJson => "application/geo+json",
        }
    }

    /// The code of the format in the EU "file type" vocabulary that DCAT-AP uses.
    pub fn eu_file_type(self) -> &'static str {
        match self {
            ExportFormat::Csv => "CSV",
            ExportFormat::Json => "JSON",
            ExportFormat::GeoJson => "GEOJSON",
        }
    }

    /// The download's file name: the version is part of it, so that files of several versions
    /// can sit side by side. Version 0 is the empty dataset, before any publication.
    pub fn file_name(self, version: i32) -> String {
        format!("ecarto-etablissements-v{version}.{}", self.extension())
    }
}

impl fmt::Display for ExportFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.extension())
    }
}

impl FromStr for ExportFormat {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "csv" => Ok(ExportFormat::Csv),
            "json" => Ok(ExportFormat::Json),
            "geojson" => Ok(ExportFormat::GeoJson),
            other => Err(format!(
                "format « {other} » inconnu : csv, json ou geojson attendu"
            )),
        }
    }
}

/// Whether a spreadsheet could read this text as a formula. Besides the ASCII `=`, `+`, `-`,
/// `@`, a leading tab or line break (which some spreadsheets strip before parsing) and the
/// full-width forms that some locales' spreadsheets also accept are caught; leading spaces are
/// skipped for the same reason.
pub fn could_be_formula(s: &str) -> bool {
    if s.starts_with(['\t', '\r', '\n']) {
        return true;
    }
    s.trim_start_matches(' ').starts_with([
        '=', '+', '-', '@', '\u{FF1D}', '\u{FF0B}', '\u{FF0D}', '\u{FF20}',
    ])
}

/// A value as a CSV cell that spreadsheets never execute.
///
/// Only text is neutralised (prefixed with `'`, which spreadsheets show as a text marker): a
/// JSON number stays as written, so `-1.6778` in `longitude` remains a number re-users can
/// compute with. Numbers cannot carry a formula, and every numeric field of the catalogue is
/// stored as a JSON number, so this rule is both safe and lossless for them.
pub fn csv_cell(value: &Value) -> String {
    let cell = to_cell(value);
    match value {
        Value::Number(_) | Value::Bool(_) | Value::Null => cell,
        _ if could_be_formula(&cell) => format!("'{cell}"),
        _ => cell,
    }
}

/// A fingerprint of the catalogue's columns: adding or renaming a field changes every export,
/// so it changes every ETag too.
fn catalogue_fingerprint(hasher: &mut Sha256) {
    for f in Catalog::get().fields() {
        hasher.update(f.name.as_bytes());
        hasher.update([0]);
    }
}

/// The strong ETag of the export of one published version in one format.
///
/// A published version never changes, so its export is fully determined by the format, the
/// version number, the moment it was published (which tells two databases' version 3 apart),
/// the catalogue's columns and the export layout: none of them needs reading a school.
pub fn etag(format: ExportFormat, version: i32, published_at: Option<&str>) -> String {
    let mut h = Sha256::new();
    h.update(format!(
        "ecarto-export/{EXPORT_LAYOUT_REVISION}/{}/{version}/{}",
        format.extension(),
        published_at.unwrap_or("")
    ));
    catalogue_fingerprint(&mut h);
    let digest = h.finalize();
    format!("\"{}\"", hex::encode(&digest[..16]))
}

/// Whether an `If-None-Match` header matches `etag`. RFC 9110 compares weakly here, so a
/// `W/` prefix (added by some proxies that compress) still matches.
pub fn if_none_match(header: &str, etag: &str) -> bool {
    header.split(',').map(str::trim).any(|candidate| {
        candidate == "*" || candidate.strip_prefix("W/").unwrap_or(candidate) == etag
    })
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn text_that_could_be_a_formula_is_neutralised() {
        assert_eq!(
            csv_cell(&json!("=HYPERLINK(\"http://x\")")),
            "'=HYPERLINK(\"http://x\")"
        );
        for s in ["+33", "-x", "@SUM(A1)", "\tx", "\rx", "  =1+1", "＝1"] {
            assert!(csv_cell(&json!(s)).starts_with('\''), "{s:?}");
        }
        assert_eq!(csv_cell(&json!(["=a", "b"])), "'=a|b");
        assert_eq!(csv_cell(&json!("École Jules-Ferry")), "École Jules-Ferry");
    }

    #[test]
    fn numbers_are_never_neutralised() {
        assert_eq!(csv_cell(&json!(-1.6778)), "-1.6778");
        assert_eq!(csv_cell(&json!(-3)), "-3");
        assert_eq!(csv_cell(&json!(true)), "oui");
    }

    #[test]
    fn etags_depend_on_format_and_version_only() {
        let a = etag(ExportFormat::Csv, 3, Some("2026-01-01T00:00:00Z"));
        assert_eq!(a, etag(ExportFormat::Csv, 3, Some("2026-01-01T00:00:00Z")));
        assert_ne!(a, etag(ExportFormat::Json, 3, Some("2026-01-01T00:00:00Z")));
        assert_ne!(a, etag(ExportFormat::Csv, 4, Some("2026-01-01T00:00:00Z")));
        assert!(a.starts_with('"') && a.ends_with('"') && a.len() == 34);
        assert!(if_none_match(&a, &a));
        assert!(if_none_match(&format!("\"x\", W/{a}"), &a));
        assert!(if_none_match("*", &a));
        assert!(!if_none_match("\"x\"", &a));
    }

    #[test]
    fn formats_parse() {
        assert_eq!("GeoJSON".parse(), Ok(ExportFormat::GeoJson));
        assert!("xlsx".parse::<ExportFormat>().is_err());
        assert_eq!(
            ExportFormat::Csv.file_name(2),
            "ecarto-etablissements-v2.csv"
        );
    }
}
