//! Accept loops: one task per listening socket.

use crate::connection;
use crate::driver::Shared;
use crate::event::Event;
use crate::link::Direction;
use crate::tasks::TaskGuard;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;

/// After an accept error (out of file descriptors, say) wait this long before
/// accepting again, so a persistent error does not spin a core.
const ACCEPT_ERROR_BACKOFF: Duration = Duration::from_millis(100);

pub(crate) async fn accept_loop(
    shared: Arc<Shared>,
    id: u32,
    listener: TcpListener,
    _guard: TaskGuard,
) {
    let mut shutdown = shared.shutdown_signal();
    loop {
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            _ = shutdown.wait_for(|closing| *closing) => return,
        };
        match accepted {
            Ok((stream, remote)) => {
                // Bans and slots are checked before a byte is read; a refused
                // socket just closes.
                if !shared.is_refused(remote.ip()) && shared.admit_inbound() {
                    let peer = shared.next_peer_id();
                    connection::start(&shared, stream, peer, Direction::Inbound, Some(id));
                }
            }
            Err(e) => {
                shared.inbox.push(Event::ListenerError {
                    listener: id,
                    error: e.to_string(),
                });
                tokio::select! {
                    _ = tokio::time::sleep(ACCEPT_ERROR_BACKOFF) => {}
                    _ = shutdown.wait_for(|closing| *closing) => return,
                }
            }
        }
    }
}
