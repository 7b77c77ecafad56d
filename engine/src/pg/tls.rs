//! TLS to PostgreSQL with rustls, as `sslmode` asks: `prefer` and `require` encrypt without
//! checking the server's certificate (unless a root certificate is given, as libpq does),
//! `verify-ca` checks it is signed by a trusted root, `verify-full` also that it was issued
//! for the host. The trusted roots are the system's unless `sslrootcert` names a file.

use super::settings::{Settings, SslMode};
use rustls::client::WebPkiServerVerifier;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{CryptoProvider, verify_tls12_signature, verify_tls13_signature};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{
    CertificateError, ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme,
};
use std::sync::Arc;
use tokio_postgres_rustls::MakeRustlsConnect;

/// Why TLS could not be set up. Names the file, never a key.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("the root certificate file {path} cannot be used: {why}")]
    RootCert { path: String, why: String },
    #[error("no trusted root certificate is available: {0}")]
    NoRoots(String),
    #[error("TLS cannot be set up: {0}")]
    Setup(String),
}

/// The connector for `settings`.
pub(super) fn connector(settings: &Settings) -> Result<MakeRustlsConnect, TlsError> {
    let provider = Arc::new(ring());
    let check = match (settings.ssl, &settings.root_cert) {
        (SslMode::VerifyFull, _) => Check::Full,
        (SslMode::VerifyCa, _) | (SslMode::Require, Some(_)) => Check::Chain,
        _ => Check::Nothing,
    };
    let verifier: Arc<dyn ServerCertVerifier> = match check {
        Check::Nothing => Arc::new(Unchecked(provider.clone())),
        Check::Chain | Check::Full => {
            let roots = roots(settings.root_cert.as_deref()).map_err(|e| match e {
                TlsError::NoRoots(why) => {
                    TlsError::NoRoots(format!("{why}; name a root certificate with sslrootcert"))
                }
                e => e,
            })?;
            let webpki =
                WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider.clone())
                    .build()
                    .map_err(|e| TlsError::Setup(e.to_string()))?;
            match check {
                Check::Full => webpki,
                _ => Arc::new(ChainOnly(webpki)),
            }
        }
    };
    let config = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| TlsError::Setup(e.to_string()))?
        .dangerous()
        .with_custom_certificate_verifier(verifier)
        .with_no_client_auth();
    Ok(MakeRustlsConnect::new(config))
}

/// *ring*'s cryptography, which builds from Rust and assembly alone: a model repo's build
/// and image need no C toolchain. rustls 0.23.48 deprecates `ring::default_provider` for
/// having no post-quantum key exchange, and names no other way to *ring*'s provider (its
/// post-quantum provider is aws-lc-rs, which builds C with CMake). This is the one place
/// the database connections take it (the image's registry client has its own).
#[allow(deprecated)]
fn ring() -> CryptoProvider {
    rustls::crypto::ring::default_provider()
}

enum Check {
    Nothing,
    Chain,
    Full,
}

/// The TLS of an HTTPS client: the server's certificate checked against `root_cert` (a PEM
/// file) or the system's roots, and issued for the host.
pub(crate) fn https(root_cert: Option<&std::path::Path>) -> Result<ClientConfig, TlsError> {
    https_trusting(roots(root_cert)?)
}

/// The TLS of an HTTP client that only speaks plain `http`: it trusts no one, so it needs
/// no system roots.
pub(crate) fn plain_http() -> Result<ClientConfig, TlsError> {
    https_trusting(RootCertStore::empty())
}

fn https_trusting(roots: RootCertStore) -> Result<ClientConfig, TlsError> {
    let provider = Arc::new(ring());
    ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| TlsError::Setup(e.to_string()))
        .map(|c| c.with_root_certificates(roots).with_no_client_auth())
}

/// The trusted roots: the file `root_cert` names (`sslrootcert`), or the system's.
fn roots(root_cert: Option<&std::path::Path>) -> Result<RootCertStore, TlsError> {
    let mut roots = RootCertStore::empty();
    match root_cert {
        Some(path) => {
            let failed = |why: String| TlsError::RootCert {
                path: path.display().to_string(),
                why,
            };
            let certs = CertificateDer::pem_file_iter(path)
                .map_err(|e| failed(e.to_string()))?
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| failed(e.to_string()))?;
            if certs.is_empty() {
                return Err(failed("it holds no certificate".into()));
            }
            for cert in certs {
                roots.add(cert).map_err(|e| failed(e.to_string()))?;
            }
        }
        None => {
            let found = rustls_native_certs::load_native_certs();
            for cert in found.certs {
                // A system certificate rustls cannot read is one root fewer, not an error.
                let _ = roots.add(cert);
            }
            if roots.is_empty() {
                let why = found
                    .errors
                    .first()
                    .map_or_else(|| "the system has none".to_owned(), ToString::to_string);
                return Err(TlsError::NoRoots(why));
            }
        }
    }
    Ok(roots)
}

/// `prefer` and `require`: encrypted, the certificate not checked (as libpq).
#[derive(Debug)]
struct Unchecked(Arc<CryptoProvider>);

impl ServerCertVerifier for Unchecked {
    fn verify_server_cert(
        &self,
        _: &CertificateDer<'_>,
        _: &[CertificateDer<'_>],
        _: &ServerName<'_>,
        _: &[u8],
        _: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

/// `verify-ca`: the chain must lead to a trusted root; the name it was issued for does not
/// matter.
#[derive(Debug)]
struct ChainOnly(Arc<WebPkiServerVerifier>);

impl ServerCertVerifier for ChainOnly {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        match self
            .0
            .verify_server_cert(end_entity, intermediates, server_name, ocsp, now)
        {
            Err(rustls::Error::InvalidCertificate(
                CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. },
            )) => Ok(ServerCertVerified::assertion()),
            other => other,
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.supported_verify_schemes()
    }
}
