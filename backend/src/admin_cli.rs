//! The ops commands of identity and habilitation: people, API tokens, organisations and their
//! competence, access requests. They call the same services as the admin API.

use std::process::ExitCode;

use chrono::{DateTime, NaiveDate, Utc};
use clap::Subcommand;
use ecarto::{
    app::AppState,
    domain::competence::{Effect, Origin, Role, TerritoryRef},
    error::AppError,
    services::{audit, auth, competence, organisations, users},
};

#[derive(Subcommand)]
pub enum UsersCommand {
    /// Creates the account if needed and adds the organisation, roles and territories given.
    Add {
        #[arg(long)]
        email: String,
        #[arg(long)]
        name: Option<String>,
        /// The organisation: SIREN (or SIRET), id, or the territory it is named after
        /// (departement:34).
        #[arg(long)]
        org: Option<String>,
        /// beta-tester, contributor, moderator or admin; repeat for several.
        #[arg(long = "role", required = true)]
        roles: Vec<String>,
        /// A moderator's territory, LEVEL:CODE (departement:34, academie:11…); repeatable.
        #[arg(long = "territory")]
        territories: Vec<String>,
    },
    /// Takes a role away.
    Revoke {
        #[arg(long)]
        email: String,
        #[arg(long)]
        role: String,
    },
    List,
}

#[derive(Subcommand)]
pub enum TokensCommand {
    /// Creates an API token for a person and prints it once.
    Create {
        #[arg(long)]
        email: String,
        #[arg(long, default_value = "script")]
        name: String,
    },
}

#[derive(Subcommand)]
pub enum OrgsCommand {
    List,
    /// An organisation and its competence.
    Show {
        org: String,
    },
    Create {
        #[arg(long)]
        kind: String,
        #[arg(long)]
        name: String,
        #[arg(long)]
        territory: String,
        #[arg(long)]
        siren: Option<String>,
    },
    /// Records the SIREN the organisation's agents sign in with.
    SetSiren {
        org: String,
        siren: String,
    },
    /// Whether an EPCI holds the school competence (its écoles' competence follows).
    SchoolCompetence {
        org: String,
        /// true or false.
        #[arg(action = clap::ArgAction::Set)]
        holds: bool,
    },
    /// Adds a line of competence: an override, a delegation or an exclusion.
    AddCompetence {
        org: String,
        /// ecole, college, lycee, erea, autre, comma-separated.
        #[arg(long, value_delimiter = ',', required = true)]
        types: Vec<String>,
        /// public or prive; every secteur when absent.
        #[arg(long)]
        secteur: Option<String>,
        #[arg(long)]
        territory: String,
        /// An exclusion instead of a grant.
        #[arg(long)]
        exclude: bool,
        /// The organisation that delegates (makes the line a delegation).
        #[arg(long)]
        delegated_by: Option<String>,
        /// First day, YYYY-MM-DD.
        #[arg(long)]
        from: Option<NaiveDate>,
        /// Day the line stops applying, YYYY-MM-DD.
        #[arg(long)]
        until: Option<NaiveDate>,
        #[arg(long)]
        reason: String,
    },
    RemoveCompetence {
        id: i64,
    },
}

#[derive(Subcommand)]
pub enum AccessCommand {
    List {
        #[arg(long)]
        status: Option<String>,
    },
    Approve {
        id: i64,
        #[arg(long)]
        org: String,
    },
    Refuse {
        id: i64,
        #[arg(long)]
        reason: String,
    },
}

fn fail(e: impl std::fmt::Display) -> ExitCode {
    eprintln!("erreur : {e}");
    ExitCode::FAILURE
}

fn parse_roles(raw: &[String]) -> Result<Vec<Role>, String> {
    raw.iter().map(|r| r.parse()).collect()
}

fn parse_territories(raw: &[String]) -> Result<Vec<TerritoryRef>, String> {
    raw.iter().map(|t| t.parse()).collect()
}

fn day(d: NaiveDate) -> DateTime<Utc> {
    d.and_hms_opt(0, 0, 0).unwrap_or_default().and_utc()
}

