//! Our own accept loop, so a handler can reset its TCP connection and shutdown can stop every
//! connection task. The API front and the Lambda runtime API serve their routers with it too, each through a
//! [`Serving`] handle.

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
use tokio::task::{JoinHandle, JoinSet};

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

/// A router served on its own task by [`serve`]. Stops with [`Serving::stop`], or is aborted on drop.
#[derive(Debug)]
pub(crate) struct Serving {
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<()>>,
}

impl Serving {
    /// Starts serving `router` on `listener`.
    pub(crate) fn spawn(listener: TcpListener, router: Router) -> Serving {
        let (stop, stopped) = oneshot::channel();
        let task = tokio::spawn(serve(listener, router, stopped));
        Serving {
            stop: Some(stop),
            task: Some(task),
        }
    }

    /// Stops accepting, closes every connection and waits until the port is released.
    pub(crate) async fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }
}

impl Drop for Serving {
    fn drop(&mut self) {
        // Aborting the accept loop drops its listener and its set of connection tasks.
        if let Some(task) = self.task.take() {
            task.abort();
        }
    }
}

/// Accepts until `shutdown` fires (or its sender is dropped), then aborts and awaits all connections.
async fn serve(listener: TcpListener, router: Router, mut shutdown: oneshot::Receiver<()>) {
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
