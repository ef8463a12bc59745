//! A throw-away certificate authority and a server certificate for `localhost` and
//! `127.0.0.1`, generated per run (rcgen), and the rustls server configuration that presents
//! it. A certificate fault presents a certificate a correct client must refuse.

use std::sync::Arc;

use anyhow::{Context, Result};
use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose,
};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use time::{Duration, OffsetDateTime};

/// A certificate a correct client must refuse.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CertFault {
    /// The server certificate names `wrong.invalid`, not `localhost` or `127.0.0.1`.
    WrongHost,
    /// The server certificate expired (valid 2000-01-01 to 2001-01-01).
    Expired,
    /// The server certificate is signed by a second CA that is not the one written out.
    Untrusted,
}

impl CertFault {
    /// Parses `wrong-host`, `expired` or `untrusted`.
    pub fn parse(s: &str) -> Result<CertFault> {
        Ok(match s {
            "wrong-host" => CertFault::WrongHost,
            "expired" => CertFault::Expired,
            "untrusted" => CertFault::Untrusted,
            _ => anyhow::bail!("unknown certificate fault {s:?} (wrong-host, expired, untrusted)"),
        })
    }

    /// The name [`CertFault::parse`] reads.
    pub fn name(self) -> &'static str {
        match self {
            CertFault::WrongHost => "wrong-host",
            CertFault::Expired => "expired",
            CertFault::Untrusted => "untrusted",
        }
    }
}

/// The generated authority and the server side of TLS.
pub struct Pki {
    /// The CA certificate clients should trust, PEM.
    pub ca_pem: String,
    /// The rustls server configuration presenting the server certificate.
    pub server: Arc<rustls::ServerConfig>,
}

impl std::fmt::Debug for Pki {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pki").finish_non_exhaustive()
    }
}

/// The crypto provider of every TLS configuration here (and of the test clients): *ring*.
pub fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

fn ca(name: &str) -> Result<(CertificateParams, KeyPair, String)> {
    let mut params = CertificateParams::new(Vec::<String>::new())?;
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.distinguished_name.push(DnType::CommonName, name);
    params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    let now = OffsetDateTime::now_utc();
    params.not_before = now - Duration::days(1);
    params.not_after = now + Duration::days(30);
    let key = KeyPair::generate()?;
    let pem = params.self_signed(&key)?.pem();
    Ok((params, key, pem))
}

impl Pki {
    /// Generates a CA and a server certificate it signs (or, with a fault, one a client must
    /// refuse).
    pub fn generate(fault: Option<CertFault>) -> Result<Pki> {
        let (ca_params, ca_key, ca_pem) = ca("ladderfeed-sim test CA")?;
        let names: Vec<String> = match fault {
            Some(CertFault::WrongHost) => vec!["wrong.invalid".into()],
            _ => vec!["localhost".into(), "127.0.0.1".into()],
        };
        let mut leaf = CertificateParams::new(names)?;
        leaf.distinguished_name.push(DnType::CommonName, "ladderfeed-sim");
        leaf.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        leaf.use_authority_key_identifier_extension = true;
        let now = OffsetDateTime::now_utc();
        (leaf.not_before, leaf.not_after) = match fault {
            Some(CertFault::Expired) => (
                OffsetDateTime::from_unix_timestamp(946_684_800)?,
                OffsetDateTime::from_unix_timestamp(978_307_200)?,
            ),
            _ => (now - Duration::days(1), now + Duration::days(7)),
        };
        let leaf_key = KeyPair::generate()?;
        let leaf_cert = if fault == Some(CertFault::Untrusted) {
            let (other_params, other_key, _) = ca("ladderfeed-sim untrusted CA")?;
            leaf.signed_by(&leaf_key, &Issuer::new(other_params, other_key))?
        } else {
            leaf.signed_by(&leaf_key, &Issuer::new(ca_params, ca_key))?
        };
        let chain = vec![CertificateDer::from(leaf_cert.der().to_vec())];
        let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(leaf_key.serialize_der()));
        let server = rustls::ServerConfig::builder_with_provider(provider())
            .with_safe_default_protocol_versions()
            .context("TLS protocol versions")?
            .with_no_client_auth()
            .with_single_cert(chain, key)
            .context("server certificate")?;
        Ok(Pki { ca_pem, server: Arc::new(server) })
    }
}
