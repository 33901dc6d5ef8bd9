//! Open-data exports of the published dataset, as of the latest or any past version, in CSV,
//! JSON and GeoJSON.
//!
//! Schools are read from the database in batches by keyset pagination on the UAI, and only
//! a few batches are in memory at once (the one being read and those being encoded), so
//! memory stays flat whatever the size of the dataset. The HTTP handler and the CLI consume
//! the same stream of chunks, so both write the same bytes.
//!
//! What "version N" contains: for every school created at or before N, its record as of the
//! last revision ≤ N. The latest version is read from the `schools` table (one row per
//! school); a school that a publication changed while the export runs is read from its
//! revision instead, so an export is always exactly one version even under concurrent
//! publications. Past versions are read from `school_revisions` directly.

use std::path::{Path, PathBuf};

use chrono::{DateTime, SecondsFormat, Utc};
use futures_util::{Stream, StreamExt, TryStreamExt, future, stream};
use sea_orm::{
    ColumnTrait, DatabaseConnection, DbErr, EntityTrait, QueryFilter, QueryOrder, QuerySelect,
    sea_query::{Expr, ExprTrait, Func, Query},
};
use serde_json::{Value, json};
use tokio::io::{AsyncWrite, AsyncWriteExt, BufWriter};

use crate::{
    domain::{
        catalog::Catalog,
        export::{self, ExportFormat, ExportRow, LICENCE_SPDX, LICENCE_TITLE, LICENCE_URL},
    },
    entities::{dataset_version, school, school_revision},
    error::AppError,
};

/// Schools per database query: large enough that a 65,000-school export is 65 queries, small
/// enough that one batch (a few megabytes once encoded) is all the memory an export holds.
const BATCH: u64 = 1000;

#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    #[error("la version doit être un nombre entier supérieur ou égal à 1, « {0} » n'en est pas un")]
    InvalidVersion(String),
    #[error("{}", unknown_version_message(*.requested, *.latest))]
    UnknownVersion { requested: i32, latest: Option<i32> },
    #[error("le record publié de l'établissement {uai} est illisible : {detail}")]
    Corrupt { uai: String, detail: String },
    #[error("erreur de base de données : {0}")]
    Db(#[from] DbErr),
    #[error("erreur d'écriture : {0}")]
    Io(#[from] std::io::Error),
}

fn unknown_version_message(requested: i32, latest: Option<i32>) -> String {
    match latest {
        Some(l) => format!(
            "la version {requested} du jeu de données n'existe pas : les versions publiées vont de 1 à {l}"
        ),
        None => format!(
            "la version {requested} du jeu de données n'existe pas : aucune version n'a encore été publiée"
        ),
    }
}

impl From<ExportError> for AppError {
    fn from(e: ExportError) -> Self {
        match e {
            ExportError::InvalidVersion(_) => AppError::bad_request("version", e.to_string()),
            ExportError::UnknownVersion { .. } => AppError::NotFound(e.to_string()),
            ExportError::Db(db) => AppError::Db(db),
            ExportError::Corrupt { .. } | ExportError::Io(_) => AppError::internal(e),
        }
    }
}

/// Reads the `version` parameter of a request: a whole number ≥ 1.
pub fn parse_version(raw: &str) -> Result<i32, ExportError> {
    match raw.trim().parse::<i32>() {
        Ok(n) if n >= 1 => Ok(n),
        _ => Err(ExportError::InvalidVersion(raw.to_owned())),
    }
}

/// The published version an export shows. `version == 0` is the empty dataset, before any
/// publication: it exports a header-only CSV and empty collections.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Snapshot {
    pub version: i32,
    pub published_at: Option<DateTime<Utc>>,
    /// Whether `version` was the latest when the export started: it is then read from the
    /// `schools` table rather than from revisions.
    pub is_latest: bool,
    /// Also the schools the annuaire does not list at that version (absent from its latest
    /// import, or never listed). By default an export is the official list.
    pub include_absent: bool,
}

