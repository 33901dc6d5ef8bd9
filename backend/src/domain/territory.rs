//! Territory codes and levels. The ministry writes département codes on 3 characters (`035`,
//! `02A`, `971`) where INSEE writes `35`, `2A`, `971`: both are accepted as input, the INSEE form
//! is stored.

use std::fmt;

use serde::Serialize;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CodeError {
    #[error(
        "« {0} » n'est pas un code de département (INSEE `35`, `2A`, `971` ou ministère `035`, `02A`)"
    )]
    Departement(String),
    #[error("« {0} » n'est pas un code de commune INSEE (5 caractères, ex. `35238`, `2A004`)")]
    Commune(String),
    #[error("« {0} » n'est pas un code d'académie (code du ministère sur 2 chiffres, ex. `14`)")]
    Academie(String),
    #[error("« {0} » n'est pas un code de région INSEE (ex. `53`, `975`)")]
    Region(String),
    #[error("« {0} » n'est pas un SIREN (9 chiffres)")]
    Siren(String),
    #[error(
        "« {0} » n'est pas un niveau de territoire (national, region, academie, departement, commune, epci)"
    )]
    Level(String),
}

macro_rules! code_type {
    ($name:ident) => {
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
        #[serde(transparent)]
        pub struct $name(String);

        impl $name {
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }
    };
}

code_type!(DepartementCode);
code_type!(CommuneCode);
code_type!(AcademieCode);
code_type!(RegionCode);
code_type!(Siren);

fn all_digits(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit())
}

impl DepartementCode {
    pub fn parse(input: &str) -> Result<Self, CodeError> {
        let s = input.trim().to_ascii_uppercase();
        let bad = || CodeError::Departement(input.trim().to_owned());
        // The ministry's 3-character form of metropolitan codes: a leading zero.
        let core = match s.len() {
            3 if s.starts_with('0') => &s[1..],
            1 if all_digits(&s) => return Self::parse(&format!("0{s}")),
            _ => s.as_str(),
        };
        let ok = match core.len() {
            2 if core == "2A" || core == "2B" => true,
            2 if all_digits(core) => {
                let n: u32 = core.parse().map_err(|_| bad())?;
                (1..=95).contains(&n) && n != 20
            }
            3 if all_digits(core) => core.starts_with("97") || core.starts_with("98"),
            _ => false,
        };
        if ok {
            Ok(Self(core.to_owned()))
        } else {
            Err(bad())
        }
    }

    /// The ministry's 3-character code (`035`, `02A`, `971`).
    pub fn ministry_code(&self) -> String {
        if self.0.len() == 2 {
            format!("0{}", self.0)
        } else {
            self.0.clone()
        }
    }
}

impl CommuneCode {
    pub fn parse(input: &str) -> Result<Self, CodeError> {
        let s = input.trim().to_ascii_uppercase();
        let ok = s.len() == 5
            && (all_digits(&s)
                || ((s.starts_with("2A") || s.starts_with("2B")) && all_digits(&s[2..])));
        if ok {
            Ok(Self(s))
        } else {
            Err(CodeError::Commune(input.trim().to_owned()))
        }
    }

    /// The département a commune code belongs to (`97411` → `974`, `2A004` → `2A`).
    pub fn departement(&self) -> DepartementCode {
        if self.0.starts_with("97") || self.0.starts_with("98") {
            DepartementCode(self.0[..3].to_owned())
        } else {
            DepartementCode(self.0[..2].to_owned())
        }
    }
}

impl AcademieCode {
    pub fn parse(input: &str) -> Result<Self, CodeError> {
        let s = input.trim();
        if all_digits(s) && s.len() <= 2 {
            Ok(Self(format!("{s:0>2}")))
        } else if s.len() == 3 && s.starts_with('0') && all_digits(s) {
            Ok(Self(s[1..].to_owned()))
        } else {
            Err(CodeError::Academie(s.to_owned()))
        }
    }
}

impl RegionCode {
    pub fn parse(input: &str) -> Result<Self, CodeError> {
        let s = input.trim();
        if all_digits(s) && (s.len() == 2 || s.len() == 3) {
            Ok(Self(s.to_owned()))
        } else if all_digits(s) && s.len() == 1 {
            Ok(Self(format!("0{s}")))
        } else {
            Err(CodeError::Region(s.to_owned()))
        }
    }
}

impl Siren {
    pub fn parse(input: &str) -> Result<Self, CodeError> {
        let s: String = input.chars().filter(|c| !c.is_whitespace()).collect();
        if s.len() == 9 && all_digits(&s) {
            Ok(Self(s))
        } else {
            Err(CodeError::Siren(input.trim().to_owned()))
        }
    }
}

/// The levels of the territory hierarchy every screen and score uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Level {
    National,
    Region,
    Academie,
    Departement,
    Commune,
    Epci,
}

impl Level {
    pub fn parse(s: &str) -> Result<Self, CodeError> {
        Ok(match s {
            "national" => Self::National,
            "region" => Self::Region,
            "academie" => Self::Academie,
            "departement" => Self::Departement,
            "commune" => Self::Commune,
            "epci" => Self::Epci,
            other => return Err(CodeError::Level(other.to_owned())),
        })
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::National => "national",
            Self::Region => "region",
            Self::Academie => "academie",
            Self::Departement => "departement",
            Self::Commune => "commune",
            Self::Epci => "epci",
        }
    }

    /// Reads a territory code of this level into its canonical form.
    pub fn normalize_code(self, code: &str) -> Result<String, CodeError> {
        Ok(match self {
            Self::National => "FR".to_owned(),
            Self::Region => RegionCode::parse(code)?.0,
            Self::Academie => AcademieCode::parse(code)?.0,
            Self::Departement => DepartementCode::parse(code)?.0,
            Self::Commune => CommuneCode::parse(code)?.0,
            Self::Epci => Siren::parse(code)?.0,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn departement_codes_in_both_forms() {
        for (input, insee) in [
            ("035", "35"),
            ("35", "35"),
            ("02A", "2A"),
            ("2a", "2A"),
            ("971", "971"),
            ("976", "976"),
            ("1", "01"),
        ] {
            assert_eq!(
                DepartementCode::parse(input).unwrap().as_str(),
                insee,
                "{input}"
            );
        }
        for bad in ["20", "00", "96", "035x", "", "2C", "123"] {
            assert!(DepartementCode::parse(bad).is_err(), "{bad}");
        }
        assert_eq!(DepartementCode::parse("2A").unwrap().ministry_code(), "02A");
        assert_eq!(
            DepartementCode::parse("974").unwrap().ministry_code(),
            "974"
        );
    }

    #[test]
    fn commune_codes() {
        assert_eq!(
            CommuneCode::parse("97411").unwrap().departement().as_str(),
            "974"
        );
        assert_eq!(
            CommuneCode::parse("2a004").unwrap().departement().as_str(),
            "2A"
        );
        assert!(CommuneCode::parse("3523").is_err());
        assert_eq!(AcademieCode::parse("014").unwrap().as_str(), "14");
        assert_eq!(AcademieCode::parse("2").unwrap().as_str(), "02");
    }
}
