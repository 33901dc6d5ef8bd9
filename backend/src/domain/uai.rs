//! The UAI (Unité Administrative Immatriculée), the identifier of every school.

use std::fmt;

use serde::{Serialize, Serializer};

use super::territory::DepartementCode;

/// The check letters, indexed by the 7-digit number modulo 23 (I, O and Q are left out).
const CHECK_LETTERS: &[u8; 23] = b"ABCDEFGHJKLMNPRSTUVWXYZ";

/// A UAI whose shape and check letter have been verified.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Uai(String);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UaiError {
    #[error("le code UAI est vide")]
    Empty,
    #[error("un code UAI a 8 caractères (7 chiffres et une lettre clé), « {0} » en a {1}")]
    Length(String, usize),
    /// A character that shows as nothing (a zero-width space, a byte order mark…), often
    /// brought by a copy from a web page or a PDF: the code looks right and is not.
    #[error(
        "le code UAI « {0} » contient un caractère invisible ({1}, position {2}) : effacez le code et retapez-le"
    )]
    Invisible(String, String, usize),
    #[error("un code UAI commence par 7 chiffres, « {0} » n'en a pas")]
    Digits(String),
    #[error("un code UAI finit par une lettre clé, « {0} » n'en a pas")]
    Letter(String),
    #[error("la lettre clé de « {0} » est fausse : la lettre attendue pour {1} est {2}")]
    CheckLetter(String, String, char),
}

/// A UAI's 8 ASCII characters as one number: a key for sets and maps of many schools without
/// one allocation each. `None` for a string that is not 8 bytes long.
pub fn uai_key(uai: &str) -> Option<u64> {
    uai.as_bytes().try_into().ok().map(u64::from_be_bytes)
}

/// The UAI a [`uai_key`] stands for.
pub fn uai_of_key(key: u64) -> String {
    String::from_utf8_lossy(&key.to_be_bytes()).into_owned()
}

impl Uai {
    /// This UAI as a [`uai_key`].
    pub fn key(&self) -> u64 {
        uai_key(&self.0).unwrap_or_default()
    }

    /// Parses a UAI, tolerating surrounding spaces and a lower-case check letter.
    pub fn parse(input: &str) -> Result<Self, UaiError> {
        let s = input.trim();
        if s.is_empty() {
            return Err(UaiError::Empty);
        }
        if let Some((position, c)) = s.chars().enumerate().find(|(_, c)| is_invisible(*c)) {
            let shown: String = s.chars().filter(|c| !is_invisible(*c)).collect();
            return Err(UaiError::Invisible(
                shown,
                format!("U+{:04X}", u32::from(c)),
                position + 1,
            ));
        }
        let count = s.chars().count();
        if count != 8 {
            return Err(UaiError::Length(s.to_owned(), count));
        }
        // By characters: an accented letter is several bytes.
        let split = s.char_indices().nth(7).map_or(s.len(), |(i, _)| i);
        let (digits, letter) = s.split_at(split);
        if !digits.bytes().all(|b| b.is_ascii_digit()) {
            return Err(UaiError::Digits(s.to_owned()));
        }
        let letter = letter.as_bytes()[0].to_ascii_uppercase();
        if !letter.is_ascii_uppercase() {
            return Err(UaiError::Letter(s.to_owned()));
        }
        let expected = expected_check_letter(digits);
        if letter as char != expected {
            return Err(UaiError::CheckLetter(
                s.to_owned(),
                digits.to_owned(),
                expected,
            ));
        }
        Ok(Self(format!("{digits}{}", letter as char)))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn into_string(self) -> String {
        self.0
    }

    /// The département the UAI was registered in: its first three digits are the ministry's
    /// département code (`035…` → 35, `971…` → 971), except Corsica, numbered `620` (2A) and
    /// `720` (2B) since the ministry's codes are digits only. `None` for a prefix that names no
    /// département (national services use some).
    pub fn departement(&self) -> Option<DepartementCode> {
        match &self.0[..3] {
            "620" => DepartementCode::parse("2A").ok(),
            "720" => DepartementCode::parse("2B").ok(),
            prefix => DepartementCode::parse(prefix).ok(),
        }
    }
}

/// Characters that take no room on screen: format characters (zero-width spaces and joiners,
/// direction marks, the byte order mark) and the soft hyphen.
fn is_invisible(c: char) -> bool {
    matches!(
        c,
        '\u{00AD}'
            | '\u{180E}'
            | '\u{200B}'..='\u{200F}'
            | '\u{202A}'..='\u{202E}'
            | '\u{2060}'..='\u{2064}'
            | '\u{2066}'..='\u{2069}'
            | '\u{FEFF}'
    )
}

/// The check letter of a 7-digit UAI number. `digits` must be 7 ASCII digits.
pub fn expected_check_letter(digits: &str) -> char {
    let n: u64 = digits
        .bytes()
        .fold(0, |acc, b| acc * 10 + u64::from(b - b'0'));
    CHECK_LETTERS[(n % 23) as usize] as char
}

impl fmt::Display for Uai {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl Serialize for Uai {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_real_uais() {
        // domain.md's example `0750001A` is not a real UAI: 750001 mod 23 gives U.
        assert!(Uai::parse("0750001A").is_err());
        for uai in ["0350122T", "0940176F", "0110067N", "0350017d"] {
            assert!(Uai::parse(uai).is_ok(), "{uai}");
        }
        assert_eq!(Uai::parse(" 0350017d ").unwrap().as_str(), "0350017D");
    }