impl Snapshot {
    pub fn etag(&self, format: ExportFormat) -> String {
        export::etag(
            format,
            self.version,
            self.published_at_rfc3339().as_deref(),
            self.include_absent,
        )
    }

    pub fn file_name(&self, format: ExportFormat) -> String {
        let name = format.file_name(self.version);
        if self.include_absent {
            name.replacen(
                &format!(".{}", format.extension()),
                &format!("-avec-absents.{}", format.extension()),
                1,
            )
        } else {
            name
        }
    }

    fn published_at_rfc3339(&self) -> Option<String> {
        self.published_at
            .map(|d| d.to_rfc3339_opts(SecondsFormat::Secs, true))
    }
}

/// Resolves the version to export: `None` is the latest. One indexed lookup, no school read,
/// so a conditional request is answered without reading the dataset.
pub async fn snapshot(
    db: &DatabaseConnection,
    requested: Option<i32>,
) -> Result<Snapshot, ExportError> {
    if let Some(n) = requested
        && n < 1
    {
        return Err(ExportError::InvalidVersion(n.to_string()));
    }
    let latest = dataset_version::Entity::find()
        .order_by_desc(dataset_version::Column::Version)
        .one(db)
        .await?;
    let Some(latest) = latest else {
        return match requested {
            None => Ok(Snapshot {
                version: 0,
                published_at: None,
                is_latest: true,
                include_absent: false,
            }),
            Some(n) => Err(ExportError::UnknownVersion {
                requested: n,
                latest: None,
            }),
        };
    };
    let row = match requested {
        None => latest.clone(),
        Some(n) if n == latest.version => latest.clone(),
        Some(n) => dataset_version::Entity::find_by_id(n)
            .one(db)
            .await?
            .ok_or(ExportError::UnknownVersion {
                requested: n,
                latest: Some(latest.version),
            })?,
    };
    Ok(Snapshot {
        version: row.version,
        published_at: Some(row.created_at),
        is_latest: row.version == latest.version,
        include_absent: false,
    })
}

/// One piece of an export: encoded bytes and how many schools they hold.
#[derive(Debug, Default)]
pub struct Chunk {
    pub bytes: Vec<u8>,
    pub schools: u64,
}

/// Batches encoded at once: with the read of the next batch, this keeps two cores busy.
const ENCODERS: usize = 2;

/// The export as a stream of chunks: the head (CSV header or JSON wrapper), one chunk per
/// batch of schools, then the tail.
///
/// Batches are read one after the other (each starts after the last UAI of the previous),
/// and each is encoded on a blocking thread as soon as it is read — never on the server's
/// async workers — while the next one is already being read. Chunks come out in order; at
/// most `ENCODERS + 1` batches are in memory at once.
pub fn chunks(
    db: DatabaseConnection,
    snapshot: Snapshot,
    format: ExportFormat,
) -> impl Stream<Item = Result<Chunk, ExportError>> + Send + 'static {
    let head = encode_head(format, &snapshot).map(|bytes| Chunk { bytes, schools: 0 });
    let include_absent = snapshot.include_absent;
    let rows = batches(db, snapshot)
        .map_ok(move |(_, batch)| async move {
            tokio::task::spawn_blocking(move || encode_batch(format, &batch, include_absent))
                .await
                .map_err(|e| ExportError::Io(std::io::Error::other(e)))?
        })
        .try_buffered(ENCODERS);
    let tail = Chunk {
        bytes: encode_tail(format),
        schools: 0,
    };
    // The separator before the first school written is the only one to take off.
    let rows = rows.scan(false, move |started, chunk| {
        let chunk = chunk.map(|mut c| {
            if c.schools > 0 {
                if !*started && format != ExportFormat::Csv && c.bytes.first() == Some(&b',') {
                    c.bytes.remove(0);
                }
                *started = true;
            }
            c
        });
        future::ready(Some(chunk))
    });
    stream::once(future::ready(head))
        .chain(rows)
        .chain(stream::once(future::ready(Ok(tail))))
}

