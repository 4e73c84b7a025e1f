//! rustls client configurations (ring provider) for libpq's TLS modes, and the
//! CA certificates they trust.

use std::path::Path;
use std::sync::Arc;

use anyhow::{Context, bail};
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::{WebPkiServerVerifier, verify_server_cert_signed_by_trust_anchor};
use rustls::crypto::WebPkiSupportedAlgorithms;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::server::ParsedCertificate;
use rustls::{ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme};

/// What the client checks of the server's certificate.
pub(super) enum Verify {
    /// Nothing (sslmode prefer, require): encryption against passive
    /// eavesdropping only, as libpq does.
    Nothing,
    /// The chain up to one of these CAs, not the host name (verify-ca).
    Chain(Arc<RootCertStore>),
    /// The chain and the host name (verify-full).
    Full(Arc<RootCertStore>),
}

/// A client configuration on the ring provider, whatever provider the
/// process has installed (none of ours is aws-lc).
pub(super) fn client_config(verify: Verify) -> anyhow::Result<ClientConfig> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .context("configuring TLS")?;
    let algorithms = provider.signature_verification_algorithms;
    let mut config = match verify {
        Verify::Nothing => builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(AnyName {
                roots: None,
                algorithms,
            })),
        Verify::Chain(roots) => builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(AnyName {
                roots: Some(roots),
                algorithms,
            })),
        Verify::Full(roots) => builder.with_webpki_verifier(
            WebPkiServerVerifier::builder_with_provider(roots, provider)
                .build()
                .context("configuring TLS certificate verification")?,
        ),
    }
    .with_no_client_auth();
    // PostgreSQL 17 checks the protocol a client names, and needs it for
    // sslnegotiation=direct; older servers ignore it.
    config.alpn_protocols = vec![b"postgresql".to_vec()];
    Ok(config)
}

/// The CA certificates in a PEM file (`sslrootcert=/path/to/ca.pem`).
pub(super) fn roots_from_file(path: &Path) -> anyhow::Result<RootCertStore> {
    let shown = path.display();
    let bytes = std::fs::read(path).with_context(|| format!("reading sslrootcert={shown}"))?;
    let certs = CertificateDer::pem_slice_iter(&bytes)
        .collect::<Result<Vec<_>, _>>()
        .with_context(|| format!("reading the PEM certificates in sslrootcert={shown}"))?;
    let mut roots = RootCertStore::empty();
    let (added, _) = roots.add_parsable_certificates(certs);
    if added == 0 {
        bail!("sslrootcert={shown} holds no usable CA certificate (expected PEM)");
    }
    Ok(roots)
}

/// The operating system's CA certificates (`sslrootcert=system`, or no
/// sslrootcert with verify-ca or verify-full).
///
/// Why the OS store rather than a bundle compiled in (webpki-roots): it is
/// the one the operator maintains, updated with the OS rather than with our
/// releases, and where a private or cloud CA (RDS's, a company's) is
/// installed once for every program on the host.
pub(super) fn system_roots() -> anyhow::Result<RootCertStore> {
    let found = rustls_native_certs::load_native_certs();
    let mut roots = RootCertStore::empty();
    let (added, _) = roots.add_parsable_certificates(found.certs);
    if added == 0 {
        let errors: Vec<String> = found.errors.iter().map(ToString::to_string).collect();
        bail!(
            "no CA certificates found in the system's store ({}): install the ca-certificates \
             package, or name the server's CA with sslrootcert=/path/to/ca.pem in DATABASE_URL",
            if errors.is_empty() {
                "it is empty".to_owned()
            } else {
                errors.join("; ")
            }
        );
    }
    Ok(roots)
}

/// Accepts the server's certificate whatever host name it is for: any
/// certificate (no roots), or one that chains to `roots`. The handshake's
/// signatures are still checked, so the server holds the certificate's key.
#[derive(Debug)]
struct AnyName {
    roots: Option<Arc<RootCertStore>>,
    algorithms: WebPkiSupportedAlgorithms,
}

impl ServerCertVerifier for AnyName {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        if let Some(roots) = &self.roots {
            verify_server_cert_signed_by_trust_anchor(
                &ParsedCertificate::try_from(end_entity)?,
                roots,
                intermediates,
                now,
                self.algorithms.all,
            )?;
        }
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.algorithms.supported_schemes()
    }
}
