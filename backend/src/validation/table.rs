//! An agent's file as a table of text cells, whatever tool wrote it: CSV (encoding and
//! separator detected), XLSX (the sheet named like the schema, or the first), or JSON (an
//! array of objects). Rows carry the number the agent sees: the line in a CSV file, the row
//! in the spreadsheet, the position of the object in a JSON array.

use std::io::Cursor;

use calamine::{Data, Reader, Xlsx};
use csv::StringRecord;
use serde_json::Value;

use crate::domain::text::header_key;
use crate::importers::input::{self, InputError};

/// How the file was read, for the report.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum Format {
    Csv {
        encoding: &'static str,
        separator: &'static str,
    },
    Xlsx {
        sheet: String,
    },
    Json,
}

impl Format {
    /// What a row number counts in this format, for messages.
    pub fn row_word(&self) -> &'static str {
        match self {
            Format::Json => "objet",
            _ => "ligne",
        }
    }
}

pub struct Table<'a> {
    pub format: Format,
    pub headers: Vec<String>,
    source: Source<'a>,
}

enum Source<'a> {
    Csv(input::Input<'a>),
    Sheet(calamine::Range<Data>),
    Json(Vec<serde_json::Map<String, Value>>),
}

const XLSX_MAGIC: &[u8] = b"PK\x03\x04";

impl<'a> Table<'a> {
    /// Reads `bytes`; `sheet_hint` is the schema name, matched against sheet names.
    pub fn read(
        bytes: &'a [u8],
        file_name: Option<&str>,
        sheet_hint: &str,
    ) -> Result<Self, InputError> {
        let lower = file_name.unwrap_or_default().to_lowercase();
        if bytes.starts_with(XLSX_MAGIC) {
            return read_xlsx(bytes, sheet_hint, &lower);
        }
        let first = bytes
            .iter()
            .copied()
            .find(|b| !(b.is_ascii_whitespace() || *b == 0xEF || *b == 0xBB || *b == 0xBF));
        if lower.ends_with(".json")
            || (matches!(first, Some(b'[' | b'{')) && !lower.ends_with(".csv"))
        {
            return read_json(bytes);
        }
        let input = input::read(bytes)?;
        Ok(Table {
            format: Format::Csv {
                encoding: input.encoding.label(),
                separator: input::separator_label(input.separator),
            },
            headers: input.headers.clone(),
            source: Source::Csv(input),
        })
    }

    /// How many data rows the file holds: exact for a sheet or JSON; for CSV its line breaks,
    /// which a quoted cell spanning lines makes an overestimate.
    pub fn expected_rows(&self, bytes: &[u8]) -> u64 {
        match &self.source {
            Source::Csv(_) => {
                let breaks = bytes.iter().filter(|b| **b == b'\n').count() as u64;
                // The header line, and a last line without its line break.
                (breaks + u64::from(!bytes.ends_with(b"\n"))).saturating_sub(1)
            }
            Source::Sheet(range) => (range.height() as u64).saturating_sub(1),
            Source::Json(objects) => objects.len() as u64,
        }
    }

    /// The data rows, each with its number as the agent sees it.
    pub fn rows(&self) -> Rows<'_> {
        Rows {
            inner: match &self.source {
                Source::Csv(input) => RowsInner::Csv(input.records()),
                Source::Sheet(range) => RowsInner::Sheet {
                    rows: range.rows(),
                    first_row: range.start().map_or(0, |(r, _)| r),
                    index: 0,
                    width: self.headers.len(),
                },
                Source::Json(objects) => RowsInner::Json(objects.iter().enumerate(), &self.headers),
            },
        }
    }
}

pub struct Rows<'t> {
    inner: RowsInner<'t>,
}

enum RowsInner<'t> {
    Csv(input::Records<'t>),
    Sheet {
        rows: calamine::Rows<'t, Data>,
        first_row: u32,
        index: u32,
        width: usize,
    },
    Json(
        std::iter::Enumerate<std::slice::Iter<'t, serde_json::Map<String, Value>>>,
        &'t [String],
    ),
}

impl Rows<'_> {
    /// Fills `cells` with the next data row and returns its number, `None` at the end.
    pub fn next_into(&mut self, cells: &mut Vec<String>) -> Result<Option<u64>, InputError> {
        let mut record = StringRecord::new();
        let n = self.next_record(&mut record)?;
        cells.clear();
        cells.extend(record.iter().map(str::to_owned));
        Ok(n)
    }

    /// Fills `record` with the next data row and returns its number, `None` at the end.
    /// Rows whose cells are all empty are skipped, as a spreadsheet user would expect.
    pub fn next_record(&mut self, record: &mut StringRecord) -> Result<Option<u64>, InputError> {
        loop {
            let number = match &mut self.inner {
                RowsInner::Csv(records) => {
                    let Some(line) = records.next_into(record)? else {
                        return Ok(None);
                    };
                    line
                }
                RowsInner::Sheet {
                    rows,
                    first_row,
                    index,
                    width,
                } => {
                    // The header was the range's first row.
                    if *index == 0 {
                        rows.next();
                        *index = 1;
                    }
                    let Some(row) = rows.next() else {
                        return Ok(None);
                    };
                    let number = u64::from(*first_row) + u64::from(*index) + 1;
                    *index += 1;
                    record.clear();
                    for c in row.iter().take((*width).max(row.len())) {
                        record.push_field(&cell_text(c));
                    }
                    number
                }
                RowsInner::Json(objects, headers) => {
                    let Some((i, object)) = objects.next() else {
                        return Ok(None);
                    };
                    record.clear();
                    for h in headers.iter() {
                        record.push_field(&object.get(h).map(json_text).unwrap_or_default());
                    }
                    i as u64 + 1
                }
            };
            if record.iter().any(|c| !c.trim().is_empty()) {
                return Ok(Some(number));
            }
        }
    }
}

