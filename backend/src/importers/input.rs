//! Reading an uploaded file's bytes as CSV text: its encoding (UTF-8 with or without BOM,
//! UTF-16 with BOM, Windows-1252), its separator (`;`, `,` or tab, sniffed from the header
//! line), and its records with their line numbers as in the file.
//!
//! Files that are no CSV at all (binary garbage, spreadsheets, archives) and empty files are
//! refused here with a message that says what the file looks like.

use std::borrow::Cow;

use csv::StringRecord;

/// A file-level problem, already in words for the agent who uploaded the file.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct InputError(pub String);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encoding {
    Utf8,
    Utf8Bom,
    Utf16,
    Windows1252,
}

impl Encoding {
    pub fn label(self) -> &'static str {
        match self {
            Encoding::Utf8 => "UTF-8",
            Encoding::Utf8Bom => "UTF-8 avec BOM",
            Encoding::Utf16 => "UTF-16",
            Encoding::Windows1252 => "Windows-1252",
        }
    }
}

/// A decoded CSV file: its text, separator and header row.
pub struct Input<'a> {
    text: Cow<'a, str>,
    pub encoding: Encoding,
    pub separator: u8,
    pub headers: Vec<String>,
}

pub const SEPARATORS: [u8; 3] = [b';', b',', b'\t'];

pub fn separator_label(sep: u8) -> &'static str {
    match sep {
        b';' => "« ; »",
        b',' => "« , »",
        b'\t' => "tabulation",
        _ => "?",
    }
}

/// Decodes `bytes` and reads the header row.
pub fn read(bytes: &[u8]) -> Result<Input<'_>, InputError> {
    let (text, encoding) = decode(bytes)?;
    if text.trim().is_empty() {
        return Err(InputError(
            "le fichier est vide : il faut une ligne d'en-tête puis une ligne par établissement"
                .into(),
        ));
    }
    let header_line = text.lines().next().unwrap_or("");
    if header_line.trim().is_empty() {
        let blank = text.lines().take_while(|l| l.trim().is_empty()).count();
        return Err(InputError(format!(
            "la ligne 1 est vide{} : la première ligne du fichier doit porter les noms des colonnes ; supprimez les lignes vides au-dessus de l'en-tête",
            if blank > 1 {
                format!(" (comme les {} premières lignes)", blank)
            } else {
                String::new()
            }
        )));
    }
    let separator = sniff_separator(header_line).ok_or_else(|| {
        let mut msg = "séparateur non reconnu : la ligne d'en-tête (ligne 1) ne contient ni « ; », ni « , », ni tabulation".to_owned();
        if let Some(c) = likely_other_separator(header_line) {
            msg.push_str(&format!(" (elle semble séparée par « {c} »)"));
        }
        msg.push_str(" ; enregistrez le fichier en CSV séparé par des points-virgules");
        InputError(msg)
    })?;
    let mut rdr = reader(&text, separator);
    let headers: Vec<String> = rdr
        .headers()
        .map_err(|e| InputError(format!("ligne d'en-tête illisible : {e}")))?
        .iter()
        .map(|h| h.trim().to_owned())
        .collect();
    let mut probe = StringRecord::new();
    let has_data = matches!(rdr.read_record(&mut probe), Ok(true));
    if !has_data {
        return Err(InputError(
            "le fichier ne contient que la ligne d'en-tête, aucune ligne de données (fichier tronqué ?)"
                .into(),
        ));
    }
    Ok(Input {
        text,
        encoding,
        separator,
        headers,
    })
}

fn reader(text: &str, separator: u8) -> csv::Reader<&[u8]> {
    csv::ReaderBuilder::new()
        .delimiter(separator)
        .has_headers(true)
        .flexible(true)
        .from_reader(text.as_bytes())
}

impl Input<'_> {
    /// The data records, header excluded.
    pub fn records(&self) -> Records<'_> {
        let mut rdr = reader(&self.text, self.separator);
        // Already read once in `read`: cannot fail now.
        let _ = rdr.headers();
        Records {
            rdr,
            text: self.text.as_bytes(),
        }
    }

    /// Whether the text ends with a line break: a file cut short usually does not.
    pub fn ends_with_newline(&self) -> bool {
        self.text.ends_with('\n') || self.text.ends_with('\r')
    }

    pub fn len(&self) -> u64 {
        self.text.len() as u64
    }

    pub fn is_empty(&self) -> bool {
        self.text.is_empty()
    }
}

/// A streaming reader of records that reuses the caller's record buffer.
pub struct Records<'a> {
    rdr: csv::Reader<&'a [u8]>,
    text: &'a [u8],
}

