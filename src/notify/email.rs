//! Email notices over SMTP, with `lettre`.

use lettre::message::Mailbox;
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};

use super::Notice;

/// Why an email could not be prepared or sent.
#[derive(Debug, thiserror::Error)]
pub enum EmailError {
    /// An address does not parse.
    #[error("{0:?} is not an email address")]
    Address(String),
    /// The SMTP URL is unusable.
    #[error("the SMTP URL is invalid")]
    Url(#[source] lettre::transport::smtp::Error),
    /// The message could not be built.
    #[error("the email could not be built")]
    Build(#[source] lettre::error::Error),
    /// The server did not take it.
    #[error("the SMTP server did not accept the email")]
    Send(#[source] lettre::transport::smtp::Error),
}

/// Sends notices from one address through one SMTP server.
pub struct EmailNotifier {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
}

impl EmailNotifier {
    /// A notifier for `smtp://host:port` (or `smtps://`, or with `?tls=required`), sending as
    /// `from`.
    ///
    /// # Errors
    /// [`EmailError`] for an unusable URL or sender address.
    pub fn new(smtp_url: &str, from: &str) -> Result<Self, EmailError> {
        let transport = AsyncSmtpTransport::<Tokio1Executor>::from_url(smtp_url)
            .map_err(EmailError::Url)?
            .build();
        let from = from
            .parse()
            .map_err(|_| EmailError::Address(from.to_owned()))?;
        Ok(Self { transport, from })
    }

    /// Mails `notice` to `to`.
    ///
    /// # Errors
    /// [`EmailError`] when the address is bad or the server refuses.
    pub async fn send(&self, to: &str, notice: &Notice) -> Result<(), EmailError> {
        let to: Mailbox = to.parse().map_err(|_| EmailError::Address(to.to_owned()))?;
        let message = Message::builder()
            .from(self.from.clone())
            .to(to)
            .subject(format!("hookd: hook {} failed", notice.hook))
            .body(notice.describe())
            .map_err(EmailError::Build)?;
        self.transport
            .send(message)
            .await
            .map(drop)
            .map_err(EmailError::Send)
    }
}