fn read_xlsx<'a>(
    bytes: &'a [u8],
    sheet_hint: &str,
    lower_name: &str,
) -> Result<Table<'a>, InputError> {
    check_archive(bytes)?;
    let mut book: Xlsx<_> = Xlsx::new(Cursor::new(bytes)).map_err(|e| {
        InputError(format!(
            "le fichier commence comme un classeur Excel (.xlsx) ou une archive zip mais ne peut pas être lu comme un classeur{} : {e}. Enregistrez-le au format .xlsx ou CSV",
            if lower_name.ends_with(".csv") { " (c'est sans doute une archive renommée en .csv)" } else { "" }
        ))
    })?;
    let names = book.sheet_names();
    if names.is_empty() {
        return Err(InputError("le classeur ne contient aucune feuille".into()));
    }
    let wanted = header_key(sheet_hint);
    let sheet = names
        .iter()
        .find(|n| header_key(n) == wanted)
        .unwrap_or(&names[0])
        .clone();
    let range = read_sheet(&mut book, &sheet)?;
    let mut rows = range.rows();
    let headers: Vec<String> = match rows.next() {
        Some(r) => r.iter().map(|c| cell_text(c).trim().to_owned()).collect(),
        None => {
            return Err(InputError(format!(
                "la feuille « {sheet} » est vide : il faut une ligne d'en-tête puis une ligne par établissement"
            )));
        }
    };
    let headers: Vec<String> = {
        // Trailing empty header cells are formatting, not columns.
        let keep = headers
            .iter()
            .rposition(|h| !h.is_empty())
            .map_or(0, |p| p + 1);
        headers.into_iter().take(keep).collect()
    };
    if headers.is_empty() {
        return Err(InputError(format!(
            "la première ligne de la feuille « {sheet} » est vide : elle doit porter les noms des colonnes"
        )));
    }
    if !rows.any(|r| r.iter().any(|c| !cell_text(c).trim().is_empty())) {
        return Err(InputError(format!(
            "la feuille « {sheet} » ne contient que la ligne d'en-tête, aucune ligne de données"
        )));
    }
    Ok(Table {
        format: Format::Xlsx { sheet },
        headers,
        source: Source::Sheet(range),
    })
}

/// What a workbook may hold once decompressed, all its parts together. A real inventory of
/// every school of France is a few tens of megabytes of XML; a « zip bomb » declares gigabytes.
const XLSX_MAX_UNCOMPRESSED: u64 = 300 * 1024 * 1024;
/// Beyond this ratio a large part is not a spreadsheet but a bomb (real sheets compress 5 to
/// 20 times; a sheet of one repeated value, up to about 100).
const XLSX_MAX_RATIO: u64 = 250;
/// The cells a sheet may span, from its first used cell to its last: calamine lays the sheet
/// out as a full rectangle, so one cell far away would make it gigabytes.
const XLSX_MAX_AREA: u64 = 12_000_000;
const XLSX_MAX_COLUMNS: u32 = 1_000;

/// Looks at the archive's table of contents before anything is decompressed. The sizes it
/// declares are the ones the zip reader holds each part to.
fn check_archive(bytes: &[u8]) -> Result<(), InputError> {
    // Not readable as an archive: calamine says why, in the usual message.
    let Ok(mut archive) = zip::ZipArchive::new(Cursor::new(bytes)) else {
        return Ok(());
    };
    let mut total: u64 = 0;
    for i in 0..archive.len() {
        let Ok(part) = archive.by_index_raw(i) else {
            continue;
        };
        let (size, packed) = (part.size(), part.compressed_size().max(1));
        total = total.saturating_add(size);
        if size > 1024 * 1024 && size / packed > XLSX_MAX_RATIO {
            return Err(InputError(format!(
                "le classeur contient une partie (« {} ») qui, décompressée, ferait {} Mo pour {} ko dans le fichier : ce n'est pas un tableur ordinaire (« bombe » zip ?). Enregistrez la feuille de nouveau au format .xlsx ou CSV",
                part.name().map(|n| n.into_owned()).unwrap_or_default(),
                size / (1024 * 1024),
                packed.div_ceil(1024)
            )));
        }
    }
    if total > XLSX_MAX_UNCOMPRESSED {
        return Err(InputError(format!(
            "le classeur ferait {} Mo une fois décompressé, plus que les {} Mo acceptés : découpez-le en plusieurs fichiers ou envoyez-le en CSV",
            total / (1024 * 1024),
            XLSX_MAX_UNCOMPRESSED / (1024 * 1024)
        )));
    }
    Ok(())
}