impl Records<'_> {
    /// Reads the next record into `record`; returns its line number (as in the file, header
    /// = line 1), or `None` at the end of the file.
    pub fn next_into(&mut self, record: &mut StringRecord) -> Result<Option<u64>, InputError> {
        match self.rdr.read_record(record) {
            Ok(true) => Ok(Some(record.position().map_or(0, |p| {
                // The reader places a record after the previous one, before the blank lines
                // it skipped: count them to give the line the record is on.
                let start = usize::try_from(p.byte()).unwrap_or(usize::MAX);
                let skipped = self
                    .text
                    .get(start..)
                    .unwrap_or_default()
                    .iter()
                    .take_while(|b| matches!(b, b'\n' | b'\r'))
                    .filter(|&&b| b == b'\n')
                    .count();
                p.line() + skipped as u64
            }))),
            Ok(false) => Ok(None),
            Err(e) => Err(InputError(format!("lecture CSV impossible : {e}"))),
        }
    }

    /// How far the reader is, in bytes of decoded text, and the total: for progress bars.
    pub fn progress(&self) -> (u64, u64) {
        (self.rdr.position().byte(), self.text.len() as u64)
    }
}

fn decode(bytes: &[u8]) -> Result<(Cow<'_, str>, Encoding), InputError> {
    if bytes.is_empty() {
        return Err(InputError("le fichier est vide (0 octet)".into()));
    }
    if let Some(kind) = known_binary(bytes) {
        return Err(InputError(format!(
            "ce fichier n'est pas un CSV mais {kind} : ouvrez-le dans un tableur et enregistrez-le au format CSV (séparateur point-virgule, UTF-8)"
        )));
    }
    if bytes.starts_with(&[0xFF, 0xFE]) || bytes.starts_with(&[0xFE, 0xFF]) {
        let (text, _, had_errors) = encoding_rs::UTF_16LE.decode(bytes);
        if had_errors {
            return Err(InputError(
                "le fichier annonce l'encodage UTF-16 mais contient des caractères invalides"
                    .into(),
            ));
        }
        check_text(text.as_bytes())?;
        return Ok((Cow::Owned(text.into_owned()), Encoding::Utf16));
    }
    check_text(bytes)?;
    if let Some(rest) = bytes.strip_prefix(&[0xEF, 0xBB, 0xBF]) {
        return match std::str::from_utf8(rest) {
            Ok(s) => Ok((Cow::Borrowed(s), Encoding::Utf8Bom)),
            Err(e) => Err(InputError(format!(
                "le fichier commence par la marque d'un fichier UTF-8 (BOM) mais l'octet {} n'est pas de l'UTF-8 valide : réenregistrez-le en UTF-8",
                e.valid_up_to() + 4
            ))),
        };
    }
    match std::str::from_utf8(bytes) {
        Ok(s) => Ok((Cow::Borrowed(s), Encoding::Utf8)),
        // Not UTF-8: the encoding spreadsheets on Windows still write.
        Err(_) => {
            let (text, _) = encoding_rs::WINDOWS_1252.decode_without_bom_handling(bytes);
            Ok((text, Encoding::Windows1252))
        }
    }
}

fn known_binary(bytes: &[u8]) -> Option<&'static str> {
    const MAGICS: [(&[u8], &str); 5] = [
        (
            b"PK\x03\x04",
            "un classeur Excel (.xlsx), OpenDocument (.ods) ou une archive zip",
        ),
        (
            &[0xD0, 0xCF, 0x11, 0xE0],
            "un classeur Excel ancien format (.xls)",
        ),
        (&[0x1F, 0x8B], "une archive gzip"),
        (b"%PDF", "un document PDF"),
        (&[0x89, b'P', b'N', b'G'], "une image PNG"),
    ];
    MAGICS
        .iter()
        .find(|(magic, _)| bytes.starts_with(magic))
        .map(|(_, kind)| *kind)
}

/// Refuses binary content: a NUL byte, or more than 1 % of control characters other than
/// line breaks and tabs (text in any of the accepted encodings has none).
fn check_text(bytes: &[u8]) -> Result<(), InputError> {
    // `contains` on bytes is memchr: the usual case, no NUL, costs one fast scan.
    if let Some(pos) = bytes
        .contains(&0)
        .then(|| bytes.iter().position(|&b| b == 0))
        .flatten()
    {
        return Err(InputError(format!(
            "le fichier contient des données binaires (octet nul à la position {}) : ce n'est pas un fichier CSV texte",
            pos + 1
        )));
    }
    // A branch-free sum, which the compiler vectorises.
    let controls: usize = bytes
        .iter()
        .map(|&b| usize::from((b < 0x20 && b != b'\t' && b != b'\n' && b != b'\r') || b == 0x7F))
        .sum();
    if controls * 100 > bytes.len() {
        return Err(InputError(format!(
            "le fichier contient des données binaires ({controls} caractères de contrôle sur {} octets) : ce n'est pas un fichier CSV texte",
            bytes.len()
        )));
    }
    Ok(())
}

