//! Rules of the open-data exports that need no I/O: the formats, the licence they carry, how a
//! value becomes a spreadsheet-safe CSV cell, and the ETag of an export.

use std::{borrow::Cow, fmt, str::FromStr};

use serde::{
    Deserialize, Deserializer,
    de::{self, DeserializeSeed, MapAccess, SeqAccess, Visitor},
};
use serde_json::{Number, Value};
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
const EXPORT_LAYOUT_REVISION: u32 = 2;

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
    Cell::from(value).csv_text().into_owned()
}

/// A published value as the exports read it: borrowed from the stored record where it can
/// be, so that encoding a school allocates little. It writes exactly what `values::to_cell`
/// and `serde_json` write for the same `Value`.
#[derive(Debug, Clone, PartialEq)]
pub enum Cell<'a> {
    Str(Cow<'a, str>),
    Num(Number),
    Bool(bool),
    /// Lists, objects and `null`: rare, kept as a `Value`.
    Other(Value),
}

impl<'a> From<&'a Value> for Cell<'a> {
    fn from(v: &'a Value) -> Self {
        match v {
            Value::String(s) => Cell::Str(Cow::Borrowed(s)),
            Value::Number(n) => Cell::Num(n.clone()),
            Value::Bool(b) => Cell::Bool(*b),
            other => Cell::Other(other.clone()),
        }
    }
}

impl Cell<'_> {
    /// The CSV cell, neutralised if it is text a spreadsheet could take for a formula.
    pub fn csv_text(&self) -> Cow<'_, str> {
        let text: Cow<'_, str> = match self {
            Cell::Str(s) => Cow::Borrowed(s.as_ref()),
            Cell::Num(n) => return Cow::Owned(n.to_string()),
            Cell::Bool(true) => return Cow::Borrowed("oui"),
            Cell::Bool(false) => return Cow::Borrowed("non"),
            Cell::Other(Value::Null) => return Cow::Borrowed(""),
            Cell::Other(v) => Cow::Owned(to_cell(v)),
        };
        if could_be_formula(&text) {
            Cow::Owned(format!("'{text}"))
        } else {
            text
        }
    }

    /// The CSV cell like `csv_text`, numbers formatted into `scratch` instead of a new string.
    pub fn csv_text_in<'s>(&'s self, scratch: &'s mut String) -> Cow<'s, str> {
        match self {
            Cell::Num(n) => {
                use std::fmt::Write;
                scratch.clear();
                let _ = write!(scratch, "{n}");
                Cow::Borrowed(scratch.as_str())
            }
            _ => self.csv_text(),
        }
    }

    pub fn as_f64(&self) -> Option<f64> {
        match self {
            Cell::Num(n) => n.as_f64(),
            _ => None,
        }
    }

    /// The canonical JSON value, written as `serde_json` writes it.
    pub fn write_json(&self, out: &mut Vec<u8>) -> serde_json::Result<()> {
        match self {
            Cell::Str(s) => serde_json::to_writer(out, s.as_ref()),
            Cell::Num(n) => serde_json::to_writer(out, n),
            Cell::Bool(b) => serde_json::to_writer(out, b),
            Cell::Other(v) => serde_json::to_writer(out, v),
        }
    }
}

impl<'de> Deserialize<'de> for Cell<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Cell<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a JSON value")
            }
            fn visit_bool<E: de::Error>(self, v: bool) -> Result<Self::Value, E> {
                Ok(Cell::Bool(v))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
                Ok(Cell::Num(v.into()))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
                Ok(Cell::Num(v.into()))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Self::Value, E> {
                Ok(Number::from_f64(v).map_or(Cell::Other(Value::Null), Cell::Num))
            }
            fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
                Ok(Cell::Str(Cow::Borrowed(v)))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
                Ok(Cell::Str(Cow::Owned(v.to_owned())))
            }
            fn visit_string<E: de::Error>(self, v: String) -> Result<Self::Value, E> {
                Ok(Cell::Str(Cow::Owned(v)))
            }
            fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
                Ok(Cell::Other(Value::Null))
            }
            fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
                Ok(Cell::Other(Value::Null))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Self::Value, A::Error> {
                Value::deserialize(de::value::SeqAccessDeserializer::new(seq)).map(Cell::Other)
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
                Value::deserialize(de::value::MapAccessDeserializer::new(map)).map(Cell::Other)
            }
        }
        d.deserialize_any(V)
    }
}

/// One school's published record as export cells, indexed by catalogue position. Read
/// straight from the stored `{field: [value, provenance id]}` text without building the
/// record's map; fields no longer in the catalogue are skipped. One row is reused for every
/// school of a batch, so reading a school allocates only for the few values that need it.
#[derive(Debug, Default)]
pub struct ExportRow<'a> {
    pub cells: Vec<Option<Cell<'a>>>,
}

impl<'a> ExportRow<'a> {
    pub fn new() -> Self {
        Self {
            cells: vec![None; Catalog::get().fields().len()],
        }
    }

    /// Replaces the row's cells with those of a stored record.
    pub fn read(&mut self, data: &'a str) -> serde_json::Result<()> {
        self.cells.clear();
        self.cells.resize(Catalog::get().fields().len(), None);
        let mut de = serde_json::Deserializer::from_str(data);
        RowSeed(&mut self.cells).deserialize(&mut de)?;
        de.end()
    }

