//! Signed URLs: a Hawk credential in the `bewit` query parameter of a GET, as Taskcluster's
//! clients make with `buildSignedUrl`.
//!
//! The bewit is url-safe base64 of `id\exp\mac\ext`. The MAC is a Hawk MAC of kind `bewit` over
//! the request line without the `bewit` parameter, with the expiry as timestamp and an empty
//! nonce; `ext` carries a certificate and `authorizedScopes` exactly as in a header
//! ([`super`]). A link is meant to be used many times until it expires, so there is no nonce
//! check. The bewit is a credential: it is never logged nor echoed (error bodies show path
//! parameters only, and request logs show the method).

use std::str::FromStr;

use actix_web::http::Method;
use actix_web::HttpRequest;
use hawk::mac::MacType;
use hawk::Bewit;

use super::header::{parse_ext, MAX_TS};
use super::verifier::{compute_mac, unix_seconds, HawkVerifier, RequestLine};
use super::{decode_base64, HawkError, DEFAULT_SKEW};
use crate::api::auth::caller::Caller;

/// The query parameter that carries a bewit.
const PARAMETER: &str = "bewit=";

/// A bewit found in a query string, and the query without it (what the MAC covers).
pub struct SignedQuery<'a> {
    bewit: &'a str,
    rest: String,
}

impl<'a> SignedQuery<'a> {
    /// The bewit in `query` (a raw query string), if it has one.
    ///
    /// # Errors
    /// [`HawkError::MalformedBewit`] when the query holds more than one bewit.
    pub fn find(query: &'a str) -> Result<Option<Self>, HawkError> {
        let (bewits, rest): (Vec<&str>, Vec<&str>) = query
            .split('&')
            .filter(|part| !part.is_empty())
            .partition(|part| part.starts_with(PARAMETER));
        match bewits.as_slice() {
            [] => Ok(None),
            [bewit] => Ok(Some(Self {
                bewit: &bewit[PARAMETER.len()..],
                rest: rest.join("&"),
            })),
            _ => Err(HawkError::MalformedBewit),
        }
    }
}

impl HawkVerifier {
    /// The caller behind the bewit `signed` on `req`.
    ///
    /// The expiry gets the same tolerance for clock differences as a header's timestamp.
    ///
    /// # Errors
    /// [`HawkError`] saying what is wrong.
    pub fn verify_bewit(
        &self,
        req: &HttpRequest,
        signed: &SignedQuery<'_>,
    ) -> Result<Caller, HawkError> {
        if req.method() != Method::GET {
            return Err(HawkError::BewitNotGet);
        }
        if !expiry_in_range(signed.bewit) {
            return Err(HawkError::MalformedBewit);
        }
        let bewit = Bewit::from_str(signed.bewit).map_err(|_| HawkError::MalformedBewit)?;
        let ext = parse_ext(bewit.ext())?;
        let now = self.clock.now();
        let (access_token, scopes) = self.credentials(bewit.id(), ext.certificate, now)?;
        let path = match signed.rest.as_str() {
            "" => req.path().to_owned(),
            rest => format!("{}?{rest}", req.path()),
        };
        let expected = compute_mac(
            MacType::Bewit,
            &access_token,
            (bewit.exp(), ""),
            &RequestLine::of(req, &path),
            None,
            bewit.ext(),
        )?;
        if &expected != bewit.mac() {
            return Err(HawkError::BadMac);
        }
        if unix_seconds(bewit.exp()) + DEFAULT_SKEW.num_seconds() < now.timestamp() {
            return Err(HawkError::BewitExpired);
        }
        Ok(Caller {
            client_id: bewit.id().to_owned(),
            scopes: self.restrict(scopes, ext.authorized_scopes)?,
        })
    }
}

/// Whether the bewit's expiry, if it has one, is a time the standard library can represent:
/// the `hawk` crate adds it to the epoch without a check, and would panic on a huge one.
fn expiry_in_range(bewit: &str) -> bool {
    let Some(decoded) = decode_base64(bewit) else {
        return true;
    };
    let expiry = decoded.split(|&b| b == b'\\').nth(1).unwrap_or_default();
    std::str::from_utf8(expiry)
        .ok()
        .and_then(|digits| digits.parse::<u64>().ok())
        .is_none_or(|exp| exp <= MAX_TS)
}

#[cfg(test)]
mod tests {
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    use base64::Engine;

    use super::*;

    #[test]
    fn the_bewit_is_taken_out_of_the_query_wherever_it_is() {
        for (query, rest) in [
            ("bewit=abc", ""),
            ("bewit=abc&limit=2", "limit=2"),
            ("limit=2&bewit=abc", "limit=2"),
            ("a=1&bewit=abc&b=2", "a=1&b=2"),
        ] {
            let found = SignedQuery::find(query).unwrap().expect(query);
            assert_eq!((found.bewit, found.rest.as_str()), ("abc", rest), "{query}");
        }
    }

    #[test]
    fn a_query_without_a_bewit_has_none_and_two_are_malformed() {
        assert!(SignedQuery::find("limit=2&notbewit=x").unwrap().is_none());
        assert!(SignedQuery::find("").unwrap().is_none());
        assert!(matches!(
            SignedQuery::find("bewit=a&bewit=b"),
            Err(HawkError::MalformedBewit)
        ));
    }

    #[test]
    fn an_expiry_that_would_overflow_the_clock_is_caught_first() {
        let huge = URL_SAFE_NO_PAD.encode("id\\18446744073709551615\\bWFj\\");
        assert!(!expiry_in_range(&huge));
        let fine = URL_SAFE_NO_PAD.encode("id\\1700000000\\bWFj\\");
        assert!(expiry_in_range(&fine));
        assert!(Bewit::from_str(&fine).is_ok());
    }
}
