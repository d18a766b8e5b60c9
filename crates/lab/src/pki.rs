//! The lab's certificates: one CA per lab, serving and client certificates
//! per region, and service-account signing keys. ECDSA P-256 throughout.

use std::fs;
use std::net::{IpAddr, Ipv4Addr};
use std::path::{Path, PathBuf};

use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa,
    Issuer, KeyPair, KeyUsagePurpose, SanType,
};

use crate::error::{io, LabError, Result};

/// A certificate and key written to disk as PEM.
#[derive(Debug, Clone)]
pub struct CertFiles {
    /// Certificate (PEM).
    pub cert: PathBuf,
    /// Private key (PEM, PKCS#8), mode 0600.
    pub key: PathBuf,
}

impl CertFiles {
    fn at(dir: &Path, name: &str) -> Self {
        Self {
            cert: dir.join(format!("{name}.crt")),
            key: dir.join(format!("{name}.key")),
        }
    }

    fn exists(&self) -> bool {
        self.cert.is_file() && self.key.is_file()
    }

    /// Certificate PEM text.
    pub fn cert_pem(&self) -> Result<String> {
        fs::read_to_string(&self.cert).map_err(io("reading", &self.cert))
    }

    /// Key PEM text.
    pub fn key_pem(&self) -> Result<String> {
        fs::read_to_string(&self.key).map_err(io("reading", &self.key))
    }
}

fn pki_err(what: impl Into<String>) -> impl FnOnce(rcgen::Error) -> LabError {
    let what = what.into();
    move |source| LabError::Pki { what, source }
}

pub(crate) fn write_private(path: &Path, text: &str) -> Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let tmp = path.with_extension("tmp");
    let mut f = fs::OpenOptions::new()
        .create(true)
        .write(true)
        .truncate(true)
        .mode(0o600)
        .open(&tmp)
        .map_err(io("creating", &tmp))?;
    f.write_all(text.as_bytes()).map_err(io("writing", &tmp))?;
    fs::rename(&tmp, path).map_err(io("writing", path))
}

/// The lab certificate authority.
pub struct Ca {
    /// Where the CA certificate and key live.
    pub files: CertFiles,
    issuer: Issuer<'static, KeyPair>,
}

impl Ca {
    /// Loads the CA under `dir`, creating it the first time.
    pub fn load_or_create(dir: &Path) -> Result<Self> {
        fs::create_dir_all(dir).map_err(io("creating", dir))?;
        let files = CertFiles::at(dir, "ca");
        if !files.exists() {
            let key = KeyPair::generate().map_err(pki_err("the lab CA key"))?;
            let mut params =
                CertificateParams::new(Vec::<String>::new()).map_err(pki_err("the lab CA"))?;
            params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
            let mut dn = DistinguishedName::new();
            dn.push(DnType::CommonName, "flotilla-lab-ca");
            params.distinguished_name = dn;
            params.key_usages = vec![
                KeyUsagePurpose::KeyCertSign,
                KeyUsagePurpose::CrlSign,
                KeyUsagePurpose::DigitalSignature,
            ];
            let cert = params.self_signed(&key).map_err(pki_err("the lab CA"))?;
            write_private(&files.key, &key.serialize_pem())?;
            fs::write(&files.cert, cert.pem()).map_err(io("writing", &files.cert))?;
        }
        let key =
            KeyPair::from_pem(&files.key_pem()?).map_err(pki_err("loading the lab CA key"))?;
        let issuer = Issuer::from_ca_cert_pem(&files.cert_pem()?, key)
            .map_err(pki_err("loading the lab CA"))?;
        Ok(Self { files, issuer })
    }

    /// Issues (or reuses) a certificate `name` under `dir` for the given
    /// common name, organisations and subject alternative names.
    pub fn issue(
        &self,
        dir: &Path,
        name: &str,
        common_name: &str,
        organizations: &[&str],
        dns: &[&str],
        ips: &[IpAddr],
    ) -> Result<CertFiles> {
        fs::create_dir_all(dir).map_err(io("creating", dir))?;
        let files = CertFiles::at(dir, name);
        if files.exists() {
            return Ok(files);
        }
        let what = format!("certificate {}", files.cert.display());
        let mut params =
            CertificateParams::new(dns.iter().map(|s| s.to_string()).collect::<Vec<_>>())
                .map_err(pki_err(what.clone()))?;
        for ip in ips {
            params.subject_alt_names.push(SanType::IpAddress(*ip));
        }
        let mut dn = DistinguishedName::new();
        dn.push(DnType::CommonName, common_name);
        for o in organizations {
            dn.push(DnType::OrganizationName, *o);
        }
        params.distinguished_name = dn;
        params.key_usages = vec![
            KeyUsagePurpose::DigitalSignature,
            KeyUsagePurpose::KeyEncipherment,
        ];
        params.extended_key_usages = vec![
            ExtendedKeyUsagePurpose::ServerAuth,
            ExtendedKeyUsagePurpose::ClientAuth,
        ];
        let key = KeyPair::generate().map_err(pki_err(what.clone()))?;
        let cert = params
            .signed_by(&key, &self.issuer)
            .map_err(pki_err(what))?;
        write_private(&files.key, &key.serialize_pem())?;
        fs::write(&files.cert, cert.pem()).map_err(io("writing", &files.cert))?;
        Ok(files)
    }
}

/// A service-account signing key: returns the private key (PKCS#8 PEM) and
/// the public key (PEM) that kube-apiserver verifies tokens with.
pub fn service_account_key(dir: &Path) -> Result<(PathBuf, PathBuf)> {
    fs::create_dir_all(dir).map_err(io("creating", dir))?;
    let path = dir.join("sa.key");
    let public = dir.join("sa.pub");
    if !path.is_file() || !public.is_file() {
        let key = KeyPair::generate().map_err(pki_err("the service-account signing key"))?;
        write_private(&path, &key.serialize_pem())?;
        fs::write(&public, key.public_key_pem()).map_err(io("writing", &public))?;
    }
    Ok((path, public))
}

/// Loopback addresses every serving certificate carries.
pub fn loopback_ips() -> Vec<IpAddr> {
    vec![
        IpAddr::V4(Ipv4Addr::LOCALHOST),
        IpAddr::V6(std::net::Ipv6Addr::LOCALHOST),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ca_is_created_once_and_issues_certificates() {
        let tmp = tempfile::tempdir().unwrap();
        let ca = Ca::load_or_create(tmp.path()).unwrap();
        let first = fs::read_to_string(&ca.files.cert).unwrap();
        let ca2 = Ca::load_or_create(tmp.path()).unwrap();
        assert_eq!(first, fs::read_to_string(&ca2.files.cert).unwrap());
        let leaf = ca2
            .issue(
                tmp.path(),
                "admin",
                "admin",
                &["system:masters"],
                &["localhost"],
                &loopback_ips(),
            )
            .unwrap();
        assert!(leaf
            .cert_pem()
            .unwrap()
            .starts_with("-----BEGIN CERTIFICATE-----"));
        use std::os::unix::fs::PermissionsExt;
        let mode = fs::metadata(&leaf.key).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        let (sa, public) = service_account_key(tmp.path()).unwrap();
        assert!(fs::read_to_string(sa).unwrap().contains("PRIVATE KEY"));
        assert!(fs::read_to_string(public).unwrap().contains("PUBLIC KEY"));
    }
}