    pub fn parse(data: &'a str) -> serde_json::Result<Self> {
        let mut row = Self::new();
        row.read(data)?;
        Ok(row)
    }
}

struct RowSeed<'r, 'de>(&'r mut Vec<Option<Cell<'de>>>);

impl<'de> DeserializeSeed<'de> for RowSeed<'_, 'de> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for RowSeed<'_, 'de> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a published record {field: [value, provenance id]}")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let sorted = Catalog::get().names_in_byte_order();
        let mut cursor = 0;
        while let Some(key) = map.next_key::<Key<'de>>()? {
            let key = key.0.as_ref();
            while cursor < sorted.len() && sorted[cursor].0 < key {
                cursor += 1;
            }
            let found = if sorted.get(cursor).is_some_and(|(name, _)| *name == key) {
                Some(sorted[cursor].1)
            } else {
                // Out of order (not written by this application): search the whole list.
                sorted
                    .binary_search_by(|(name, _)| (*name).cmp(key))
                    .ok()
                    .map(|i| sorted[i].1)
            };
            match found {
                Some(i) => self.0[i] = map.next_value::<StoredCell<'de>>()?.0,
                None => {
                    map.next_value::<de::IgnoredAny>()?;
                }
            }
        }
        Ok(())
    }
}

/// A map key, borrowed when it has no escapes (catalogue names never do).
struct Key<'a>(Cow<'a, str>);

impl<'de> Deserialize<'de> for Key<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Key<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a field name")
            }
            fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
                Ok(Key(Cow::Borrowed(v)))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
                Ok(Key(Cow::Owned(v.to_owned())))
            }
        }
        d.deserialize_str(V)
    }
}

/// `[value, provenance id]`: the value, the provenance skipped (exports do not carry it).
struct StoredCell<'a>(Option<Cell<'a>>);

impl<'de> Deserialize<'de> for StoredCell<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = StoredCell<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("[value, provenance id]")
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
                let value = seq.next_element::<Cell<'de>>()?;
                while seq.next_element::<de::IgnoredAny>()?.is_some() {}
                // A stored `null` is no value, as in `values::to_cell`.
                Ok(StoredCell(value.filter(|c| *c != Cell::Other(Value::Null))))
            }
        }
        d.deserialize_seq(V)
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
pub fn etag(
    format: ExportFormat,
    version: i32,
    published_at: Option<&str>,
    include_absent: bool,
) -> String {
    let mut h = Sha256::new();
    h.update(format!(
        "ecarto-export/{EXPORT_LAYOUT_REVISION}/{}/{version}/{}{}",
        format.extension(),
        published_at.unwrap_or(""),
        if include_absent { "/avec-absents" } else { "" }
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
    fn rows_read_from_stored_records_match_the_values() {
        let data = r#"{"appellation_officielle":["=1+1",3],"champ_retire":[{"x":1},2],"latitude":[48.0,1],"longitude":[-1.68,1],"nb_terminaux":[10,1],"efran":["a\"b",4],"college_lab":[true,4],"experimentations_locales":[["x","=y"],5],"patronyme":[null,5]}"#;
        let row = ExportRow::parse(data).expect("parses");
        let record: crate::domain::record::SchoolRecord =
            serde_json::from_str(data).expect("record");
        let catalog = Catalog::get();
        let mut seen = 0;
        for (i, f) in catalog.fields().iter().enumerate() {
            let value = record.get(f.name).filter(|v| !v.is_null());
            let cell = row.cells[i].as_ref();
            assert_eq!(cell.is_some(), value.is_some(), "{}", f.name);
            if let (Some(cell), Some(value)) = (cell, value) {
                seen += 1;
                assert_eq!(cell.csv_text(), csv_cell(value), "{}", f.name);
                let mut json = Vec::new();
                cell.write_json(&mut json).expect("json");
                assert_eq!(json, serde_json::to_vec(value).expect("json"), "{}", f.name);
            }
        }
        assert_eq!(seen, 7);
        assert_eq!(
            row.cells[catalog.index_of("experimentations_locales").expect("field")]
                .as_ref()
                .map(Cell::csv_text)
                .as_deref(),
            Some("x|=y")
        );
        let unordered =
            ExportRow::parse(r#"{"uai":["0350001A",1],"adresse":["x",1]}"#).expect("parses");
        assert_eq!(
            unordered.cells[catalog.index_of("adresse").expect("field")],
            Some(Cell::Str(Cow::Borrowed("x")))
        );
        assert!(unordered.cells[0].is_some());
        let mut scratch = String::new();
        assert_eq!(Cell::Num((-3).into()).csv_text_in(&mut scratch), "-3");
        assert!(ExportRow::parse("[1]").is_err());
        assert!(ExportRow::parse("{} x").is_err());
    }

    #[test]
    fn etags_depend_on_format_version_and_absent_schools_only() {
        let t = Some("2026-01-01T00:00:00Z");
        let a = etag(ExportFormat::Csv, 3, t, false);
        assert_eq!(a, etag(ExportFormat::Csv, 3, t, false));
        assert_ne!(a, etag(ExportFormat::Json, 3, t, false));
        assert_ne!(a, etag(ExportFormat::Csv, 4, t, false));
        assert_ne!(a, etag(ExportFormat::Csv, 3, t, true));
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