    #[test]
    fn departement_from_the_first_three_digits() {
        for (uai, dep) in [
            ("0110067N", Some("11")),
            ("0350122T", Some("35")),
            ("0940176F", Some("94")),
            ("6200001G", Some("2A")),
            ("7200009X", Some("2B")),
            ("9710001C", Some("971")),
            ("9760001J", Some("976")),
            ("0200001N", None),
            ("1000000P", None),
            ("0000001B", None),
        ] {
            let parsed = Uai::parse(&format!(
                "{}{}",
                &uai[..7],
                expected_check_letter(&uai[..7])
            ))
            .unwrap();
            assert_eq!(
                parsed.departement().as_ref().map(DepartementCode::as_str),
                dep,
                "{uai}"
            );
        }
    }

    #[test]
    fn explains_what_is_wrong() {
        // Eight characters, some of them several bytes (found by the validation proptest).
        assert!(matches!(Uai::parse("htYEW\"é-"), Err(UaiError::Digits(_))));
        assert!(matches!(Uai::parse("0350006é"), Err(UaiError::Letter(_))));
        assert_eq!(Uai::parse(""), Err(UaiError::Empty));
        assert!(matches!(Uai::parse("035012T"), Err(UaiError::Length(_, 7))));
        // Copied from a web page: it looks like a UAI of 8 characters.
        let err = Uai::parse("0350\u{200B}017D").unwrap_err();
        assert_eq!(
            err,
            UaiError::Invisible("0350017D".into(), "U+200B".into(), 5)
        );
        assert!(
            err.to_string()
                .contains("caractère invisible (U+200B, position 5)")
        );
        assert!(matches!(
            Uai::parse("\u{FEFF}0350017D"),
            Err(UaiError::Invisible(_, _, 1))
        ));
        assert!(matches!(Uai::parse("03501A2T"), Err(UaiError::Digits(_))));
        assert!(matches!(Uai::parse("03501223"), Err(UaiError::Letter(_))));
        let err = Uai::parse("0350122A").unwrap_err();
        assert_eq!(
            err,
            UaiError::CheckLetter("0350122A".into(), "0350122".into(), 'T')
        );
        assert!(
            err.to_string()
                .contains("la lettre attendue pour 0350122 est T")
        );
    }
}
