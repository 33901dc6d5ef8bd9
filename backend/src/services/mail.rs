//! Outgoing e-mail: `.eml` files in an outbox folder on the embedded default, SMTP when
//! configured. Messages are plain text, in French.

use std::path::PathBuf;

use lettre::{
    AsyncFileTransport, AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor,
    message::{
        Body, Mailbox,
        header::{ContentTransferEncoding, ContentType},
    },
};

#[derive(Debug, Clone)]
pub struct MailConfig {
    /// The sender, e.g. `eCarto contributions <ne-pas-repondre@ecarto.example>`.
    pub from: String,
    /// `smtp://host:port` (no TLS), `smtp://host:port?tls=required` or `smtps://…`; the outbox
    /// folder when absent.
    pub smtp_url: Option<String>,
    pub outbox_dir: PathBuf,
}

#[derive(Clone)]
pub enum Mailer {
    Outbox(AsyncFileTransport<Tokio1Executor>, PathBuf, Mailbox),
    Smtp(AsyncSmtpTransport<Tokio1Executor>, Mailbox),
}

#[derive(Debug, thiserror::Error)]
pub enum MailError {
    #[error("adresse e-mail invalide « {0} »")]
    Address(String),
    #[error("configuration de l'envoi d'e-mails : {0}")]
    Config(String),
    #[error("envoi de l'e-mail impossible : {0}")]
    Send(String),
}

impl Mailer {
    pub fn new(config: &MailConfig) -> Result<Self, MailError> {
        let from: Mailbox = config
            .from
            .parse()
            .map_err(|_| MailError::Address(config.from.clone()))?;
        match &config.smtp_url {
            Some(url) => {
                let transport = AsyncSmtpTransport::<Tokio1Executor>::from_url(url)
                    .map_err(|e| MailError::Config(format!("{url} : {e}")))?
                    .build();
                Ok(Mailer::Smtp(transport, from))
            }
            None => {
                std::fs::create_dir_all(&config.outbox_dir).map_err(|e| {
                    MailError::Config(format!("{} : {e}", config.outbox_dir.display()))
                })?;
                Ok(Mailer::Outbox(
                    AsyncFileTransport::new(&config.outbox_dir),
                    config.outbox_dir.clone(),
                    from,
                ))
            }
        }
    }

    pub async fn send(&self, to: &str, subject: &str, body: String) -> Result<(), MailError> {
        let to: Mailbox = to.parse().map_err(|_| MailError::Address(to.to_owned()))?;
        let from = match self {
            Mailer::Outbox(_, _, f) | Mailer::Smtp(_, f) => f.clone(),
        };
        let message = Message::builder()
            .from(from)
            .to(to)
            .subject(subject)
            .header(ContentType::TEXT_PLAIN)
            // Quoted-printable keeps links readable in the raw message (and in tests).
            .body(
                Body::new_with_encoding(body, ContentTransferEncoding::QuotedPrintable)
                    .map_err(|_| MailError::Send("encodage du message".into()))?,
            )
            .map_err(|e| MailError::Send(e.to_string()))?;
        match self {
            Mailer::Outbox(t, _, _) => t
                .send(message)
                .await
                .map(|_| ())
                .map_err(|e| MailError::Send(e.to_string())),
            Mailer::Smtp(t, _) => t
                .send(message)
                .await
                .map(|_| ())
                .map_err(|e| MailError::Send(e.to_string())),
        }
    }
}
