//! Who may contribute for which school: roles, and organisations' competence as data
//! (school types × secteur × territory), with the reason of every answer. No I/O: the
//! service loads the facts, this module decides.

use std::{collections::BTreeSet, fmt, str::FromStr};

use chrono::{DateTime, Utc};
use serde::Serialize;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Role {
    /// Any signed-in person: may file `signalement`s on any school.
    BetaTester,
    /// A member of an organisation: may submit datasets within its competence.
    Contributor,
    /// Reviews submissions for the territories assigned to them.
    Moderator,
    Admin,
}

impl Role {
    pub const ALL: [Role; 4] = [
        Role::BetaTester,
        Role::Contributor,
        Role::Moderator,
        Role::Admin,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Role::BetaTester => "beta-tester",
            Role::Contributor => "contributor",
            Role::Moderator => "moderator",
            Role::Admin => "admin",
        }
    }
}

impl FromStr for Role {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        Role::ALL
            .into_iter()
            .find(|r| r.as_str() == s)
            .ok_or_else(|| {
                format!(
                    "rôle inconnu « {s} » : attendu beta-tester, contributor, moderator ou admin"
                )
            })
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The territory levels a competence or a moderator assignment can name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Level {
    National,
    Region,
    Academie,
    Departement,
    Epci,
    Commune,
}

impl Level {
    pub fn as_str(self) -> &'static str {
        match self {
            Level::National => "national",
            Level::Region => "region",
            Level::Academie => "academie",
            Level::Departement => "departement",
            Level::Epci => "epci",
            Level::Commune => "commune",
        }
    }
}

impl FromStr for Level {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        Ok(match s {
            "national" => Level::National,
            "region" => Level::Region,
            "academie" => Level::Academie,
            "departement" => Level::Departement,
            "epci" => Level::Epci,
            "commune" => Level::Commune,
            _ => {
                return Err(format!(
                    "niveau de territoire inconnu « {s} » : attendu national, region, academie, \
                     departement, epci ou commune"
                ));
            }
        })
    }
}

/// A territory named by level and code, written `departement:34` (and `national` alone).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub struct TerritoryRef {
    pub level: Level,
    pub code: String,
}

impl TerritoryRef {
    pub fn new(level: Level, code: impl Into<String>) -> Self {
        Self {
            level,
            code: code.into(),
        }
    }
}

impl FromStr for TerritoryRef {
    type Err = String;
    /// Accepts the ministry's département codes (`034`, `02A`) as INSEE's (`34`, `2A`).
    fn from_str(s: &str) -> Result<Self, String> {
        let (level, code) = s.split_once(':').unwrap_or((s, ""));
        let level: Level = level.trim().parse()?;
        let code = code.trim();
        if level == Level::National {
            return Ok(Self::new(level, ""));
        }
        if code.is_empty() {
            return Err(format!(
                "territoire « {s} » : attendu NIVEAU:CODE, par exemple departement:34"
            ));
        }
        let code = match level {
            Level::Departement => crate::domain::territory::DepartementCode::parse(code)
                .map(|c| c.as_str().to_owned())
                .map_err(|e| format!("territoire « {s} » : {e}"))?,
            _ => code.to_owned(),
        };
        Ok(Self::new(level, code))
    }
}

impl fmt::Display for TerritoryRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.level == Level::National {
            f.write_str("national")
        } else {
            write!(f, "{}:{}", self.level.as_str(), self.code)
        }
    }
}

/// What the decision needs to know of a school, read from the published dataset and the
/// territory reference.
#[derive(Debug, Clone, Default)]
pub struct SchoolFacts {
    pub uai: String,
    pub name: String,
    pub type_etablissement: Option<String>,
    pub secteur: Option<String>,
    pub commune: Option<String>,
    /// The commune a municipal arrondissement belongs to (Paris, Lyon, Marseille).
    pub commune_parent: Option<String>,
    pub commune_name: Option<String>,
    pub epci: Option<String>,
    pub departement: Option<String>,
    pub academie: Option<String>,
    pub region: Option<String>,
}

