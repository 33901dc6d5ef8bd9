//! Fixes made in the browser, written back as a file: the agent's table with some cells
//! changed, as CSV (UTF-8 with BOM, `;`), whatever format it came in. The row numbers are
//! those the validation report gives, so a fix names the cell the agent saw.

use std::collections::{BTreeMap, BTreeSet};

use super::{FileError, table::Table};

/// One value replaced by another in a column, on every row that holds it.
#[derive(Debug, Clone)]
pub struct Replace {
    /// The file's column, counted from 0.
    pub column: usize,
    pub from: String,
    pub to: String,
}

/// The fixed file and how many cells changed.
pub struct Fixed {
    pub bytes: Vec<u8>,
    pub changed: usize,
}

/// Writes the table of `bytes` with `cells` (row number, file column from 0 → new text) and
/// `replace` applied. A cell given its own value is not counted as changed.
pub fn apply(
    bytes: &[u8],
    file_name: Option<&str>,
    sheet_hint: &str,
    cells: &BTreeMap<(u64, usize), String>,
    replace: Option<&Replace>,
) -> Result<Fixed, FileError> {
    write(bytes, file_name, sheet_hint, cells, replace, None)
}

/// The file with only the rows numbered in `keep` (the rows still to fix, once the others are
/// sent), as CSV.
pub fn only_rows(
    bytes: &[u8],
    file_name: Option<&str>,
    sheet_hint: &str,
    keep: &BTreeSet<u64>,
) -> Result<Vec<u8>, FileError> {
    Ok(write(
        bytes,
        file_name,
        sheet_hint,
        &BTreeMap::new(),
        None,
        Some(keep),
    )?
    .bytes)
}

fn write(
    bytes: &[u8],
    file_name: Option<&str>,
    sheet_hint: &str,
    cells: &BTreeMap<(u64, usize), String>,
    replace: Option<&Replace>,
    keep: Option<&BTreeSet<u64>>,
) -> Result<Fixed, FileError> {
    let table = Table::read(bytes, file_name, sheet_hint)?;
    let width = table.headers.len();
    if let Some((_, column)) = cells.keys().find(|(_, c)| *c >= width) {
        return Err(FileError::Unusable(format!(
            "colonne n° {} inconnue : le fichier n'en a que {width}",
            column + 1
        )));
    }
    if let Some(r) = replace.filter(|r| r.column >= width) {
        return Err(FileError::Unusable(format!(
            "colonne n° {} inconnue : le fichier n'en a que {width}",
            r.column + 1
        )));
    }
    let mut w = csv::WriterBuilder::new()
        .delimiter(b';')
        .flexible(true)
        .from_writer(b"\xEF\xBB\xBF".to_vec());
    let csv_err = |e: csv::Error| FileError::Unusable(format!("écriture du fichier corrigé : {e}"));
    w.write_record(&table.headers).map_err(csv_err)?;
    let mut rows = table.rows();
    let mut record = Vec::new();
    let mut changed = 0;
    while let Some(n) = rows.next_into(&mut record)? {
        if keep.is_some_and(|k| !k.contains(&n)) {
            continue;
        }
        if record.len() < width {
            record.resize(width, String::new());
        }
        if let Some(r) = replace
            && record[r.column].trim() == r.from.trim()
            && record[r.column] != r.to
        {
            record[r.column] = r.to.clone();
            changed += 1;
        }
        for ((_, column), text) in cells.range((n, 0)..=(n, usize::MAX)) {
            if record[*column] != *text {
                record[*column] = text.clone();
                changed += 1;
            }
        }
        w.write_record(&record).map_err(csv_err)?;
    }
    let bytes = w
        .into_inner()
        .map_err(|e| FileError::Unusable(format!("écriture du fichier corrigé : {e}")))?;
    Ok(Fixed { bytes, changed })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(f: &Fixed) -> String {
        String::from_utf8(f.bytes[3..].to_vec()).unwrap()
    }

    #[test]
    fn fixes_a_cell_and_replaces_a_value_everywhere() {
        let file = "uai,maintenance,nb\r\n0350017D,Maintenance ext,3\r\n0350006S,prestataire,4\r\n0350007T,Maintenance ext,x\r\n";
        let mut cells = BTreeMap::new();
        cells.insert((4, 2), "5".to_owned());
        let replace = Replace {
            column: 1,
            from: "Maintenance ext".into(),
            to: "prestataire".into(),
        };
        let f = apply(file.as_bytes(), Some("f.csv"), "x", &cells, Some(&replace)).unwrap();
        assert_eq!(f.changed, 3);
        assert_eq!(
            text(&f).replace("\r\n", "\n"),
            "uai;maintenance;nb\n0350017D;prestataire;3\n0350006S;prestataire;4\n0350007T;prestataire;5\n"
        );
    }

    #[test]
    fn keeps_only_the_rows_asked() {
        let file = "uai;nb\n0350017D;3\n0350006S;x\n0350007T;y\n";
        let keep: BTreeSet<u64> = [3, 4].into();
        let out = only_rows(file.as_bytes(), None, "x", &keep).unwrap();
        assert_eq!(
            String::from_utf8(out[3..].to_vec())
                .unwrap()
                .replace("\r\n", "\n"),
            "uai;nb\n0350006S;x\n0350007T;y\n"
        );
    }

    #[test]
    fn a_column_the_file_does_not_have_is_refused() {
        let mut cells = BTreeMap::new();
        cells.insert((2, 7), "5".to_owned());
        let e = apply(b"uai;nb\n0350017D;3\n", None, "x", &cells, None)
            .err()
            .unwrap();
        assert!(e.to_string().contains("colonne n° 8"), "{e}");
    }
}