/// The most frequent candidate separator outside quotes; `;` wins a tie, then `,`.
fn sniff_separator(header_line: &str) -> Option<u8> {
    let mut counts = [0usize; 3];
    let mut quoted = false;
    for b in header_line.bytes() {
        if b == b'"' {
            quoted = !quoted;
        } else if !quoted && let Some(i) = SEPARATORS.iter().position(|&s| s == b) {
            counts[i] += 1;
        }
    }
    let (best, &count) = counts
        .iter()
        .enumerate()
        .max_by(|a, b| a.1.cmp(b.1).then(b.0.cmp(&a.0)))?;
    (count > 0).then_some(SEPARATORS[best])
}

fn likely_other_separator(header_line: &str) -> Option<char> {
    ['|', ':', '^', '#', '~']
        .into_iter()
        .map(|c| (c, header_line.matches(c).count()))
        .filter(|&(_, n)| n >= 2)
        .max_by_key(|&(_, n)| n)
        .map(|(c, _)| c)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rows(input: &Input<'_>) -> Vec<(u64, Vec<String>)> {
        let mut out = Vec::new();
        let mut rec = StringRecord::new();
        let mut records = input.records();
        while let Some(line) = records.next_into(&mut rec).unwrap() {
            out.push((line, rec.iter().map(str::to_owned).collect()));
        }
        out
    }

    #[test]
    fn utf8_with_bom_and_semicolons() {
        let input = read("\u{feff}UAI;Nom\n0350122T;École\n".as_bytes()).unwrap();
        assert_eq!(input.encoding, Encoding::Utf8Bom);
        assert_eq!(input.separator, b';');
        assert_eq!(input.headers, ["UAI", "Nom"]);
        assert_eq!(rows(&input), [(2, vec!["0350122T".into(), "École".into()])]);
    }

    #[test]
    fn windows_1252_is_decoded() {
        let bytes = b"UAI,Nom\r\n0350122T,Coll\xe8ge \x9cuvre\r\n";
        let input = read(bytes).unwrap();
        assert_eq!(input.encoding, Encoding::Windows1252);
        assert_eq!(input.separator, b',');
        assert_eq!(rows(&input)[0].1[1], "Collège œuvre");
    }

    #[test]
    fn utf16_with_bom_as_excel_writes_it() {
        let mut bytes = vec![0xFF, 0xFE];
        for unit in "UAI\tNom\r\n0350122T\tÉcole\r\n".encode_utf16() {
            bytes.extend_from_slice(&unit.to_le_bytes());
        }
        let input = read(&bytes).unwrap();
        assert_eq!(input.encoding, Encoding::Utf16);
        assert_eq!(input.separator, b'\t');
        assert_eq!(rows(&input)[0].1, ["0350122T", "École"]);
    }

    #[test]
    fn line_numbers_follow_the_file_across_multiline_cells() {
        let input = read(b"a\tb\n1\t\"x\ny\"\n\n2\tz\n").unwrap();
        assert_eq!(input.separator, b'\t');
        let r = rows(&input);
        assert_eq!(r[0].0, 2);
        assert_eq!(r[1].0, 5);
        assert_eq!(r[1].1, ["2", "z"]);
    }

    #[test]
    fn refuses_what_is_no_csv() {
        let err = |b: &[u8]| read(b).err().map(|e| e.0).unwrap_or_default();
        assert!(err(b"").contains("vide"));
        assert!(err(b"\xef\xbb\xbf \n").contains("vide"));
        assert!(err(b"a;b\n").contains("que la ligne d'en-t"));
        assert!(err(b"a|b|c\n1|2|3\n").contains("semble séparée par « | »"));
        assert!(err(b"PK\x03\x04rest").contains("Excel"));
        assert!(err(b"a;b\n\x00\x01").contains("octet nul à la position 5"));
        assert!(err(b"a;b\n\x01\x02\x03;x\n").contains("caractères de contrôle"));
        assert!(err(b"\xef\xbb\xbfa;b\n\xe8;1\n").contains("BOM"));
    }
}