/// The non-empty batches of `(uai, stored record)` of a snapshot, numbered from 0.
fn batches(
    db: DatabaseConnection,
    snapshot: Snapshot,
) -> impl Stream<Item = Result<(usize, Vec<(String, String)>), ExportError>> + Send + 'static {
    // `None` once the last batch has been read.
    let start: Option<(usize, Option<String>)> = (snapshot.version > 0).then_some((0, None));
    stream::try_unfold(start, move |state| {
        let (db, snapshot) = (db.clone(), snapshot.clone());
        async move {
            let Some((index, after)) = state else {
                return Ok(None);
            };
            let batch = fetch_batch(&db, &snapshot, after.as_deref()).await?;
            if batch.is_empty() {
                return Ok(None);
            }
            let next = (batch.len() as u64 == BATCH)
                .then(|| batch.last().map(|(uai, _)| (index + 1, Some(uai.clone()))))
                .flatten();
            Ok(Some(((index, batch), next)))
        }
    })
}

/// The export as an HTTP body stream: bytes only.
pub fn body_stream(
    db: DatabaseConnection,
    snapshot: Snapshot,
    format: ExportFormat,
) -> impl Stream<Item = Result<Vec<u8>, ExportError>> + Send + 'static {
    chunks(db, snapshot, format).map_ok(|c| c.bytes)
}

/// What a written export holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ExportSummary {
    pub version: i32,
    pub schools: u64,
    pub bytes: u64,
}

/// Writes an export to any async writer (a buffered file for the CLI), chunk by chunk.
pub async fn write_to<W: AsyncWrite + Unpin>(
    db: DatabaseConnection,
    snapshot: Snapshot,
    format: ExportFormat,
    out: &mut W,
) -> Result<ExportSummary, ExportError> {
    let mut summary = ExportSummary {
        version: snapshot.version,
        schools: 0,
        bytes: 0,
    };
    let stream = chunks(db, snapshot, format);
    futures_util::pin_mut!(stream);
    while let Some(chunk) = stream.try_next().await? {
        out.write_all(&chunk.bytes).await?;
        summary.schools += chunk.schools;
        summary.bytes += chunk.bytes.len() as u64;
    }
    out.flush().await?;
    Ok(summary)
}

/// Writes an export through a buffered file, as the CLI does. The file appears only once
/// complete: it is written beside its destination under a `.part` name, then renamed, so an
/// interrupted export never leaves a truncated file behind under the expected name.
pub async fn write_file(
    db: DatabaseConnection,
    snapshot: Snapshot,
    format: ExportFormat,
    path: &Path,
) -> Result<ExportSummary, ExportError> {
    let mut part = path.as_os_str().to_owned();
    part.push(".part");
    let part = PathBuf::from(part);
    let file = tokio::fs::File::create(&part).await.map_err(|e| {
        ExportError::Io(std::io::Error::new(
            e.kind(),
            format!("impossible de créer {} : {e}", part.display()),
        ))
    })?;
    let mut w = BufWriter::with_capacity(1 << 20, file);
    let summary = match write_to(db, snapshot, format, &mut w).await {
        Ok(s) => s,
        Err(e) => {
            drop(w);
            let _ = tokio::fs::remove_file(&part).await;
            return Err(e);
        }
    };
    w.into_inner().sync_all().await?;
    tokio::fs::rename(&part, path).await.map_err(|e| {
        ExportError::Io(std::io::Error::new(
            e.kind(),
            format!("impossible d'écrire {} : {e}", path.display()),
        ))
    })?;
    Ok(summary)
}