/// A sheet's used cells, read one by one so that its extent is checked before it is laid out.
/// Cells with a format and no value (a sheet formatted down to row 1,048,576) do not count.
fn read_sheet(
    book: &mut Xlsx<Cursor<&[u8]>>,
    sheet: &str,
) -> Result<calamine::Range<Data>, InputError> {
    let unreadable = |e: calamine::XlsxError| {
        InputError(format!("la feuille « {sheet} » ne peut pas être lue : {e}"))
    };
    let mut reader = book.worksheet_cells_reader(sheet).map_err(unreadable)?;
    let mut cells = Vec::new();
    let (mut last_row, mut last_column) = (0u32, 0u32);
    while let Some(cell) = reader.next_cell().map_err(unreadable)? {
        if matches!(cell.get_value(), calamine::DataRef::Empty) {
            continue;
        }
        let (row, column) = cell.get_position();
        if column >= XLSX_MAX_COLUMNS {
            return Err(InputError(format!(
                "la feuille « {sheet} » a du contenu en colonne {} (ligne {}) : au-delà de {XLSX_MAX_COLUMNS} colonnes, ce n'est plus un fichier de contribution ; supprimez les colonnes en trop",
                column + 1,
                row + 1
            )));
        }
        (last_row, last_column) = (last_row.max(row), last_column.max(column));
        if u64::from(last_row + 1) * u64::from(last_column + 1) > XLSX_MAX_AREA {
            return Err(InputError(format!(
                "la feuille « {sheet} » a du contenu jusqu'à la ligne {} et la colonne {} : c'est plus que les {} cellules acceptées ; supprimez les lignes et colonnes vides au-delà de vos données, ou découpez le fichier",
                last_row + 1,
                last_column + 1,
                XLSX_MAX_AREA
            )));
        }
        let (position, value) = (cell.get_position(), Data::from(cell.get_value().clone()));
        cells.push(calamine::Cell::new(position, value));
    }
    Ok(calamine::Range::from_sparse(cells))
}

/// A spreadsheet cell as the text the agent sees (dates as `YYYY-MM-DD`).
fn cell_text(c: &Data) -> String {
    match c {
        Data::Empty => String::new(),
        Data::String(s) => s.clone(),
        Data::Int(i) => i.to_string(),
        Data::Float(f) => {
            if f.fract() == 0.0 && f.abs() < 1e15 {
                format!("{}", *f as i64)
            } else {
                f.to_string()
            }
        }
        Data::Bool(b) => if *b { "oui" } else { "non" }.into(),
        Data::DateTime(d) => match d.as_datetime() {
            Some(dt) if dt.time() == chrono::NaiveTime::MIN => {
                dt.date().format("%Y-%m-%d").to_string()
            }
            Some(dt) => dt.format("%Y-%m-%dT%H:%M:%S").to_string(),
            None => d.as_f64().to_string(),
        },
        Data::DateTimeIso(s) | Data::DurationIso(s) => s.clone(),
        Data::Error(e) => format!("#{e:?}"),
    }
}

fn read_json(bytes: &[u8]) -> Result<Table<'_>, InputError> {
    let text = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    let value: Value = serde_json::from_slice(text).map_err(|e| {
        InputError(format!(
            "JSON illisible (ligne {}, colonne {}) : {e}. Le fichier doit être un tableau d'objets, un objet par ligne de données",
            e.line(),
            e.column()
        ))
    })?;
    let Value::Array(items) = value else {
        return Err(InputError(
            "le JSON doit être un tableau d'objets ([{…}, {…}]), un objet par ligne de données"
                .into(),
        ));
    };
    if items.is_empty() {
        return Err(InputError(
            "le tableau JSON est vide : aucune ligne de données".into(),
        ));
    }
    let mut headers: Vec<String> = Vec::new();
    let mut objects = Vec::with_capacity(items.len());
    for (i, item) in items.into_iter().enumerate() {
        let Value::Object(o) = item else {
            return Err(InputError(format!(
                "l'élément n° {} du tableau JSON n'est pas un objet : chaque élément doit être un objet {{\"colonne\": valeur}}",
                i + 1
            )));
        };
        for k in o.keys() {
            if !headers.contains(k) {
                headers.push(k.clone());
            }
        }
        objects.push(o);
    }
    Ok(Table {
        format: Format::Json,
        headers,
        source: Source::Json(objects),
    })
}

/// A JSON value as a cell: lists joined by `|`, `null` empty.
fn json_text(v: &Value) -> String {
    match v {
        Value::Null => String::new(),
        Value::String(s) => s.clone(),
        Value::Bool(b) => if *b { "oui" } else { "non" }.into(),
        Value::Number(n) => n.to_string(),
        Value::Array(items) => items.iter().map(json_text).collect::<Vec<_>>().join("|"),
        Value::Object(_) => v.to_string(),
    }
}