pub async fn users(state: &AppState, cmd: UsersCommand) -> ExitCode {
    let ctx = audit::Context::cli();
    match cmd {
        UsersCommand::Add {
            email,
            name,
            org,
            roles,
            territories,
        } => {
            let roles = match parse_roles(&roles) {
                Ok(r) => r,
                Err(e) => return fail(e),
            };
            let territories = match parse_territories(&territories) {
                Ok(t) => t,
                Err(e) => return fail(e),
            };
            match users::grant(
                &state.db,
                &ctx,
                users::Grant {
                    email,
                    display_name: name,
                    organisation: org,
                    roles,
                    territories,
                },
            )
            .await
            {
                Ok(u) => {
                    println!("{} (id {}) : à jour", u.email, u.id);
                    ExitCode::SUCCESS
                }
                Err(e) => fail(describe(e)),
            }
        }
        UsersCommand::Revoke { email, role } => {
            let role: Role = match role.parse() {
                Ok(r) => r,
                Err(e) => return fail(e),
            };
            let email = match users::normalise_email(&email) {
                Ok(e) => e,
                Err(e) => return fail(describe(e)),
            };
            let u = match users::by_email(&state.db, &email).await {
                Ok(Some(u)) => u,
                Ok(None) => return fail(format!("aucun compte {email}")),
                Err(e) => return fail(describe(e)),
            };
            match users::revoke_role(&state.db, &ctx, u.id, role).await {
                Ok(()) => {
                    println!("{email} : rôle {role} retiré");
                    ExitCode::SUCCESS
                }
                Err(e) => fail(describe(e)),
            }
        }
        UsersCommand::List => match users::list(&state.db).await {
            Ok(list) => {
                for u in list {
                    let roles: Vec<&str> = u.roles.iter().map(|r| r.as_str()).collect();
                    println!(
                        "{}\t{}\torganisation {}\t{}\t{}",
                        u.id,
                        u.email,
                        u.organisation_id
                            .map(|o| o.to_string())
                            .unwrap_or_else(|| "-".into()),
                        roles.join(","),
                        u.moderated_territories.join(",")
                    );
                }
                ExitCode::SUCCESS
            }
            Err(e) => fail(describe(e)),
        },
    }
}

pub async fn tokens(state: &AppState, cmd: TokensCommand) -> ExitCode {
    let TokensCommand::Create { email, name } = cmd;
    let email = match users::normalise_email(&email) {
        Ok(e) => e,
        Err(e) => return fail(describe(e)),
    };
    let u = match users::by_email(&state.db, &email).await {
        Ok(Some(u)) => u,
        Ok(None) => {
            return fail(format!(
                "aucun compte {email} : créez-le d'abord (ecarto users add)"
            ));
        }
        Err(e) => return fail(describe(e)),
    };
    match auth::create_api_token(&state.db, &audit::Context::cli(), &u, &name).await {
        Ok((view, secret)) => {
            eprintln!(
                "Jeton « {} » (id {}) créé pour {email}. Il n'est affiché qu'une fois :",
                view.name, view.id
            );
            println!("{secret}");
            ExitCode::SUCCESS
        }
        Err(e) => fail(describe(e)),
    }
}