/// The next batch of `(uai, record)` after `after`, in UAI order, as of the snapshot.
async fn fetch_batch(
    db: &DatabaseConnection,
    snapshot: &Snapshot,
    after: Option<&str>,
) -> Result<Vec<(String, String)>, DbErr> {
    let n = snapshot.version;
    if !snapshot.is_latest {
        return revisions_as_of(db, n, RevisionFilter::After(after)).await;
    }
    // The published record is the revision at the version that last changed the school:
    // the batch's (uai, version) first, then those revisions by primary key. (A join, batch
    // after batch, is planned as a hash join over whole tables by PostgreSQL.)
    let mut q = school::Entity::find()
        .select_only()
        .columns([school::Column::Uai, school::Column::Version])
        .filter(school::Column::CreatedVersion.lte(n))
        .order_by_asc(school::Column::Uai)
        .limit(BATCH);
    if let Some(after) = after {
        q = q.filter(school::Column::Uai.gt(after));
    }
    let keys: Vec<(String, i32)> = q.into_tuple().all(db).await?;
    let versions: std::collections::BTreeSet<i32> = keys.iter().map(|(_, v)| *v).collect();
    let mut data: std::collections::HashMap<(String, i32), String> =
        school_revision::Entity::find()
            .select_only()
            .columns([
                school_revision::Column::Uai,
                school_revision::Column::Version,
                school_revision::Column::Data,
            ])
            .filter(school_revision::Column::Uai.is_in(keys.iter().map(|(u, _)| u.clone())))
            .filter(school_revision::Column::Version.is_in(versions))
            .into_tuple::<(String, i32, String)>()
            .all(db)
            .await?
            .into_iter()
            .map(|(u, v, d)| ((u, v), d))
            .collect();
    let rows: Vec<(String, String, i32)> = keys
        .into_iter()
        .map(|(u, v)| match data.remove(&(u.clone(), v)) {
            Some(d) => Ok((u, d, v)),
            None => Err(DbErr::Custom(format!(
                "no revision {v} for the record of {u}"
            ))),
        })
        .collect::<Result<_, _>>()?;
    // Schools changed by a publication that committed after the export started.
    let newer: Vec<String> = rows
        .iter()
        .filter(|(_, _, v)| *v > n)
        .map(|(uai, _, _)| uai.clone())
        .collect();
    if newer.is_empty() {
        return Ok(rows.into_iter().map(|(uai, data, _)| (uai, data)).collect());
    }
    let mut older: std::collections::HashMap<String, String> =
        revisions_as_of(db, n, RevisionFilter::In(newer))
            .await?
            .into_iter()
            .collect();
    let mut out = Vec::with_capacity(rows.len());
    for (uai, data, v) in rows {
        if v <= n {
            out.push((uai, data));
        } else if let Some(data) = older.remove(&uai) {
            out.push((uai, data));
        }
    }
    Ok(out)
}

/// The given schools' records as of dataset version `n`.
pub async fn revisions_in(
    db: &DatabaseConnection,
    n: i32,
    uais: Vec<String>,
) -> Result<Vec<(String, String)>, DbErr> {
    revisions_as_of(db, n, RevisionFilter::In(uais)).await
}

enum RevisionFilter<'a> {
    /// The next batch after a UAI (or from the start).
    After(Option<&'a str>),
    In(Vec<String>),
}

/// Every selected school's revision with the greatest version ≤ `n`. The correlated
/// subquery is a seek on the `(uai, version)` primary key.
async fn revisions_as_of(
    db: &DatabaseConnection,
    n: i32,
    filter: RevisionFilter<'_>,
) -> Result<Vec<(String, String)>, DbErr> {
    let latest_le_n = Query::select()
        .expr(Func::max(Expr::col(("r2", "version"))))
        .from_as("school_revisions", "r2")
        .and_where(Expr::col(("r2", "uai")).equals(("school_revisions", "uai")))
        .and_where(Expr::col(("r2", "version")).lte(n))
        .to_owned();
    let mut q = school_revision::Entity::find()
        .select_only()
        .columns([school_revision::Column::Uai, school_revision::Column::Data])
        .filter(Expr::col(("school_revisions", "version")).in_subquery(latest_le_n))
        .order_by_asc(school_revision::Column::Uai);
    q = match filter {
        RevisionFilter::After(after) => {
            let q = q.limit(BATCH);
            match after {
                Some(a) => q.filter(school_revision::Column::Uai.gt(a)),
                None => q,
            }
        }
        RevisionFilter::In(uais) => q.filter(school_revision::Column::Uai.is_in(uais)),
    };
    q.into_tuple().all(db).await
}

