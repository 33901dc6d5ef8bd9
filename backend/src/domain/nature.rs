//! The type of a school (the catalogue's `type_etablissement`: ecole, college, lycee, erea,
//! autre) read from the ministry's "nature UAI" code or from a label.

use super::text::fold;

/// The type named by a ministry nature code, `None` when the cell is not a 3-digit code.
///
/// Codes 1xx are écoles; 340 the collège; 300 LEGT, 301 lycée technologique, 302 LEG, 306 LPO,
/// 307 LEGTA (agricultural), 310 lycée climatique, 320 LP, 334 SEP and 335 SGT (lycée
/// sections) are lycées; 370 the EREA. Every other nature (médico-social institutes, MFR,
/// schools of STS/CPGE only, administrative services…) is `autre`.
pub fn type_from_nature_code(code: &str) -> Option<&'static str> {
    let code = code.trim();
    if code.len() != 3 || !code.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    Some(match code {
        c if c.starts_with('1') => "ecole",
        "340" => "college",
        "300" | "301" | "302" | "306" | "307" | "310" | "320" | "334" | "335" => "lycee",
        "370" => "erea",
        _ => "autre",
    })
}

/// The type named by a label such as the annuaire's `Type_etablissement` (`Collège`), the
/// géolocalisation file's `Nature` (`LYCEE PROFESSIONNEL`) or ETIC's `nature_uai` (`LEGT`).
/// `None` when the label names none of the four school types.
pub fn type_from_label(label: &str) -> Option<&'static str> {
    let folded = fold(label);
    let first = folded.split_whitespace().next().unwrap_or("");
    Some(match first {
        "ecole" | "ecoles" => "ecole",
        "college" | "colleges" => "college",
        "lycee" | "lycees" | "legt" | "lgt" | "lp" | "lpo" | "leg" | "lt" => "lycee",
        "erea" => "erea",
        _ => return None,
    })
}

/// The type from a nature code and a label: a code naming one of the four school types wins,
/// then the label; a school with either cell filled but naming none of them is `autre`.
pub fn school_type(label: &str, code: &str) -> Option<&'static str> {
    let by_code = type_from_nature_code(code);
    match by_code {
        Some(t) if t != "autre" => Some(t),
        _ => type_from_label(label).or(if by_code.is_some() || !label.trim().is_empty() {
            Some("autre")
        } else {
            None
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn types_of_the_real_files() {
        // Annuaire: Type_etablissement and code_nature.
        assert_eq!(school_type("Ecole", "151"), Some("ecole"));
        assert_eq!(school_type("Collège", "340"), Some("college"));
        assert_eq!(school_type("Lycée", "334"), Some("lycee"));
        assert_eq!(school_type("EREA", "370"), Some("erea"));
        assert_eq!(school_type("Médico-social", "240"), Some("autre"));
        assert_eq!(school_type("Service Administratif", "806"), Some("autre"));
        assert_eq!(school_type("", "400"), Some("autre"));
        // Géolocalisation: Nature and Code nature.
        assert_eq!(school_type("COLLEGE", "340"), Some("college"));
        assert_eq!(school_type("LYCEE PROFESSIONNEL", ""), Some("lycee"));
        // ETIC: nature_uai and Code_nature.
        assert_eq!(school_type("LEGT", "302"), Some("lycee"));
        assert_eq!(school_type("Lycées Polyvalents", "306"), Some("lycee"));
        assert_eq!(school_type("LP", "320"), Some("lycee"));
        assert_eq!(school_type("", ""), None);
        assert_eq!(type_from_nature_code("34"), None);
    }
}