impl SchoolFacts {
    pub fn is_in(&self, t: &TerritoryRef) -> bool {
        let eq = |v: &Option<String>| v.as_deref() == Some(t.code.as_str());
        match t.level {
            Level::National => true,
            Level::Region => eq(&self.region),
            Level::Academie => eq(&self.academie),
            Level::Departement => eq(&self.departement),
            Level::Epci => eq(&self.epci),
            Level::Commune => eq(&self.commune) || eq(&self.commune_parent),
        }
    }

    fn label(&self) -> String {
        let mut s = self.uai.clone();
        if !self.name.is_empty() {
            s.push_str(&format!(" ({}", self.name));
            if let Some(c) = &self.commune_name {
                s.push_str(&format!(", {c}"));
            }
            s.push(')');
        }
        s
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Effect {
    Grant,
    /// Cancels the general rule on part of a territory (Rhône / Métropole de Lyon).
    Exclude,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Origin {
    /// Seeded from the general rule of the reference.
    Rule,
    /// Added by an admin.
    Override,
    /// Granted by another organisation over some of its schools.
    Delegation,
}

/// One line of an organisation's competence.
#[derive(Debug, Clone, Serialize)]
pub struct CompetenceLine {
    pub id: i64,
    pub effect: Effect,
    /// `ecole`, `college`, `lycee`, `erea`, `autre` (the catalogue's `type_etablissement`).
    pub school_types: Vec<String>,
    /// `public`, `prive`, or every secteur when absent.
    pub secteur: Option<String>,
    pub territory: TerritoryRef,
    pub origin: Origin,
    /// The delegating organisation's name, for a delegation.
    pub delegated_by: Option<String>,
    pub valid_from: Option<DateTime<Utc>>,
    pub valid_until: Option<DateTime<Utc>>,
    pub reason: String,
}

impl CompetenceLine {
    fn is_active(&self, now: DateTime<Utc>) -> bool {
        self.valid_from.is_none_or(|f| f <= now) && self.valid_until.is_none_or(|u| now < u)
    }

    fn covers_type(&self, school: &SchoolFacts) -> bool {
        school
            .type_etablissement
            .as_ref()
            .is_some_and(|t| self.school_types.iter().any(|s| s == t))
    }

    fn covers_secteur(&self, school: &SchoolFacts) -> bool {
        match &self.secteur {
            None => true,
            Some(s) => school.secteur.as_ref() == Some(s),
        }
    }

    fn matches(&self, school: &SchoolFacts) -> bool {
        self.covers_type(school) && self.covers_secteur(school) && school.is_in(&self.territory)
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct OrganisationSummary {
    pub id: i64,
    pub name: String,
    pub kind: String,
    pub siren: Option<String>,
}

/// The signed-in person as the decision sees them.
#[derive(Debug, Clone)]
pub struct Actor {
    pub user_id: i64,
    pub roles: BTreeSet<Role>,
    pub organisation: Option<OrganisationSummary>,
    /// The competence of their organisation (empty without one).
    pub competence: Vec<CompetenceLine>,
    pub moderated_territories: Vec<TerritoryRef>,
}

impl Actor {
    pub fn has(&self, role: Role) -> bool {
        self.roles.contains(&role)
    }
}

/// The part of a contribution schema the decision needs.
#[derive(Debug, Clone)]
pub struct SchemaScope {
    pub name: String,
    /// The school types the schema accepts; every type when absent.
    pub school_types: Option<Vec<String>>,
    /// `signalement`: open to every signed-in person, on any school.
    pub open_to_beta_testers: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Decision {
    pub allowed: bool,
    /// In French, for the person: why, naming the organisation, the school and the rule.
    pub reason: String,
    /// The competence line the answer rests on, when one does.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub competence_id: Option<i64>,
}

impl Decision {
    fn allow(reason: impl Into<String>, id: Option<i64>) -> Self {
        Self {
            allowed: true,
            reason: reason.into(),
            competence_id: id,
        }
    }
    fn refuse(reason: impl Into<String>, id: Option<i64>) -> Self {
        Self {
            allowed: false,
            reason: reason.into(),
            competence_id: id,
        }
    }
}

pub fn type_label(t: &str, plural: bool) -> &'static str {
    match (t, plural) {
        ("ecole", false) => "une école",
        ("ecole", true) => "écoles",
        ("college", false) => "un collège",
        ("college", true) => "collèges",
        ("lycee", false) => "un lycée",
        ("lycee", true) => "lycées",
        ("erea", false) => "un EREA",
        ("erea", true) => "EREA",
        (_, false) => "un établissement d'un autre type",
        (_, true) => "autres établissements",
    }
}

fn types_label(types: &[String]) -> String {
    let names: Vec<&str> = types.iter().map(|t| type_label(t, true)).collect();
    match names.as_slice() {
        [] => "aucun type d'établissement".into(),
        [one] => (*one).into(),
        [init @ .., last] => format!("{} et {last}", init.join(", ")),
    }
}

fn secteur_label(s: Option<&str>, types: &[String]) -> &'static str {
    // "écoles" is the one feminine noun; a list with any other type takes the masculine.
    let feminine = types.iter().all(|t| t == "ecole");
    match (s, feminine) {
        (Some("public"), false) => " publics",
        (Some("public"), true) => " publiques",
        (Some("prive"), false) => " privés",
        (Some("prive"), true) => " privées",
        _ => "",
    }
}

impl TerritoryRef {
    /// "du département 69", for sentences.
    pub fn label(&self) -> String {
        match self.level {
            Level::National => "de toute la France".into(),
            Level::Region => format!("de la région {}", self.code),
            Level::Academie => format!("de l'académie {}", self.code),
            Level::Departement => format!("du département {}", self.code),
            Level::Epci => format!("de l'EPCI {}", self.code),
            Level::Commune => format!("de la commune {}", self.code),
        }
    }
}

/// "collèges publics du département 69"
pub fn line_scope(line: &CompetenceLine) -> String {
    format!(
        "{}{} {}",
        types_label(&line.school_types),
        secteur_label(line.secteur.as_deref(), &line.school_types),
        line.territory.label()
    )
}

/// The one answer to "may this person contribute this schema for this school?", used by every
/// endpoint, page and command that accepts a contribution.
pub fn can_contribute(
    actor: &Actor,
    school: &SchoolFacts,
    schema: &SchemaScope,
    now: DateTime<Utc>,
) -> Decision {
    let school_label = school.label();
    if let (Some(types), Some(t)) = (&schema.school_types, &school.type_etablissement)
        && !types.iter().any(|x| x == t)
    {
        return Decision::refuse(
            format!(
                "le schéma « {} » ne concerne pas ce type d'établissement : {school_label} est {}",
                schema.name,
                type_label(t, false)
            ),
            None,
        );
    }
    if actor.has(Role::Admin) {
        return Decision::allow("administrateur de la plateforme", None);
    }
    if schema.open_to_beta_testers {
        return Decision::allow(
            format!(
                "toute personne connectée peut signaler une erreur sur {school_label} (« {} »)",
                schema.name
            ),
            None,
        );
    }
    let Some(org) = &actor.organisation else {
        return Decision::refuse(
            "vous n'êtes rattaché(e) à aucune organisation : seuls les membres d'une collectivité \
             ou d'une académie déposent des données (les signalements restent ouverts à tous)",
            None,
        );
    };
    if !actor.has(Role::Contributor) {
        return Decision::refuse(
            format!(
                "vous êtes membre de {} sans le rôle de contributeur : demandez-le à un \
                 administrateur",
                org.name
            ),
            None,
        );
    }

    let active: Vec<&CompetenceLine> = actor
        .competence
        .iter()
        .filter(|l| l.is_active(now))
        .collect();
    // An admin's override or a delegation is deliberate and specific: it wins over an
    // exclusion, which only carves exceptions out of the general rule.
    if let Some(line) = active
        .iter()
        .find(|l| l.effect == Effect::Grant && l.origin != Origin::Rule && l.matches(school))
    {
        let why = match (&line.origin, &line.delegated_by) {
            (Origin::Delegation, Some(by)) => format!("délégation de {by}"),
            _ => "compétence ajoutée par un administrateur".into(),
        };
        let until = line
            .valid_until
            .map(|u| format!(", jusqu'au {}", u.format("%d/%m/%Y")))
            .unwrap_or_default();
        return Decision::allow(
            format!(
                "{} peut contribuer pour {school_label} : {why} ({}{until})",
                org.name,
                line_scope(line)
            ),
            Some(line.id),
        );
    }
    if let Some(line) = active
        .iter()
        .find(|l| l.effect == Effect::Exclude && l.matches(school))
    {
        return Decision::refuse(
            format!(
                "{} n'est pas compétent(e) pour {school_label} : {}",
                org.name, line.reason
            ),
            Some(line.id),
        );
    }
    if let Some(line) = active
        .iter()
        .find(|l| l.effect == Effect::Grant && l.matches(school))
    {
        return Decision::allow(
            format!(
                "{} est compétent(e) pour {school_label} ({})",
                org.name,
                line_scope(line)
            ),
            Some(line.id),
        );
    }
    Decision::refuse(
        explain_refusal(actor, org, school, &school_label, now),
        None,
    )
}

/// The most useful reason among the lines that almost matched.
fn explain_refusal(
    actor: &Actor,
    org: &OrganisationSummary,
    school: &SchoolFacts,
    school_label: &str,
    now: DateTime<Utc>,
) -> String {
    let grants: Vec<&CompetenceLine> = actor
        .competence
        .iter()
        .filter(|l| l.effect == Effect::Grant)
        .collect();
    if let Some(line) = grants
        .iter()
        .find(|l| l.matches(school) && !l.is_active(now))
    {
        let by = line
            .delegated_by
            .as_deref()
            .map(|b| format!("de {b} "))
            .unwrap_or_default();
        return match (line.valid_from, line.valid_until) {
            (Some(from), _) if now < from => format!(
                "la délégation {by}à {} pour {school_label} ne commence que le {}",
                org.name,
                from.format("%d/%m/%Y")
            ),
            (_, Some(until)) => format!(
                "la délégation {by}à {} pour {school_label} a pris fin le {}",
                org.name,
                until.format("%d/%m/%Y")
            ),
            _ => format!("la compétence de {} n'est pas en vigueur", org.name),
        };
    }
    let active: Vec<&&CompetenceLine> = grants.iter().filter(|l| l.is_active(now)).collect();
    if active.is_empty() {
        if org.kind == "epci" {
            return format!(
                "{} n'exerce pas la compétence scolaire (ou elle n'est pas enregistrée) : les \
                 écoles de son territoire relèvent de leurs communes",
                org.name
            );
        }
        return format!("{} n'a aucune compétence enregistrée", org.name);
    }
    let school_type = school.type_etablissement.as_deref().unwrap_or("autre");
    if let Some(line) = active
        .iter()
        .find(|l| l.covers_type(school) && school.is_in(&l.territory))
    {
        return format!(
            "{} n'est compétent(e) que pour les {} : {school_label} est {}{} ; les \
             établissements privés relèvent de l'académie",
            org.name,
            line_scope(line),
            type_label(school_type, false),
            match (school.secteur.as_deref(), school_type == "ecole") {
                (Some("prive"), false) => " privé",
                (Some("prive"), true) => " privée",
                (Some("public"), false) => " public",
                (Some("public"), true) => " publique",
                _ => "",
            }
        );
    }
    if let Some(line) = active.iter().find(|l| school.is_in(&l.territory)) {
        return format!(
            "{} est compétent(e) pour les {}, pas pour {school_label}, qui est {}",
            org.name,
            line_scope(line),
            type_label(school_type, false)
        );
    }
    let scopes: Vec<String> = active.iter().map(|l| line_scope(l)).collect();
    format!(
        "{school_label} est hors du territoire de compétence : {} est compétent(e) pour les {}",
        org.name,
        scopes.join(" ; ")
    )
}

/// Whether a moderator reviews submissions touching this school.
pub fn moderates(actor: &Actor, school: &SchoolFacts) -> bool {
    actor.has(Role::Admin)
        || (actor.has(Role::Moderator)
            && actor.moderated_territories.iter().any(|t| school.is_in(t)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn school(
        uai: &str,
        t: &str,
        secteur: &str,
        commune: &str,
        dep: &str,
        epci: &str,
    ) -> SchoolFacts {
        SchoolFacts {
            uai: uai.into(),
            name: "Test".into(),
            type_etablissement: Some(t.into()),
            secteur: Some(secteur.into()),
            commune: Some(commune.into()),
            epci: Some(epci.into()),
            departement: Some(dep.into()),
            academie: Some("10".into()),
            region: Some("84".into()),
            ..Default::default()
        }
    }

    fn line(
        id: i64,
        effect: Effect,
        types: &[&str],
        secteur: Option<&str>,
        t: &str,
    ) -> CompetenceLine {
        CompetenceLine {
            id,
            effect,
            school_types: types.iter().map(|s| s.to_string()).collect(),
            secteur: secteur.map(str::to_owned),
            territory: t.parse().expect("territory"),
            origin: Origin::Rule,
            delegated_by: None,
            valid_from: None,
            valid_until: None,
            reason: "la Métropole de Lyon, non le Département du Rhône, est compétente pour les \
                     collèges de son territoire"
                .into(),
        }
    }

    fn contributor(name: &str, kind: &str, competence: Vec<CompetenceLine>) -> Actor {
        Actor {
            user_id: 1,
            roles: [Role::BetaTester, Role::Contributor].into(),
            organisation: Some(OrganisationSummary {
                id: 1,
                name: name.into(),
                kind: kind.into(),
                siren: None,
            }),
            competence,
            moderated_territories: vec![],
        }
    }

    fn inventory() -> SchemaScope {
        SchemaScope {
            name: "inventaire-equipement".into(),
            school_types: None,
            open_to_beta_testers: false,
        }
    }

    #[test]
    fn rhone_is_not_competent_for_colleges_of_the_metropole_de_lyon() {
        let rhone = contributor(
            "le Département du Rhône",
            "departement",
            vec![
                line(
                    1,
                    Effect::Grant,
                    &["college"],
                    Some("public"),
                    "departement:69",
                ),
                line(
                    2,
                    Effect::Exclude,
                    &["college"],
                    Some("public"),
                    "epci:200046977",
                ),
            ],
        );
        let now = Utc::now();
        let lyon = school("0690001A", "college", "public", "69381", "69", "200046977");
        let d = can_contribute(&rhone, &lyon, &inventory(), now);
        assert!(!d.allowed);
        assert!(d.reason.contains("Métropole de Lyon"), "{}", d.reason);
        assert_eq!(d.competence_id, Some(2));
        let villefranche = school("0690002B", "college", "public", "69264", "69", "246900740");
        assert!(can_contribute(&rhone, &villefranche, &inventory(), now).allowed);
    }

    #[test]
    fn private_schools_are_refused_to_collectivites_with_a_reason() {
        let dep = contributor(
            "le Département de l'Hérault",
            "departement",
            vec![line(
                1,
                Effect::Grant,
                &["college"],
                Some("public"),
                "departement:34",
            )],
        );
        let d = can_contribute(
            &dep,
            &school("0340001A", "college", "prive", "34172", "34", "x"),
            &inventory(),
            Utc::now(),
        );
        assert!(!d.allowed);
        assert!(d.reason.contains("privé"), "{}", d.reason);
        let d = can_contribute(
            &dep,
            &school("0340002A", "ecole", "public", "34172", "34", "x"),
            &inventory(),
            Utc::now(),
        );
        assert!(d.reason.contains("une école"), "{}", d.reason);
        let d = can_contribute(
            &dep,
            &school("0300002A", "college", "public", "30189", "30", "x"),
            &inventory(),
            Utc::now(),
        );
        assert!(d.reason.contains("hors du territoire"), "{}", d.reason);
    }

    #[test]
    fn delegations_hold_between_their_dates_only() {
        let now = Utc::now();
        let mut delegation = line(
            5,
            Effect::Grant,
            &["ecole"],
            Some("public"),
            "commune:69264",
        );
        delegation.origin = Origin::Delegation;
        delegation.delegated_by = Some("la Commune de Villefranche".into());
        delegation.valid_until = Some(now + chrono::Duration::days(1));
        let epci = contributor(
            "la CA Villefranche Beaujolais",
            "epci",
            vec![delegation.clone()],
        );
        let s = school("0690003C", "ecole", "public", "69264", "69", "246900740");
        assert!(can_contribute(&epci, &s, &inventory(), now).allowed);
        let later = now + chrono::Duration::days(2);
        let d = can_contribute(&epci, &s, &inventory(), later);
        assert!(!d.allowed);
        assert!(d.reason.contains("a pris fin"), "{}", d.reason);
    }

    #[test]
    fn signalements_are_open_to_every_signed_in_person_and_schema_types_bind_everyone() {
        let nobody = Actor {
            user_id: 2,
            roles: [Role::BetaTester].into(),
            organisation: None,
            competence: vec![],
            moderated_territories: vec![],
        };
        let s = school("0350001A", "ecole", "public", "35238", "35", "x");
        let signalement = SchemaScope {
            name: "signalement".into(),
            school_types: None,
            open_to_beta_testers: true,
        };
        assert!(can_contribute(&nobody, &s, &signalement, Utc::now()).allowed);
        assert!(!can_contribute(&nobody, &s, &inventory(), Utc::now()).allowed);
        let byod = SchemaScope {
            name: "byod".into(),
            school_types: Some(vec!["college".into(), "lycee".into()]),
            open_to_beta_testers: false,
        };
        let mut admin = nobody.clone();
        admin.roles.insert(Role::Admin);
        let d = can_contribute(&admin, &s, &byod, Utc::now());
        assert!(!d.allowed && d.reason.contains("byod"), "{}", d.reason);
    }

    #[test]
    fn an_epci_without_the_school_competence_says_so() {
        let epci = contributor("la CC du Pays de Test", "epci", vec![]);
        let d = can_contribute(
            &epci,
            &school("0350001A", "ecole", "public", "35238", "35", "x"),
            &inventory(),
            Utc::now(),
        );
        assert!(d.reason.contains("compétence scolaire"), "{}", d.reason);
    }

    #[test]
    fn communes_cover_their_arrondissements() {
        let paris = contributor(
            "la Ville de Paris",
            "collectivite-statut-particulier",
            vec![line(
                1,
                Effect::Grant,
                &["ecole"],
                Some("public"),
                "commune:75056",
            )],
        );
        let mut s = school("0750001A", "ecole", "public", "75101", "75", "200054781");
        s.commune_parent = Some("75056".into());
        assert!(can_contribute(&paris, &s, &inventory(), Utc::now()).allowed);
    }

    #[test]
    fn moderators_review_their_territories_only() {
        let mut modo = contributor("x", "academie", vec![]);
        modo.roles = [Role::BetaTester, Role::Moderator].into();
        modo.moderated_territories = vec!["departement:69".parse().expect("territory")];
        let lyon = school("0690001A", "college", "public", "69381", "69", "200046977");
        let rennes = school("0350001A", "ecole", "public", "35238", "35", "x");
        assert!(moderates(&modo, &lyon));
        assert!(!moderates(&modo, &rennes));
        modo.roles.remove(&Role::Moderator);
        assert!(
            !moderates(&modo, &lyon),
            "territories without the role grant nothing"
        );
    }

    #[test]
    fn territories_parse_ministry_codes() {
        let t: TerritoryRef = "departement:034".parse().expect("parse");
        assert_eq!(t.to_string(), "departement:34");
        assert!("canton:1".parse::<TerritoryRef>().is_err());
        assert!("departement:".parse::<TerritoryRef>().is_err());
        assert_eq!(
            "national".parse::<TerritoryRef>().expect("national").level,
            Level::National
        );
    }
}
