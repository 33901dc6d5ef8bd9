//! Text folding for searches and header matching: case, accents, spaces and punctuation.

/// Lower-cases and strips the accents of Latin letters used in French (and a few more),
/// so that « Lycée Émile-Zola » and « lycee emile zola » compare equal.
pub fn fold(input: &str) -> String {
    let mut out = String::with_capacity(input.len());
    for c in input.chars() {
        match c {
            'à' | 'á' | 'â' | 'ã' | 'ä' | 'å' | 'À' | 'Á' | 'Â' | 'Ã' | 'Ä' | 'Å' => {
                out.push('a')
            }
            'ç' | 'Ç' => out.push('c'),
            'è' | 'é' | 'ê' | 'ë' | 'È' | 'É' | 'Ê' | 'Ë' => out.push('e'),
            'ì' | 'í' | 'î' | 'ï' | 'Ì' | 'Í' | 'Î' | 'Ï' => out.push('i'),
            'ñ' | 'Ñ' => out.push('n'),
            'ò' | 'ó' | 'ô' | 'õ' | 'ö' | 'Ò' | 'Ó' | 'Ô' | 'Õ' | 'Ö' => out.push('o'),
            'ù' | 'ú' | 'û' | 'ü' | 'Ù' | 'Ú' | 'Û' | 'Ü' => out.push('u'),
            'ý' | 'ÿ' | 'Ý' | 'Ÿ' => out.push('y'),
            'œ' | 'Œ' => out.push_str("oe"),
            'æ' | 'Æ' => out.push_str("ae"),
            '’' | '\'' | '-' | '_' => out.push(' '),
            c => out.extend(c.to_lowercase()),
        }
    }
    out
}

/// Folds and keeps only letters and digits: the key used to match column headers whatever
/// case, accents, spaces or underscores the exporting tool used.
pub fn header_key(input: &str) -> String {
    fold(input)
        .chars()
        .filter(|c| c.is_alphanumeric())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folds_french_names() {
        assert_eq!(fold("Lycée Émile-Zola"), "lycee emile zola");
        assert_eq!(fold("CŒUR"), "coeur");
        assert_eq!(
            header_key("Code établissement"),
            header_key("code_etablissement")
        );
    }
}
