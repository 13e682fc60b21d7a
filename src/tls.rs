//! The TLS set-up the crate's features ask for, and the roots it trusts.
//!
//! | feature | backend | roots trusted by default |
//! |---|---|---|
//! | `rustls` (default) | rustls | Mozilla's, built in (`webpki-roots`) |
//! | `platform-verifier` | rustls | the operating system's, through `rustls-platform-verifier` |
//! | `native-tls` | the platform's library (OpenSSL on Linux) | the operating system's, as that library loads them (OpenSSL honours `SSL_CERT_FILE` and `SSL_CERT_DIR`) |
//!
//! With [`ClientBuilder::root_certificates_pem`](crate::ClientBuilder::root_certificates_pem)
//! every backend trusts exactly the given roots instead. Without a TLS feature there is
//! no TLS (only plain `http` to loopback works) and this module is not compiled.

use crate::error::Error;

/// The TLS configuration: the backend the features chose, and its roots. ureq picks
/// rustls unless told otherwise, and would panic on the first https request when only
/// native-tls is compiled in.
pub(crate) fn config(root_pem: Option<&[u8]>) -> Result<ureq::tls::TlsConfig, Error> {
    use ureq::tls::{RootCerts, TlsConfig};

    let builder = TlsConfig::builder();
    #[cfg(feature = "native-tls")]
    let builder = builder.provider(ureq::tls::TlsProvider::NativeTls);
    let roots = match root_pem {
        Some(pem) => RootCerts::new_with_certs(&certificates(pem)?),
        // native-tls: ureq's PlatformVerifier means "the roots native-tls loads itself",
        // the operating system's store.
        None if cfg!(any(feature = "native-tls", feature = "platform-verifier")) => {
            RootCerts::PlatformVerifier
        }
        None => RootCerts::WebPki,
    };
    Ok(builder.root_certs(roots).build())
}

/// The certificates of a PEM text; an error when it holds none or a broken one.
fn certificates(pem: &[u8]) -> Result<Vec<ureq::tls::Certificate<'static>>, Error> {
    let mut certificates = Vec::new();
    for item in ureq::tls::parse_pem(pem) {
        match item {
            Ok(ureq::tls::PemItem::Certificate(certificate)) => certificates.push(certificate),
            Ok(_) => {} // a key or other block next to the certificates
            Err(e) => {
                return Err(Error::invalid(format!(
                    "the root certificates are not valid PEM: {e}"
                )));
            }
        }
    }
    if certificates.is_empty() {
        return Err(Error::invalid(
            "the root certificates hold no PEM CERTIFICATE block",
        ));
    }
    Ok(certificates)
}

#[cfg(test)]
mod tests {
    use super::*;
    use ureq::tls::{RootCerts, TlsProvider};

    #[test]
    fn each_backend_trusts_what_its_feature_says() {
        let default = config(None).expect("config");
        if cfg!(feature = "native-tls") {
            assert_eq!(default.provider(), TlsProvider::NativeTls);
        } else {
            assert_eq!(default.provider(), TlsProvider::Rustls);
        }
        let os_store = cfg!(any(feature = "native-tls", feature = "platform-verifier"));
        match default.root_certs() {
            RootCerts::PlatformVerifier => assert!(os_store),
            RootCerts::WebPki => assert!(!os_store),
            other => panic!("unexpected roots {other:?}"),
        }
    }

    #[test]
    fn given_roots_replace_the_defaults() {
        // A well-formed PEM block whose content is not a certificate still counts as one
        // for parsing; the backends skip what they cannot use.
        let pem = "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n";
        let given = config(Some(pem.as_bytes())).expect("config");
        assert!(matches!(given.root_certs(), RootCerts::Specific(certs) if certs.len() == 1));
        assert!(config(Some(b"no pem here")).is_err());
    }
}
