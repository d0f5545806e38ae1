//! The Hawk header as text: its attributes and the `ext` Taskcluster clients put in it,
//! decoded but not yet trusted. Checking the MAC, the time and the scopes is
//! [`super::verifier`]'s.

use std::str::FromStr;

use serde::Deserialize;

use super::certificate::Certificate;
use super::{decode_base64, HawkError};

/// What Taskcluster clients put in `ext`.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct Ext {
    pub(super) certificate: Option<CertificateField>,
    pub(super) authorized_scopes: Option<Vec<String>>,
}

/// Clients send the certificate as an object, some as a JSON string.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub(super) enum CertificateField {
    Object(Certificate),
    Text(String),
}

impl CertificateField {
    pub(super) fn into_certificate(self) -> Result<Certificate, HawkError> {
        match self {
            Self::Object(certificate) => Ok(certificate),
            Self::Text(text) => serde_json::from_str(&text).map_err(|_| HawkError::BadExt),
        }
    }
}

/// A Hawk header with its `ext` decoded, not yet verified.
pub struct ParsedHeader {
    pub(super) header: hawk::Header,
    pub(super) ext: Ext,
}

/// Parses the part of an `Authorization` header after `Hawk `, decoding `ext` and a certificate
/// given as text. The fuzz target `hawk_header` drives this with arbitrary input.
///
/// # Errors
/// [`HawkError::Malformed`] or [`HawkError::BadExt`].
pub fn parse(header: &str) -> Result<ParsedHeader, HawkError> {
    if !timestamps_in_range(header) {
        return Err(HawkError::Malformed);
    }
    let header = hawk::Header::from_str(header).map_err(|_| HawkError::Malformed)?;
    let mut ext = parse_ext(header.ext.as_deref())?;
    if let Some(field) = ext.certificate.take() {
        ext.certificate = Some(CertificateField::Object(field.into_certificate()?));
    }
    Ok(ParsedHeader { header, ext })
}

/// Timestamps past this are refused before the `hawk` crate sees them: far beyond any real
/// clock (year 33658), far below where its time arithmetic overflows.
pub(super) const MAX_TS: u64 = 1_000_000_000_000;

/// Whether every `ts="…"` in the header is a time the standard library can represent.
///
/// The `hawk` crate adds the parsed seconds to the epoch without a check and panics on
/// overflow (found by the `hawk_header` fuzz target), so huge values are refused first.
/// Attribute values cannot contain `"`, so `ts="` only ever starts the `ts` attribute.
fn timestamps_in_range(header: &str) -> bool {
    header.match_indices("ts=\"").all(|(i, _)| {
        let digits = header[i + 4..].split('"').next().unwrap_or_default();
        digits.parse::<u64>().map_or(true, |ts| ts <= MAX_TS)
    })
}

pub(super) fn parse_ext(ext: Option<&str>) -> Result<Ext, HawkError> {
    match ext {
        None | Some("") => Ok(Ext::default()),
        Some(ext) => {
            let json = decode_base64(ext).ok_or(HawkError::BadExt)?;
            serde_json::from_slice(&json).map_err(|_| HawkError::BadExt)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_that_would_overflow_the_clock_are_malformed() {
        let crash = r#"id="ot", ts="17000000001700000000", mac="AAAA""#;
        assert!(matches!(parse(crash), Err(HawkError::Malformed)));
        let fine = r#"id="ot", ts="1700000000", nonce="n", mac="AAAA""#;
        assert!(parse(fine).is_ok());
    }

    #[test]
    fn ext_without_fields_is_empty_and_garbage_is_refused() {
        assert!(parse_ext(None).unwrap().certificate.is_none());
        assert!(parse_ext(Some("e30")).unwrap().authorized_scopes.is_none());
        assert!(matches!(parse_ext(Some("!!")), Err(HawkError::BadExt)));
    }
}