pub async fn orgs(state: &AppState, cmd: OrgsCommand) -> ExitCode {
    let ctx = audit::Context::cli();
    let db = &state.db;
    let result: Result<(), AppError> = async {
        match cmd {
            OrgsCommand::List => {
                for o in organisations::list(db).await? {
                    println!(
                        "{}\t{}\t{}\t{}:{}\t{}",
                        o.id,
                        o.siren.as_deref().unwrap_or("-"),
                        o.kind,
                        o.territory_level,
                        o.territory_code,
                        o.name
                    );
                }
            }
            OrgsCommand::Show { org } => {
                let o = organisations::resolve(db, &org).await?;
                let v = organisations::view(db, o.id).await?;
                println!(
                    "{}",
                    serde_json::to_string_pretty(&v).map_err(AppError::internal)?
                );
            }
            OrgsCommand::Create {
                kind,
                name,
                territory,
                siren,
            } => {
                let t: TerritoryRef = territory
                    .parse()
                    .map_err(|e: String| AppError::bad_request("territory", e))?;
                let o = organisations::create(db, &ctx, siren.as_deref(), &kind, &name, &t).await?;
                println!("organisation {} créée : {}", o.id, o.name);
            }
            OrgsCommand::SetSiren { org, siren } => {
                let o = organisations::resolve(db, &org).await?;
                let o = organisations::record_siren(db, &ctx, o.id, &siren).await?;
                println!("{} : SIREN {}", o.name, o.siren.unwrap_or_default());
            }
            OrgsCommand::SchoolCompetence { org, holds } => {
                let o = organisations::resolve(db, &org).await?;
                let o = organisations::set_school_competence(db, &ctx, o.id, holds).await?;
                println!(
                    "{} : compétence scolaire {}",
                    o.name,
                    if holds { "oui" } else { "non" }
                );
            }
            OrgsCommand::AddCompetence {
                org,
                types,
                secteur,
                territory,
                exclude,
                delegated_by,
                from,
                until,
                reason,
            } => {
                let o = organisations::resolve(db, &org).await?;
                let t: TerritoryRef = territory
                    .parse()
                    .map_err(|e: String| AppError::bad_request("territory", e))?;
                let delegator = match &delegated_by {
                    Some(d) => Some(organisations::resolve(db, d).await?.id),
                    None => None,
                };
                let line = organisations::add_competence(
                    db,
                    &ctx,
                    o.id,
                    organisations::NewCompetence {
                        effect: if exclude {
                            Effect::Exclude
                        } else {
                            Effect::Grant
                        },
                        school_types: types,
                        secteur,
                        territory: t,
                        origin: if delegator.is_some() {
                            Origin::Delegation
                        } else {
                            Origin::Override
                        },
                        delegated_by: delegator,
                        valid_from: from.map(day),
                        valid_until: until.map(day),
                        reason,
                    },
                )
                .await?;
                println!("ligne de compétence {} ajoutée à {}", line.id, o.name);
            }
            OrgsCommand::RemoveCompetence { id } => {
                organisations::remove_competence(db, &ctx, id).await?;
                println!("ligne de compétence {id} supprimée");
            }
        }
        Ok(())
    }
    .await;
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => fail(describe(e)),
    }
}

pub async fn access(state: &AppState, cmd: AccessCommand) -> ExitCode {
    let ctx = audit::Context::cli();
    let result: Result<(), AppError> = async {
        match cmd {
            AccessCommand::List { status } => {
                for r in users::access_requests(&state.db, status.as_deref()).await? {
                    println!(
                        "{}\t{}\t{}\t{}\t{}",
                        r.id, r.status, r.email, r.siret, r.message
                    );
                }
            }
            AccessCommand::Approve { id, org } => {
                let (r, email) = users::decide_access(
                    &state.db,
                    &ctx,
                    id,
                    users::Decision::Approve { organisation: org },
                    "",
                )
                .await?;
                println!("demande {} de {email} : {}", r.id, r.status);
            }
            AccessCommand::Refuse { id, reason } => {
                let (r, email) =
                    users::decide_access(&state.db, &ctx, id, users::Decision::Refuse, &reason)
                        .await?;
                println!("demande {} de {email} : {}", r.id, r.status);
            }
        }
        Ok(())
    }
    .await;
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => fail(describe(e)),
    }
}

/// Answers "may this person contribute this schema for this school?", with the reason.
pub async fn check(state: &AppState, email: &str, uai: &str, schema: &str) -> ExitCode {
    let result: Result<bool, AppError> = async {
        let email = users::normalise_email(email)?;
        let u = users::by_email(&state.db, &email)
            .await?
            .ok_or_else(|| AppError::NotFound(format!("aucun compte {email}")))?;
        let actor = users::actor(&state.db, &u).await?;
        let d = competence::can_contribute(&state.db, &actor, uai, schema).await?;
        println!(
            "{} : {}",
            if d.allowed { "autorisé" } else { "refusé" },
            d.reason
        );
        Ok(d.allowed)
    }
    .await;
    match result {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::from(1),
        Err(e) => fail(describe(e)),
    }
}

/// The message of an error with its violations, for a terminal.
fn describe(e: AppError) -> String {
    match e {
        AppError::BadRequest { title, violations } => {
            let mut s = title;
            for v in violations {
                s.push_str(&format!("\n  {} : {}", v.pointer, v.detail));
            }
            s
        }
        other => other.to_string(),
    }
}
