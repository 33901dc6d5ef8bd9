//! The report's forms for people: plain text (the CLI), an HTML page, and the agent's own
//! file annotated with a status and the messages of each row (CSV and XLSX), to fix and
//! upload again.

use std::fmt::Write as _;

use ecarto_contrib_schemas::Schema;

use super::FileError;
use super::report::{Finding, Report, Severity};
use super::table::{Format, Table};

/// Columns appended to the annotated file.
pub const STATUS_HEADER: &str = "validation_statut";
pub const MESSAGES_HEADER: &str = "validation_messages";

fn plural(n: u64, one: &str, many: &str) -> String {
    format!("{n} {}", if n > 1 { many } else { one })
}

/// The one-paragraph verdict.
pub fn summary(report: &Report) -> String {
    let s = &report.stats;
    let verdict = if report.valid {
        "Le fichier est valide".to_owned()
    } else if s.valid_rows > 0 {
        format!(
            "Le fichier contient des erreurs ; {} peuvent déjà être retenues",
            plural(s.valid_rows, "ligne valide", "lignes valides")
        )
    } else {
        "Le fichier contient des erreurs ; aucune ligne n'est valide".to_owned()
    };
    format!(
        "{verdict} ({} : {} lue(s), {} valide(s), {} à corriger ; {}, {}).",
        report.schema,
        s.rows,
        s.valid_rows,
        s.invalid_rows,
        plural(s.errors, "erreur", "erreurs"),
        plural(s.warnings, "avertissement", "avertissements"),
    )
}

fn format_label(f: &Format) -> String {
    match f {
        Format::Csv {
            encoding,
            separator,
        } => format!("CSV, {encoding}, séparateur {separator}"),
        Format::Xlsx { sheet } => format!("classeur XLSX, feuille « {sheet} »"),
        Format::Json => "JSON".into(),
    }
}

pub fn text(report: &Report) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "{}", summary(report));
    let _ = writeln!(out, "Fichier lu comme : {}.", format_label(&report.format));
    if !report.schools_checked {
        let _ = writeln!(
            out,
            "Établissements non vérifiés dans l'annuaire (validation hors ligne)."
        );
    }
    if let Some(m) = &report.mass_change {
        let _ = writeln!(
            out,
            "ATTENTION : le fichier modifierait {:.0} % des valeurs publiées qu'il touche ({} modifiée(s), {} effacée(s) sur {}) ; au-delà de {:.0} %, un modérateur vérifiera l'envoi.",
            m.share * 100.0,
            m.changed,
            m.blanked,
            m.compared,
            m.threshold * 100.0
        );
    }
    let mut findings: Vec<&Finding> = report.errors.iter().chain(&report.warnings).collect();
    findings.sort_by_key(|f| (f.row.unwrap_or(0), f.field_number.unwrap_or(0), f.severity));
    for f in findings {
        let tag = match f.severity {
            Severity::Error => "ERREUR",
            Severity::Warning => "avertissement",
        };
        let _ = writeln!(out, "{tag} [{}] {}", f.rule, f.message);
    }
    if !report.by_rule.is_empty() {
        let _ = writeln!(out, "Par règle :");
        for (rule, c) in &report.by_rule {
            let _ = writeln!(
                out,
                "  {rule} : {} erreur(s), {} avertissement(s)",
                c.errors, c.warnings
            );
        }
        let _ = writeln!(out, "Par colonne :");
        for (col, c) in &report.by_column {
            let _ = writeln!(
                out,
                "  {col} : {} erreur(s), {} avertissement(s)",
                c.errors, c.warnings
            );
        }
    }
    out
}

pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for ch in s.chars() {
        match ch {
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

pub const PAGE_STYLE: &str = "body{font-family:system-ui,sans-serif;max-width:72rem;margin:1rem auto;padding:0 1rem;color:#161616}\
h1{font-size:1.5rem}h2{font-size:1.2rem;margin-top:2rem}table{border-collapse:collapse;margin:.5rem 0}\
td,th{border:1px solid #ccc;padding:.2rem .5rem;text-align:left;vertical-align:top}\
.ok{color:#18753c}.ko{color:#ce0500}.warn{color:#b34000}td.bad{background:#fee9e9}td.warned{background:#fff4e5}\
.row{margin:1rem 0;padding:.5rem;border-left:4px solid #ce0500}.row.w{border-left-color:#b34000}code{background:#f6f6f6}";

/// The report as a page of its own (the CLI's `--format html`).
pub fn html(report: &Report) -> String {
    format!(
        "<!doctype html><html lang=\"fr\"><head><meta charset=\"utf-8\"><title>Rapport de validation – {}</title><style>{PAGE_STYLE}</style></head><body><h1>{}</h1>{}</body></html>\n",
        escape(&report.schema),
        escape(&html_title(report)),
        html_body(report)
    )
}

/// The report's heading, not escaped.
pub fn html_title(report: &Report) -> String {
    format!(
        "Rapport de validation{}",
        report
            .file
            .as_deref()
            .map(|f| format!(" de « {f} »"))
            .unwrap_or_default()
    )
}

/// The report below its heading, for a page of the common layout or of its own.
pub fn html_body(report: &Report) -> String {
    let mut o = String::new();
    let _ = write!(
        o,
        "<p class=\"{}\"><strong>{}</strong></p><p>Schéma <code>{}</code> ; fichier lu comme : {}.{}</p>",
        if report.valid { "ok" } else { "ko" },
        escape(&summary(report)),
        escape(&report.schema),
        escape(&format_label(&report.format)),
        if report.schools_checked {
            " Les établissements ont été vérifiés dans l'annuaire."
        } else {
            " Les établissements n'ont pas été vérifiés dans l'annuaire."
        },
    );
    if let Some(m) = &report.mass_change {
        let _ = write!(
            o,
            "<p class=\"warn\"><strong>Changement massif :</strong> le fichier modifierait {:.0} % des valeurs publiées qu'il touche ({} modifiée(s), {} effacée(s) sur {}). Au-delà de {:.0} %, un modérateur vérifiera l'envoi avant publication.</p>",
            m.share * 100.0,
            m.changed,
            m.blanked,
            m.compared,
            m.threshold * 100.0
        );
    }
    let file_level: Vec<&Finding> = report.file_findings().collect();
    if !file_level.is_empty() {
        o.push_str("<h2>Problèmes d'ensemble du fichier</h2><ul>");
        for f in file_level {
            let _ = write!(
                o,
                "<li class=\"{}\">{}</li>",
                class(f.severity),
                escape(&f.message)
            );
        }
        o.push_str("</ul>");
    }
    if !report.by_rule.is_empty() {
        o.push_str("<h2>Résumé</h2>");
        counts_table(&mut o, "Règle", &report.by_rule, true);
        counts_table(&mut o, "Colonne", &report.by_column, false);
    }
    if !report.rows.is_empty() {
        let _ = write!(o, "<h2>Lignes à revoir ({})</h2>", report.rows.len());
    }
    for (row, cells) in &report.rows {
        let findings: Vec<&Finding> = report.findings_of(*row).collect();
        let errors = findings.iter().any(|f| f.severity == Severity::Error);
        let _ = write!(
            o,
            "<div class=\"row{}\" id=\"ligne-{row}\"><h3>{} {row} – {}</h3><ul>",
            if errors { "" } else { " w" },
            super::capitalised(report.format.row_word()),
            if errors {
                "à corriger"
            } else {
                "valide, avec avertissement"
            }
        );
        for f in &findings {
            let _ = write!(
                o,
                "<li class=\"{}\">{}{}</li>",
                class(f.severity),
                f.header
                    .as_deref()
                    .map(|h| format!("<strong>{}</strong> : ", escape(h)))
                    .unwrap_or_default(),
                escape(&f.note)
            );
        }
        let _ = write!(
            o,
            "</ul><div class=\"table-wrap\" tabindex=\"0\" role=\"region\" aria-label=\"Contenu de la {} {row}\"><table><caption>Contenu de la {} {row}</caption><tr>",
            report.format.row_word(),
            report.format.row_word()
        );
        for m in &report.columns {
            let _ = write!(o, "<th scope=\"col\">{}</th>", escape(&m.header));
        }
        o.push_str("</tr><tr>");
        for (i, cell) in cells.iter().enumerate() {
            let class = findings
                .iter()
                .filter(|f| f.field_number == Some(i + 1))
                .map(|f| f.severity)
                .min()
                .map(|s| {
                    if s == Severity::Error {
                        " class=\"bad\""
                    } else {
                        " class=\"warned\""
                    }
                })
                .unwrap_or("");
            let _ = write!(o, "<td{class}>{}</td>", escape(cell));
        }
        o.push_str("</tr></table></div></div>");
    }
    o
}

/// The CSS class of a finding's severity.
fn class(s: Severity) -> &'static str {
    match s {
        Severity::Error => "ko",
        Severity::Warning => "warn",
    }
}

/// A table of error and warning counts, by rule or by column.
fn counts_table(
    o: &mut String,
    heading: &str,
    counts: &std::collections::BTreeMap<String, super::report::RuleCount>,
    code: bool,
) {
    let _ = write!(
        o,
        "<div class=\"table-wrap\"><table><caption>Par {}</caption><tr><th scope=\"col\">{heading}</th><th scope=\"col\">Erreurs</th><th scope=\"col\">Avertissements</th></tr>",
        heading.to_lowercase()
    );
    for (name, c) in counts {
        let name = if code {
            format!("<code>{}</code>", escape(name))
        } else {
            escape(name)
        };
        let _ = write!(
            o,
            "<tr><th scope=\"row\">{name}</th><td>{}</td><td>{}</td></tr>",
            c.errors, c.warnings
        );
    }
    o.push_str("</table></div>");
}

fn row_status(report: &Report, row: u64) -> (&'static str, String) {
    let messages: Vec<String> = report
        .findings_of(row)
        .map(|f| match &f.header {
            Some(h) => format!("{h} : {}", f.note),
            None => f.note.clone(),
        })
        .collect();
    let status = if !report.row_is_valid(row) {
        "a_corriger"
    } else if messages.is_empty() {
        "valide"
    } else {
        "valide_avec_avertissement"
    };
    (status, messages.join(" | "))
}

/// The agent's file as CSV (UTF-8 with BOM, so spreadsheets read the accents; the file's
/// own separator), with two columns added: the row's status and its messages.
pub fn annotated_csv(
    schema: &Schema,
    report: &Report,
    bytes: &[u8],
    file_name: Option<&str>,
) -> Result<Vec<u8>, FileError> {
    let table = Table::read(bytes, file_name, &schema.name)?;
    let separator = match &table.format {
        Format::Csv { separator, .. } if separator.contains(',') => b',',
        Format::Csv { separator, .. } if separator.contains("tab") => b'\t',
        _ => b';',
    };
    let mut w = csv::WriterBuilder::new()
        .delimiter(separator)
        .flexible(true)
        .from_writer(b"\xEF\xBB\xBF".to_vec());
    let csv_err = |e: csv::Error| FileError::Unusable(format!("écriture du fichier annoté : {e}"));
    let mut header = table.headers.clone();
    header.push(STATUS_HEADER.into());
    header.push(MESSAGES_HEADER.into());
    w.write_record(&header).map_err(csv_err)?;
    let mut rows = table.rows();
    let mut cells = Vec::new();
    while let Some(n) = rows.next_into(&mut cells)? {
        let (status, messages) = row_status(report, n);
        cells.resize(table.headers.len().max(cells.len()), String::new());
        cells.push(status.into());
        cells.push(messages);
        w.write_record(&cells).map_err(csv_err)?;
    }
    w.into_inner()
        .map_err(|e| FileError::Unusable(format!("écriture du fichier annoté : {e}")))
}

/// The agent's file as an XLSX workbook: their columns, the status and messages added, each
/// faulty cell coloured and carrying its message as a note.
pub fn annotated_xlsx(
    schema: &Schema,
    report: &Report,
    bytes: &[u8],
    file_name: Option<&str>,
) -> Result<Vec<u8>, FileError> {
    use rust_xlsxwriter::{Color, Format as XFormat, Note, Workbook};
    let table = Table::read(bytes, file_name, &schema.name)?;
    let x = |e: rust_xlsxwriter::XlsxError| {
        FileError::Unusable(format!("écriture du classeur annoté : {e}"))
    };
    let mut book = Workbook::new();
    let sheet = book.add_worksheet();
    sheet.set_name(sheet_name(&schema.name)).map_err(x)?;
    let bold = XFormat::new().set_bold();
    let bad = XFormat::new().set_background_color(Color::RGB(0xFEE9E9));
    let warned = XFormat::new().set_background_color(Color::RGB(0xFFF4E5));
    let width = table.headers.len();
    for (i, h) in table.headers.iter().enumerate() {
        sheet
            .write_string_with_format(0, col(i), h, &bold)
            .map_err(x)?;
    }
    sheet
        .write_string_with_format(0, col(width), STATUS_HEADER, &bold)
        .map_err(x)?;
    sheet
        .write_string_with_format(0, col(width + 1), MESSAGES_HEADER, &bold)
        .map_err(x)?;
    let mut rows = table.rows();
    let mut cells = Vec::new();
    let mut out_row: u32 = 0;
    while let Some(n) = rows.next_into(&mut cells)? {
        out_row += 1;
        let findings: Vec<&Finding> = report.findings_of(n).collect();
        for (i, cell) in cells.iter().enumerate().take(width.max(cells.len())) {
            let worst = findings
                .iter()
                .filter(|f| f.field_number == Some(i + 1))
                .map(|f| f.severity)
                .min();
            match worst {
                Some(s) => {
                    let fmt = if s == Severity::Error { &bad } else { &warned };
                    sheet
                        .write_string_with_format(out_row, col(i), cell, fmt)
                        .map_err(x)?;
                    let text: Vec<&str> = findings
                        .iter()
                        .filter(|f| f.field_number == Some(i + 1))
                        .map(|f| f.note.as_str())
                        .collect();
                    let note = Note::new(text.join("\n")).set_author("eCarto");
                    sheet.insert_note(out_row, col(i), &note).map_err(x)?;
                }
                None if !cell.is_empty() => {
                    sheet.write_string(out_row, col(i), cell).map_err(x)?;
                }
                None => {}
            }
        }
        let (status, messages) = row_status(report, n);
        sheet.write_string(out_row, col(width), status).map_err(x)?;
        if !messages.is_empty() {
            sheet
                .write_string(out_row, col(width + 1), &messages)
                .map_err(x)?;
        }
    }
    book.save_to_buffer().map_err(x)
}

fn col(i: usize) -> u16 {
    u16::try_from(i).unwrap_or(u16::MAX)
}

/// Sheet names are at most 31 characters.
fn sheet_name(name: &str) -> String {
    name.chars().take(31).collect()
}

/// A schema's template as an XLSX workbook: its columns in bold, each with its description
/// as a note, a drop-down list on the coded columns, then either an example row or one row
/// per UAI given (a pre-filled template, the rest to complete).
pub fn template_xlsx(schema: &Schema, uais: &[String]) -> Result<Vec<u8>, FileError> {
    use rust_xlsxwriter::{DataValidation, Format as XFormat, Note, Workbook};
    let x =
        |e: rust_xlsxwriter::XlsxError| FileError::Unusable(format!("écriture du modèle : {e}"));
    let mut book = Workbook::new();
    let sheet = book.add_worksheet();
    sheet.set_name(sheet_name(&schema.name)).map_err(x)?;
    let bold = XFormat::new().set_bold();
    let rows = u32::try_from(uais.len()).unwrap_or(u32::MAX).max(1000);
    for (i, c) in schema.columns.iter().enumerate() {
        sheet
            .write_string_with_format(0, col(i), &c.name, &bold)
            .map_err(x)?;
        let mut text = format!("{} : {}", c.title, c.description);
        if c.required {
            text.push_str(" (obligatoire)");
        }
        sheet
            .insert_note(0, col(i), &Note::new(text).set_author("eCarto"))
            .map_err(x)?;
        sheet
            .set_column_width(col(i), (c.name.chars().count() + 4).max(12) as f64)
            .map_err(x)?;
        // Excel limits a list written in the rule to 255 characters; longer ones stay free.
        if !c.allowed.is_empty()
            && let Ok(list) = DataValidation::new().allow_list_strings(&c.allowed)
        {
            let list = list
                .set_error_title("Valeur non prévue")
                .map_err(x)?
                .set_error_message(format!("Valeurs possibles : {}", c.allowed.join(", ")))
                .map_err(x)?;
            sheet
                .add_data_validation(1, col(i), rows, col(i), &list)
                .map_err(x)?;
        }
    }
    if uais.is_empty() {
        for (i, c) in schema.columns.iter().enumerate() {
            if let Some(e) = c.examples.first() {
                sheet
                    .write_string(1, col(i), ecarto_contrib_schemas::show(e))
                    .map_err(x)?;
            }
        }
    } else {
        let at = schema.columns.iter().position(|c| c.uai).unwrap_or(0);
        for (r, uai) in uais.iter().enumerate() {
            let r = u32::try_from(r + 1).unwrap_or(u32::MAX);
            sheet.write_string(r, col(at), uai).map_err(x)?;
        }
    }
    book.save_to_buffer().map_err(x)
}
