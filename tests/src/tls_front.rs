//! A TLS front for the GitLab simulator: a self-managed GitLab behind a private CA, on loopback.
//! It terminates TLS with a leaf certificate signed by a throwaway CA and pipes bytes to a plain-HTTP backend.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;

use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, IsCa, KeyPair};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use tokio_rustls::TlsAcceptor;
use tokio_rustls::rustls::ServerConfig;
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};

/// A running TLS front. Stops when dropped.
#[derive(Debug)]
pub struct TlsFront {
    /// `https://NAME:PORT/` when the front was given a name (`localhost` for [`TlsFront::start`]), else
    /// `https://IP:PORT/`.
    pub base_url: String,
    /// The private CA that signed the front's certificate, PEM.
    pub ca_pem: String,
    task: JoinHandle<()>,
}

impl TlsFront {
    /// A front on 127.0.0.1, named `localhost`.
    pub async fn start(backend: SocketAddr) -> std::io::Result<TlsFront> {
        Self::start_on(IpAddr::V4(Ipv4Addr::LOCALHOST), backend, Some("localhost")).await
    }

    /// A front listening on `ip` (a loopback alias, for instance), its certificate issued for `ip` and `name`, and
    /// its base URL naming `name` if there is one.
    pub async fn start_on(
        ip: IpAddr,
        backend: SocketAddr,
        name: Option<&str>,
    ) -> std::io::Result<TlsFront> {
        let mut ca_params = CertificateParams::new(Vec::<String>::new()).map_err(io)?;
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca_params
            .distinguished_name
            .push(rcgen::DnType::CommonName, "importer test CA");
        let ca = CertifiedIssuer::self_signed(ca_params, KeyPair::generate().map_err(io)?)
            .map_err(io)?;
        let leaf_key = KeyPair::generate().map_err(io)?;
        let subject_names: Vec<String> = name
            .into_iter()
            .map(str::to_owned)
            .chain([ip.to_string()])
            .collect();
        let leaf = CertificateParams::new(subject_names)
            .map_err(io)?
            .signed_by(&leaf_key, &ca)
            .map_err(io)?;

        let chain = vec![
            CertificateDer::from(leaf.der().to_vec()),
            CertificateDer::from(ca.der().to_vec()),
        ];
        let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(leaf_key.serialize_der()));
        let config = ServerConfig::builder()
            .with_no_client_auth()
            .with_single_cert(chain, key)
            .map_err(io)?;
        let acceptor = TlsAcceptor::from(Arc::new(config));

        let listener = TcpListener::bind(SocketAddr::new(ip, 0)).await?;
        let port = listener.local_addr()?.port();
        let task = tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let acceptor = acceptor.clone();
                tokio::spawn(async move {
                    // A failed handshake (an untrusting client) just ends this connection.
                    let Ok(mut tls) = acceptor.accept(stream).await else {
                        return;
                    };
                    let Ok(mut plain) = tokio::net::TcpStream::connect(backend).await else {
                        return;
                    };
                    let _ = tokio::io::copy_bidirectional(&mut tls, &mut plain).await;
                });
            }
        });
        Ok(TlsFront {
            base_url: match name {
                Some(name) => format!("https://{name}:{port}/"),
                None => format!("https://{}/", SocketAddr::new(ip, port)),
            },
            ca_pem: ca.pem(),
            task,
        })
    }
}

impl Drop for TlsFront {
    fn drop(&mut self) {
        self.task.abort();
    }
}

fn io(error: impl std::fmt::Display) -> std::io::Error {
    std::io::Error::other(error.to_string())
}
