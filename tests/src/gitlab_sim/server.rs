//! Our own accept loop, so a handler can reset its TCP connection and shutdown can stop every
//! connection task. The API front serves its router with it too.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use axum::extract::{ConnectInfo, Request};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::Service as _;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Notify, oneshot};
use tokio::task::JoinSet;

/// Put into every request's extensions, with the peer's address as axum's `ConnectInfo`: lets the handler ask for its connection to be reset.
#[derive(Debug, Default)]
pub(crate) struct ConnControl {
    reset: Notify,
}

impl ConnControl {
    pub(crate) fn reset(&self) {
        // `notify_one` keeps a permit, so the request cannot race ahead of the waiting task.
        self.reset.notify_one();
    }
}

/// Accepts until `shutdown` fires (or its sender is dropped), then aborts and awaits all connections.
pub(crate) async fn serve(
    listener: TcpListener,
    router: Router,
    mut shutdown: oneshot::Receiver<()>,
) {
    let mut conns = JoinSet::new();
    loop {
        tokio::select! {
            _ = &mut shutdown => break,
            accepted = listener.accept() => match accepted {
                Ok((stream, peer)) => {
                    conns.spawn(serve_connection(stream, peer, router.clone()));
                }
                Err(e) => {
                    // E.g. out of file descriptors: back off instead of spinning.
                    tracing::warn!(error = %e, "gitlab simulator: accept failed");
                    tokio::time::sleep(std::time::Duration::from_millis(10)).await;
                }
            },
            // Reap finished connections so the set does not grow without bound.
            Some(_) = conns.join_next(), if !conns.is_empty() => {}
        }
    }
    drop(listener);
    conns.shutdown().await;
}

async fn serve_connection(mut stream: TcpStream, peer: SocketAddr, router: Router) {
    let _ = stream.set_nodelay(true);
    let control = Arc::new(ConnControl::default());
    let service = {
        let control = control.clone();
        let router = TowerToHyperService::new(router);
        hyper::service::service_fn(move |mut req: Request<Incoming>| {
            req.extensions_mut().insert(control.clone());
            req.extensions_mut().insert(ConnectInfo(peer));
            router.call(req)
        })
    };
    let reset = {
        // The connection borrows the stream, so after a reset we still own the socket to set
        // SO_LINGER=0 on it: closing it then sends RST instead of FIN.
        let conn = http1::Builder::new()
            .timer(TokioTimer::new())
            .serve_connection(TokioIo::new(&mut stream), service);
        tokio::select! {
            _ = conn => false,
            () = control.reset.notified() => true,
        }
    };
    if reset {
        let _ = stream.set_zero_linger();
    }
}
