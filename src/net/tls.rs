//! TLS client configuration: rustls with the *ring* crypto provider, the webpki root
//! certificates, optional extra trust anchors from a PEM file, TLS 1.2 and 1.3 only.
//! Verification cannot be disabled: there is no option, flag or code path for it.
//!
//! The handshake is rustls'; the records of an open connection are opened in place by our
//! record layer with rustls' decrypter for the negotiated suite, so the configuration lets
//! the traffic keys out of rustls (`enable_secret_extraction`, into that record layer only).

use std::path::Path;
use std::sync::Arc;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::CertificateDer;
use rustls::{ClientConfig, RootCertStore};

pub use super::tls_io::record_errors;
use super::NetError;

/// The crypto provider of every TLS connection: *ring*.
pub fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// A client configuration trusting the webpki roots and, with `ca_file`, every certificate
/// in that PEM file (a simulator's CA).
pub fn client_config(ca_file: Option<&Path>) -> Result<Arc<ClientConfig>, NetError> {
    let mut roots = RootCertStore { roots: webpki_roots::TLS_SERVER_ROOTS.to_vec() };
    if let Some(path) = ca_file {
        let ca_err = |why: String| NetError::Ca { path: path.display().to_string(), why };
        let mut added = 0;
        let certs = CertificateDer::pem_file_iter(path).map_err(|e| ca_err(e.to_string()))?;
        for cert in certs {
            let cert = cert.map_err(|e| ca_err(e.to_string()))?;
            roots.add(cert).map_err(|e| ca_err(e.to_string()))?;
            added += 1;
        }
        if added == 0 {
            return Err(ca_err("no certificate in the file".into()));
        }
    }
    let mut config = ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()?
        .with_root_certificates(roots)
        .with_no_client_auth();
    config.enable_secret_extraction = true;
    Ok(Arc::new(config))
}