/// The CSV header, or the JSON wrapper up to the opening of its array.
///
/// The wrapper's members come in a fixed order (`type` first for readers that sniff it).
/// They state the licence and the version; RFC 7946 lets a GeoJSON FeatureCollection carry
/// such foreign members. CSV stays a plain table: its licence travels in the HTTP `Link`
/// header and the DCAT catalogue.
fn encode_head(format: ExportFormat, snapshot: &Snapshot) -> Result<Vec<u8>, ExportError> {
    if format == ExportFormat::Csv {
        let mut w = csv_writer();
        let names = Catalog::get().fields().iter().map(|f| f.name);
        w.write_record(names).map_err(csv_error)?;
        return csv_bytes(w);
    }
    let version = (snapshot.version > 0).then_some(snapshot.version);
    let members: [(&str, Value); 4] = [
        ("title", export::DATASET_TITLE.into()),
        (
            "license",
            json!({"title": LICENCE_TITLE, "url": LICENCE_URL, "spdx": LICENCE_SPDX}),
        ),
        ("version", version.into()),
        ("published_at", snapshot.published_at_rfc3339().into()),
    ];
    let (mut out, array) = match format {
        ExportFormat::GeoJson => ("{\"type\":\"FeatureCollection\",".to_owned(), "features"),
        _ => ("{".to_owned(), "schools"),
    };
    for (name, value) in members {
        out.push_str(&format!(
            "\"{name}\":{},",
            serde_json::to_string(&value).map_err(json_error)?
        ));
    }
    out.push_str(&format!("\"{array}\":["));
    Ok(out.into_bytes())
}

fn encode_tail(format: ExportFormat) -> Vec<u8> {
    match format {
        ExportFormat::Csv => Vec::new(),
        ExportFormat::Json | ExportFormat::GeoJson => b"\n]}\n".to_vec(),
    }
}

/// Encodes one batch of `(uai, stored record)`, leaving out the schools the annuaire does not
/// list unless `include_absent`. Batches are independent, so several can be encoded at once:
/// in JSON every school has its separator before it, and [`chunks`] takes off the export's
/// first one (which batch holds the first school written is known only in order).
fn encode_batch(
    format: ExportFormat,
    batch: &[(String, String)],
    include_absent: bool,
) -> Result<Chunk, ExportError> {
    let catalog = Catalog::get();
    let mut row = ExportRow::new();
    let mut chunk = Chunk {
        bytes: Vec::new(),
        schools: 0,
    };
    let presence = catalog.index_of("presence_annuaire");
    let mut csv = (format == ExportFormat::Csv).then(csv_writer);
    let mut scratch = String::new();
    let keys = json_keys();
    let (lat, lon) = (catalog.index_of("latitude"), catalog.index_of("longitude"));
    let uai_index = catalog.index_of("uai");
    for (uai, data) in batch {
        row.read(data).map_err(|e| ExportError::Corrupt {
            uai: uai.clone(),
            detail: e.to_string(),
        })?;
        let listed = presence
            .and_then(|i| row.cells.get(i)?.as_ref())
            .is_some_and(|c| matches!(c, export::Cell::Str(s) if s == "present"));
        if !listed && !include_absent {
            continue;
        }
        chunk.schools += 1;
        // The UAI is the record's key, not one of its stored values.
        if let Some(cell) = uai_index.and_then(|i| row.cells.get_mut(i)) {
            *cell = Some(export::Cell::Str(std::borrow::Cow::Borrowed(uai.as_str())));
        }
        let buf = &mut chunk.bytes;
        if let Some(w) = csv.as_mut() {
            for cell in &row.cells {
                match cell {
                    Some(c) => w.write_field(c.csv_text_in(&mut scratch).as_bytes()),
                    None => w.write_field(b""),
                }
                .map_err(csv_error)?;
            }
            // An empty record after its fields ends the line.
            w.write_record(None::<&[u8]>).map_err(csv_error)?;
            continue;
        }
        // One school per line, so that the file also reads well line by line.
        buf.extend_from_slice(b",\n");
        if format == ExportFormat::Json {
            write_object(buf, keys, &row)?;
            continue;
        }
        buf.extend_from_slice(b"{\"type\":\"Feature\",\"id\":");
        match row.cells.first().and_then(Option::as_ref) {
            Some(uai) => uai.write_json(buf).map_err(json_error)?,
            None => buf.extend_from_slice(b"null"),
        }
        buf.extend_from_slice(b",\"geometry\":");
        let coord = |i: Option<usize>| {
            i.and_then(|i| row.cells.get(i)?.as_ref())
                .filter(|c| c.as_f64().is_some())
        };
        match (coord(lon), coord(lat)) {
            (Some(lon), Some(lat)) => {
                buf.extend_from_slice(b"{\"type\":\"Point\",\"coordinates\":[");
                lon.write_json(buf).map_err(json_error)?;
                buf.push(b',');
                lat.write_json(buf).map_err(json_error)?;
                buf.extend_from_slice(b"]}");
            }
            _ => buf.extend_from_slice(b"null"),
        }
        buf.extend_from_slice(b",\"properties\":");
        write_object(buf, keys, &row)?;
        buf.push(b'}');
    }
    if let Some(w) = csv {
        chunk.bytes = csv_bytes(w)?;
    }
    Ok(chunk)
}

/// Catalogue fields as `"name":` JSON keys, serialised once.
fn json_keys() -> &'static [String] {
    static KEYS: std::sync::OnceLock<Vec<String>> = std::sync::OnceLock::new();
    KEYS.get_or_init(|| {
        Catalog::get()
            .fields()
            .iter()
            .map(|f| format!("{}:", Value::from(f.name)))
            .collect()
    })
}

/// One school as `{name: value}` in catalogue order; fields without a value (not
/// communicated) are left out rather than written as `null`.
fn write_object(
    buf: &mut Vec<u8>,
    keys: &[String],
    row: &ExportRow<'_>,
) -> Result<(), ExportError> {
    buf.push(b'{');
    let mut first = true;
    for (key, cell) in keys.iter().zip(&row.cells) {
        let Some(cell) = cell else { continue };
        if !first {
            buf.push(b',');
        }
        first = false;
        buf.extend_from_slice(key.as_bytes());
        cell.write_json(buf).map_err(json_error)?;
    }
    buf.push(b'}');
    Ok(())
}

/// UTF-8 without BOM, `;`-separated, CRLF line ends (RFC 4180), quoted only when needed.
fn csv_writer() -> csv::Writer<Vec<u8>> {
    csv::WriterBuilder::new()
        .delimiter(b';')
        .terminator(csv::Terminator::CRLF)
        .from_writer(Vec::new())
}

fn csv_bytes(w: csv::Writer<Vec<u8>>) -> Result<Vec<u8>, ExportError> {
    w.into_inner()
        .map_err(|e| ExportError::Io(std::io::Error::other(e.to_string())))
}

fn csv_error(e: csv::Error) -> ExportError {
    ExportError::Io(std::io::Error::other(e))
}

fn json_error(e: serde_json::Error) -> ExportError {
    ExportError::Io(std::io::Error::other(e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_parse() {
        assert_eq!(parse_version("3").ok(), Some(3));
        assert_eq!(parse_version(" 12 ").ok(), Some(12));
        for bad in ["0", "-1", "abc", "1.5", ""] {
            assert!(
                matches!(parse_version(bad), Err(ExportError::InvalidVersion(_))),
                "{bad:?}"
            );
        }
        assert_eq!(
            ExportError::UnknownVersion {
                requested: 9,
                latest: Some(2)
            }
            .to_string(),
            "la version 9 du jeu de données n'existe pas : les versions publiées vont de 1 à 2"
        );
    }
}
